"""Kernel memory charged to a server (socket buffers, slab, kernel stacks, page tables), apart from its own pages.

Two methods, chosen by what the machine offers: `cgroup2` (the server alone in a cgroup of its own,
deltas of memory.stat) or `meminfo-calibrated` (system-wide deltas of /proc/meminfo and
/proc/net/sockstat, minus the client's share measured by a client-only calibration). It never measures
process pages (concbench.harness.sampling does) and only removes the cgroup it made.
"""
from __future__ import annotations

import os
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
COMPONENTS = ("sock", "slab", "kernel_stack", "pagetables")
CGROUP2_KEYS = {"sock": "sock", "slab": "slab", "kernel_stack": "kernel_stack", "pagetables": "pagetables"}
MEMINFO_KEYS = {"Slab": "slab", "KernelStack": "kernel_stack", "PageTables": "pagetables"}


def read_meminfo() -> dict:
    figures = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in MEMINFO_KEYS:
            figures[MEMINFO_KEYS[name]] = int(rest.split()[0]) * 1024
    return figures


def read_tcp_socket_pages() -> int:
    """/proc/net/sockstat `TCP: ... mem P`: pages allocated to TCP socket buffers, system-wide."""
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            words = line.split()
            return int(words[words.index("mem") + 1])
    return 0


def process_page_tables(pid: int) -> int:
    """VmPTE of one process, bytes (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmPTE:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def system_kernel_memory() -> dict:
    return {**read_meminfo(), "sock": read_tcp_socket_pages() * PAGE}


class MeminfoMeter:
    """System-wide deltas; the client's share is taken out by calibration.

    The client (idle holder) holds the other end of every connection: per connection it adds one
    socket's slab objects and socket-buffer pages, and its own page-table growth. calibrate() measures
    one socket's kernel cost from loopback pairs whose both ends the holder owns (no server involved);
    server_share() subtracts held_connections x that, and the holder's own VmPTE growth."""
    method = "meminfo-calibrated"

    def __init__(self):
        self.client_socket = {"sock": 0.0, "slab": 0.0}
        self.baseline: dict = {}

    def calibrate(self, open_pairs, pairs: int) -> dict:
        """open_pairs(n) makes the holder own n loopback connections (2n sockets); returns per-socket bytes."""
        before = system_kernel_memory()
        open_pairs(pairs)
        after = system_kernel_memory()
        self.client_socket = {k: max(0.0, (after[k] - before[k]) / (2 * pairs)) for k in ("sock", "slab")}
        return dict(self.client_socket)

    def attach(self, pids) -> bool:
        return True

    def take_baseline(self, client_pid: int, held: int) -> None:
        self.baseline = {**system_kernel_memory(), "client_pagetables": process_page_tables(client_pid),
                         "held": held}

    def server_share(self, client_pid: int, held: int) -> dict:
        """Kernel bytes gained since the baseline, by component, with the client's share removed."""
        now = system_kernel_memory()
        extra = held - self.baseline["held"]
        share = {k: now[k] - self.baseline[k] for k in COMPONENTS}
        for k in ("sock", "slab"):
            share[k] -= extra * self.client_socket[k]
        share["pagetables"] -= process_page_tables(client_pid) - self.baseline["client_pagetables"]
        return {k: int(v) for k, v in share.items()}

    def close(self) -> None:
        pass


class Cgroup2Meter:
    """The server's processes moved into a cgroup v2 of their own; memory.stat deltas are its alone."""
    method = "cgroup2"

    def __init__(self, path: Path):
        self.path = path
        self.baseline: dict = {}

    def calibrate(self, open_pairs, pairs: int) -> dict:
        return {}

    def attach(self, pids) -> bool:
        try:
            for pid in pids:
                (self.path / "cgroup.procs").write_text(str(pid))
        except OSError:
            return False
        return True

    def read(self) -> dict:
        stat = dict(line.split() for line in (self.path / "memory.stat").read_text().splitlines())
        return {ours: int(stat.get(theirs, 0)) for ours, theirs in CGROUP2_KEYS.items()}

    def take_baseline(self, client_pid: int, held: int) -> None:
        self.baseline = self.read()

    def server_share(self, client_pid: int, held: int) -> dict:
        now = self.read()
        return {k: now[k] - self.baseline[k] for k in COMPONENTS}

    def close(self) -> None:
        try:
            self.path.rmdir()     # empty once the server has exited
        except OSError:
            pass


def cgroup2_memory_parent() -> Path | None:
    """This process's cgroup v2 folder if the unified hierarchy has a memory controller we may use."""
    for mount in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        controllers = Path(mount, "cgroup.controllers")
        try:
            if "memory" not in controllers.read_text().split():
                continue
            own = next(line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines()
                       if line.startswith("0::"))
        except (OSError, StopIteration):
            continue
        parent = Path(mount) / own.lstrip("/")
        if os.access(parent, os.W_OK):
            return parent
    return None


def new_meter():
    """A cgroup2 meter if usable here (its cgroup created now), else the meminfo one."""
    parent = cgroup2_memory_parent()
    if parent is not None:
        path = parent / f"concbench-memory-{os.getpid()}"
        try:
            path.mkdir(exist_ok=True)
            if "memory" in (path / "cgroup.controllers").read_text().split():
                return Cgroup2Meter(path)
            path.rmdir()
        except OSError:
            pass
    return MeminfoMeter()
