"""The one registry of runners and scenarios: `list`, selection flags, tests and reports read it.

Adding a runner or scenario means adding an entry here and a module; nothing else
enumerates them. Nothing here imports a framework (that happens in the server process).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import platform
from dataclasses import dataclass, field, replace

from concbench.scenarios.backend import SCENARIO as BACKEND
from concbench.scenarios.base import Scenario
from concbench.scenarios.churn import SCENARIO as CHURN
from concbench.scenarios.cpu import SCENARIO as CPU
from concbench.scenarios.echo import SCENARIO as ECHO
from concbench.scenarios.http import SCENARIO as HTTP
from concbench.scenarios.stream import SCENARIO as STREAM


@dataclass(frozen=True)
class Runner:
    name: str
    module: str                 # module with serve(listener, make_session, options, ready)
    model: str                  # the concurrency model, in words
    framework: str              # distribution whose version is recorded ("python" = stdlib)
    summary: str
    default: bool = True        # part of the default suite
    variant_of: str | None = None
    options: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (name, help)
    fixed_options: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # what makes a variant
    only_scenarios: tuple[str, ...] | None = None   # None: every scenario
    memory_suite: bool = False  # in `concbench memory`'s default selection although not in `run`'s
    own_http_stack: bool = False    # the framework's own HTTP parser/framing, not the shared session
    stream_suite: bool = False  # in `concbench backpressure`'s default selection although not in `run`'s
    # not in the default suite in general, but in it for these scenarios (the pool variants: backend)
    default_for: tuple[str, ...] = ()
    # in the default suite in general, but not for these scenarios (where a sibling variant is the model)
    not_default_for: tuple[str, ...] = ()
    # sized to the offered connections: `run` passes options["connections"] (processes: one worker each, capped)
    sized_to_connections: bool = False
    group: str | None = None    # a named suite it belongs to (interop: make interop)
    note: str = ""              # shown by `list`, e.g. that upstream is unmaintained
    external: bool = False      # from a plugin (entry point group concbench.runners): labelled in results
    command: str | None = None  # `run --server-cmd`: any command as a server (concbench/harness/external_server.py)

    def load(self):
        return importlib.import_module(self.module)

    def version(self) -> str:
        if self.command is not None:
            return "external command"
        if self.framework == "python":
            return platform.python_version()
        if self.framework == "c":
            return "C, tools/epoll_echo.c"
        try:
            return importlib.metadata.version(self.framework)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"


RUNNERS: dict[str, Runner] = {r.name: r for r in (
    Runner("threads", "concbench.runners.threads", "thread per connection, blocking sockets", "python",
           "accept loop; one threading.Thread per connection doing recv/sendall; backend: the unbounded "
           "per-connection variant, a backend socket per thread",
           options=(("stack_size", "bytes of stack per thread, threading.stack_size (default: ulimit -s)"),
                    ("switch_interval_ms", "sys.setswitchinterval in ms: how long a thread waiting for the GIL "
                                           "sleeps before it asks for it (default: CPython's 5)"))),
    Runner("threads-stack-64k", "concbench.runners.threads", "thread per connection, 64 KiB stacks", "python",
           "the threads runner with threading.stack_size(65536): less virtual memory reserved per thread",
           variant_of="threads", fixed_options=(("stack_size", "65536"),), default=False, memory_suite=True),
    Runner("threads-stack-256k", "concbench.runners.threads", "thread per connection, 256 KiB stacks", "python",
           "the threads runner with threading.stack_size(262144)",
           variant_of="threads", fixed_options=(("stack_size", "262144"),), default=False, memory_suite=True),
    Runner("threads-switch-50ms", "concbench.runners.threads", "thread per connection, 50 ms GIL switch interval", "python",
           "the threads runner with sys.setswitchinterval(0.05): a thread waiting for the GIL wakes to ask for it "
           "every 50 ms instead of every 5 ms (fewer wake-ups when hundreds of threads wait)",
           variant_of="threads", fixed_options=(("switch_interval_ms", "50"),), default=False),
    Runner("processes", "concbench.runners.processes", "pre-forked workers, blocking sockets", "python",
           "Apache prefork model: one forked worker per offered connection (up to a cap, option max_workers, "
           "default 1024) share one listener; a worker serves one connection at a time until it closes; "
           "outside `run` (no offered count) 2 x cores + 1 workers; backend: a backend socket per worker; not in "
           "backend's default suite, where processes-pool is the model",
           options=(("workers", "worker processes (default: one per offered connection, up to max_workers)"),
                    ("max_workers", "the cap on workers sized to the offered connections (default 1024)")),
           not_default_for=("backend",), sized_to_connections=True),
    Runner("processes-fixed", "concbench.runners.processes", "pre-forked workers (fixed pool), blocking sockets", "python",
           "gunicorn sync-worker model: a fixed pool of 2 x cores + 1 workers whatever the offered connections; "
           "connections beyond the pool starve in the backlog (the finding: docs/runners.md)",
           variant_of="processes", default=False,
           options=(("workers", "worker processes (default 2 x server cores + 1, gunicorn's advice)"),)),
    # Bounded pools (labelled): what a typical deployment runs; they serve every scenario, and are in the
    # default suite for backend, where the pool size is the limit (throughput plateaus near pool / D).
    Runner("threads-pool", "concbench.runners.threads_pool", "bounded thread pool behind a selector, blocking sockets",
           "python", "gunicorn gthread model: a selector over keep-alive connections hands each readable one "
           "to a ThreadPoolExecutor of POOL threads (one request each, then re-registered); backend: a "
           "blocking backend socket per pool thread",
           variant_of="threads", default=False, default_for=("backend",),
           options=(("pool", "threads in the pool (default 16)"),)),
    Runner("processes-pool", "concbench.runners.processes_pool",
           "pre-forked workers multiplexing keep-alive, one request at a time", "python",
           "N forked workers, each a selector over its keep-alive connections handling one request at a time with "
           "blocking calls (a bounded pool of N); backend: one blocking backend socket per worker",
           variant_of="processes", default=False, default_for=("backend",),
           options=(("workers", "worker processes (default 2 x server cores + 1, gunicorn's advice)"),)),
    Runner("twisted", "concbench.runners.twisted_protocol", "event loop (epoll reactor), callbacks", "twisted",
           "twisted.internet.protocol.Protocol on the epoll reactor"),
    Runner("tornado", "concbench.runners.tornado_iostream", "event loop (asyncio), coroutines", "tornado",
           "tornado.tcpserver.TCPServer with IOStream read_bytes(partial=True) / await write"),
    Runner("asyncio", "concbench.runners.asyncio_protocol", "event loop (asyncio selector), callbacks", "python",
           "asyncio.Protocol via loop.create_server"),
    Runner("asyncio-streams", "concbench.runners.asyncio_streams", "event loop (asyncio selector), coroutines", "python",
           "asyncio.start_server with StreamReader.read / StreamWriter.write + drain",
           variant_of="asyncio"),
    Runner("uvloop", "concbench.runners.asyncio_protocol", "event loop (libuv), callbacks", "uvloop",
           "the asyncio runner's Protocol on uvloop's event loop (formerly asyncio-uvloop, still accepted)",
           variant_of="asyncio", fixed_options=(("loop", "uvloop"),), default=False, group="interop"),
    Runner("uvloop-streams", "concbench.runners.asyncio_streams", "event loop (libuv), coroutines", "uvloop",
           "the asyncio-streams runner (start_server, read / write + drain) on uvloop's event loop",
           variant_of="asyncio-streams", fixed_options=(("loop", "uvloop"),), default=False, group="interop"),
    Runner("gevent", "concbench.runners.gevent_streamserver", "greenlets on libev/libuv hub", "gevent",
           "gevent.server.StreamServer, one greenlet per connection, cooperative sockets"),
    # Interop (make interop): the same Protocol code on each loop it can run on, and the floor beneath them.
    Runner("twisted-asyncio", "concbench.runners.twisted_protocol", "event loop (asyncio selector), callbacks", "twisted",
           "the twisted runner's Protocol on twisted.internet.asyncioreactor over asyncio's selector loop",
           variant_of="twisted", fixed_options=(("loop", "asyncio"),), default=False, group="interop"),
    Runner("twisted-uvloop", "concbench.runners.twisted_protocol", "event loop (libuv), callbacks", "twisted",
           "the twisted runner's Protocol on twisted.internet.asyncioreactor over uvloop",
           variant_of="twisted", fixed_options=(("loop", "uvloop"),), default=False, group="interop"),
    Runner("tornado-uvloop", "concbench.runners.tornado_iostream", "event loop (libuv), coroutines", "tornado",
           "the tornado runner's TCPServer on uvloop (Tornado runs on asyncio since 5.0)",
           variant_of="tornado", fixed_options=(("loop", "uvloop"),), default=False, group="interop"),
    Runner("twisted-inline", "concbench.runners.twisted_inline", "event loop (epoll reactor), coroutines", "twisted",
           "Twisted in synchronous style: an async def handler per connection via Deferred.fromCoroutine, "
           "awaiting Deferreds for reads and drains", variant_of="twisted", default=False, group="interop"),
    Runner("trio", "concbench.runners.trio_streams", "event loop (trio), structured concurrency", "trio",
           "trio.serve_tcp-style serve_listeners, a task per connection, SocketStream receive_some / send_all",
           default=False, group="interop"),
    Runner("anyio", "concbench.runners.anyio_streams", "event loop (anyio on asyncio), coroutines", "anyio",
           "anyio SocketListener.serve on the asyncio backend, a task per connection, receive / send",
           default=False, group="interop"),
    Runner("curio", "concbench.runners.curio_streams", "event loop (curio), coroutines", "curio",
           "curio.network.run_server, a task per connection, recv / sendall",
           default=False, group="interop",
           note="UNMAINTAINED upstream: curio is no longer developed (1.6 is its last release); measured because "
                "the talk named it"),
    Runner("selectors", "concbench.runners.selectors_loop", "bare event loop (selectors/epoll), callbacks", "python",
           "the floor: a textbook selectors-module loop, non-blocking sockets, callbacks, an output buffer per "
           "connection, no framework", default=False, group="interop"),
    Runner("fork", "concbench.runners.fork", "process per connection (inetd model), blocking sockets", "python",
           "the parent accepts and forks a child per connection, which serves it with blocking sockets and exits",
           variant_of="processes", default=False),
    # The second http family: each framework's own HTTP stack (http only; the family above runs the
    # shared httptools session on every model). Default, but only_scenarios keeps them off echo.
    Runner("threads-httpserver", "concbench.runners.threads_httpserver", "thread per connection, blocking sockets",
           "python", "framework's own HTTP stack: http.server.ThreadingHTTPServer + BaseHTTPRequestHandler",
           variant_of="threads", only_scenarios=("http",), own_http_stack=True),
    Runner("processes-httpserver", "concbench.runners.processes_httpserver", "pre-forked workers, blocking sockets",
           "python", "framework's own HTTP stack: forked workers, each an http.server.HTTPServer "
           "(one connection at a time) on the shared listener; sized like processes (one worker per offered "
           "connection in `run`, up to max_workers)",
           variant_of="processes", only_scenarios=("http",), own_http_stack=True, sized_to_connections=True,
           options=(("workers", "worker processes (default: one per offered connection, up to max_workers)"),
                    ("max_workers", "the cap on workers sized to the offered connections (default 1024)"))),
    Runner("twisted-web", "concbench.runners.twisted_web", "event loop (epoll reactor), callbacks", "twisted",
           "framework's own HTTP stack: twisted.web.server.Site with a leaf Resource (render_GET)",
           variant_of="twisted", only_scenarios=("http",), own_http_stack=True),
    Runner("tornado-web", "concbench.runners.tornado_web", "event loop (asyncio), coroutines", "tornado",
           "framework's own HTTP stack: tornado.web.Application + RequestHandler on tornado.httpserver.HTTPServer",
           variant_of="tornado", only_scenarios=("http",), own_http_stack=True),
    Runner("gevent-pywsgi", "concbench.runners.gevent_pywsgi", "greenlets on libev/libuv hub", "gevent",
           "framework's own HTTP stack: gevent.pywsgi.WSGIServer with a plain WSGI app",
           variant_of="gevent", only_scenarios=("http",), own_http_stack=True),
    # Labelled failure modes for the stream scenario (concbench backpressure): write the whole payload at
    # once, ignoring backpressure, so the server queues it in memory. Never in `run`.
    Runner("asyncio-unbounded", "concbench.runners.asyncio_protocol", "event loop (asyncio selector), callbacks", "python",
           "UNBOUNDED, a failure mode: the asyncio Protocol calls transport.write for the whole payload at once "
           "and ignores pause_writing", variant_of="asyncio", fixed_options=(("flow", "unbounded"),),
           default=False, only_scenarios=("stream",), stream_suite=True),
    Runner("twisted-unbounded", "concbench.runners.twisted_protocol", "event loop (epoll reactor), callbacks", "twisted",
           "UNBOUNDED, a failure mode: the Twisted Protocol writes the whole payload at once, no producer",
           variant_of="twisted", fixed_options=(("flow", "unbounded"),),
           default=False, only_scenarios=("stream",), stream_suite=True),
    Runner("reference-c", "concbench.runners.reference_c", "reference: C, one thread, epoll", "c",
           "not a Python model: the yardstick for the load generator's ceiling (make ceiling)",
           default=False, only_scenarios=("echo",)),
)}

# The runners whose framework has an idle timeout for server connections take option idle_timeout (docs/robustness.md
# says how each applies it, and what the others do). Off unless given: the memory and slow-client studies hold idle
# or trickling connections on purpose.
IDLE_TIMEOUT_OPTION = ("idle_timeout", "seconds a connection may stay silent before the server closes it "
                                       "(default: none, or the framework's own; docs/robustness.md)")
for _name in ("threads", "processes", "threads-httpserver", "processes-httpserver", "twisted-web", "tornado-web"):
    if _name in RUNNERS:
        RUNNERS[_name] = replace(RUNNERS[_name], options=RUNNERS[_name].options + (IDLE_TIMEOUT_OPTION,))

# Runners other packages register (entry points, group concbench.runners; concbench/plugins.py); an entry point
# that fails to load is one line here, which `list` shows.
PLUGIN_PROBLEMS: list[str] = []


def _add_plugins() -> None:
    from concbench.plugins import discover
    try:
        runners, problems = discover(Runner, set(RUNNERS))
    except Exception as exc:      # a broken metadata directory must not stop the suite
        runners, problems = [], [f"runner plugins could not be listed: {type(exc).__name__}: {exc}"]
    RUNNERS.update((r.name, r) for r in runners)
    PLUGIN_PROBLEMS.extend(problems)


_add_plugins()

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (ECHO, HTTP, CPU, CHURN, BACKEND, STREAM)}

# (runner, scenario) pairs that cannot apply, with the reason shown by `list` and reports.
NOT_APPLICABLE: dict[tuple[str, str], str] = {}


def loop_of(runner: Runner) -> str:
    """The event loop under a runner, with its version, for results' metadata ('' where there is none to name)."""
    loop = dict(runner.fixed_options).get("loop")
    if loop == "uvloop":
        try:
            return f"uvloop {importlib.metadata.version('uvloop')}"
        except importlib.metadata.PackageNotFoundError:
            return "uvloop (not installed)"
    if loop == "asyncio" or (loop is None and runner.module in ASYNCIO_MODULES):
        return f"asyncio selector loop (Python {platform.python_version()})"
    if runner.module in ("concbench.runners.twisted_protocol", "concbench.runners.twisted_inline", "concbench.runners.twisted_web"):
        return "twisted epoll reactor"
    return ""


