"""`concbench serve`: one runner serving one scenario in the foreground until SIGINT/SIGTERM.

It owns the server process's set-up (cpu pinning, open-file limit, the common listener)
and the ready line; the runner module owns everything after that.
"""
from __future__ import annotations

import os
import sys

from . import fairness, registry

READY_PREFIX = "concbench serve: ready"


def ready_line(runner: str, scenario: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{READY_PREFIX} runner={runner} scenario={scenario} address={shown}:{port} pid={os.getpid()}"


def parse_ready_line(line: str) -> dict | None:
    """The fields of a ready line, or None if `line` is not one."""
    if not line.startswith(READY_PREFIX):
        return None
    fields = dict(part.split("=", 1) for part in line[len(READY_PREFIX):].split())
    host, _, port = fields["address"].rpartition(":")
    fields["host"], fields["port"], fields["pid"] = host.strip("[]"), int(port), int(fields["pid"])
    return fields


def serve(runner_name: str, scenario_name: str, params: dict, host: str, port: int,
          options: dict, cpus: tuple[int, ...] | None) -> None:
    """Bind, then hand over to the runner. OSError from bind reaches the caller (port in use)."""
    runner = registry.RUNNERS[runner_name]
    scenario = registry.SCENARIOS[scenario_name]
    fairness.pin_to_cpus(cpus)
    fairness.raise_open_file_limit()
    listener = fairness.listen_socket(host, port)
    bound_port = listener.getsockname()[1]
    module = runner.load()
    all_options = {**dict(runner.fixed_options), **options}

    make_session = scenario.session_factory(params)
    def ready():
        print(ready_line(runner_name, scenario_name, host, bound_port), flush=True)

    module.serve(listener, make_session, all_options, ready)
    sys.stdout.flush()
