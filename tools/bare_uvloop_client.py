"""The smallest uvloop closed-loop echo client: no verification, no timing, counts replies by length.

Not a load generator: the yardstick `concbench ceiling` uses to show what uvloop alone costs.
usage: bare_uvloop_client.py HOST PORT CONNECTIONS SIZE WARMUP_S DURATION_S  (prints one JSON line)
"""
import asyncio
import json
import sys
import time

import uvloop


def main():
    host, port, connections, size, warmup, duration = sys.argv[1:7]
    port, connections, size, warmup, duration = int(port), int(connections), int(size), float(warmup), float(duration)
    message = b"x" * size
    replies = [0]

    class Client(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.pending = transport, size
            transport.write(message)

        def data_received(self, data):
            self.pending -= len(data)
            if self.pending <= 0:
                replies[0] += 1
                self.pending = size
                self.transport.write(message)

    async def run():
        loop = asyncio.get_running_loop()
        for _ in range(connections):
            await loop.create_connection(Client, host, port)
        await asyncio.sleep(warmup)
        start, t0 = replies[0], time.perf_counter()
        await asyncio.sleep(duration)
        print(json.dumps({"requests": replies[0] - start, "window_s": time.perf_counter() - t0, "errors": 0}))

    uvloop.run(run())


if __name__ == "__main__":
    main()
