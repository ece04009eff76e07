"""The one registry of runners and scenarios, with suite groups, capabilities and the interop comparison: `list`,
selections, studies, tests and reports read it. Adding a runner is its module plus one entry here; no framework import.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import platform
from dataclasses import dataclass, field, replace

from concbench.plugins import discover
from concbench.scenarios.backend import SCENARIO as BACKEND
from concbench.scenarios.base import DEFAULT_SUITE, Scenario
from concbench.scenarios.churn import SCENARIO as CHURN
from concbench.scenarios.cpu import SCENARIO as CPU
from concbench.scenarios.echo import SCENARIO as ECHO
from concbench.scenarios.http import SCENARIO as HTTP
from concbench.scenarios.stream import SCENARIO as STREAM


@dataclass(frozen=True)
class Group:
    """A named suite (pyperformance's manifest groups): the runners listing it are measured by a study's default."""
    meaning: str
    make_target: str | None = None      # shown by `list` ("group interop: make interop")


# Every group a runner may list. A scenario's `suite` names the group that forms its default suite in `run`.
GROUPS: dict[str, Group] = {
    DEFAULT_SUITE: Group("`run`'s default suite in every scenario whose suite is `default` (all but backend); "
                         "also the base of `memory`'s and `backpressure`'s defaults"),
    "backend-default": Group("`run`'s default suite for the backend scenario, where the pool size is the limit "
                             "(the bounded pools in, processes out)"),
    "memory": Group("`concbench memory`'s default besides the default group (the thread stack sizes)"),
    "stream": Group("`concbench backpressure`'s default besides the default group (the unbounded failure modes)"),
    "interop": Group("the same code on each loop it can run on, and the floor beneath them", make_target="interop"),
    "clients": Group("`concbench clients`' default runners"),
}

# Every capability a runner may have: what studies ask instead of checking a runner's name or module.
CAPABILITIES: dict[str, str] = {
    "worker_per_connection": "pre-forked workers sized to the connections: `run` passes options['connections'] "
                             "(one worker each, capped), `memory` starts a server per level with workers = level, "
                             "`backpressure` one worker per reader",
    "unbounded_writes": "writes a whole payload at once, ignoring backpressure (a labelled failure mode): "
                        "`backpressure` budgets a queued payload per connection",
    "idle_timeout": "its framework can close silent connections: takes option idle_timeout (docs/robustness.md)",
    "reference": "not a Python model: the C yardstick of `make ceiling`; not measured for memory or instructions",
}

# The event loop a runner's module runs on when no `loop` option fixes another, as results name it (loop_of).
EVENT_LOOPS = ("asyncio", "twisted-epoll")


@dataclass(frozen=True)
class Runner:
    name: str
    module: str                 # module with serve(listener, make_session, options, ready)
    model: str                  # the concurrency model, in words
    framework: str              # distribution whose version is recorded ("python" = stdlib)
    summary: str
    variant_of: str | None = None
    options: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (name, help)
    fixed_options: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # what makes a variant
    only_scenarios: tuple[str, ...] | None = None   # None: every scenario
    own_http_stack: bool = False    # the framework's own HTTP parser/framing, not the shared session
    groups: tuple[str, ...] = ()    # the named suites it belongs to (GROUPS)
    capabilities: tuple[str, ...] = ()  # what it can do (CAPABILITIES)
    event_loop: str = ""        # the loop under its module unless a `loop` option fixes another (EVENT_LOOPS)
    note: str = ""              # shown by `list`, e.g. that upstream is unmaintained
    external: bool = False      # from a plugin (entry point group concbench.runners): labelled in results
    command: str | None = None  # `run --server-cmd`: any command as a server (concbench/harness/external_server.py)

    def load(self):
        return importlib.import_module(self.module)

    def has(self, capability: str) -> bool:
        """Whether the runner has a capability (one of CAPABILITIES)."""
        if capability not in CAPABILITIES:
            raise KeyError(f"unknown capability {capability!r} (known: {', '.join(CAPABILITIES)})")
        return capability in self.capabilities

    # What `list` says of its suites, derived from its groups and the scenarios' suites.
    @property
    def default(self) -> bool:
        """In the default suite (group `default`)."""
        return DEFAULT_SUITE in self.groups

    @property
    def default_for(self) -> tuple[str, ...]:
        """Not in the default suite, but in the default suite of these scenarios (their suite is a group it lists)."""
        if self.default:
            return ()
        return tuple(s.name for s in SCENARIOS.values() if s.suite != DEFAULT_SUITE and s.suite in self.groups)

    @property
    def not_default_for(self) -> tuple[str, ...]:
        """In the default suite, but not in that of these scenarios, which it serves (their suite is another group)."""
        if not self.default:
            return ()
        return tuple(s.name for s in SCENARIOS.values() if s.suite != DEFAULT_SUITE and s.suite not in self.groups
                     and self.serves(s.name))

    @property
    def group(self) -> str | None:
        """The first named suite with a make target that it belongs to (interop: make interop), for `list`."""
        return next((g for g in self.groups if GROUPS.get(g, Group("")).make_target), None)

    def serves(self, scenario: str) -> bool:
        return self.only_scenarios is None or scenario in self.only_scenarios

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


# The groups of the default suite's runners: every scenario, and backend's own suite too (processes is not in it).
EVERYWHERE = (DEFAULT_SUITE, "backend-default")

RUNNERS: dict[str, Runner] = {r.name: r for r in (
    Runner("threads", "concbench.runners.threads", "thread per connection, blocking sockets", "python",
           "accept loop; one threading.Thread per connection doing recv/sendall; backend: the unbounded "
           "per-connection variant, a backend socket per thread",
           options=(("stack_size", "bytes of stack per thread, threading.stack_size (default: ulimit -s)"),
                    ("switch_interval_ms", "sys.setswitchinterval in ms: how long a thread waiting for the GIL "
                                           "sleeps before it asks for it (default: CPython's 5)")),
           groups=EVERYWHERE, capabilities=("idle_timeout",)),
    Runner("threads-stack-64k", "concbench.runners.threads", "thread per connection, 64 KiB stacks", "python",
           "the threads runner with threading.stack_size(65536): less virtual memory reserved per thread",
           variant_of="threads", fixed_options=(("stack_size", "65536"),), groups=("memory",)),
    Runner("threads-stack-256k", "concbench.runners.threads", "thread per connection, 256 KiB stacks", "python",
           "the threads runner with threading.stack_size(262144)",
           variant_of="threads", fixed_options=(("stack_size", "262144"),), groups=("memory",)),
    Runner("threads-switch-50ms", "concbench.runners.threads", "thread per connection, 50 ms GIL switch interval", "python",
           "the threads runner with sys.setswitchinterval(0.05): a thread waiting for the GIL wakes to ask for it "
           "every 50 ms instead of every 5 ms (fewer wake-ups when hundreds of threads wait)",
           variant_of="threads", fixed_options=(("switch_interval_ms", "50"),)),
    Runner("processes", "concbench.runners.processes", "pre-forked workers, blocking sockets", "python",
           "Apache prefork model: one forked worker per offered connection (up to a cap, option max_workers, "
           "default 1024) share one listener; a worker serves one connection at a time until it closes; "
           "outside `run` (no offered count) 2 x cores + 1 workers; backend: a backend socket per worker; not in "
           "backend's default suite, where processes-pool is the model",
           options=(("workers", "worker processes (default: one per offered connection, up to max_workers)"),
                    ("max_workers", "the cap on workers sized to the offered connections (default 1024)")),
           groups=(DEFAULT_SUITE,), capabilities=("worker_per_connection", "idle_timeout")),
    Runner("processes-fixed", "concbench.runners.processes", "pre-forked workers (fixed pool), blocking sockets", "python",
           "gunicorn sync-worker model: a fixed pool of 2 x cores + 1 workers whatever the offered connections; "
           "connections beyond the pool starve in the backlog (the finding: docs/runners.md)",
           variant_of="processes",
           options=(("workers", "worker processes (default 2 x server cores + 1, gunicorn's advice)"),)),
    # Bounded pools (labelled): what a typical deployment runs; they serve every scenario, and are in the
    # default suite for backend, where the pool size is the limit (throughput plateaus near pool / D).
    Runner("threads-pool", "concbench.runners.threads_pool", "bounded thread pool behind a selector, blocking sockets",
           "python", "gunicorn gthread model: a selector over keep-alive connections hands each readable one "
           "to a ThreadPoolExecutor of POOL threads (one request each, then re-registered); backend: a "
           "blocking backend socket per pool thread",
           variant_of="threads", groups=("backend-default",),
           options=(("pool", "threads in the pool (default 16)"),)),
    Runner("processes-pool", "concbench.runners.processes_pool",
           "pre-forked workers multiplexing keep-alive, one request at a time", "python",
           "N forked workers, each a selector over its keep-alive connections handling one request at a time with "
           "blocking calls (a bounded pool of N); backend: one blocking backend socket per worker",
           variant_of="processes", groups=("backend-default",),
           options=(("workers", "worker processes (default 2 x server cores + 1, gunicorn's advice)"),)),
    Runner("twisted", "concbench.runners.twisted_protocol", "event loop (epoll reactor), callbacks", "twisted",
           "twisted.internet.protocol.Protocol on the epoll reactor", groups=EVERYWHERE, event_loop="twisted-epoll"),
    Runner("tornado", "concbench.runners.tornado_iostream", "event loop (asyncio), coroutines", "tornado",
           "tornado.tcpserver.TCPServer with IOStream read_bytes(partial=True) / await write", groups=EVERYWHERE,
           event_loop="asyncio"),
    Runner("asyncio", "concbench.runners.asyncio_protocol", "event loop (asyncio selector), callbacks", "python",
           "asyncio.Protocol via loop.create_server", groups=(*EVERYWHERE, "clients"), event_loop="asyncio"),
    Runner("asyncio-streams", "concbench.runners.asyncio_streams", "event loop (asyncio selector), coroutines", "python",
           "asyncio.start_server with StreamReader.read / StreamWriter.write + drain",
           variant_of="asyncio", groups=EVERYWHERE, event_loop="asyncio"),
    Runner("uvloop", "concbench.runners.asyncio_protocol", "event loop (libuv), callbacks", "uvloop",
           "the asyncio runner's Protocol on uvloop's event loop (formerly asyncio-uvloop, still accepted)",
           variant_of="asyncio", fixed_options=(("loop", "uvloop"),), groups=("interop", "clients"),
           event_loop="asyncio"),
    Runner("uvloop-streams", "concbench.runners.asyncio_streams", "event loop (libuv), coroutines", "uvloop",
           "the asyncio-streams runner (start_server, read / write + drain) on uvloop's event loop",
           variant_of="asyncio-streams", fixed_options=(("loop", "uvloop"),), groups=("interop",),
           event_loop="asyncio"),
    Runner("gevent", "concbench.runners.gevent_streamserver", "greenlets on libev/libuv hub", "gevent",
           "gevent.server.StreamServer, one greenlet per connection, cooperative sockets", groups=EVERYWHERE),
    # Interop (make interop): the same Protocol code on each loop it can run on, and the floor beneath them.
    Runner("twisted-asyncio", "concbench.runners.twisted_protocol", "event loop (asyncio selector), callbacks", "twisted",
           "the twisted runner's Protocol on twisted.internet.asyncioreactor over asyncio's selector loop",
           variant_of="twisted", fixed_options=(("loop", "asyncio"),), groups=("interop",),
           event_loop="twisted-epoll"),
    Runner("twisted-uvloop", "concbench.runners.twisted_protocol", "event loop (libuv), callbacks", "twisted",
           "the twisted runner's Protocol on twisted.internet.asyncioreactor over uvloop",
           variant_of="twisted", fixed_options=(("loop", "uvloop"),), groups=("interop",),
           event_loop="twisted-epoll"),
    Runner("tornado-uvloop", "concbench.runners.tornado_iostream", "event loop (libuv), coroutines", "tornado",
           "the tornado runner's TCPServer on uvloop (Tornado runs on asyncio since 5.0)",
           variant_of="tornado", fixed_options=(("loop", "uvloop"),), groups=("interop",),
           event_loop="asyncio"),
    Runner("twisted-inline", "concbench.runners.twisted_inline", "event loop (epoll reactor), coroutines", "twisted",
           "Twisted in synchronous style: an async def handler per connection via Deferred.fromCoroutine, "
           "awaiting Deferreds for reads and drains", variant_of="twisted", groups=("interop",),
           event_loop="twisted-epoll"),
    Runner("trio", "concbench.runners.trio_streams", "event loop (trio), structured concurrency", "trio",
           "trio.serve_tcp-style serve_listeners, a task per connection, SocketStream receive_some / send_all",
           groups=("interop",)),
    Runner("anyio", "concbench.runners.anyio_streams", "event loop (anyio on asyncio), coroutines", "anyio",
           "anyio SocketListener.serve on the asyncio backend, a task per connection, receive / send",
           groups=("interop",), event_loop="asyncio"),
    Runner("curio", "concbench.runners.curio_streams", "event loop (curio), coroutines", "curio",
           "curio.network.run_server, a task per connection, recv / sendall",
           groups=("interop",),
           note="UNMAINTAINED upstream: curio is no longer developed (1.6 is its last release); measured because "
                "the talk named it"),
    Runner("selectors", "concbench.runners.selectors_loop", "bare event loop (selectors/epoll), callbacks", "python",
           "the floor: a textbook selectors-module loop, non-blocking sockets, callbacks, an output buffer per "
           "connection, no framework", groups=("interop",)),
    Runner("fork", "concbench.runners.fork", "process per connection (inetd model), blocking sockets", "python",
           "the parent accepts and forks a child per connection, which serves it with blocking sockets and exits",
           variant_of="processes"),
    # The second http family: each framework's own HTTP stack (http only; the family above runs the
    # shared httptools session on every model). Default, but only_scenarios keeps them off echo.
    Runner("threads-httpserver", "concbench.runners.threads_httpserver", "thread per connection, blocking sockets",
           "python", "framework's own HTTP stack: http.server.ThreadingHTTPServer + BaseHTTPRequestHandler",
           variant_of="threads", only_scenarios=("http",), own_http_stack=True, groups=(DEFAULT_SUITE,),
           capabilities=("idle_timeout",)),
    Runner("processes-httpserver", "concbench.runners.processes_httpserver", "pre-forked workers, blocking sockets",
           "python", "framework's own HTTP stack: forked workers, each an http.server.HTTPServer "
           "(one connection at a time) on the shared listener; sized like processes (one worker per offered "
           "connection in `run`, up to max_workers)",
           variant_of="processes", only_scenarios=("http",), own_http_stack=True, groups=(DEFAULT_SUITE,),
           capabilities=("worker_per_connection", "idle_timeout"),
           options=(("workers", "worker processes (default: one per offered connection, up to max_workers)"),
                    ("max_workers", "the cap on workers sized to the offered connections (default 1024)"))),
    Runner("twisted-web", "concbench.runners.twisted_web", "event loop (epoll reactor), callbacks", "twisted",
           "framework's own HTTP stack: twisted.web.server.Site with a leaf Resource (render_GET)",
           variant_of="twisted", only_scenarios=("http",), own_http_stack=True, groups=(DEFAULT_SUITE,),
           capabilities=("idle_timeout",), event_loop="twisted-epoll"),
    Runner("tornado-web", "concbench.runners.tornado_web", "event loop (asyncio), coroutines", "tornado",
           "framework's own HTTP stack: tornado.web.Application + RequestHandler on tornado.httpserver.HTTPServer",
           variant_of="tornado", only_scenarios=("http",), own_http_stack=True, groups=(DEFAULT_SUITE,),
           capabilities=("idle_timeout",), event_loop="asyncio"),
    Runner("gevent-pywsgi", "concbench.runners.gevent_pywsgi", "greenlets on libev/libuv hub", "gevent",
           "framework's own HTTP stack: gevent.pywsgi.WSGIServer with a plain WSGI app",
           variant_of="gevent", only_scenarios=("http",), own_http_stack=True, groups=(DEFAULT_SUITE,)),
    # Labelled failure modes for the stream scenario (concbench backpressure): write the whole payload at
    # once, ignoring backpressure, so the server queues it in memory. Never in `run`.
    Runner("asyncio-unbounded", "concbench.runners.asyncio_protocol", "event loop (asyncio selector), callbacks", "python",
           "UNBOUNDED, a failure mode: the asyncio Protocol calls transport.write for the whole payload at once "
           "and ignores pause_writing", variant_of="asyncio", fixed_options=(("flow", "unbounded"),),
           only_scenarios=("stream",), groups=("stream",), capabilities=("unbounded_writes",), event_loop="asyncio"),
    Runner("twisted-unbounded", "concbench.runners.twisted_protocol", "event loop (epoll reactor), callbacks", "twisted",
           "UNBOUNDED, a failure mode: the Twisted Protocol writes the whole payload at once, no producer",
           variant_of="twisted", fixed_options=(("flow", "unbounded"),),
           only_scenarios=("stream",), groups=("stream",), capabilities=("unbounded_writes",),
           event_loop="twisted-epoll"),
    Runner("reference-c", "concbench.runners.reference_c", "reference: C, one thread, epoll", "c",
           "not a Python model: the yardstick for the load generator's ceiling (make ceiling)",
           only_scenarios=("echo",), capabilities=("reference",)),
)}

# The runners with capability idle_timeout take option idle_timeout (docs/robustness.md says how each applies it, and
# what the others do). Off unless given: the memory and slow-client studies hold idle or trickling connections on purpose.
IDLE_TIMEOUT_OPTION = ("idle_timeout", "seconds a connection may stay silent before the server closes it "
                                       "(default: none, or the framework's own; docs/robustness.md)")
for _name, _runner in RUNNERS.items():
    if _runner.has("idle_timeout"):
        RUNNERS[_name] = replace(_runner, options=_runner.options + (IDLE_TIMEOUT_OPTION,))

# Runners other packages register (entry points, group concbench.runners; concbench/plugins.py); an entry point
# that fails to load is one line here, which `list` shows.
PLUGIN_PROBLEMS: list[str] = []


def _add_plugins() -> None:
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


def loop_name(runner: Runner) -> str:
    """The loop a runner runs on: its fixed `loop` option (uvloop, asyncio), else its module's (event_loop), or ''."""
    return dict(runner.fixed_options).get("loop") or runner.event_loop


def loop_of(runner: Runner) -> str:
    """The event loop under a runner, with its version, for results' metadata ('' where there is none to name)."""
    loop = loop_name(runner)
    if loop == "uvloop":
        try:
            return f"uvloop {importlib.metadata.version('uvloop')}"
        except importlib.metadata.PackageNotFoundError:
            return "uvloop (not installed)"
    if loop == "asyncio":
        return f"asyncio selector loop (Python {platform.python_version()})"
    if loop == "twisted-epoll":
        return "twisted epoll reactor"
    return ""


def add_command_runner(name: str, command: str) -> Runner:
    """Register `run --server-cmd NAME=COMMAND` for this process: an external runner that applies to any scenario."""
    if name in RUNNERS or name in ALIASES:
        raise ValueError(f"--server-cmd name {name!r} is taken by a runner; choose another")
    runner = Runner(name, "", "external command", "external", f"external command: {command}",
                    external=True, command=command)
    RUNNERS[name] = runner
    return runner


# Old names still accepted wherever a runner is named (selections, options, serve): result files keep theirs.
ALIASES: dict[str, str] = {"asyncio-uvloop": "uvloop"}


def canonical(name: str) -> str:
    """The registry name for `name` (an alias is mapped to the runner it now names)."""
    return ALIASES.get(name, name)


def group_runners(*groups: str) -> list[str]:
    """The runners of one or more named suites (e.g. interop), in registry order."""
    for group in groups:
        if group not in GROUPS:
            raise KeyError(f"unknown group {group!r} (known: {', '.join(GROUPS)})")
    return [name for name, runner in RUNNERS.items() if set(groups) & set(runner.groups)]


def with_capability(capability: str) -> list[str]:
    """The runners that have a capability, in registry order."""
    return [name for name, runner in RUNNERS.items() if runner.has(capability)]


def reference_runner() -> str:
    """The C yardstick that `ceiling` measures the load generator against (capability reference)."""
    return with_capability("reference")[0]


def default_runners() -> list[str]:
    return group_runners(DEFAULT_SUITE)


def default_runners_for(scenarios: list[str]) -> list[str]:
    """What `run` measures when no runner is named: the default group, plus the runners of these scenarios' own
    suites (backend's bounded pools; plan_cases then gives those only the scenarios whose suite they are in)."""
    return group_runners(DEFAULT_SUITE, *(SCENARIOS[s].suite for s in scenarios))


def in_default_suite(runner: str, scenario: str) -> bool:
    """Whether `run` measures the pair when the runner is not named: the runner is in the scenario's suite group."""
    return SCENARIOS[scenario].suite in RUNNERS[runner].groups


def profile_levels(profile: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(scenario, concurrency levels) for every scenario that declares levels for a profile (default, quick, full)."""
    return tuple((name, scenario.levels_for(profile)) for name, scenario in SCENARIOS.items()
                 if scenario.levels_for(profile))


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
    return [name for name in group_runners(DEFAULT_SUITE, "memory") if applicable(name, "echo") is None]


def default_stream_runners() -> list[str]:
    """`concbench backpressure`'s default: the default suite's runners that serve stream, and the unbounded variants."""
    return [name for name in group_runners(DEFAULT_SUITE, "stream") if applicable(name, "stream") is None]


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


@dataclass(frozen=True)
class InteropComparison:
    """`make interop`'s comparison (concbench.analysis.interop): the same code on each loop it runs on."""
    families: tuple[tuple[str, tuple[str, ...]], ...]   # (family, runners: the framework's own default loop first)
    floor: str                  # the bare loop beneath them all
    only_here: tuple[str, ...]  # runners measured for this comparison only: a result holding one gets the chart


INTEROP = InteropComparison(
    families=(("Twisted Protocol", ("twisted", "twisted-asyncio", "twisted-uvloop")),
              ("Tornado TCPServer", ("tornado", "tornado-uvloop")),
              ("asyncio Protocol", ("asyncio", "uvloop")),
              ("asyncio streams", ("asyncio-streams", "uvloop-streams"))),
    floor="selectors",
    only_here=("twisted-asyncio", "twisted-uvloop", "tornado-uvloop", "selectors"))
