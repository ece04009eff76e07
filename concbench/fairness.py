"""The fairness rules, as code: every runner's listening socket and connections are set up here.

Runners never set socket options themselves; they call these functions, so the rules
below hold by construction. docs/methodology.md ("Fairness rules") explains each one.
"""
from __future__ import annotations

import os
import resource
import socket

# listen() backlog for every runner: above the largest default concurrency level (1000)
# so no connect waits on a SYN retry; the kernel caps it at net.core.somaxconn.
BACKLOG = 2048
# Bytes asked for per recv() / read by every runner (Twisted's default buffer size).
RECV_SIZE = 65536
# Socket buffers are left to the kernel's autotuning for every runner (SO_RCVBUF and
# SO_SNDBUF are not set: setting them would switch autotuning off).


def listen_socket(host: str, port: int) -> socket.socket:
    """The one listening socket every runner serves from (TCP_NODELAY is inherited by accepted sockets on Linux, and set again per connection)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def configure_connection(sock) -> None:
    """Options for every accepted (server) or connected (client) socket."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def pin_to_cpus(cpus) -> tuple[int, ...]:
    """Pin this process (and what it forks or spawns later) to `cpus`; returns the set in force."""
    if cpus:
        os.sched_setaffinity(0, set(cpus))
    return tuple(sorted(os.sched_getaffinity(0)))


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard limit; returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def parse_cpus(text: str) -> tuple[int, ...]:
    """'0', '0,1', '2-3' -> cpu ids; ValueError on anything else or on cpus this machine lacks."""
    cpus: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"cpu list must look like 0 or 0,1 or 0-1, got {text!r}") from None
        cpus.update(range(first, last + 1))
    available = online_cpus()
    missing = cpus - available
    if not cpus or missing:
        raise ValueError(f"cpu list {text!r} names cpus this machine does not have "
                         f"(online: {','.join(map(str, sorted(available)))})")
    return tuple(sorted(cpus))


def online_cpus() -> set[int]:
    """The machine's online cpus (not this process's affinity, which a parent may have narrowed)."""
    try:
        text = open("/sys/devices/system/cpu/online").read().strip()
    except OSError:
        return set(range(os.cpu_count() or 1))
    cpus: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def default_cpu_split() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Server on the first usable core, load generator on the second (both on one core if only one exists)."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) >= 2:
        return (available[0],), (available[1],)
    return (available[0],), (available[0],)
