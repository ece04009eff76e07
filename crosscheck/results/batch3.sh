set -u
PY=${PY:-.venv/bin/python}   # run from the repository root (the runs here used /work/main/.venv/bin/python)
T="$PY crosscheck/idle_probe.py --levels 100 2000 5000 --fit 2000,5000 --repeat 1 --trace --json crosscheck/results/trace.jsonl --env MALLOC_ARENA_MAX=2"
$T --label trace-probe-asyncio -- $PY crosscheck/servers/echo_asyncio.py
for v in slots session maxsize=65536 backlog=2048 nodelay; do
  $T --label trace-probe-asyncio-$v --env CROSSCHECK_VARIANT=$v -- $PY crosscheck/servers/echo_asyncio.py
done
$T --label trace-concbench-asyncio -- $PY crosscheck/servers/concbench_serve.py serve asyncio echo --port 0
$T --label trace-concbench-asyncio-maxsize262144 --env CROSSCHECK_MAX_SIZE=262144 -- $PY crosscheck/servers/concbench_serve.py serve asyncio echo --port 0
R="$PY crosscheck/idle_probe.py --levels 100 2000 5000 --fit 2000,5000 --repeat 3 --json crosscheck/results/runs.jsonl --env MALLOC_ARENA_MAX=2"
for v in 3.10.13 3.12.1 3.13.0; do
  $R --label probe-asyncio-py$v -- /root/.pyenv/versions/$v/bin/python crosscheck/servers/echo_asyncio.py
done
$R --label probe-asyncio-py3.12.1-arena-unset --unset MALLOC_ARENA_MAX -- /root/.pyenv/versions/3.12.1/bin/python crosscheck/servers/echo_asyncio.py
