# Every target creates the virtual environment from pyproject.toml by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ARGS ?=

.PHONY: bench bench-full test ceiling memory backend backpressure cpu-scaling slow-clients list regress baseline clean

$(STAMP): pyproject.toml setup.py concbench/clients/_engine.c
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
## Tests run in TEST_WORKERS processes (pytest-xdist): most of a test's time is spent waiting for a server to
## start or a short load window to end, so 4 workers on 2 cores finish in about half the time (no test asserts speed)
TEST_WORKERS ?= 4
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(ARGS)

## ceiling: the load generator's verified 64 B echo ceiling against the reference C server
ceiling: $(STAMP)
	$(BIN)/concbench ceiling $(ARGS)

## regress: the check that decides (concbench regress, concbench/studies/regress.py): instruction counts per request (callgrind) against
## results/baseline-instructions.json decide; the quick wall-clock suite against results/baseline.json is compared
## too, and an inconclusive comparison FAILS (naming its rows and why) unless ALLOW_INCONCLUSIVE=1.
## Without valgrind the instruction part is skipped with one line. ARGS go to concbench regress (e.g. --skip-wall).
regress: $(STAMP)
	ALLOW_INCONCLUSIVE=$(ALLOW_INCONCLUSIVE) $(BIN)/concbench regress $(ARGS)

## baseline: regenerate results/baseline.json with a real quick run on this machine (then commit it)
baseline: $(STAMP)
	$(BIN)/concbench run --quick --force -o results/baseline.json

## memory: bytes per idle connection per runner (1000/5000/10000 held; processes 10/50/100 workers), table and chart
memory: $(STAMP)
	$(BIN)/concbench memory $(ARGS)

## backend: the backend scenario's chart: throughput against 1 to 2000 connections, pools against event loops;
## a 10 s timeout, because a bounded pool at 2000 connections answers each request after about 2000 / (pool / D)
backend: $(STAMP)
	$(BIN)/concbench run --scenarios backend --connections 1 10 100 1000 2000 --repetitions 3 --timeout 10 \
		--force -o results/backend.json $(ARGS)

## cpu-scaling: the GIL, measured: threads against processes on the cpu scenario with the server on both cores
cpu-scaling: $(STAMP)
	$(BIN)/concbench run --scenarios cpu --runners threads processes --connections 1 2 4 \
		--server-cpus 0,1 --loadgen-cpus 1 --force -o results/cpu-scaling.json $(ARGS)

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
		--repetitions 10 --warmup 0.5 --duration 2 --force -o results/gil-convoy.json $(ARGS)

## backpressure: stream scenario, fast-reader MB/s and server peak memory against 0/1/4/16 slow readers, table and chart
backpressure: $(STAMP)
	$(BIN)/concbench backpressure $(ARGS)

list: $(STAMP)
	$(BIN)/concbench list

clean:
	rm -rf $(VENV) build

## report-screenshot: the HTML report of results/baseline.json as headless Chromium draws it at 800 px wide
## (reports/baseline/screenshot-800.png), and the whole page (screenshot-800-full.png), to look at
.PHONY: report-screenshot
report-screenshot: $(STAMP)
	$(BIN)/concbench report results/baseline.json
	$(BIN)/python -m concbench.analysis.screenshot reports/baseline/index.html reports/baseline/screenshot-800.png 800 2000
	$(BIN)/python -m concbench.analysis.screenshot reports/baseline/index.html reports/baseline/screenshot-800-full.png 800 9000

.PHONY: interop
## interop: what adapting to the standard loop costs: the same Protocol code on each loop (Twisted on epoll, asyncio,
## uvloop; Tornado on asyncio, uvloop; asyncio on its selector loop, uvloop), the bare selectors floor, and the other
## new runners beside asyncio; echo and http at 100 connections, 3 interleaved repetitions: 16 runners x 2 scenarios
## x 3 = 96 measurements of about 3 s each, about 5 minutes on 2 cores. Report: reports/interop/ (interop.png)
INTEROP_RUNNERS := asyncio,uvloop,asyncio-streams,uvloop-streams,twisted,twisted-asyncio,twisted-uvloop,tornado
INTEROP_RUNNERS := $(INTEROP_RUNNERS),tornado-uvloop,twisted-inline,trio,anyio,curio,selectors,fork,processes
interop: $(STAMP)
	$(BIN)/concbench run --scenarios echo http --runners $(INTEROP_RUNNERS) --connections 100 --repetitions 3 \
		--force -o results/interop.json $(ARGS)

