"""`concbench serve`: one runner serving one scenario in the foreground until SIGINT/SIGTERM.

It owns the server process's set-up (cpu pinning, open-file limit, the common listener)
and the ready line; the runner module owns everything after that.
"""
from __future__ import annotations

import gc
import os
import signal
import sys

from concbench import extra_work, fairness, registry
from concbench.harness import protocol
from concbench.harness.backend_service import BackendProcess

# `run --measure instructions` sets this to a file: SIGUSR2 then makes each server process (forked workers too,
# which inherit the handler) run a full garbage collection and append its pid to the file, so every counted window
# starts from the same collector state (a full collection that falls inside one window and not another moved a
# count by 1.4%). Unset, a server installs no handler: no runner's behaviour changes.
COLLECT_ACK_ENV = "CONCBENCH_COLLECT_ACK"
COLLECT_SIGNAL = signal.SIGUSR2


def install_collect_handler(ack_path: str) -> None:
    """SIGUSR2: gc.collect(), then this process's pid appended to ack_path (one line, O_APPEND)."""
    def collect(signum, frame):
        gc.collect()
        fd = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
        finally:
            os.close(fd)

    signal.signal(COLLECT_SIGNAL, collect)


def ready_line(runner: str, scenario: str, host: str, port: int, **fields) -> str:
    """The ready line (concbench.harness.protocol) of a server: `fields` are what a runner reports about itself,
    e.g. pool=16 for a bounded pool, as text."""
    return protocol.ready_line(runner=runner, scenario=scenario, host=host, port=port, pid=os.getpid(),
                               **{name: str(value) for name, value in fields.items()})


def serve(runner_name: str, scenario_name: str, params: dict, host: str, port: int,
          options: dict, cpus: tuple[int, ...] | None, backend: str | None = None) -> None:
    """Bind, then hand over to the runner. OSError from bind reaches the caller (port in use).

    A scenario that needs a backend gets `backend` (HOST:PORT) or, if none, a backend service
    started here (on this process's cpus as they were) and stopped when the runner returns."""
    runner = registry.RUNNERS[runner_name]
    scenario = registry.SCENARIOS[scenario_name]
    own_backend = None
    if scenario.needs_backend and not backend:      # in this server's process group: stopped with it
        own_backend = BackendProcess(own_session=False).start()
        backend = own_backend.address
    try:
        serve_with(runner, scenario, params, host, port, options, cpus, backend)
    finally:
        if own_backend is not None:
            own_backend.stop()


def serve_with(runner, scenario, params, host, port, options, cpus, backend) -> None:
    runner_name, scenario_name = runner.name, scenario.name
    if os.environ.get(COLLECT_ACK_ENV):
        install_collect_handler(os.environ[COLLECT_ACK_ENV])
    fairness.pin_to_cpus(cpus)
    fairness.raise_open_file_limit()
    listener = fairness.listen_socket(host, port)
    bound_port = listener.getsockname()[1]
    module = runner.load()
    all_options = {**dict(runner.fixed_options), **options}
    if scenario.needs_backend:
        all_options["backend"] = backend

    make_session = scenario.session_factory(params)
    if extra_work.OPTION in all_options:      # the labelled test double (concbench.extra_work)
        if runner.own_http_stack:
            raise ValueError(f"{runner_name} uses its framework's own HTTP stack, not the scenario's session: "
                             f"{extra_work.OPTION} would change nothing")
        make_session = extra_work.wrap(make_session, extra_work.parse(all_options.pop(extra_work.OPTION)))
    def ready(**fields):
        print(ready_line(runner_name, scenario_name, host, bound_port, **fields), flush=True)

    module.serve(listener, make_session, all_options, ready)
    sys.stdout.flush()
