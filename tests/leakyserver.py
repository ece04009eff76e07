"""A deliberately leaky echo server for the memory tests: it keeps LEAK bytes (filled, so resident) per connection.

It prints the same ready line as `concbench serve`, so ServerProcess can start and stop it.
Run: python -m tests.leakyserver LEAK_BYTES
"""
from __future__ import annotations

import asyncio
import sys

from concbench import fairness
from concbench.harness.serve import ready_line

KEPT: list[bytes] = []


class LeakyEcho(asyncio.Protocol):
    def __init__(self, leak: int):
        KEPT.append(b"\xa5" * leak)      # written, so every page is resident

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main(leak: int) -> None:
    fairness.raise_open_file_limit()
    listener = fairness.listen_socket("127.0.0.1", 0)
    server = await asyncio.get_running_loop().create_server(lambda: LeakyEcho(leak), sock=listener)
    print(ready_line("leaky", "echo", "127.0.0.1", listener.getsockname()[1]), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
