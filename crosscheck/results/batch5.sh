set -u
PY=${PY:-.venv/bin/python}   # run from the repository root (the runs here used /work/main/.venv/bin/python)
J=crosscheck/results/runs.jsonl
IMP=concbench.cli,concbench.harness.serve,runners.processes,scenarios.echo
F="$PY crosscheck/idle_probe.py --levels 0 20 50 100 --fit 20,50,100 --breakdown --json $J --env MALLOC_ARENA_MAX=2"
$F --repeat 3 --label probe-fork-preimport --env PYTHONPATH=. --env CROSSCHECK_PREIMPORT=$IMP -- $PY crosscheck/servers/echo_fork.py
$F --repeat 3 --label probe-fork-preimport-freeze --env PYTHONPATH=. --env CROSSCHECK_PREIMPORT=$IMP --env CROSSCHECK_GC_FREEZE=1 -- $PY crosscheck/servers/echo_fork.py
$F --repeat 3 --label probe-fork-freeze --env CROSSCHECK_GC_FREEZE=1 -- $PY crosscheck/servers/echo_fork.py
$F --repeat 1 --label probe-fork-childgc --env CROSSCHECK_CHILD_GC=1 -- $PY crosscheck/servers/echo_fork.py
$F --repeat 1 --label probe-fork-preimport-childgc --env PYTHONPATH=. --env CROSSCHECK_PREIMPORT=$IMP --env CROSSCHECK_CHILD_GC=1 -- $PY crosscheck/servers/echo_fork.py
$F --repeat 1 --label probe-fork-preimport-freeze-childgc --env PYTHONPATH=. --env CROSSCHECK_PREIMPORT=$IMP --env CROSSCHECK_GC_FREEZE=1 --env CROSSCHECK_CHILD_GC=1 -- $PY crosscheck/servers/echo_fork.py
C="$PY crosscheck/idle_probe.py --fresh --levels 10 20 50 100 --fit 10,50,100 --fit 20,50,100 --repeat 3 --breakdown --json $J --env MALLOC_ARENA_MAX=2"
$C --label concbench-processes-hook-plain --env CROSSCHECK_PROCESSES=plain -- $PY crosscheck/servers/concbench_serve.py serve processes echo --port 0 --option workers={n}
$C --label concbench-processes-hook-freeze --env CROSSCHECK_PROCESSES=freeze -- $PY crosscheck/servers/concbench_serve.py serve processes echo --port 0 --option workers={n}
