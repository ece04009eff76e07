set -u
PY=${PY:-.venv/bin/python}   # run from the repository root (the runs here used /work/main/.venv/bin/python)
J=crosscheck/results/runs.jsonl
IMP=concbench.cli,concbench.harness.serve,runners.processes,scenarios.echo
C="$PY crosscheck/idle_probe.py --fresh --levels 10 20 50 100 --fit 10,50,100 --fit 20,50,100 --repeat 3 --breakdown --json $J --env MALLOC_ARENA_MAX=2"
$C --label probe-prefork -- $PY crosscheck/servers/echo_fork.py --prefork {n}
$C --label probe-prefork-preimport --env PYTHONPATH=. --env CROSSCHECK_PREIMPORT=$IMP -- $PY crosscheck/servers/echo_fork.py --prefork {n}
