# Every target creates the virtual environment from pyproject.toml by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ARGS ?=

.PHONY: bench bench-full test ceiling memory backend backpressure cpu-scaling slow-clients list regress baseline clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

## bench: the default suite (within 10 minutes on 2 cores): table, results/*.json, report
bench: $(STAMP)
	$(BIN)/concbench run $(ARGS)

## bench-full: the longer profile (more sizes, longer windows, 5 repetitions)
bench-full: $(STAMP)
	$(BIN)/concbench run --full $(ARGS)

## test: the behaviour tests (no test asserts a speed)
test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

## ceiling: the load generator's verified 64 B echo ceiling against the reference C server
ceiling: $(STAMP)
	$(BIN)/concbench ceiling $(ARGS)

## regress: the check that decides (concbench/regress.py): instruction counts per request (callgrind) against
## results/baseline-instructions.json decide; the quick wall-clock suite against results/baseline.json is compared
## too, and an inconclusive comparison FAILS (naming its rows and why) unless ALLOW_INCONCLUSIVE=1.
## Without valgrind the instruction part is skipped with one line. ARGS go to concbench.regress (e.g. --skip-wall).
regress: $(STAMP)
	ALLOW_INCONCLUSIVE=$(ALLOW_INCONCLUSIVE) $(BIN)/python -m concbench.regress $(ARGS)

## baseline: regenerate results/baseline.json with a real quick run on this machine (then commit it)
baseline: $(STAMP)
	$(BIN)/concbench run --quick -o results/baseline.json

## memory: bytes per idle connection per runner (1000/5000/10000 held; processes 10/50/100 workers), table and chart
memory: $(STAMP)
	$(BIN)/concbench memory $(ARGS)

## backend: the backend scenario's chart: throughput against 1 to 2000 connections, pools against event loops;
## a 10 s timeout, because a bounded pool at 2000 connections answers each request after about 2000 / (pool / D)
backend: $(STAMP)
	$(BIN)/concbench run --scenarios backend --connections 1 10 100 1000 2000 --repetitions 3 --timeout 10 \
		-o results/backend.json $(ARGS)

## cpu-scaling: the GIL, measured: threads against processes on the cpu scenario with the server on both cores
cpu-scaling: $(STAMP)
	$(BIN)/concbench run --scenarios cpu --runners threads processes --connections 1 2 4 \
		--server-cpus 0,1 --loadgen-cpus 1 -o results/cpu-scaling.json $(ARGS)

## slow-clients: http, 50 fast connections measured beside 0, 100 and 1000 slow clients (slowloris), every runner
## that serves http but the thread-stack and switch-interval variants; pre-forked workers number 64, more than the fast connections,
## so only the slow clients can tie them up; 2 s windows, so that slow requests (1.7 s each) complete in the run
slow-clients: $(STAMP)
	$(BIN)/concbench run --scenarios http --connections 50 --slow-clients 0 100 1000 --repetitions 3 \
		--warmup 0.5 --duration 2 \
		--runners all,-threads-stack-64k,-threads-stack-256k,-threads-switch-50ms \
		-O processes:workers=64 -O processes-httpserver:workers=64 -O processes-pool:workers=64 $(ARGS)

## gil-convoy: thread per connection beside 1000 slow clients, CPython's 5 ms GIL switch interval against 50 ms,
## interleaved in one run; the results' server_context_switches_per_s shows the waiting threads' wake-ups
gil-convoy: $(STAMP)
	$(BIN)/concbench run --scenarios http --runners threads threads-switch-50ms --connections 50 --slow-clients 1000 \
		--repetitions 10 --warmup 0.5 --duration 2 -o results/gil-convoy.json $(ARGS)

## backpressure: stream scenario, fast-reader MB/s and server peak memory against 0/1/4/16 slow readers, table and chart
backpressure: $(STAMP)
	$(BIN)/concbench backpressure $(ARGS)

list: $(STAMP)
	$(BIN)/concbench list

clean:
	rm -rf $(VENV) build

.PHONY: baseline-instructions instructions
## baseline-instructions: regenerate results/baseline-instructions.json (instruction counts; same machine and Python
## as the `make regress` that reads it: counts depend on the interpreter's build)
baseline-instructions: $(STAMP)
	$(BIN)/concbench run --measure instructions --scenarios echo http --connections 1 --repetitions 2 --requests 500 \
		-o results/baseline-instructions.json $(ARGS)

## instructions: instructions per request of every default runner on echo and http (1 and 10 connections), twice,
## side by side (results/instructions-run1.json, -run2.json); pre-forked runners get 16 workers, so that 10
## connections do not starve (with the default 3 on one server core, 7 of them would wait forever)
INSTRUCTIONS_RUN = --measure instructions --scenarios echo http --repetitions 2 \
	-O processes:workers=16 -O processes-httpserver:workers=16
instructions: $(STAMP)
	$(BIN)/concbench run $(INSTRUCTIONS_RUN) -o results/instructions-run1.json $(ARGS)
	$(BIN)/concbench run $(INSTRUCTIONS_RUN) -o results/instructions-run2.json $(ARGS)
	$(BIN)/python -m analysis.instructions results/instructions-run1.json results/instructions-run2.json
