"""Shared asyncio plumbing for the asyncio-based runners: stop on SIGINT/SIGTERM, then close.

It owns the event-loop lifetime only; each runner's server setup stays in its own module.
"""
from __future__ import annotations

import asyncio
import signal


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
