"""The baseline for the bridge's latency: a bare pyzmq ROUTER that sends every message back, on asyncio.

`python -m bench.echo PORT` serves until killed and prints "ready" once bound. It does what the sidecar's
bridge does at the least (read a message, write a reply) and nothing else, so the ratio of the two is what
the sidecar's own work costs.
"""

from __future__ import annotations

import asyncio
import sys

import zmq
import zmq.asyncio


async def serve(port: int) -> None:
    ctx = zmq.asyncio.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(f"tcp://127.0.0.1:{port}")
    print("ready", flush=True)
    while True:
        frames = await sock.recv_multipart()
        await sock.send_multipart(frames)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
