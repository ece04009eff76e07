"""`run --server-cmd`: a third-party server (uvicorn serving an ASGI app this test writes) verified, measured and
labelled external; a command that does not start, does not serve or answers wrongly is one line naming it and
the cause, and the rest of the suite runs."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from concbench.harness.external_server import CommandServer, parse_server_cmd
from concbench.results.format import load_measurements
from concbench.harness.server_process import ServerFailed
from concbench.studies.verify import verify_external

TOOL_APP = Path(__file__).resolve().parent.parent / "tools" / "asgi_plaintext.py"    # make external-demo's app

needs_uvicorn = pytest.mark.skipif(shutil.which("uvicorn", path=os.path.dirname(sys.executable)) is None,
                                   reason="uvicorn (the test extra) is not installed")


def uvicorn_command(tmp_path: Path, body: bytes = b"Hello, World!") -> str:
    app = TOOL_APP.read_text().replace('BODY = b"Hello, World!"', f"BODY = {body!r}")
    (tmp_path / "plain_app.py").write_text(app)
    uvicorn = os.path.join(os.path.dirname(sys.executable), "uvicorn")
    return f"{uvicorn} --app-dir {tmp_path} plain_app:app --host 127.0.0.1 --port {{port}} --log-level warning"


def test_server_cmd_is_parsed_or_refused_with_the_reason():
    assert parse_server_cmd("u=uvicorn app:app --port {port}") == ("u", "uvicorn app:app --port {port}")
    for bad, reason in [("uvicorn --port {port}", "NAME=COMMAND"), ("u=uvicorn app:app", "{port}"),
                        ("a b=x {port}", "space"), ("u=x '{port}", "cannot split")]:
        with pytest.raises(ValueError, match=reason):
            parse_server_cmd(bad)


def test_a_command_that_exits_is_named_with_its_last_words():
    server = CommandServer("quitter", f"{sys.executable} -c \"import sys; sys.exit('no config for {{port}}')\"",
                           "http", {}, None)
    with pytest.raises(ServerFailed, match=r"'quitter'.*does not start: exited with 1.*no config for"):
        server.start()


def test_a_command_that_never_listens_does_not_serve():
    server = CommandServer("sleeper", f"{sys.executable} -c \"import time; time.sleep(30)\" {{port}}", "echo", {},
                           None, ready_timeout_s=0.5)
    with pytest.raises(ServerFailed, match=r"'sleeper'.*does not serve: nothing accepts on port"):
        server.start()
    assert not server.alive()


@needs_uvicorn
def test_a_server_that_answers_wrongly_fails_verification(tmp_path):
    server = CommandServer("wrong", uvicorn_command(tmp_path, b"Hello, World?"), "http", {}, None,
                           check=lambda port: verify_external("http", {}, port))
    with pytest.raises(ServerFailed, match=r"'wrong'.*answers wrongly: under load: .*body"):
        server.start()
    assert not server.alive()


@needs_uvicorn
def test_uvicorn_measured_pinned_and_labelled_external_beside_a_broken_command(tmp_path):
    out = tmp_path / "external.json"
    command = [sys.executable, "-m", "concbench", "run", "--scenarios", "http", "--connections", "2",
               "--repetitions", "1", "--warmup", "0.05", "--duration", "0.2", "--timeout", "10", "--no-report",
               "-o", str(out),
               "--server-cmd", f"uvicorn={uvicorn_command(tmp_path)}", "--server-cmd", "broken=/bin/false {port}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    # exit 4: a runner (here the broken command) failed every repetition of a case; the rest was measured
    assert done.returncode == 4, done.stdout + done.stderr
    assert "http/c=2/broken: server: external command 'broken'" in done.stderr + done.stdout
    broken = [line for line in done.stdout.splitlines() if " broken " in line and "FAILED" in line]
    assert broken and "external command 'broken' (/bin/false {port}): does not start" in broken[0]
    records = {r["runner"]: r for r in load_measurements(out)}
    assert records["uvicorn"]["status"] == "ok" and records["uvicorn"]["requests"] > 0
    assert records["uvicorn"]["runner_external"] == "command"
    assert "plain_app:app" in records["uvicorn"]["server_command"]
    assert records["broken"]["status"] == "failed"
    table = [line for line in done.stdout.splitlines() if line.startswith("http") and " uvicorn " in line]
    assert table and "EXTERNAL command" in table[0]


ECHO_SERVER = '''
import os, socket, sys, threading
port, record = int(sys.argv[1]), sys.argv[2]
open(record, "w").write(",".join(map(str, sorted(os.sched_getaffinity(0)))))
listener = socket.create_server(("127.0.0.1", port))
def serve(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
while True:
    threading.Thread(target=serve, args=(listener.accept()[0],), daemon=True).start()
'''


def test_a_command_is_pinned_to_the_server_cpus_verified_and_stopped(tmp_path):
    import os
    script, record = tmp_path / "echo_server.py", tmp_path / "affinity"
    script.write_text(ECHO_SERVER)
    cpu = min(os.sched_getaffinity(0))
    server = CommandServer("plain-echo", f"{sys.executable} {script} {{port}} {record}", "echo", {"size": 64},
                           (cpu,), check=lambda port: verify_external("echo", {"size": 64}, port)).start()
    try:
        assert record.read_text() == str(cpu)            # the exec shim pinned it before the server ran
        assert server.alive() and server.pid == server.proc.pid
    finally:
        server.stop()
    assert not server.alive()
