"""A sidecar that cannot copy, serving its port anyway so that the EA can show the trader why.

When `csmc run` cannot copy — the profile is not valid or not readable, it is readable by others, a key
is missing, the connector is not available, another sidecar already uses the profile — exiting would leave
the EA saying "no sidecar is listening" while it starts the same failing process again and again. Instead
the sidecar binds its port, welcomes the EA, and sends the reason as a critical alert and in every status.
It never trades. It exits when no EA has been connected for `orphan_exit_s`, or as soon as the problem may
be gone (the profile file changed, the other sidecar ended), so that the EA starts a sidecar that copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable

from bridge import PROTOCOL_VERSION
from bridge.codec import ProtocolError
from bridge.messages import AlertMsg, Bye, Snapshot, Status, Welcome
from bridge.server import BridgeServer, Session
from bridge.token import SessionToken
from sidecar import __version__
from sidecar.logs import REDACT

log = logging.getLogger("csmc.refusal")

EXIT_REFUSED = 2
"""Exit status after serving the refusal: nothing was copied."""
EXIT_RETRY = 75
"""Exit status when the problem may be gone: starting `csmc run` again may copy (EX_TEMPFAIL)."""

ResolvedCheck = Callable[[], str | None]
"""Returns why the refusal may no longer hold (the sidecar then exits), or None."""


class RefusingSidecar:
    def __init__(
        self,
        reason: str,
        summary: str,
        token: SessionToken,
        *,
        port: int,
        connector: str | None,
        profile: str,
        code: str = "config",
        resolved: ResolvedCheck | None = None,
        heartbeat_ms: int = 1000,
        timeout_ms: int = 10_000,
        orphan_exit_s: float = 120,
        poll_s: float = 1.0,
        sock: socket.socket | None = None,
    ) -> None:
        self.reason = REDACT(reason)
        self.summary = REDACT(summary)
        self.connector = connector
        self.profile = profile
        self.code = code
        self._resolved = resolved
        self._orphan_exit_s = orphan_exit_s
        self._poll_s = poll_s
        self.server = BridgeServer(
            self, token, port=port, heartbeat_ms=heartbeat_ms, timeout_ms=timeout_ms, sock=sock
        )
        self._stop = asyncio.Event()
        self._exit = EXIT_REFUSED
        self._tasks: set[asyncio.Task[None]] = set()

    def bind(self) -> int:
        return self.server.bind()

    async def run(self) -> int:
        if not self.server.bound:
            self.bind()
        serving = asyncio.create_task(self.server.serve())
        watching = asyncio.create_task(self._watch())
        try:
            await self._stop.wait()
        finally:
            watching.cancel()
            for task in list(self._tasks):
                task.cancel()
            self.server.close()
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await serving
        return self._exit

    def _end(self, exit_code: int, why: str) -> None:
        log.info("%s: exiting", why)
        self._exit = exit_code
        self._stop.set()

    async def _watch(self) -> None:
        last_contact = time.monotonic()
        while not self._stop.is_set():
            await asyncio.sleep(self._poll_s)
            if self._resolved is not None:
                why = self._resolved()
                if why is not None:
                    self._end(EXIT_RETRY, why)
                    return
            if self.server.sessions:
                last_contact = time.monotonic()
            elif self._orphan_exit_s > 0 and time.monotonic() - last_contact > self._orphan_exit_s:
                self._end(EXIT_REFUSED, f"no EA connected for {self._orphan_exit_s:g} s")
                return

    # --- SessionHandler ---------------------------------------------------------------------------

    async def on_hello(self, session: Session) -> Welcome:
        hello = session.hello
        asked = {"connector": (hello.connector, self.connector), "profile": (hello.profile, self.profile)}
        changed = [f"{name} {wanted}" for name, (wanted, mine) in asked.items() if mine is not None and wanted != mine]
        if changed:
            # The EA's inputs changed since it started this sidecar: the reason may no longer hold.
            self._end(EXIT_RETRY, f"the EA now asks for {' and '.join(changed)}")
            raise ProtocolError(
                "invalid",
                f"the EA asks for {' and '.join(changed)}, which this sidecar was not started with; it exits so "
                f"that the EA can start one for its new inputs",
                "hello",
            )
        log.info(
            "EA %s connected (account %s on %s): it is told that nothing is copied",
            hello.ea_version,
            hello.account.login,
            hello.account.server,
        )
        task = asyncio.get_running_loop().create_task(self._tell(session.sid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return Welcome(
            version=PROTOCOL_VERSION,
            sidecar_version=__version__,
            # The profile names the connector, and it could not be read: say what the EA or command line asked for.
            connector=hello.connector or self.connector or "none",
            mode="follow",  # nothing is copied in either mode; follow changes nothing on the venue
            heartbeat_ms=self.server.heartbeat_ms,
            timeout_ms=self.server.timeout_ms,
            max_frame=self.server.max_frame,
        )

    async def _tell(self, sid: str) -> None:
        # After the welcome has gone out: the EA ignores other messages before it.
        await asyncio.sleep(0)
        await self.server.send(sid, "alert", AlertMsg(level="error", text=self.reason, critical=True, code=self.code))
        await self.server.send(sid, "status", self.status())

    def status(self) -> Status:
        return Status(
            venue_connected=False, copying=False, last_sync_ms=None, mismatches=0, instruments=[], detail=self.summary
        )

    async def on_snapshot(self, session: Session, seq: int, body: Snapshot) -> bool:
        return False

    async def on_bye(self, session: Session, body: Bye) -> None:
        log.info("EA session %s ended: %s", session.sid, body.reason or "bye")

    async def on_lost(self, session: Session) -> None:
        return None

