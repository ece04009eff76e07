# tracemalloc: Python-level bytes per connection of the probe-style asyncio server on three interpreters,
# and the source lines that allocate them (snapshots at 100 and 2000 connections).
set -u
PY=${PY:-.venv/bin/python}   # run from the repository root (the runs here used /work/main/.venv/bin/python)
for v in 3.11.7 3.12.1 3.13.0; do
  d=/tmp/crosscheck-snap-$v; rm -rf $d; mkdir -p $d
  $PY crosscheck/idle_probe.py --levels 100 2000 --repeat 1 --trace --env CROSSCHECK_TRACE_SNAP=$d \
      --env MALLOC_ARENA_MAX=2 --json crosscheck/results/trace-versions.jsonl --label trace-probe-asyncio-py$v \
      -- /root/.pyenv/versions/$v/bin/python crosscheck/servers/echo_asyncio.py
  $PY crosscheck/trace_diff.py $d/snap-1 $d/snap-2 1900 --top 8
done
