set -u
PY=${PY:-.venv/bin/python}   # run from the repository root (the runs here used /work/main/.venv/bin/python)
J=crosscheck/results/runs.jsonl
P="$PY crosscheck/idle_probe.py --levels 100 1000 2000 5000 10000 --fit 2000,5000 --fit 1000,5000,10000 --repeat 3 --json $J"
$P --label probe-asyncio-arena2 --env MALLOC_ARENA_MAX=2 -- $PY crosscheck/servers/echo_asyncio.py
$P --label probe-asyncio-arena-unset --unset MALLOC_ARENA_MAX -- $PY crosscheck/servers/echo_asyncio.py
$P --label concbench-asyncio-arena2 --env MALLOC_ARENA_MAX=2 -- $PY -m concbench serve asyncio echo --port 0
$P --label concbench-asyncio-arena-unset --unset MALLOC_ARENA_MAX -- $PY -m concbench serve asyncio echo --port 0
$P --label probe-uvloop-arena2 --env MALLOC_ARENA_MAX=2 -- $PY crosscheck/servers/echo_asyncio.py --uvloop
$P --label concbench-asyncio-uvloop-arena2 --env MALLOC_ARENA_MAX=2 -- $PY -m concbench serve asyncio-uvloop echo --port 0
