"""Runs `python -m concbench serve ...` unchanged, with crosscheck hooks around it (nothing under concbench/runners/ or
concbench/ is edited):

    python crosscheck/servers/concbench_serve.py serve asyncio echo --port 0

  CROSSCHECK_TRACE_OUT   (with PYTHONTRACEMALLOC=1) SIGUSR1 reports traced bytes, see tracehook.py
  CROSSCHECK_MAX_SIZE=N  after the runner module set it, put _SelectorSocketTransport.max_size back to N
  CROSSCHECK_PROCESSES=freeze|plain
                         `freeze`: gc.freeze() once, just before the server's first os.fork() (the pre-fork
                         arbiter's first worker); `plain`: the runner unchanged
Run from the repository root (the root must be on sys.path, as with python -m).
"""
import os
import runpy
import sys

sys.path.insert(0, os.getcwd())
sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))

import tracehook  # noqa: E402

tracehook.install()     # a plain signal handler; the selector loop wakes for it (PEP 475 retry after EINTR)

if os.environ.get("CROSSCHECK_MAX_SIZE"):
    import asyncio.selector_events
    import concbench.runners.asyncio_protocol  # noqa: F401  (sets max_size = RECV_SIZE at import)
    asyncio.selector_events._SelectorSocketTransport.max_size = int(os.environ["CROSSCHECK_MAX_SIZE"])

if os.environ.get("CROSSCHECK_PROCESSES") == "freeze":
    import gc

    _fork = os.fork

    def fork_after_freezing():
        os.fork = _fork        # once: the arbiter freezes what it has before its first worker
        gc.freeze()
        return _fork()

    os.fork = fork_after_freezing

sys.argv = ["concbench"] + sys.argv[1:]
runpy.run_module("concbench", run_name="__main__", alter_sys=True)
