"""Server-side evidence during the measuring window: CPU time, memory and context switches of the whole
process tree.

A multi-process server is summed over all its processes. It samples with psutil in a
background thread of the orchestrator (pinned to the load generator's cores, not the server's).
Context switches are counted per thread (/proc/PID/task/TID/status): a server whose threads thrash
(a GIL convoy) shows it there, with its CPU busy and little served.
"""
from __future__ import annotations

import os
import threading
import time

import psutil

from concbench import cpu

SAMPLE_INTERVAL_S = 0.25


def process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def tree_cpu_readings(processes) -> dict:
    """pid -> (its own tick-sampled CPU seconds, its reaped children's, the scheduler's exact run time or None).
    The exact figure only for a single-threaded process, where /proc/PID/schedstat (its one thread) is the whole
    process: psutil's user+system under-counts processes that run in bursts shorter than a tick (30 pre-forked
    echo workers read at under half their scheduler time), but it keeps the time of threads that have ended."""
    readings = {}
    for proc in processes:
        try:
            times = proc.cpu_times()
            exact = run_time_s(proc.pid) if proc.num_threads() == 1 else None
            readings[proc.pid] = (times.user + times.system, times.children_user + times.children_system, exact)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            pass
    return readings


def cpu_between(before: dict, after: dict) -> float:
    """CPU seconds the tree used between two readings. Per process: its reaped children's time, plus its own,
    exact where it was single-threaded at both readings, else tick-sampled (never the exact figure at one reading
    and the ticks at the other: a thread-per-connection server whose connection threads end before the second
    reading would compare its main thread's run time with the whole process's). A process born in between
    counts from zero."""
    total = 0.0
    for pid, (own1, children1, exact1) in after.items():
        own0, children0, exact0 = before.get(pid, (0.0, 0.0, 0.0))
        total += max(0.0, children1 - children0)
        if exact0 is not None and exact1 is not None:
            total += max(0.0, exact1 - exact0)
        else:
            total += max(0.0, own1 - own0)
    return total


def tree_cpu_seconds(processes) -> float:
    """CPU seconds of the tree so far, one figure (each process by the figure tree_cpu_readings prefers)."""
    return sum(children + (exact if exact is not None else own)
               for own, children, exact in tree_cpu_readings(processes).values())


def run_time_s(pid: int) -> float | None:
    """The scheduler's run time of a process's main thread in seconds (None where /proc has no schedstat)."""
    try:
        with open(f"/proc/{pid}/schedstat") as stat:
            return int(stat.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def tree_memory(processes) -> dict:
    """RSS, USS, PSS and virtual size summed over the tree (bytes), plus processes and threads."""
    rss = uss = pss = vms = threads = alive = 0
    for proc in processes:
        try:
            full = proc.memory_full_info()
            threads += proc.num_threads()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        alive += 1
        rss += full.rss
        uss += full.uss
        pss += getattr(full, "pss", full.uss)
        vms += full.vms
    return {"rss": rss, "uss": uss, "pss": pss, "vms": vms, "threads": threads, "processes": alive}


def tree_context_switches(processes) -> dict[int, int]:
    """Voluntary + involuntary context switches of every live thread of the tree, by thread id."""
    counts = {}
    for proc in processes:
        try:
            tids = os.listdir(f"/proc/{proc.pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{proc.pid}/task/{tid}/status") as status:
                    counts[int(tid)] = sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)
            except (OSError, ValueError, IndexError):
                continue
    return counts


def switches_between(before: dict[int, int], after: dict[int, int]) -> int:
    """Switches made between two readings by the threads alive at the second: a thread that ended in
    between is not counted (a lower bound, never negative); one that started counts from zero."""
    return sum(max(0, count - before.get(tid, 0)) for tid, count in after.items())


class ServerSampler:
    """start() at the window's start, stop() at its end; figures() then gives the evidence."""

    def __init__(self, pid: int, server_cores: tuple[int, ...]):
        self.pid = pid
        self.server_cores = server_cores
        self.peak = {"rss": 0, "uss": 0, "pss": 0, "vms": 0, "threads": 0, "processes": 0}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._figures: dict = {}

    def _sample_memory(self):
        memory = tree_memory(process_tree(self.pid))
        for key, value in memory.items():
            self.peak[key] = max(self.peak[key], value)

    def _loop(self):
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            self._sample_memory()

    def start(self):
        # this process's CPU from the window's start (the load generator's own edge came just before) to its end
        # (stop() is called just after the load generator's edge): the harness's work on the load generator's core
        self._harness0 = time.process_time()
        self._cores0 = cpu.read_cores()
        tree = process_tree(self.pid)
        self._cpu0 = tree_cpu_readings(tree)
        self._switches0 = tree_context_switches(tree)
        self._started_at = time.monotonic()
        self._sample_memory()
        self._thread = threading.Thread(target=self._loop, name="server-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> dict:
        harness_cpu_s = time.process_time() - self._harness0
        tree = process_tree(self.pid)
        cpu1 = tree_cpu_readings(tree)
        switches = switches_between(self._switches0, tree_context_switches(tree))
        elapsed = time.monotonic() - self._started_at
        cores1 = cpu.read_cores()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample_memory()
        self._figures = {
            "harness_cpu_s": harness_cpu_s,
            "server_cpu_s": cpu_between(self._cpu0, cpu1),
            "server_core_busy_pct": cpu.busy_pct(self._cores0, cores1, self.server_cores),
            "server_rss_bytes": self.peak["rss"],
            "server_uss_bytes": self.peak["uss"],
            "server_pss_bytes": self.peak["pss"],
            "server_threads": self.peak["threads"],
            "server_processes": self.peak["processes"],
            "server_context_switches_per_s": switches / elapsed if elapsed > 0 else 0.0,
        }
        return self._figures