ASYNCIO_MODULES = ("concbench.runners.asyncio_protocol", "concbench.runners.asyncio_streams", "concbench.runners.tornado_iostream",
                   "concbench.runners.tornado_web", "concbench.runners.anyio_streams")


def add_command_runner(name: str, command: str) -> Runner:
    """Register `run --server-cmd NAME=COMMAND` for this process: an external runner that applies to any scenario."""
    if name in RUNNERS or name in ALIASES:
        raise ValueError(f"--server-cmd name {name!r} is taken by a runner; choose another")
    runner = Runner(name, "", "external command", "external", f"external command: {command}", default=False,
                    external=True, command=command)
    RUNNERS[name] = runner
    return runner


# Old names still accepted wherever a runner is named (selections, options, serve): result files keep theirs.
ALIASES: dict[str, str] = {"asyncio-uvloop": "uvloop"}


def canonical(name: str) -> str:
    """The registry name for `name` (an alias is mapped to the runner it now names)."""
    return ALIASES.get(name, name)


def group_runners(group: str) -> list[str]:
    """The runners of a named suite (e.g. interop), in registry order."""
    return [name for name, runner in RUNNERS.items() if runner.group == group]


def default_runners() -> list[str]:
    return [name for name, runner in RUNNERS.items() if runner.default]


