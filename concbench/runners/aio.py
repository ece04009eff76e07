"""Shared asyncio plumbing for the asyncio-based runners: stop on SIGINT/SIGTERM, then close.

It owns the event-loop lifetime only; each runner's server setup stays in its own module.
"""
from __future__ import annotations

import asyncio
import signal


LOOPS = ("asyncio", "uvloop")   # options['loop']: the standard library's selector loop, or uvloop (libuv)


def new_event_loop(loop: str | None):
    """A fresh event loop of the kind options['loop'] names (None or 'asyncio': asyncio's selector loop)."""
    if loop == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    if loop in (None, "", "asyncio"):
        return asyncio.SelectorEventLoop()
    raise ValueError(f"unknown loop {loop!r} (known: {', '.join(LOOPS)})")


def loop_factory(options):
    """asyncio.Runner's loop_factory for options['loop'] (None: asyncio's default, the selector loop on Linux)."""
    loop = options.get("loop")
    return None if loop in (None, "", "asyncio") else (lambda: new_event_loop(loop))


def run_until_signalled(start_server, ready, loop_factory=None) -> None:
    """Run `await start_server()` (returns a stop callable), call ready(), serve until a stop signal."""
    async def main():
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        stop_server = await start_server()
        ready()
        await stop.wait()
        stop_server()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())
