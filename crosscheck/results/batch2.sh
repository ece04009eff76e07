set -u
PY=${PY:-.venv/bin/python}   # run from the repository root (the runs here used /work/main/.venv/bin/python)
J=crosscheck/results/runs.jsonl
P="$PY crosscheck/idle_probe.py --levels 0 100 2000 5000 --fit 100,2000 --fit 100,5000 --fit 2000,5000 --json $J --env MALLOC_ARENA_MAX=2"
$P --repeat 3 --label probe-asyncio-from0-py3.11.7 -- $PY crosscheck/servers/echo_asyncio.py
for v in 3.10.13 3.12.1 3.13.0; do
  $P --repeat 1 --label probe-asyncio-py$v -- /root/.pyenv/versions/$v/bin/python crosscheck/servers/echo_asyncio.py
done
$P --repeat 1 --label probe-asyncio-py3.11.2-debian -- /usr/bin/python3 crosscheck/servers/echo_asyncio.py
$P --repeat 1 --label probe-asyncio-pymalloc-off --env PYTHONMALLOC=malloc -- $PY crosscheck/servers/echo_asyncio.py
