"""Records grouped into cases: (scenario, parameters, connections, runner) -> the repetitions of that case.

The one grouping every table, chart, verdict and comparison uses; records in, groups out, nothing else.
"""
from __future__ import annotations

from collections import defaultdict


def case_params(record: dict) -> tuple:
    """The scenario parameters of a record (its param_<name> keys), sorted by name."""
    return tuple(sorted((k[len("param_"):], v) for k, v in record.items() if k.startswith("param_")))


def group_cases(records: list[dict]) -> dict[tuple, list[dict]]:
    """(scenario, params, connections, runner) -> the repetitions of that case."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for record in records:
        params = list(case_params(record))
        if record.get("offered_rate"):
            params.append(("rate", record["offered_rate"]))       # open loop: the rate is part of the case
        if record.get("slow_clients") is not None:
            params.append(("slow", record["slow_clients"]))       # run --slow-clients: so is their number
        params = tuple(sorted(params))
        groups[(record["scenario"], params, record["offered_connections"], record["runner"])].append(record)
    return groups
