"""The one child-process class: start and ready line, a bad or missing ready line, an early death with its signal
and last stderr lines, the death watch, events and commands, the stop's escalation to SIGKILL, and an interrupt
stopping it. The children are tiny Python programs; no test asserts a speed."""
from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading

import pytest

from concbench.harness import lifecycle
from concbench.harness.child import TAIL_LINES, Child, ChildFailed

from .test_lifecycle import alive


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


READY_THEN_SLEEP = """
    import json, os, time
    print(json.dumps({"event": "ready", "port": 8080, "pid": os.getpid(), "pool": "16"}), flush=True)
    time.sleep(60)
"""


class Picky(Child):
    """A child whose ready line must carry a port, as a server's does."""
    what = "picky child"

    def check_ready(self, fields):
        return None if isinstance(fields.get("port"), int) else "no port"


def test_start_returns_once_ready_with_the_ready_lines_fields_and_stop_ends_it():
    child = Child(python(READY_THEN_SLEEP), what="sleeper").start()
    try:
        assert child.alive() and child.pid == child.proc.pid
        assert child.ready_fields == {"port": 8080, "pid": child.pid, "pool": "16"}
        assert child.started_at <= child.ready_at
        assert child.pid in lifecycle.live_children()
    finally:
        child.stop()
    assert not child.alive() and child.proc.returncode == -signal.SIGTERM
    assert child.pid not in lifecycle.live_children()
    child.stop()                                   # a second stop does nothing


def test_a_ready_line_written_in_pieces_is_read_whole():
    child = Child(python("""
        import os, sys, time
        line = '{"event": "ready", "port": 8080, "pid": %d}\\n' % os.getpid()
        sys.stdout.write(line[:10]); sys.stdout.flush(); time.sleep(0.2)
        sys.stdout.write(line[10:]); sys.stdout.flush(); time.sleep(60)
    """)).start()
    try:
        assert child.ready_fields["port"] == 8080
    finally:
        child.stop()


def test_a_bad_ready_line_fails_the_start_and_nothing_is_left_running():
    child = Picky(python('print(\'{"event": "ready", "pid": 1}\', flush=True); import time; time.sleep(60)'))
    with pytest.raises(ChildFailed, match=r"^picky child printed a bad ready line \(no port\)"):
        child.start()
    assert not child.alive()


def test_output_that_is_no_protocol_line_is_named_when_the_child_dies_before_ready():
    child = Child(python("print('listening on 8080', flush=True); import sys; sys.exit(3)"), what="server")
    with pytest.raises(ChildFailed, match=r"^server exited with 3 before ready: no output; "
                                          r"unreadable output: 'listening on 8080'"):
        child.start()


def test_a_child_never_ready_fails_at_the_bound_and_is_stopped():
    child = Child(python("import sys, time; print('still importing', file=sys.stderr, flush=True); time.sleep(60)"),
                  what="slowpoke")
    with pytest.raises(ChildFailed, match=r"^slowpoke not ready within 0.3 s: still importing"):
        child.start(ready_timeout_s=0.3)
    assert not child.alive() and child.pid not in lifecycle.live_children()


def test_an_early_death_says_its_signal_and_its_last_stderr_lines():
    child = Child(python("""
        import os, signal, sys
        for line in ("loading", "worker 2 gone", "Segmentation fault"):
            print(line, file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """), what="server")
    with pytest.raises(ChildFailed) as failed:
        child.start()
    assert str(failed.value) == "server killed by SIGKILL before ready: loading | worker 2 gone | Segmentation fault"


