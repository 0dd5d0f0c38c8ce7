"""A crowd of strangers on a sidecar's port, for the flood test and `make bench`.

`python -m tests.bridge.flood PORT` keeps CONNECTIONS connections busy until its standard input closes,
each in one of the ways a careless or hostile local program can misbehave, reconnecting whenever the
sidecar shows it the door. Prints "flooding" once every connection has been opened, and at the end one JSON
line: what was sent, and how often the sidecar hung up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import sys
from collections import Counter

from tests.bridge.rawzmtp import RawZmtp, frame

CONNECTIONS = 48  # beyond the sidecar's cap on strangers
BEHAVIOURS = ("tiny_frames", "huge_message", "bad_token", "garbage", "not_zmtp", "idle", "big_hello", "slow_reader")


def bad_hello(seq: int, pad: int = 0) -> bytes:
    body = {
        "token": "not-the-token", "versions": [1], "ea_version": "flood", "connector": "paper",
        "profile": "default", "pad": "x" * pad,
        "account": {"login": 1, "server": "x", "currency": "USD", "margin_mode": "netting"},
    }  # fmt: skip
    return json.dumps({"v": 1, "type": "hello", "sid": "flood", "seq": seq, "body": body}).encode()


async def misbehave(port: int, behaviour: str, counts: Counter[str]) -> None:
    handshake = behaviour != "not_zmtp"
    peer = await RawZmtp.connect(port, handshake=handshake)
    counts["connections"] += 1
    try:
        seq = 0
        while True:
            seq += 1
            if behaviour == "tiny_frames":  # one-byte messages, thousands per write
                await peer.send_bytes(b"\x00\x01x" * 20_000)
                counts["messages"] += 20_000
            elif behaviour == "huge_message":  # 2 MiB, in slices
                await peer.send_bytes(b"\x02" + struct.pack(">Q", 2 * 1024 * 1024))
                for _ in range(32):
                    await peer.send_bytes(os.urandom(64 * 1024))
                counts["messages"] += 1
            elif behaviour in ("bad_token", "big_hello"):
                await peer.send_bytes(frame(bad_hello(seq, 15_000 if behaviour == "big_hello" else 0)))
                counts["messages"] += 1
            elif behaviour == "garbage":
                await peer.send_bytes(frame(os.urandom(200)))
                counts["messages"] += 1
            elif behaviour == "not_zmtp":
                await peer.send_bytes(b"GET / HTTP/1.1\r\n" + os.urandom(4096))
                counts["messages"] += 1
            elif behaviour == "slow_reader":  # asks for replies and never reads them
                await peer.send_bytes(frame(b"{}") * 50)
                counts["messages"] += 50
            else:  # idle: holds a place among the strangers
                await asyncio.sleep(0.2)
            await asyncio.sleep(0)
    finally:
        peer.close()


async def worker(port: int, behaviour: str, counts: Counter[str]) -> None:
    while True:
        try:
            await misbehave(port, behaviour, counts)
        except (ConnectionError, asyncio.IncompleteReadError, OSError, AssertionError):
            counts["hung_up"] += 1
            await asyncio.sleep(0.01)


async def flood(port: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    loop = asyncio.get_running_loop()
    workers = [loop.create_task(worker(port, BEHAVIOURS[i % len(BEHAVIOURS)], counts)) for i in range(CONNECTIONS)]
    while counts["connections"] < CONNECTIONS:
        await asyncio.sleep(0.01)
    print("flooding", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the test closes our stdin
    for task in workers:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*workers, return_exceptions=True)
    return counts


def main(argv: list[str]) -> int:
    counts = asyncio.run(flood(int(argv[0])))
    print(json.dumps(dict(counts), sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
