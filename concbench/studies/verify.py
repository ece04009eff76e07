"""`concbench verify`: every runner x scenario checked against the scenario's rules before anything is measured.

Like TechEmpower's --mode verify: a fresh server per pair, a short load where every reply is
verified, then probes of the scenario's edge rules (for http: 404, 400 then still serving,
keep-alive; a framework's own HTTP stack may answer the malformed request any 4xx or close). It owns the probes' socket code; the rules themselves live in concbench/scenarios/.
"""
from __future__ import annotations

import socket

from concbench import console, registry
from concbench.clients.loadgen import LoadPlan, run_load
from concbench.clients.stream_client import fetch_stream
from concbench.errors import ExitCode
from concbench.harness.backend_service import BackendFailed, BackendProcess
from concbench.harness.server_process import ServerFailed, ServerProcess
from concbench.results.measurement import add_backend_evidence, loadgen_report
from concbench.scenarios.http import REQUEST, ResponseCheck, rejection_ok
from concbench.studies.pipeline import NoFile, Study, run_study
from concbench.studies.plans import VerifyPlan


def read_framed(sock, frame) -> bytes:
    """Read one reply framed by frame(buffer) (see scenarios.base.ClientWorkload), or what came before a close."""
    buffer = b""
    while True:
        size = frame(buffer)
        if size > 0:
            return buffer[:size]
        chunk = sock.recv(65536)
        if not chunk:
            return buffer
        buffer += chunk


def exchange(port: int, payload: bytes, frame) -> bytes:
    """Send payload, read one framed reply (or what came before the server closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        return read_framed(sock, frame)


def http_probes(port: int, own_http_stack: bool = False) -> list[str]:
    """The shared session must answer a malformed request 400; a framework's own stack may answer any
    4xx or close. Both must then serve keep-alive requests correctly."""
    check = ResponseCheck()
    problems = []
    reply = exchange(port, b"GET /not-there HTTP/1.1\r\nHost: x\r\n\r\n", check.frame)
    if not reply.startswith(b"HTTP/1.1 404"):
        problems.append(f"GET /not-there answered {reply[:30]!r}, not 404")
    try:
        reply = exchange(port, b"BROKEN\r\n\r\n", lambda b: len(b) if b"\r\n\r\n" in b else 0)
    except ConnectionResetError:
        reply = b""
    if not rejection_ok(reply, b"400", own_http_stack):
        problems.append(f"a malformed request line answered {reply[:30]!r}, not "
                        + ("4xx or a close" if own_http_stack else "400"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:     # keep-alive: two on one
        for n in (1, 2):
            sock.sendall(REQUEST)
            buffer = b""
            while check.frame(buffer) == 0:
                chunk = sock.recv(65536)
                if not chunk:
                    problems.append(f"the connection closed before keep-alive response {n}")
                    return problems
                buffer += chunk
            problem = check.problem(buffer[:check.frame(buffer)]) if check.frame(buffer) > 0 else "unframeable"
            if problem:
                problems.append(f"keep-alive response {n}: {problem}")
    return problems


PROBES = {"http": http_probes}
STREAM_VERIFY_SIZE = 4 << 20   # the stream scenario is verified with a 4 MiB payload, read twice at full speed


def verify_stream(runner: str) -> list[str]:
    """Two streams of STREAM_VERIFY_SIZE bytes, every byte checked at its offset, complete and closed."""
    params = registry.SCENARIOS["stream"].parse_params({"size": STREAM_VERIFY_SIZE})
    try:
        server = ServerProcess(runner, "stream", params, None).start()
    except ServerFailed as exc:
        return [f"server did not start: {exc}"]
    try:
        problems = []
        for attempt in (1, 2):
            try:
                problem = fetch_stream("127.0.0.1", server.port, STREAM_VERIFY_SIZE, timeout_s=10).problem
            except OSError as exc:
                problem = f"connection failed: {exc}"
            if problem:
                problems.append(f"stream {attempt}: {problem}")
        if not server.alive():
            problems.append(f"server died: {server.last_words()}")
        return problems
    finally:
        server.stop()


def verify_pair(runner: str, scenario: str) -> list[str]:
    """Problems found (empty list: the pair passes). A scenario that needs a backend gets a fresh backend
    service, and its call count must reach the verified replies."""
    if scenario == "stream":
        return verify_stream(runner)
    spec = registry.SCENARIOS[scenario]
    params = spec.parse_params({})
    if not spec.needs_backend:
        return verify_server(runner, scenario, params, None)[0]
    try:
        backend = BackendProcess().start()
    except BackendFailed as exc:
        return [str(exc)]
    try:
        problems, report = verify_server(runner, scenario, params, backend.address)
    finally:
        calls = backend.stop()
    if report is not None and report["status"] == "ok":
        checked = add_backend_evidence(report, calls)
        if checked["status"] != "ok":
            problems.append(checked["first_error"])
    return problems


def verify_server(runner: str, scenario: str, params: dict, backend: str | None) -> tuple[list[str], dict | None]:
    spec = registry.SCENARIOS[scenario]
    try:
        server = ServerProcess(runner, scenario, params, None, backend=backend).start()
    except ServerFailed as exc:
        return [f"server did not start: {exc}"], None
    try:
        plan = LoadPlan("127.0.0.1", server.port, 4, warmup_s=0.05, duration_s=0.3, timeout_s=3.0)
        report = loadgen_report(run_load(plan, spec.client_workload(params)))
        problems = [] if report["status"] == "ok" else [f"under load: {report['first_error'] or 'no reply'}"]
        try:
            probe = PROBES.get(scenario, lambda port, own_http_stack: [])
            problems += probe(server.port, registry.RUNNERS[runner].own_http_stack)
        except OSError as exc:
            problems.append(f"probe failed: {exc}")
        if not server.alive():
            problems.append(f"server died: {server.last_words()}")
        return problems, report
    finally:
        server.stop()


def check(pair) -> dict:
    """One pair as a record: n/a (with why), ok, or failed with its problems."""
    scenario, runner = pair
    reason = registry.applicable(runner, scenario)
    if reason:
        return {"status": "n/a", "problems": [reason]}
    problems = verify_pair(runner, scenario)
    return {"status": "failed" if problems else "ok", "problems": problems}


def outcome_line(record: dict) -> str:
    word = {"ok": "pass", "failed": "FAIL", "n/a": "n/a "}[record["status"]]
    return f"{word}  {'; '.join(record['problems'])}"


def conclude(measurements) -> int:
    failed = [(pair, record) for pair, record in measurements if record["status"] == "failed"]
    if console.verbosity < console.NORMAL:        # -q: the progress lines were not shown; the failures are results
        for (scenario, runner), record in failed:
            print(f"{scenario:<8} {runner:<20} FAIL  {'; '.join(record['problems'])}")
    print(f"{'all pairs pass' if not failed else f'{len(failed)} pair(s) FAIL'}")
    return ExitCode.REGRESSION if failed else ExitCode.OK


def run(plan: VerifyPlan) -> int:
    """Every runner x scenario through the pipeline (a fresh server per pair); exit 1 if a pair fails."""
    order = [(0, (scenario, runner)) for scenario in plan.scenarios for runner in plan.runners]
    return run_study(Study("verify", order, check, lambda rep, pair: "/".join(pair),
                           lambda rep, pair: f"{pair[0]:<8} {pair[1]:<20}", outcome_line, NoFile(), conclude,
                           unit="pairs"))
