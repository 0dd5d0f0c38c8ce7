"""The running sidecar (`csmc run`): venue, engine, journal and bridge wired together.

Life cycle: bind the bridge (the port is the single-instance lock) → connect the venue and load its
instruments, retrying while it is unavailable → on each EA `hello`, start the engine for that account →
snapshots become targets → reconciliation in the background, a `status` to the EA after each pass →
periodic syncs → exit when no EA has been connected for `orphan_exit_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bridge import PROTOCOL_VERSION
from bridge.codec import ProtocolError
from bridge.magic import passes
from bridge.messages import AlertMsg, Bye, InstrumentStatus, RequestSnapshot, Snapshot, Status, Welcome
from bridge.server import BridgeServer, Session
from bridge.token import SessionToken
from sidecar import __version__, paths
from sidecar.config import Connector, Settings
from sidecar.engine import CopyMode, SyncEngine
from sidecar.errors import AuthError, ConfigError, VenueError
from sidecar.journal import Journal
from sidecar.logs import REDACT, EaMirrorHandler, set_max_log_size
from sidecar.mapping import SymbolMapper, SymbolOverride
from sidecar.model import Instrument, MarginMode, PositionMode
from sidecar.updates import UpdateCheck
from sidecar.venues.base import VenueAdapter
from sidecar.venues.paper import PaperVenue

log = logging.getLogger("csmc.app")
STATUS_EVERY_S = 1.0  # the most often a status follows tables that changed nothing


def make_venue(settings: Settings) -> VenueAdapter:
    if settings.connector == "paper":
        paper = settings.paper
        venue = PaperVenue(position_mode=PositionMode(paper.position_mode), state_file=paper.state_file)
        venue.prices.update(paper.prices)
        return venue
    if settings.connector == "binance":
        # Imported here: python-binance is a heavy import that the other connectors do not need.
        from sidecar.venues.binance import BinanceVenue

        overrides = [o.symbol for o in settings.mapping.overrides.values()]
        return BinanceVenue(settings.binance, position_symbols=overrides)
    if settings.connector == "kucoin":
        # Imported here: only profiles that use KuCoin load its SDK, after the bridge socket is bound.
        from sidecar.venues.kucoin import KuCoinVenue

        overrides = [o.symbol for o in settings.mapping.overrides.values()]
        return KuCoinVenue(settings.kucoin, position_symbols=overrides)
    if settings.connector == "ib":
        # Imported here: ib_async (and numpy under it) is loaded only by profiles that use it.
        from sidecar.venues.ib import IBVenue

        return IBVenue(settings.ib)
    if settings.connector == "kraken":
        # Imported here: python-kraken-sdk (requests, aiohttp) is loaded only by profiles that use it.
        from sidecar.venues.kraken import KrakenVenue

        overrides = [o.symbol for o in settings.mapping.overrides.values()]
        return KrakenVenue(settings.kraken, position_symbols=overrides)
    raise ConfigError(
        f"The {settings.connector} connector is not part of this version yet; see the README's connector table. "
        f"Use connector 'paper' to try the copier."
    )


def copy_mode(settings: Settings) -> CopyMode:
    return CopyMode.MIRROR if settings.venue().sync_at_startup else CopyMode.FOLLOW


def make_mapper(settings: Settings, venue: VenueAdapter, instruments: Mapping[str, Instrument]) -> SymbolMapper:
    mapping = settings.mapping
    section = settings.venue()
    return SymbolMapper(
        instruments,
        venue.venue_symbol,
        overrides={k: SymbolOverride(v.symbol, v.multiplier) for k, v in mapping.overrides.items()},
        prefixes=tuple(mapping.symbol_prefixes),
        suffixes=tuple(mapping.symbol_suffixes),
        mt_profit_currency=section.mt_profit_currency,
        quote_currency=section.quote_currency,
        multiplier=mapping.multiplier,
    )


@dataclass
class RunOptions:
    profile: str
    token: SessionToken
    """The session token; a TokenFile when the EA handed it over in a file (a new EA instance may rewrite it)."""
    port: int
    journal_path: Path
    connector: Connector


VenueFactory = Callable[[Settings], VenueAdapter]


class Sidecar:
    def __init__(
        self,
        settings: Settings,
        options: RunOptions,
        venue: VenueAdapter | None = None,
        *,
        venue_factory: VenueFactory = make_venue,
        sock: socket.socket | None = None,
    ) -> None:
        """`venue`: the adapter to use; without one, `venue_factory` makes it in a worker thread once the bridge
        serves, so the EA's hello is answered while the venue's SDK is still being imported."""
        self.settings = settings
        self.options = options
        self.venue: VenueAdapter | None = venue
        self._venue_factory = venue_factory
        self.journal = Journal(options.journal_path)
        self.server = BridgeServer(
            self,
            options.token,
            port=options.port,
            heartbeat_ms=settings.bridge.heartbeat_ms,
            timeout_ms=settings.bridge.timeout_ms,
            sock=sock,
        )
        self.engine: SyncEngine | None = None
        self.venue_connected = False
        self.active: Session | None = None
        self._fatal: str | None = None
        self._status_due = False
        self._status_timer: asyncio.Task[None] | None = None
        self._last_status = 0.0
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._last_contact = time.monotonic()
        self._mirror = EaMirrorHandler(self._mirror_to_ea)
        self._max_log_mb = settings.log.max_log_file_mb
        REDACT.add(options.token.value, *settings.secret_values())

    # --- running ----------------------------------------------------------------------------------

    def bind(self) -> int:
        return self.server.bind()

    async def run(self) -> int:
        if not self.server.bound:
            self.bind()
        logging.getLogger("csmc").addHandler(self._mirror)
        self._stop_on_signals()
        serving = asyncio.create_task(self.server.serve())
        self._spawn(self._connect_venue())
        self._spawn(self._periodic_sync())
        self._spawn(self._watch_orphan())
        if self.settings.update.check:
            # Opt-in; reads a feed and alerts, never downloads or runs anything (sidecar/updates.py).
            check = UpdateCheck(self.settings.update.feed_url, self.settings.update.timeout_s)
            self._spawn(check.run(lambda: self.active is not None))
        try:
            await self._stop.wait()
        finally:
            logging.getLogger("csmc").removeHandler(self._mirror)
            for task in [*self._tasks, *(t for t in (self._worker, self._status_timer) if t is not None)]:
                task.cancel()
            self.server.close()
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await serving
            if self.engine is not None:
                self.engine.close()
            if self.venue is not None:
                with contextlib.suppress(Exception):
                    await self.venue.close()
            self.journal.close()
        return 0 if self._fatal is None else 3

    def stop(self) -> None:
        self._stop.set()

    def _stop_on_signals(self) -> None:
        """SIGTERM and SIGINT end the run as a bye does: the journal is closed with everything written."""
        loop = asyncio.get_running_loop()
        for name in ("SIGTERM", "SIGINT"):
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            try:
                loop.add_signal_handler(signum, self.stop)
            except (NotImplementedError, RuntimeError):
                return  # Windows' event loop, or not the main thread: the default handling stays

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        # A failed background task must not fail silently: the copier would look alive but stop copying.
        self._fatal = f"internal error in {task.get_coro().__qualname__}"  # type: ignore[union-attr]
        log.error(
            "Internal error: copying stopped. Details are in the log file.",
            exc_info=task.exception(),
            extra={"critical": True, "code": "internal"},
        )
        self.stop()

    @property
    def venue_name(self) -> str:
        return self.venue.name if self.venue is not None else self.options.connector

    async def _make_venue(self) -> VenueAdapter:
        if self.venue is None:
            # In a worker thread: importing an SDK takes the better part of a second, and the bridge serves meanwhile.
            self.venue = await asyncio.to_thread(self._venue_factory, self.settings)
        self.venue.on_reconnect = self._on_venue_reconnect
        self.venue.on_disconnect = self._on_venue_disconnect
        return self.venue

    async def _connect_venue(self) -> None:
        try:
            venue = await self._make_venue()
        except ConfigError as e:
            self._fatal = str(e)
            log.error("Cannot use %s: %s", self.venue_name, e, extra={"critical": True, "code": "venue_config"})
            await self._send_status()
            return
        delay = 1.0
        while not self._stop.is_set():
            try:
                await venue.connect()
                # Not copied: a venue that resolves instruments lazily adds to this mapping later.
                instruments = await venue.instruments()
            except (AuthError, ConfigError) as e:
                self._fatal = str(e)
                log.error("Cannot use %s: %s", venue.name, e, extra={"critical": True, "code": "venue_config"})
                await self._send_status()  # its detail carries the reason; an EA that connects later is told at hello
                return
            except VenueError as e:
                log.warning("%s unavailable: %s. Retrying in %.0f s.", venue.name, e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            break
        else:
            return
        mapper = make_mapper(self.settings, venue, instruments)
        self.engine = SyncEngine(venue, self.journal, mapper, mode=copy_mode(self.settings), auto_retry=True)
        self.engine.on_retried = self._send_status
        self.venue_connected = True
        log.info("connected to %s (%d instruments), %s mode", venue.name, len(instruments), self.engine.mode.value)
        if self.active is not None:
            await self._start_engine(self.active)

    async def _start_engine(self, session: Session) -> None:
        if self.engine is None:
            return
        account = session.hello.account
        copy_key = f"{account.login}@{account.server}/{self.options.connector}/{self.options.profile}"
        self.journal.begin_session(session.sid, copy_key, session.hello.model_dump(mode="json", exclude={"token"}))
        await self.engine.start(session.sid, copy_key, MarginMode(account.margin_mode))
        if self.engine.pending:
            self._kick()  # a table that arrived while the engine was starting
        await self.server.send(session.sid, "request_snapshot", RequestSnapshot(reason="sidecar ready"))
        await self._send_status()

    async def _periodic_sync(self) -> None:
        period = self.settings.venue().position_sync_period_s
        if period <= 0:
            return
        while not self._stop.is_set():
            await asyncio.sleep(period)
            if self.engine is not None and self.engine.started:
                await self.engine.sync("periodic")
                await self._send_status()

    async def _watch_orphan(self) -> None:
        limit = self.settings.bridge.orphan_exit_s
        if limit <= 0:
            return
        while not self._stop.is_set():
            await asyncio.sleep(min(limit, 1.0))
            if self.server.sessions:
                self._last_contact = time.monotonic()
            elif time.monotonic() - self._last_contact > limit:
                log.info("no EA connected for %d s: exiting", limit)
                self.stop()

    def _on_venue_disconnect(self, reason: str) -> None:
        if self.engine is None:
            return  # still connecting for the first time: _connect_venue reports and retries
        self.venue_connected = False
        log.warning(
            "%s: %s. Nothing is traded until it is back.", self.venue_name, reason, extra={"code": "venue_lost"}
        )
        self._spawn(self._send_status())

    def _on_venue_reconnect(self) -> None:
        log.warning("%s connection restored: syncing positions", self.venue_name)
        if self.engine is not None:
            self.venue_connected = True
            engine = self.engine
            self._spawn(self._sync_and_report(engine, "after reconnect"))

    async def _sync_and_report(self, engine: SyncEngine, reason: str) -> None:
        await engine.sync(reason)
        await self._send_status()

    # --- SessionHandler ---------------------------------------------------------------------------

    async def on_hello(self, session: Session) -> Welcome:
        hello = session.hello
        if hello.connector is not None and hello.connector != self.options.connector:
            raise ProtocolError("invalid", self._connector_mismatch(hello.connector), "hello")
        if self.active is not None and self.active.sid != session.sid:
            log.info("EA session %s replaces %s", session.sid, self.active.sid)
            await self.server.drop(self.active.sid, f"replaced by EA session {session.sid}: one EA per sidecar")
        self.active = session
        self._mirror.info_messages = hello.logging.info_messages
        self._apply_max_log_size(hello.logging.max_log_mb)
        log.info(
            "EA %s connected: account %s on %s (%s), magic filter %s",
            hello.ea_version,
            hello.account.login,
            hello.account.server,
            hello.account.margin_mode,
            ",".join(map(str, hello.magic_filter)) or "0",
        )
        if self.engine is not None:
            self._spawn(self._start_engine(session))
        elif self._fatal is not None:
            self._spawn(self._tell_fatal(session))
        mode = self.engine.mode.value if self.engine else copy_mode(self.settings).value
        return Welcome(
            version=PROTOCOL_VERSION,
            sidecar_version=__version__,
            connector=self.options.connector,
            mode=mode,  # type: ignore[arg-type]
            heartbeat_ms=self.server.heartbeat_ms,
            timeout_ms=self.server.timeout_ms,
            max_frame=self.server.max_frame,
        )

    def _connector_mismatch(self, asked: str) -> str:
        # The profile holds the venue's keys and settings, so it decides; an EA input never switches the venue.
        profile = paths.profile_path(self.options.profile)
        return (
            f"the EA's Connector input is {asked}, but this sidecar copies to {self.options.connector} with profile "
            f"'{self.options.profile}' ({profile}). Nothing is copied until they agree: set the EA's Connector input "
            f"to 'As in the sidecar profile', or write connector = \"{asked}\" in that profile and start the "
            f"sidecar again."
        )

    def _apply_max_log_size(self, max_mb: int) -> None:
        if max_mb == self._max_log_mb:
            return
        self._max_log_mb = max_mb
        for path in set_max_log_size(max_mb):
            log.info("the log file %s is now rotated at %d MB (the EA's 'Max log file size' input)", path, max_mb)

    async def _tell_fatal(self, session: Session) -> None:
        # The venue failed for good before this EA connected: the EA would otherwise never hear why.
        text = REDACT(f"Cannot use {self.venue_name}: {self._fatal}")
        body = AlertMsg(level="error", text=text, critical=True, code="venue_config")
        await self.server.send(session.sid, "alert", body)
        await self._send_status()

    async def on_snapshot(self, session: Session, seq: int, body: Snapshot) -> bool:
        if self.engine is None or self.active is None or session.sid != self.active.sid:
            return False
        allowed = session.hello.magic_filter
        positions = [p for p in body.positions if passes(p.magic, allowed)]
        if len(positions) != len(body.positions):
            log.warning("%d position(s) outside the magic filter were ignored", len(body.positions) - len(positions))
        try:
            await self.engine.prepare(positions)
        except VenueError as e:
            log.warning(
                "%s cannot look up the instruments of this MT5 table now (%s); it is applied when the venue answers.",
                self.venue_name,
                e,
            )
            return False
        applied = self.engine.accept_snapshot(session.sid, seq, positions, body.deal)
        if applied:
            self._kick()
        return applied

    async def on_bye(self, session: Session, body: Bye) -> None:
        self.journal.end_session(session.sid, body.reason or "bye")
        log.info("EA session %s ended: %s", session.sid, body.reason or "bye")
        if self.active is not None and self.active.sid == session.sid:
            self.active = None

    async def on_lost(self, session: Session) -> None:
        self.journal.end_session(session.sid, "heartbeat timeout")
        if self.active is not None and self.active.sid == session.sid:
            self.active = None

    # --- background reconciliation and reports ----------------------------------------------------

    def _kick(self) -> None:
        if self.engine is not None and not self.engine.pending and (self._worker is None or self._worker.done()):
            self._status_soon()  # a table that changed no target: nothing to trade, only the status to send
            return
        self._status_due = True
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._reconcile_while_pending())
            self._worker.add_done_callback(self._task_done)

    async def _reconcile_while_pending(self) -> None:
        # Each pass takes the legs whose targets changed since the last one: a burst of tables costs one pass
        # per table that arrived while the previous pass was trading, not one per table. Every applied table
        # gets a status after the pass that follows it, even one that changed nothing (PROTOCOL.md §4.7).
        while self.engine is not None and (self._status_due or self.engine.pending):
            self._status_due = False
            traded = self.engine.pending
            await self.engine.reconcile()
            if traded:
                await self._send_status()
            else:
                self._status_soon()

    def _status_soon(self) -> None:
        """A table that changed no target still gets its status, but at most one a second: the EA's timer
        sends its table every few seconds, and a burst of such tables needs one status, not one each."""
        if self._status_timer is not None and not self._status_timer.done():
            return
        wait = max(0.0, self._last_status + STATUS_EVERY_S - time.monotonic())
        self._status_timer = asyncio.get_running_loop().create_task(self._status_after(wait))

    async def _status_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        await self._send_status()

    def status(self) -> Status:
        engine = self.engine
        rows = []
        mismatches = 0
        for leg in engine.status() if engine else []:
            mismatch, fill = leg.mismatch, leg.last_fill
            if mismatch is None or mismatch != 0:
                mismatches += 1
            rows.append(
                InstrumentStatus(
                    symbol=leg.key.symbol,
                    leg=leg.key.leg.value,
                    mt5_symbols=list(leg.mt5_symbols),
                    target=leg.target,
                    venue=leg.position,
                    mismatch=mismatch,
                    note=leg.note,
                    last_fill_qty=fill.qty if fill else None,
                    last_fill_price=fill.price if fill else None,
                    last_fill_ms=int(fill.at * 1000) if fill else None,
                    last_fill_mt5_price=fill.mt5_price if fill else None,
                )
            )
        detail = self._fatal or (engine.refused if engine else None) or ""
        last = engine.last_sync if engine else None
        return Status(
            venue_connected=self.venue_connected,
            copying=bool(engine and engine.ready),
            last_sync_ms=int(last * 1000) if last else None,
            mismatches=mismatches,
            instruments=rows,
            detail=detail,
        )

    async def _send_status(self) -> None:
        self._last_status = time.monotonic()
        if self.active is not None:
            await self.server.send(self.active.sid, "status", self.status())

    def _mirror_to_ea(self, level: str, text: str, critical: bool, code: str) -> None:
        if self.active is None:
            return
        body = AlertMsg(level=level, text=text, critical=critical, code=code)  # type: ignore[arg-type]
        with contextlib.suppress(RuntimeError):
            self._spawn(self.server.send(self.active.sid, "alert", body))
