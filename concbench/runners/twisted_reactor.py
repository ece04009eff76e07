"""Which reactor a Twisted runner runs on: epoll (Twisted's own loop), or asyncioreactor over asyncio's
selector loop or uvloop (options['loop'] == 'asyncio' | 'uvloop'), so the same Protocol code runs on each.

It owns only the choice and installation; one reactor per process, installed before the first use.
"""
from __future__ import annotations

import sys


def install(options) -> str:
    """Install the reactor `options` asks for, unless one is already installed; returns the reactor's class name."""
    if "twisted.internet.reactor" not in sys.modules:
        loop = options.get("loop") or "epoll"
        if loop == "epoll":
            from twisted.internet import epollreactor
            epollreactor.install()
        elif loop in ("asyncio", "uvloop"):
            import asyncio

            from twisted.internet import asyncioreactor
            from .aio import new_event_loop
            event_loop = new_event_loop(loop)
            asyncio.set_event_loop(event_loop)
            asyncioreactor.install(event_loop)
        else:
            raise ValueError(f"unknown loop {loop!r} for a Twisted runner (epoll, asyncio or uvloop)")
    from twisted.internet import reactor
    return type(reactor).__name__
