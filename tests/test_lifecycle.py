"""Interrupts and children: a stop signal becomes Interrupted with the right exit code, a child's whole process
group is stopped (SIGKILL after the grace period), and a child's death is described by what really happened."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from concbench.harness import lifecycle
from concbench.harness.child import Child, describe_exit
from concbench.harness.event_child import run_event_child


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:            # a zombie is not alive
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_stop_signal_raises_interrupted_once(signum, code):
    before = signal.getsignal(signum)
    with pytest.raises(lifecycle.Interrupted) as caught:
        with lifecycle.interruptible() as state:
            os.kill(os.getpid(), signum)
            for _ in range(1000):            # the handler runs between bytecodes
                pass
    assert caught.value.exit_code == code and caught.value.name == signal.Signals(signum).name
    assert state["signum"] == signum
    assert signal.getsignal(signum) == before           # the handlers are restored


def test_later_signals_are_ignored_while_the_first_is_handled():
    with pytest.raises(lifecycle.Interrupted):
        with lifecycle.interruptible():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):
                    pass
            except lifecycle.Interrupted:
                os.kill(os.getpid(), signal.SIGINT)      # during clean-up: must not raise again
                for _ in range(1000):
                    pass
                raise


GROUP = textwrap.dedent("""
    import os, signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)        # a stubborn leader: only SIGKILL ends it
    child = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                              "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
    print(child.pid, flush=True)
    time.sleep(60)
""")


def test_stop_process_kills_the_whole_group_after_the_grace_period():
    proc = lifecycle.track(subprocess.Popen([sys.executable, "-c", GROUP], stdout=subprocess.PIPE,
                                            start_new_session=True), owns_group=True)
    grandchild = int(proc.stdout.readline())
    assert alive(grandchild)
    lifecycle.stop_process(proc, owns_group=True, grace_s=0.2)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    for _ in range(500):                    # the grandchild is reaped by init, a moment later
        if not alive(grandchild):
            break
        time.sleep(0.01)
    assert not alive(grandchild)
    assert proc.pid not in lifecycle.live_children()


def test_stop_all_stops_every_tracked_child():
    procs = [lifecycle.track(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                              start_new_session=True), owns_group=True) for _ in range(2)]
    assert lifecycle.stop_all(grace_s=1.0) == 2
    assert all(p.returncode is not None for p in procs)
    assert lifecycle.live_children() == []


def test_describe_exit():
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(3) == "exited with 3"
    assert describe_exit(None) == "still running"


READY = 'print(\'{"event": "ready"}\', flush=True); '

CHILD = textwrap.dedent("""
    import json, os, signal, sys, time
    print(json.dumps({"event": "ready"}), flush=True)
    print(json.dumps({"event": "window_start"}), flush=True)
    print("about to be killed", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_a_killed_child_is_described_by_its_signal_time_and_stderr():
    events = []
    result, reason = run_event_child([sys.executable, "-c", CHILD], 30.0, events.append, "load generator")
    assert result is None and events == ["window_start"]
    assert reason.startswith("load generator killed by SIGKILL 0.")          # 0.x s: not the 30 s watchdog
    assert "into the window" in reason and "about to be killed" in reason
    assert "watchdog" not in reason


def test_the_watchdog_says_it_was_the_watchdog():
    result, reason = run_event_child([sys.executable, "-c", READY + "import time; time.sleep(30)"], 0.3,
                                     lambda e: None, "load generator")
    assert result is None
    assert "watchdog" in reason and "before the window" in reason


def test_a_child_without_a_ready_line_is_not_waited_for_beyond_its_death():
    result, reason = run_event_child([sys.executable, "-c", "import sys; sys.exit('bad arguments')"], 30.0,
                                     lambda e: None, "load generator")
    assert result is None and reason == "load generator exited with 1 before ready: bad arguments"


def test_events_are_passed_on_in_order_and_the_result_returned():
    events = []
    child = READY + ("import json; [print(json.dumps({'event': e}), flush=True) for e in "
                     "('connected', 'window_start', 'window_end')]; "
                     "print(json.dumps({'event': 'result', 'result': {'requests': 7}}), flush=True)")
    result, reason = run_event_child([sys.executable, "-c", child], 30.0, events.append, "load generator")
    assert (result, reason) == ({"requests": 7}, "")
    assert events == ["connected", "window_start", "window_end"]


def test_garbage_on_stdout_is_reported_not_raised():
    result, reason = run_event_child([sys.executable, "-c", READY + "print('not json'); import sys; sys.exit(2)"],
                                     30.0, lambda e: None, "stream client")
    assert result is None and "exited with 2" in reason and "not json" in reason


def test_a_signal_while_a_child_is_started_waits_until_the_child_is_tracked():
    with pytest.raises(lifecycle.Interrupted):
        with lifecycle.interruptible():
            with lifecycle.deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):             # the handler has run: held, not raised
                    pass
                proc = lifecycle.spawn([sys.executable, "-c", "import time; time.sleep(60)"], owns_group=True)
            pytest.fail("the held signal was not raised on leaving")
    assert proc.pid in lifecycle.live_children()
    lifecycle.stop_all(grace_s=1.0)
    assert lifecycle.live_children() == []


def dying_server(code: str) -> Child:
    """A ready child that then dies as `code` says, stopped by nobody: the server that server_died describes."""
    server = Child([sys.executable, "-c", READY + textwrap.dedent(code)], what="server").start()
    assert server.next_event(30.0) is None          # its end
    return server


def test_a_dead_server_is_reported_with_its_signal_and_the_load_generators_evidence():
    from concbench.studies.orchestrate import Case, server_died

    server = dying_server("""
        import os, signal, sys
        print("starting\\nworker 2 gone\\nSegmentation fault", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    seen = {"status": "failed", "requests": 1234, "errors": 3, "error_kinds": {"reset": 3},
            "first_error": "reset: connection reset by peer", "throughput_rps": 2468.0}
    record = server_died(Case("echo", (("size", 64),), 10, "asyncio"), seen, server)
    assert record["status"] == "failed"
    assert record["first_error"].startswith("server killed by SIGKILL during the measurement")
    assert "Segmentation fault" in record["first_error"] and "worker 2 gone" in record["first_error"]
    assert "the load generator saw: reset: connection reset by peer" in record["first_error"]
    assert record["requests"] == 1234 and record["error_kinds"] == {"reset": 3, "server_died": 1}
    assert record["errors"] == 4
    server.stop()


def test_a_dead_server_is_reported_with_when_it_died():
    """The death watch notes the moment the server ended; the record says it relative to the load's window."""
    from concbench.studies.orchestrate import Case, server_died

    server = dying_server("""
        import os, signal, time
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    marks = {"started": server.ready_at, "window_start": server.ready_at + 0.1}
    assert server.died_at is not None and server.died_at >= server.ready_at
    record = server_died(Case("echo", (("size", 64),), 10, "asyncio"), {"status": "failed"}, server, marks)
    assert record["first_error"].startswith("server killed by SIGKILL ")
    assert " s into the window; last stderr: " in record["first_error"]
    server.stop()
