"""Per-core busy time from /proc/stat (via psutil): how busy a set of cores was between two readings.

Busy includes user, system, irq and softirq (loopback TCP work is charged as softirq to the
sending core), so it answers "had this core headroom?" better than one process's CPU time.
"""
from __future__ import annotations

import psutil


def read_cores():
    return psutil.cpu_times(percpu=True)


def busy_pct(before, after, cores) -> float:
    """Mean busy percentage of `cores` between two read_cores() readings."""
    shares = []
    for core in cores:
        a, b = before[core], after[core]
        total = sum(b) - sum(a)
        idle = (b.idle - a.idle) + (getattr(b, "iowait", 0.0) - getattr(a, "iowait", 0.0))
        if total > 0:                   # float sums can put idle a hair above total: a share is within 0-100
            shares.append(min(100.0, max(0.0, 100.0 * (1.0 - idle / total))))
    return sum(shares) / len(shares) if shares else 0.0