def test_the_death_watch_notes_when_it_died_and_its_events_end():
    child = Child(python("""
        import json, os, signal, time
        print(json.dumps({"event": "ready"}), flush=True)
        time.sleep(0.2)
        print(json.dumps({"event": "window_start"}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)).start()
    try:
        assert child.next_event(30.0) == {"event": "window_start"}
        assert child.next_event(30.0) is None              # its end, and for good
        assert child.next_event(0.0) is None
        assert child.died_at is not None and child.died_at >= child.ready_at
        assert child.death(5.0) == "killed by SIGKILL" and not child.alive()
    finally:
        child.stop()


def test_events_and_commands_go_both_ways_and_a_silent_child_times_out():
    child = Child(python("""
        import json, sys
        print(json.dumps({"event": "ready"}), flush=True)
        for line in sys.stdin:
            if line.strip() != "quiet":
                print(json.dumps({"event": "answer", "said": line.strip()}), flush=True)
    """), what="echoer", stdin=True).start()
    try:
        child.send_line("hello")
        assert child.next_event(30.0) == {"event": "answer", "said": "hello"}
        child.send_line("again")
        assert child.expect("answer", 30.0) == {"said": "again"}
        child.send_line("out of turn")
        with pytest.raises(ChildFailed, match="^echoer said 'answer', not 'result'"):
            child.expect("result", 30.0)
        child.send_line("quiet")
        with pytest.raises(TimeoutError, match="gave no answer within 0.2 s"):
            child.next_event(0.2)
        with pytest.raises(ChildFailed, match="^echoer gave no answer to 'quiet' within 0.2 s"):
            child.expect("answer", 0.2, asked=" to 'quiet'")
        child.close_stdin()                                  # EOF: it ends by itself
        assert child.next_event(30.0) is None and child.death(5.0) == "exited with 0"
    finally:
        child.stop()


def test_the_tail_keeps_only_the_last_lines():
    child = Child(python("""
        import json, sys
        for n in range(200):
            print(f"line {n}", file=sys.stderr)
        sys.stderr.flush()
        print(json.dumps({"event": "ready"}), flush=True)
        sys.stdin.read()
    """), stdin=True).start()
    child.stop()
    assert child.last_words(3) == "line 197 | line 198 | line 199"
    assert child.last_words(1000).count("|") == TAIL_LINES - 1


STUBBORN_GROUP = """
    import json, os, signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)        # only SIGKILL ends it, and its own child
    grandchild = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                                   "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
    print(json.dumps({"event": "ready", "grandchild": grandchild.pid}), flush=True)
    time.sleep(60)
"""


def test_stop_escalates_to_sigkill_of_the_whole_group():
    child = Child(python(STUBBORN_GROUP)).start()
    grandchild = child.ready_fields["grandchild"]
    assert alive(grandchild)
    child.stop(grace_s=0.2)
    assert child.proc.returncode == -signal.SIGKILL
    for _ in range(500):                      # the grandchild is reaped by init, a moment later
        if not alive(grandchild):
            break
        threading.Event().wait(0.01)
    assert not alive(grandchild)


def test_a_paused_child_still_ends_by_its_own_sigterm_handler():
    child = Child(python("""
        import json, signal, sys, time
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        print(json.dumps({"event": "ready"}), flush=True)
        time.sleep(60)
    """)).start()
    child.send_signal(signal.SIGSTOP)
    child.stop(grace_s=60.0)                  # SIGTERM is followed by SIGCONT: not the SIGKILL after the grace
    assert child.proc.returncode == 0


def test_an_interrupt_while_waiting_for_ready_stops_the_child():
    child = Child(python("import time; time.sleep(60)"))
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    with pytest.raises(lifecycle.Interrupted):
        with lifecycle.interruptible():
            timer.start()
            child.start(ready_timeout_s=60.0)
    timer.join()
    assert child.proc is not None and not child.alive()
    assert child.pid not in lifecycle.live_children()


def test_an_interrupt_stops_a_ready_child_through_the_lifecycle():
    child = Child(python(READY_THEN_SLEEP)).start()
    with pytest.raises(lifecycle.Interrupted):
        with lifecycle.interruptible():
            try:
                os.kill(os.getpid(), signal.SIGINT)
                threading.Event().wait(5.0)      # the handler raises here
            except lifecycle.Interrupted:
                assert lifecycle.stop_all(grace_s=1.0) >= 1
                raise
    assert not child.alive() and child.proc.returncode == -signal.SIGTERM
    child.stop()                                   # its own stop afterwards finds it ended


def test_a_command_that_cannot_be_started_is_a_failure_not_an_oserror():
    with pytest.raises(ChildFailed, match=r"^ghost does not start: No such file"):
        Child(["/nonexistent/ghost"], what="ghost").start()
