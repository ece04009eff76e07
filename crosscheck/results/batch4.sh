set -u
PY=${PY:-.venv/bin/python}   # run from the repository root (the runs here used /work/main/.venv/bin/python)
J=crosscheck/results/runs.jsonl
F="$PY crosscheck/idle_probe.py --levels 0 20 50 100 --fit 20,50,100 --repeat 3 --breakdown --json $J"
$F --label probe-fork-arena2 --env MALLOC_ARENA_MAX=2 -- $PY crosscheck/servers/echo_fork.py
$F --label probe-fork-arena-unset --unset MALLOC_ARENA_MAX -- $PY crosscheck/servers/echo_fork.py
C="$PY crosscheck/idle_probe.py --fresh --levels 10 20 50 100 --fit 10,50,100 --fit 20,50,100 --repeat 3 --breakdown --json $J"
$C --label concbench-processes-arena2 --env MALLOC_ARENA_MAX=2 -- $PY -m concbench serve processes echo --port 0 --option workers={n}
$C --label concbench-processes-arena-unset --unset MALLOC_ARENA_MAX -- $PY -m concbench serve processes echo --port 0 --option workers={n}
