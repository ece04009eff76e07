"""Server-side evidence: context switches counted per thread, never negative when threads come and go."""
from __future__ import annotations

import os
import threading

from concbench.harness.sampling import ServerSampler, process_tree, switches_between, tree_context_switches


def test_switches_count_only_threads_alive_at_the_end_and_new_ones_from_zero():
    before = {1: 100, 2: 50, 3: 7}
    after = {1: 130, 2: 50, 4: 9}          # 3 ended, 4 started
    assert switches_between(before, after) == 30 + 0 + 9
    assert switches_between({1: 10}, {1: 5}) == 0          # a reused thread id never subtracts


def ping_pong(rounds: int) -> None:
    """Two threads handing a turn back and forth: each hand-over is a sleep and a wake-up."""
    ping, pong = threading.Event(), threading.Event()

    def other():
        for _ in range(rounds):
            ping.wait()
            ping.clear()
            pong.set()

    thread = threading.Thread(target=other)
    thread.start()
    for _ in range(rounds):
        ping.set()
        pong.wait()
        pong.clear()
    thread.join()


def test_every_thread_of_the_tree_is_read_and_a_window_with_hand_overs_counts_switches():
    barrier = threading.Barrier(2)
    waiting = threading.Thread(target=barrier.wait)
    waiting.start()
    try:
        counts = tree_context_switches(process_tree(os.getpid()))
        assert {os.getpid(), waiting.native_id} <= set(counts)
        assert all(count >= 0 for count in counts.values())
    finally:
        barrier.wait()
        waiting.join()

    sampler = ServerSampler(os.getpid(), (0,))
    sampler.start()
    ping_pong(200)
    figures = sampler.stop()
    assert figures["server_context_switches_per_s"] > 0