def default_runners_for(scenarios: list[str]) -> list[str]:
    """What `run` measures when no runner is named: the default runners, plus the variants that are in the
    default suite of one of these scenarios (plan_cases then gives those only their own scenarios)."""
    return [name for name, runner in RUNNERS.items()
            if runner.default or set(runner.default_for) & set(scenarios)]


def in_default_suite(runner: str, scenario: str) -> bool:
    spec = RUNNERS[runner]
    if scenario in spec.not_default_for:
        return False
    return spec.default or scenario in spec.default_for


def named_runners(selection: list[str] | None) -> set[str]:
    """The runners a selection names outright ('all' names every one); removals name none."""
    named: set[str] = set()
    for raw in selection or []:
        for name in filter(None, (part.strip() for part in raw.split(","))):
            if name == "all":
                named.update(RUNNERS)
            elif not name.startswith("-"):
                named.add(canonical(name))
    return named


def default_memory_runners() -> list[str]:
    """`concbench memory`'s default: the default suite plus the variants made for it (thread stack sizes),
    limited to runners that serve echo (the idle connections are echo connections)."""
    return [name for name, runner in RUNNERS.items()
            if (runner.default or runner.memory_suite) and applicable(name, "echo") is None]


def default_stream_runners() -> list[str]:
    """`concbench backpressure`'s default: the default suite's runners that serve stream, and the unbounded variants."""
    return [name for name, runner in RUNNERS.items()
            if (runner.default or runner.stream_suite) and applicable(name, "stream") is None]


