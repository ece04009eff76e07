"""Where an open-loop run's late requests come from: the native engine at RATE/s against a running echo server, then
the largest corrected and uncorrected latency in each tenth of the window's replies (about 100 ms each), in µs.
A stall of the machine shows as a spike in both rows; a client that only fell behind its timetable, in the first.

usage: concbench serve reference-c echo --port 18555 --cpus 0 &
       .venv/bin/python tools/open_loop_stalls.py 127.0.0.1:18555 150000 [--connections 50] [--cpu 1]
"""
from __future__ import annotations

import argparse
import os
import socket
from array import array

from concbench.clients import native_engine
from concbench.registry import SCENARIOS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target")
    parser.add_argument("rate", type=float)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--cpu", type=int, default=1)
    args = parser.parse_args()
    host, port = args.target.rsplit(":", 1)
    os.sched_setaffinity(0, {args.cpu})
    engine = native_engine._load_engine()
    ring = tuple((e.request, e.expected_reply) for e in SCENARIOS["echo"].client_workload({"size": 64}).exchanges)
    result = engine.run(socket.AF_INET, host, int(port), ring, args.connections, 1.0, args.duration, 10.0, 5.0,
                        args.rate, spin_us=native_engine.spin_us())
    corrected, uncorrected = array("q"), array("q")
    corrected.frombytes(result["latencies"])
    uncorrected.frombytes(result["latencies_uncorrected"])
    chunk = max(1, len(corrected) // (10 * round(args.duration)))
    for name, values in (("corrected", corrected), ("uncorrected", uncorrected)):
        print(f"{name:>12}: " + " ".join(str(max(values[i:i + chunk]) // 1000)
                                        for i in range(0, len(values) - chunk + 1, chunk)))
    print(f"{len(corrected)} replies, {result['errors']} errors by kind")


if __name__ == "__main__":
    main()
