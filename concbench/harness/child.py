"""One child process of concbench's, from start to stop: its own session, its output read as it comes (protocol
lines become events, the rest a bounded tail), its ready line, the moment and the way it ended, and its stop.

Every process concbench starts for a measurement is one (a server, the backend service, a load generator, an idle
holder, the trickler, an external server command). Each is registered with concbench.harness.lifecycle from the
moment it exists, so an interrupt stops it, and it only ever signals its own process group, by its pid.
"""
from __future__ import annotations

import os
import queue
import select
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque

from concbench.harness import lifecycle
from concbench.harness.protocol import EVENT, READY, parse_event

READY_TIMEOUT_S = 30.0      # the start-up allowance: interpreter start, imports and set-up on a loaded machine
TAIL_LINES = 20             # the last lines of its stderr that are kept
LINE_CHARS = 1000           # characters kept of one tail line
LINE_BYTES = 16 << 20       # a longer line (no newline yet) is cut there: a result line with a histogram fits
PENDING_EVENTS = 1000       # events read and not yet taken; more are counted in dropped_events, not kept
EXIT_WAIT_S = 1.0           # after its output ended: how long to wait for its exit status before describing it
DEATH_AFTER_EOF_S = 0.5     # its stdout ended: how long its death may take to follow before its events end anyway
READER_JOIN_S = 1.0         # after the stop: how long its output may take to end before the reader is woken
PIN_SHIM = "import os, sys; os.sched_setaffinity(0, {cpus!r}); os.execvp(sys.argv[1], sys.argv[1:])"

_ENDED = None               # queued after the last event: its output ended, or the process did


class ChildFailed(Exception):
    """The child did not start, was not ready in time, or ended without what was asked of it; the message names it
    and says how (its exit code or signal), with its last stderr lines."""