def select(names: list[str] | None, known: dict, what: str, defaults: list[str] | None = None) -> list[str]:
    """Resolve a selection like ['asyncio', '-gevent'] or ['all']; ValueError names the unknown entry.

    `defaults` is what no selection (or a selection that starts by removing) means; else each entry's `default`."""
    if defaults is None:
        defaults = [n for n in known if getattr(known[n], "default", True)]
    if not names:
        return list(defaults)
    chosen: list[str] = []
    for raw in names:
        for name in filter(None, (part.strip() for part in raw.split(","))):
            if name == "all":
                chosen.extend(n for n in known if n not in chosen)
                continue
            drop = name.startswith("-")
            key = name[1:] if drop else name
            if known is RUNNERS:
                key = canonical(key)
            if key not in known:
                raise ValueError(f"unknown {what} {key!r} (known: {', '.join(known)})")
            if drop:
                if not chosen:
                    chosen = list(defaults)
                chosen = [n for n in chosen if n != key]
            elif key not in chosen:
                chosen.append(key)
    if not chosen:
        raise ValueError(f"the selection leaves no {what}")
    return chosen


def applicable(runner: str, scenario: str) -> str | None:
    """None if the pair applies, else the reason it does not."""
    only = RUNNERS[runner].only_scenarios
    if only is not None and scenario not in only:
        if RUNNERS[runner].own_http_stack:
            return f"{runner} is the framework's own HTTP stack: http only"
        return f"{runner} implements only: {', '.join(only)}"
    return NOT_APPLICABLE.get((runner, scenario))
