"""The listening socket of the bridge, made apart from the event loop and from every slow import.

`csmc run` claims its port with this before it imports anything else (sidecar/launch.py): the EA's connect
then succeeds at once, and the kernel holds the connection until the bridge answers it.
"""

from __future__ import annotations

import socket


def listening_socket(port: int) -> socket.socket:
    """A TCP socket listening on 127.0.0.1:`port` (0: any free port). Raises OSError when it cannot."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: no second listener may share the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:  # POSIX: rebinding over TIME_WAIT is fine; a second listener is still refused
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
