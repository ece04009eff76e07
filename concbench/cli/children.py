"""The command lines of concbench's own child processes, `python -m concbench.cli.children CHILD ...`: the idle holder
(`memory`), the trickler (`run --slow-clients`) and the stream client (`backpressure`). Not for users: their parents
build these lines (concbench.clients, concbench.studies.backpressure); each is parsed here and runs its body there.
"""
from __future__ import annotations

import argparse
import sys

from concbench import registry
from concbench.cli.types import non_negative_int, port_number, positive_float, positive_int, target
from concbench.clients.idle import hold_idle
from concbench.clients.slow_clients import INTERVAL_S, MAX_REQUESTS, STEP_BYTES, TricklePlan, trickle
from concbench.clients.stream_client import StreamPlan, stream_main


def cpu_numbers(text: str) -> tuple[int, ...]:
    """'0,1' -> (0, 1); '' -> () (not pinned)."""
    try:
        return tuple(int(c) for c in text.split(",") if c)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected cpu numbers like 0,1, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """A bad line is the parent's bug: argparse's own message and exit 2 (the parent shows the child's stderr)."""
    parser = argparse.ArgumentParser(prog="python -m concbench.cli.children", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="child", required=True, metavar="CHILD")

    p = sub.add_parser("idle-holder", help="holds idle connections for `memory`, told what to do on stdin")
    p.add_argument("--cpus", type=cpu_numbers, default=())

    p = sub.add_parser("slow-clients", help="the trickler of `run --slow-clients`; stops when stdin closes")
    p.add_argument("scenario", choices=list(registry.SCENARIOS))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port_number, required=True)
    p.add_argument("--connections", type=positive_int, required=True)
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--step-bytes", type=positive_int, default=STEP_BYTES)
    p.add_argument("--interval", type=positive_float, default=INTERVAL_S)
    p.add_argument("--reply-timeout", type=positive_float, default=2.0)
    p.add_argument("--deadline", type=positive_float, required=True, help="seconds from start; stops by itself then")
    p.add_argument("--max-requests", type=positive_int, default=MAX_REQUESTS)
    p.add_argument("--cpus", type=cpu_numbers, default=())

    p = sub.add_parser("stream-client", help="the fast and slow readers of `backpressure`")
    p.add_argument("--target", type=target, required=True, help="HOST:PORT")
    p.add_argument("--size", type=positive_int, required=True)
    p.add_argument("--fast", type=non_negative_int, required=True)
    p.add_argument("--slow", type=non_negative_int, required=True)
    p.add_argument("--slow-rate", type=positive_float, required=True, help="bytes/s per slow reader")
    p.add_argument("--slow-rcvbuf", type=positive_int, required=True)
    p.add_argument("--warmup", type=float, required=True)
    p.add_argument("--window", type=positive_float, required=True)
    p.add_argument("--cpus", type=cpu_numbers, default=(), help="pin to these cpus, e.g. 1")
    p.add_argument("--events", action="store_true", help="JSON lines: ready, window_start, window_end, result")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.child == "idle-holder":
        return hold_idle(args.cpus)
    if args.child == "slow-clients":
        scenario = registry.SCENARIOS[args.scenario]
        params = scenario.parse_params(dict(p.split("=", 1) for p in args.param))
        plan = TricklePlan(args.host, args.port, args.connections, args.step_bytes, args.interval,
                           args.reply_timeout, args.deadline, args.max_requests)
        return trickle(plan, scenario.client_workload(params), args.cpus)
    host, port = args.target
    plan = StreamPlan(host, port, args.size, args.fast, args.slow, args.slow_rate, args.slow_rcvbuf, args.warmup,
                      args.window)
    return stream_main(plan, args.cpus, args.events)


if __name__ == "__main__":
    sys.exit(main())