.PHONY: external-demo
## external-demo: any command as a server: uvicorn (the `external` extra) serving a plaintext ASGI app
## (tools/asgi_plaintext.py), measured beside asyncio on http at 100 connections, 3 repetitions, about 30 s
external-demo: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[external]'
	$(BIN)/concbench run --scenarios http --runners asyncio --connections 100 --repetitions 3 \
		--server-cmd "uvicorn=$(BIN)/uvicorn --app-dir tools asgi_plaintext:app --host 127.0.0.1 --port {port} --log-level warning" \
		--force -o results/external-demo.json $(ARGS)

.PHONY: asan wrk-compare headline churn-compare
## asan: the native engine built with AddressSanitizer, and the engine tests (both-engine tests on native,
## the fuzz test included) run against that build; libasan is preloaded because the host is python
ASAN_BUILD := build/asan
asan: $(STAMP)
	rm -rf $(ASAN_BUILD) && CONCBENCH_ASAN=1 $(BIN)/python setup.py -q build_ext --build-lib $(ASAN_BUILD)/lib \
		--build-temp $(ASAN_BUILD)/temp
	ls $(ASAN_BUILD)/lib/concbench/clients/_engine*.so
	CONCBENCH_NATIVE_ENGINE=$$(ls $(ASAN_BUILD)/lib/concbench/clients/_engine*.so) LD_PRELOAD=$$(gcc -print-file-name=libasan.so) \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/test_native_engine.py tests/test_loadgen.py tests/test_open_loop.py tests/test_churn.py \
		-k "not uvloop and not failed_build and not without_the_extension" $(ARGS)

## wrk-compare: http plaintext against asyncio and asyncio-uvloop, the native engine and wrk interleaved (5 rounds)
wrk-compare: $(STAMP)
	$(BIN)/concbench clients --scenario http --runners asyncio asyncio-uvloop --clients native uvloop wrk \
		--connections 50 --repetitions 5 --duration 3 $(ARGS)

## churn-compare: a connection per request (churn, 10 connections) against processes and asyncio, the native engine
## and the C client's churn mode interleaved (5 rounds): is a client-bound churn row the client's limit, or any client's?
churn-compare: $(STAMP)
	$(BIN)/concbench clients --scenario churn --runners processes asyncio --clients native c-epoll \
		--connections 10 --repetitions 5 --duration 3 $(ARGS)

## headline: asyncio-uvloop / asyncio on 64 B echo at 100 connections, as concbench (native) and the C client see it
headline: $(STAMP)
	$(BIN)/concbench clients --scenario echo --runners asyncio asyncio-uvloop --clients native c-epoll \
		--connections 100 --repetitions 5 --duration 3 $(ARGS)

# Robustness figures (docs/robustness.md): the soak (default suite 3 times, processes/fds/listening ports before and
# after each) and the interrupt check (5 runs interrupted at random moments, SIGINT/SIGTERM alternately, resumed).
# SOAK_ARGS selects the suite, e.g. make soak SOAK_ARGS="--quick --runners asyncio threads --scenarios echo".
.PHONY: soak interrupt-check
SOAK_ARGS ?=
soak: $(STAMP)
	$(BIN)/python tools/soak.py --runs 3 -- $(SOAK_ARGS)
interrupt-check: $(STAMP)
	$(BIN)/python tools/interrupt_check.py --runs 5 -- $(SOAK_ARGS)

.PHONY: baseline-instructions instructions
## baseline-instructions: regenerate results/baseline-instructions.json (instruction counts; same machine and Python
## as the `make regress` that reads it: counts depend on the interpreter's build)
baseline-instructions: $(STAMP)
	$(BIN)/concbench run --measure instructions --scenarios echo http --connections 1 --repetitions 2 --requests 500 \
		--force -o results/baseline-instructions.json $(ARGS)

## instructions: instructions per request of every default runner on echo and http (1 and 10 connections, 3 repetitions), twice,
## side by side (results/instructions-run1.json, -run2.json); pre-forked runners get 16 workers, so that 10
## connections do not starve (with the default 3 on one server core, 7 of them would wait forever)
INSTRUCTIONS_RUN = --measure instructions --scenarios echo http --repetitions 3 \
	-O processes:workers=16 -O processes-httpserver:workers=16
instructions: $(STAMP)
	$(BIN)/concbench run $(INSTRUCTIONS_RUN) --force -o results/instructions-run1.json $(ARGS)
	$(BIN)/concbench run $(INSTRUCTIONS_RUN) --force -o results/instructions-run2.json $(ARGS)
	$(BIN)/python -m concbench.analysis.instructions results/instructions-run1.json results/instructions-run2.json