def describe_exit(returncode: int | None) -> str:
    """'killed by SIGKILL', 'exited with 1', 'still running'."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with {returncode}"


def when(ended: float, started: float, window_start: float | None, window_end: float | None) -> str:
    """When something ended, relative to the measuring window a child reported (times from time.monotonic()). The
    window's marks are taken when their event is read, which on a loaded machine can come after the death watch
    saw the end: such an end is at the mark, never a negative time."""
    if window_end is not None:
        return f"{max(0.0, ended - window_end):.1f} s after the window"
    if window_start is not None:
        return f"{max(0.0, ended - window_start):.1f} s into the window"
    return f"{ended - started:.1f} s after start, before the window"


def pinned(command: list[str], cpus) -> list[str]:
    """`command` run on `cpus` from its first instruction: a Python shim sets the affinity, then execs it (same pid)."""
    return [sys.executable, "-c", PIN_SHIM.format(cpus=set(cpus)), *command]


class Child:
    """One child process: start() returns once it is ready (its ready line; a child that prints none overrides
    wait_ready), or stops it and raises `failure`. Its events come from next_event() or expect(); stop() always
    ends it.

    Subclasses name it (`what`, the first words of every message about it), choose the exception it raises
    (`failure`, a ChildFailed), what its ready line must carry (check_ready) and its grace period after SIGTERM."""

    what = "child process"
    failure = ChildFailed
    stop_grace_s = lifecycle.GRACE_S
    speaks_protocol = True       # False: a command of someone else's, its stdout and stderr both go to the tail
    eof_grace_s = 0.0            # with stdin: how long it may take to end by itself once its stdin is closed

    def __init__(self, command: list[str], *, what: str | None = None, env: dict | None = None, cpus=None,
                 stdin: bool = False, owns_group: bool = True):
        self.command = list(command)
        if what is not None:
            self.what = what
        self.env = {**os.environ, **env} if env else None
        self.cpus = tuple(cpus) if cpus else None      # pinned before it runs; None: it pins itself, or runs anywhere
        self.stdin = stdin                             # a pipe for commands (else /dev/null)
        self.owns_group = owns_group                   # its own session, so its own children go with it
        self.proc: subprocess.Popen | None = None
        self.pid = 0
        self.started_at: float | None = None           # time.monotonic() of the start, of the ready line, of its end
        self.ready_at: float | None = None
        self.died_at: float | None = None              # from its pidfd, as it happened (None: alive, or no pidfd)
        self.ready_fields: dict = {}                   # everything on its ready line but the event's name
        self.unreadable = ""                           # the first stdout line that was no protocol line
        self.dropped_events = 0
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._events: queue.Queue = queue.Queue()
        self._events_ended = False
        self._taken_end = False
        self._reader: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None
        self._stopped = False

    # --- start and ready -------------------------------------------------------------------------------------
    def start(self, ready_timeout_s: float = READY_TIMEOUT_S):
        """Start it and wait until it is ready (at most ready_timeout_s); on any failure, or an interrupt while
        waiting, it is stopped before the exception leaves."""
        command = pinned(self.command, self.cpus) if self.cpus else self.command
        try:
            self.proc = lifecycle.spawn(command, owns_group=self.owns_group, env=self.env,
                                        stdin=subprocess.PIPE if self.stdin else subprocess.DEVNULL,
                                        stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE if self.speaks_protocol else subprocess.STDOUT)
        except OSError as exc:
            raise self.failed(f"does not start: {exc.strerror or exc}") from None
        self.pid = self.proc.pid
        self.started_at = time.monotonic()
        self._wake = os.pipe()
        self._reader = threading.Thread(target=self._read, name=f"{self.what} output", daemon=True)
        self._reader.start()
        try:
            self.wait_ready(ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        self.ready_at = time.monotonic()
        return self

    def wait_ready(self, timeout_s: float) -> None:
        """Until its ready line (the fields kept in ready_fields); a child that prints none overrides this."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                event = self.next_event(deadline - time.monotonic())
            except TimeoutError:
                raise self.failed(f"not ready within {timeout_s:g} s: {self.last_words(3)}{self._unreadable()}") \
                    from None
            if event is None:
                raise self.failed(f"{self.death(EXIT_WAIT_S)} before ready: {self.last_words(3)}{self._unreadable()}")
            if event[EVENT] != READY:
                self.unreadable = self.unreadable or f"{event[EVENT]!r} before ready"
                continue
            fields = {name: value for name, value in event.items() if name != EVENT}
            problem = self.check_ready(fields)
            if problem:
                raise self.failed(f"printed a bad ready line ({problem}): {fields}")
            self.ready_fields = fields
            return

    def check_ready(self, fields: dict) -> str | None:
        """What is wrong with its ready line's fields, or None; subclasses ask for what they read from it."""
        return None

    def failed(self, cause: str) -> ChildFailed:
        return self.failure(f"{self.what} {cause}")

    # --- events and commands ---------------------------------------------------------------------------------
    def next_event(self, timeout_s: float) -> dict | None:
        """The next event it printed ({"event": name, ...}); None once its output has ended or it has (for good);
        TimeoutError if none came within timeout_s."""
        if self._taken_end:
            return None
        try:
            event = self._events.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            raise TimeoutError(f"{self.what} gave no answer within {timeout_s:g} s") from None
        if event is _ENDED:
            self._taken_end = True
        return event

    def expect(self, name: str, timeout_s: float, asked: str = "") -> dict:
        """The next event, which must be `name`: its fields (without the name). A failure (`failure`) if none came
        within timeout_s, if it ended instead, or if it said something else. `asked` names what it was asked."""
        try:
            event = self.next_event(timeout_s)
        except TimeoutError:
            raise self.failed(f"gave no answer{asked} within {timeout_s:g} s") from None
        if event is None:
            raise self.failed(f"{self.death(EXIT_WAIT_S)}: {self.last_words(3)}")
        if event[EVENT] != name:
            raise self.failed(f"said {event[EVENT]!r}, not {name!r}")
        return {field: value for field, value in event.items() if field != EVENT}

    def events_left(self) -> list[dict]:
        """After stop(): the events it printed that nobody took, in order."""
        left = []
        while not self._taken_end and self._events.qsize():
            event = self.next_event(0.0)
            if event is not None:
                left.append(event)
        return left

    def send_line(self, text: str) -> None:
        """One line to its stdin (a child started with stdin=True)."""
        try:
            self.proc.stdin.write(text.encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:
            raise self.failed(f"{self.death(EXIT_WAIT_S)}: {self.last_words(3)}") from None

    def close_stdin(self) -> None:
        """EOF on its stdin: the way a child that reads commands is told to finish."""
        if self.proc is not None and self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:              # it is gone already: the pipe's last bytes cannot be flushed
                pass

    # --- what became of it -----------------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def death(self, wait_s: float = 0.0) -> str:
        """How it ended ('killed by SIGKILL', 'exited with 1'), waiting up to wait_s for it to end."""
        if self.proc is None:
            return "not started"
        try:
            self.proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            pass
        return describe_exit(self.proc.returncode)

    def last_words(self, lines: int = 1, silent: str = "no output") -> str:
        """The last `lines` lines of its stderr (joined by ' | '), or `silent` if it wrote none. Once it has ended,
        the reader is given time to take what is still in the pipe (a loaded machine may run this first)."""
        if self._reader is not None and self._reader is not threading.current_thread() and \
                self.proc is not None and self.proc.poll() is not None:
            self._reader.join(READER_JOIN_S)
        kept = list(self._tail)[-lines:]
        return " | ".join(kept) if kept else silent

    def _unreadable(self) -> str:
        return f"; unreadable output: {self.unreadable!r}" if self.unreadable else ""

    # --- signals and stop ------------------------------------------------------------------------------------
    def send_signal(self, signum: int) -> None:
        """signum to its process group (its own session; the child alone if it has none)."""
        if self.proc is not None and not self._stopped:
            lifecycle.signal_child(self.proc, self.owns_group, signum)

    def kill(self) -> None:
        """SIGKILL to its process group now (a watchdog, a budget); stop() still follows."""
        self.send_signal(signal.SIGKILL)

    def stop(self, grace_s: float | None = None) -> None:
        """End it: a child with a stdin pipe is told first (EOF, eof_grace_s), then SIGTERM to its group and
        SIGKILL after the grace period; reaped, its output read to the end, untracked. Safe to call twice."""
        proc = self.proc
        if proc is None or self._stopped:
            return
        self.close_stdin()
        if self.stdin and self.eof_grace_s and proc.poll() is None:
            try:
                proc.wait(self.eof_grace_s)
            except subprocess.TimeoutExpired:
                pass
        lifecycle.stop_process(proc, self.owns_group, self.stop_grace_s if grace_s is None else grace_s)
        self._stopped = True
        self._finish_reading()

    def close(self) -> None:
        """stop(), for a handle closed like a file (and used as a context manager)."""
        self.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _finish_reading(self) -> None:
        if self._reader is not None:
            self._reader.join(READER_JOIN_S)
            if self._reader.is_alive():     # something outside its group holds its output open: stop reading
                os.write(self._wake[1], b"x")
                self._reader.join()
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    # --- the reader thread -----------------------------------------------------------------------------------
    def _read(self) -> None:
        """Its output as it comes, until it has ended: protocol lines become events, the rest the tail. The moment
        the process ends is noted from its pidfd (nothing is reaped here); its events end then, or when its stdout
        ends and it does not die with it (a child may close its stdout and live on)."""
        proc = self.proc
        stdout = proc.stdout.fileno()
        take = {stdout: self._stdout_line}
        if proc.stderr is not None:
            take[proc.stderr.fileno()] = self._tail_line
        partial = dict.fromkeys(take, b"")
        pidfd = _open_pidfd(proc.pid)
        with selectors.DefaultSelector() as selector:
            for fd in (*take, self._wake[0], *([pidfd] if pidfd is not None else [])):
                selector.register(fd, selectors.EVENT_READ)

            def read_once(fd: int) -> None:
                chunk = os.read(fd, 65536)
                if not chunk:                      # its end: a last line without a newline still counts
                    selector.unregister(fd)
                    line = take.pop(fd)
                    if partial[fd]:
                        line(partial[fd])
                    return
                lines = (partial[fd] + chunk).split(b"\n")
                partial[fd] = lines.pop()
                if len(partial[fd]) > LINE_BYTES:
                    lines.append(partial[fd])
                    partial[fd] = b""
                for line in lines:
                    take[fd](line)

            def died() -> None:
                nonlocal pidfd
                self.died_at = time.monotonic()
                selector.unregister(pidfd)
                os.close(pidfd)
                pidfd = None
                for _ in range(64):                # what it wrote before it ended (bounded: its own children may
                    if stdout not in take or not select.select([stdout], [], [], 0)[0]:   # write on)
                        break
                    read_once(stdout)

            try:
                while take or pidfd is not None:
                    for key, _ in selector.select():
                        if key.fd == self._wake[0]:
                            return
                        if key.fd == pidfd:
                            died()
                        elif key.fd in take:
                            read_once(key.fd)
                    if stdout not in take and not self._events_ended:
                        # its stdout closes as it exits, a moment before its pidfd says so: wait for that moment
                        if pidfd is not None and select.select([pidfd], [], [], DEATH_AFTER_EOF_S)[0]:
                            died()
                        self._end_events()
                    elif pidfd is None and self.died_at is not None:
                        self._end_events()
            finally:
                if pidfd is not None:
                    os.close(pidfd)
                self._end_events()

    def _stdout_line(self, raw: bytes) -> None:
        if not self.speaks_protocol:
            return self._tail_line(raw)
        text = raw.decode(errors="replace").strip()
        event = parse_event(text)
        if event is None:
            self.unreadable = self.unreadable or text[:200]
        elif self._events.qsize() < PENDING_EVENTS:
            self._events.put(event)
        else:
            self.dropped_events += 1

    def _tail_line(self, raw: bytes) -> None:
        text = raw.decode(errors="replace").strip()
        if text:
            self._tail.append(text[:LINE_CHARS])

    def _end_events(self) -> None:
        if not self._events_ended:
            self._events_ended = True
            self._events.put(_ENDED)


def _open_pidfd(pid: int) -> int | None:
    """A pidfd of the child (readable once it has ended), or None without one (Linux < 5.3): its time of death
    is then unknown, and its events end with its stdout."""
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None
