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
from concbench.scenarios.base import ProbeReply
from concbench.harness.server_process import ServerFailed, ServerProcess
from concbench.results.measurement import add_backend_evidence, loadgen_report
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


def run_probes(port: int, probes, own_http_stack: bool = False) -> list[str]:
    """The problems a scenario's probes (concbench.scenarios.base.Probe) find, each on one fresh connection."""
    problems = []
    for probe in probes:
        frame = probe.framer()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            buffer = b""
            for index, request in enumerate(probe.requests):
                size, closed = 0, False
                try:
                    sock.sendall(request)
                    while (size := frame(buffer)) == 0:
                        chunk = sock.recv(65536)
                        if not chunk:
                            closed = True
                            break
                        buffer += chunk
                except ConnectionResetError:
                    closed = True
                whole = size > 0 and not closed
                problem = probe.judge(ProbeReply(index, buffer[:size] if whole else buffer, closed, size < 0,
                                                 own_http_stack))
                if problem:
                    problems.append(problem)
                if not whole:
                    break
                buffer = buffer[size:]
    return problems


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
            problems += run_probes(server.port, spec.probes, registry.RUNNERS[runner].own_http_stack)
        except OSError as exc:
            problems.append(f"probe failed: {exc}")
        if not server.alive():
            problems.append(f"server died: {server.last_words()}")
        return problems, report
    finally:
        server.stop()


def verify_external(scenario: str, params: dict, port: int) -> list[str]:
    """`run --server-cmd`: the scenario's checks on a command already serving `port` (its readiness check in
    concbench.harness.external_server): a short load with every reply verified, then the scenario's probes under
    the rules of a framework's own HTTP stack (any 4xx or a close for a malformed request; the rest exactly as for
    every runner)."""
    spec = registry.SCENARIOS[scenario]
    plan = LoadPlan("127.0.0.1", port, 2, warmup_s=0.05, duration_s=0.2, timeout_s=3.0)
    report = loadgen_report(run_load(plan, spec.client_workload(params)))
    if report["status"] != "ok":
        return [f"under load: {report['first_error'] or 'no reply'}"]
    try:
        return run_probes(port, spec.probes, own_http_stack=True)
    except OSError as exc:
        return [f"probe failed: {exc}"]


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
