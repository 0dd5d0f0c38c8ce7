"""The `csmc` command's entry point: `csmc run` claims its port before anything slow is imported.

The EA connects as soon as it has started the sidecar. Listening first, in the interpreter's first
milliseconds, makes that connect succeed at once; the kernel queues the connection, and the bridge answers
the EA's hello as soon as the configuration is read, while the venue's SDK is still loading in the
background. Everything else about the command line lives in sidecar/cli.py.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Sequence

_prebound: dict[int, socket.socket] = {}


def _port(args: Sequence[str]) -> int | None:
    for at, arg in enumerate(args):
        if arg == "--port" and at + 1 < len(args):
            text = args[at + 1]
        elif arg.startswith("--port="):
            text = arg.removeprefix("--port=")
        else:
            continue
        try:
            return int(text)
        except ValueError:
            return None
    return None


def prebound(port: int) -> socket.socket | None:
    """The socket claimed for `port` at start, handed over once; None when none was (then bind as usual)."""
    return _prebound.pop(port, None)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["run"]:
        port = _port(args)
        if port is not None and 0 < port < 65536:
            from bridge.listen import listening_socket

            # Taken, or not allowed: `csmc run` binds again and explains it in one paragraph.
            with contextlib.suppress(OSError):
                _prebound[port] = listening_socket(port)
    from sidecar.cli import main as cli_main

    return cli_main(args)
