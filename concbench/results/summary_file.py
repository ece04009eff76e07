"""Summary files (`ceiling`, `clients`: one JSON object of a kind's keys) written and read strictly, and the kind of
any result file. It owns those files' keys check; the pyperf suites are concbench.results.format's.
"""
from __future__ import annotations

from concbench.results import kinds, strict_read
from concbench.results.format import NotAResult, load_measurements, write_json_atomically


def write_summary(path, kind: kinds.ResultKind, summary: dict, partial: bool = False) -> None:
    """Write a summary of a summary kind atomically; a key the kind does not list is an error (nothing written).
    partial: a study's file while it is measured (rewritten after each measurement), which may lack the figures
    that identify a finished one."""
    if kind.layout != "summary":
        raise ValueError(f"{kind.name} results are pyperf suites, not summaries")
    unknown = sorted(set(summary) - set(kind.keys))
    if unknown:
        raise ValueError(f"{kind.name} summary keys not registered in concbench.results.kinds: {', '.join(unknown)}")
    missing = [key for key in kind.identifying if key not in summary]
    if missing and not partial:
        raise ValueError(f"a {kind.name} summary needs {', '.join(missing)}")
    write_json_atomically(path, summary)


def read_summary(path) -> tuple[kinds.ResultKind, dict]:
    """(kind, summary) of a summary file; NotAResult (one line) for anything else."""
    try:
        data = strict_read.read_json(path)
    except strict_read.StructureError as exc:
        raise NotAResult(f"{path}: {exc}") from None
    kind = kinds.kind_of_summary(data)
    if kind is None:
        raise NotAResult(f"{path}: not a concbench summary (no {' or '.join(k.command for k in kinds.KINDS.values() if k.layout == 'summary')} keys)")
    return kind, data


def kind_of_file(path) -> kinds.ResultKind:
    """The kind of a result file, read strictly (NotAResult, one line, for anything malformed or unknown)."""
    try:
        data = strict_read.read_json(path)
    except strict_read.StructureError as exc:
        raise NotAResult(f"{path}: {exc}") from None
    summary = kinds.kind_of_summary(data)
    if summary is not None and not (isinstance(data, dict) and "benchmarks" in data):
        return summary
    records = load_measurements(path)
    kind = kinds.kind_of_records(records)
    if kind is None:
        raise NotAResult(f"{path}: records of kind {kinds.unknown_benchmark(records)!r}, which this concbench does "
                         f"not know: upgrade concbench")
    return kind
