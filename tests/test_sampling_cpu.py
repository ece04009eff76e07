"""Server CPU of a process tree: exact scheduler time for single-threaded processes (prefork workers, event
loops), psutil's user+system for multi-threaded ones, and the CPU of children the tree has reaped (fork)."""
from __future__ import annotations

import os
from collections import namedtuple

import psutil

from concbench.harness import sampling

Times = namedtuple("Times", "user system children_user children_system")


class FakeProcess:
    def __init__(self, pid, threads, user, system, children=0.0):
        self.pid, self.threads = pid, threads
        self.times = Times(user, system, children, 0.0)

    def cpu_times(self):
        return self.times

    def num_threads(self):
        return self.threads


def test_single_threaded_processes_read_the_scheduler_time_others_psutil_plus_reaped_children(monkeypatch):
    monkeypatch.setattr(sampling, "run_time_s", lambda pid: {1: 0.5, 2: 0.25}.get(pid))
    tree = [FakeProcess(1, 1, 0.1, 0.1, children=2.0),    # arbiter: reaped children's 2 s count
            FakeProcess(2, 1, 0.0, 0.0),                 # a worker the ticks missed: 0.25 s from schedstat
            FakeProcess(3, 8, 1.0, 0.5)]                 # threads: psutil (no schedstat for pid 3 here)
    assert sampling.tree_cpu_seconds(tree) == 2.0 + 0.5 + 0.25 + 1.5


def test_a_reaped_child_is_counted_for_real():
    me = [psutil.Process()]
    before = sampling.tree_cpu_seconds(me)
    pid = os.fork()
    if pid == 0:                                       # burn CPU until a clear amount is used, then exit
        end = os.times()
        while os.times().user + os.times().system - end.user - end.system < 0.2:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
    assert sampling.tree_cpu_seconds(me) - before >= 0.15


def test_the_scheduler_time_of_this_process_is_read():
    assert sampling.run_time_s(os.getpid()) > 0
    assert sampling.run_time_s(2 ** 22 + 12345) is None


def test_cpu_between_uses_one_source_per_process_at_both_readings():
    """A thread-per-connection server read with its connection threads alive (ticks) and then, after they ended,
    single-threaded (an exact figure of its main thread only) is compared tick to tick: never 0 by mixing."""
    from concbench.harness.sampling import cpu_between
    before = {10: (0.46, 0.0, None)}          # 11 threads: ticks only
    after = {10: (0.71, 0.0, 0.34)}           # 1 thread left: the main thread's exact run time is 0.34
    assert abs(cpu_between(before, after) - 0.25) < 1e-9
    single = cpu_between({11: (0.10, 0.0, 0.12)}, {11: (0.10, 0.0, 0.52)})      # exact at both: exact
    assert abs(single - 0.40) < 1e-9
    reaped = cpu_between({12: (0.0, 1.0, 0.0)}, {12: (0.0, 1.5, 0.0), 13: (0.2, 0.0, 0.3)})   # children + newborn
    assert abs(reaped - 0.8) < 1e-9


def test_a_core_idle_for_the_whole_interval_is_0_percent_busy_never_a_hair_below():
    """Float sums can put the idle time a hair above the total (found: -2.3e-10 %), which the result keys refuse."""
    from concbench import cpu
    times = type(psutil.cpu_times(percpu=True)[0])

    def reading(user, idle):
        return [times(*[user if f == "user" else idle if f == "idle" else 0.0 for f in times._fields])]
    before, after = reading(0.9538901090448778, 4093.524085026319), reading(0.9538901090448778, 4103.154878916754)
    assert cpu.busy_pct(before, after, [0]) == 0.0
