"""Interactive Brokers through TWS or IB Gateway, with ib_async on the sidecar's own event loop.

- **Contracts** are resolved lazily: `resolve` looks up the venue symbols a snapshot needs (`EUR.USD` as a CASH
  pair on IDEALPRO or a CFD), positions bring their own contracts, and everything resolved is cached on disk.
- **Netting only**: IB keeps one signed position per contract, so a hedging MT5 account is refused. Only the
  configured security type is managed; positions of the other type are left alone and reported once.
- **Orders** are market orders carrying the engine's client id as `orderRef` and an order id from the client's
  nextValidId sequence. The fill is awaited up to *order timeout*; after that the outcome is unknown and the
  engine looks the order up by orderRef in open orders, completed orders and executions. A server-side error
  other than a rejection leads to a resend (a new order id, the same orderRef), at most *max order resubmit
  tries* times, and only after those three sources prove the previous attempt did not fill.
- **What TWS says, not what ib_async concludes**: ib_async marks an order Cancelled on any error outside its own
  warning list (issues #191 and #217: 10349 on an order that then fills), and counts Inactive as done, although
  TWS can still activate an Inactive order (IBKR: Inactive means not yet activated or transmitted; error 404 holds
  an order until shares are located). So an order TWS lists among its open orders is working, whatever its local
  status, and only TWS's open orders, completed orders and executions decide that an order is absent.
- **TWS keeps executions per day**: without a time filter it reports those since its midnight (IB Gateway never
  more; TWS up to 7 days with the Trade Log's "Show trades for" setting). Executions are therefore asked for from
  the order's send time, and never from later than 24 hours ago, so the filter never hides what TWS's own day
  holds.
- **Connection**: a lost socket is retried every *reconnection interval*; TWS losing IB (1100) pauses trading
  until 1101/1102. Both are reported through `on_disconnect`, and every recovery through `on_reconnect`, which
  makes the sidecar sync positions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from ib_async import IB, Contract, ContractDetails, ExecutionFilter, Fill, MarketOrder, StartupFetchALL, Trade

from sidecar import paths
from sidecar.config import IBSettings
from sidecar.errors import ConfigError, OrderRejected, OutcomeUnknown, VenueError, VenueUnavailable
from sidecar.model import (
    AccountSummary,
    Instrument,
    LegKey,
    MarginMode,
    OrderRequest,
    OrderResult,
    OrderState,
    PositionMode,
    Side,
    VenuePosition,
)
from sidecar.venues.base import VenueAdapter
from sidecar.venues.ib.contracts import (
    ContractCache,
    ContractSpec,
    plain_decimal,
    query_contract,
    trading_exchange,
    venue_symbol_of,
)
from sidecar.venues.ib.errors import Kind, classify, client_id_in_use_message

log = logging.getLogger("csmc.venue.ib")
T = TypeVar("T")

CONNECT_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 10.0
FILE_ONLY = {"to_ea": False}  # details for the log file; the EA gets the alerts that matter
# Statuses after which TWS no longer works an order. Not Inactive: TWS can still activate an Inactive order.
ENDED = frozenset({"Filled", "Cancelled", "ApiCancelled"})
# How much earlier than the journal's send time executions are asked for: TWS's clock and this computer's may differ
# (`csmc check` shows by how much).
CLOCK_MARGIN = timedelta(minutes=10)
# Executions are always asked for from at least this far back, so the time filter never narrows TWS's own day.
TWS_DAY = timedelta(days=1)
# The furthest TWS reports executions (its Trade Log setting allows up to 7 days): the reach for an order whose send
# time is not known.
TRADE_LOG_REACH = timedelta(days=7)
SIZE_RULES_SERVER_VERSION = 164  # IBKR's MIN_SERVER_VER_SIZE_RULES
TWS_SIZE_RULES = ("minSize", "sizeIncrement", "suggestedSizeIncrement", "minTick")  # ContractDetails fields


_dec = plain_decimal  # ib_async's floats as the decimals TWS wrote


def _plain(qty: Decimal) -> str:
    """2000.0 → 2000, 0.50 → 0.5: quantities as a trader writes them."""
    return format(_dec(qty), "f")


def _tws_time(at: datetime) -> str:
    """A time as an ExecutionFilter takes it in UTC: "YYYYMMDD-HH:mm:ss" (IBKR TWS API reference, ExecutionFilter)."""
    return at.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S")


def _executions_since(sent_at: datetime | None, now: datetime) -> datetime:
    if sent_at is None:
        return now - TRADE_LOG_REACH
    return min(sent_at - CLOCK_MARGIN, now - TWS_DAY)


class _Wait(Enum):
    DONE = "done"
    TIMED_OUT = "timed out"
    DISCONNECTED = "disconnected"


class _SdkLogs(logging.Handler):
    """ib_async logs to the root logger, whose last-resort handler would print to the sidecar's stderr.
    Its records go to the sidecar's log file instead, one level lower, and never to the EA: the adapter
    reports what matters itself, in words for a trader."""

    def emit(self, record: logging.LogRecord) -> None:
        target = logging.getLogger("csmc.venue.ib.sdk")
        level = logging.INFO if record.levelno >= logging.WARNING else logging.DEBUG
        if target.isEnabledFor(level):
            target.log(level, "%s: %s", record.name, record.getMessage(), exc_info=record.exc_info, extra=FILE_ONLY)


def _route_sdk_logs() -> None:
    for name in ("ib_async", "eventkit"):
        sdk = logging.getLogger(name)
        if not any(isinstance(h, _SdkLogs) for h in sdk.handlers):
            sdk.addHandler(_SdkLogs())
        sdk.propagate = False
        sdk.setLevel(logging.INFO)


class _Refusal:
    """An order that ended without a fill, and the TWS error that ended it (0 when TWS gave none)."""

    def __init__(self, code: int, text: str) -> None:
        self.code, self.text = code, text

    def __str__(self) -> str:
        return f"error {self.code}: {self.text}" if self.code else self.text


class IBVenue(VenueAdapter):
    name = "Interactive Brokers"
    nets_hedging_accounts = False

    def __init__(self, settings: IBSettings, *, cache_path: Path | None = None) -> None:
        super().__init__()
        _route_sdk_logs()
        self.settings = settings
        self.sec_type: str = settings.security_type
        self.exchange = trading_exchange(self.sec_type, settings.exchange)
        self.cache = ContractCache(cache_path or paths.data_dir() / "ib-contracts.json", reset=settings.reset_cache)
        self._specs: dict[str, ContractSpec] = {
            s.venue_symbol: s for s in self.cache.specs(self.sec_type, self.exchange)
        }
        self._instruments: dict[str, Instrument] = {k: s.instrument() for k, s in self._specs.items()}
        self._unresolvable: dict[str, str] = {}
        self._reported_other: set[int] = set()
        self._request_errors: dict[int, tuple[int, str]] = {}
        self._ib = IB()
        self._ib.errorEvent += self._on_error
        self._ib.disconnectedEvent += self._on_disconnected
        self.account_id = ""
        self._connected = False
        self._closing = False
        self._paused: str | None = None  # why trading is paused while the socket stays up
        self._paused_by = 0  # the TWS code that paused it
        self._connect_failure: asyncio.Future[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._query_lock = asyncio.Lock()

    @property
    def where(self) -> str:
        return f"TWS/IB Gateway at {self.settings.host}:{self.settings.port}"

    # --- connection -----------------------------------------------------------------------------------

    async def connect(self) -> None:
        self._closing = False
        await self._open()
        log.info(
            "connected to %s as client %d: account %s, %s contracts%s",
            self.where,
            self.settings.client_id,
            self.account_id,
            self.sec_type,
            "" if self.sec_type == "CASH" else f" on {self.exchange}",
        )

    async def _open(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        failure: asyncio.Future[None] = loop.create_future()
        self._connect_failure = failure
        self._ib.client.apiError += self._on_api_error
        connecting = asyncio.ensure_future(
            self._ib.connectAsync(
                s.host,
                s.port,
                clientId=s.client_id,
                timeout=CONNECT_TIMEOUT_S,
                account=s.account,
                fetchFields=StartupFetchALL,
            )
        )
        try:
            await asyncio.wait({connecting, failure}, return_when=asyncio.FIRST_COMPLETED)
            # ib_async also reports its own failures as API errors: its exception says more, so it wins.
            if failure.done() and not connecting.done():
                connecting.cancel()
                with contextlib.suppress(BaseException):
                    await connecting
                failure.result()
            connecting.result()
        except (ConfigError, VenueUnavailable):
            raise
        except ConnectionRefusedError:
            raise VenueUnavailable(
                f"nothing answers at {s.host}:{s.port}. Start TWS or IB Gateway, log in, and check that API socket "
                f"clients are enabled on this port (Global Configuration → API → Settings)"
            ) from None
        except TimeoutError:
            raise VenueUnavailable(
                f"{self.where} accepted the connection but did not complete the API start-up within "
                f"{CONNECT_TIMEOUT_S:.0f} s. Check that 127.0.0.1 is a trusted IP in the API settings and that no "
                f"dialog is waiting in TWS"
            ) from None
        except OSError as e:
            raise VenueUnavailable(f"cannot connect to {self.where}: {e.strerror or e}") from None
        finally:
            if not connecting.done():
                connecting.cancel()  # the caller gave up (e.g. the sidecar stops): stop connecting too
            self._connect_failure = None
            self._ib.client.apiError -= self._on_api_error
            if not failure.done():
                failure.cancel()
            elif not failure.cancelled():
                failure.exception()  # read, so asyncio does not report it as never retrieved
        try:
            self.account_id = self._pick_account(self._ib.managedAccounts())
        except (ConfigError, VenueError):
            self._hang_up()
            raise
        self._paused, self._paused_by = None, 0
        self._unresolvable.clear()
        self._connected = True

    def _pick_account(self, accounts: list[str]) -> str:
        wanted = self.settings.account
        if wanted:
            if wanted not in accounts:
                raise ConfigError(
                    f"Account {wanted} ([ib] account) is not managed by this TWS/IB Gateway login, which manages "
                    f"{', '.join(accounts) or 'no account'}. Correct [ib] account in the profile."
                )
            return wanted
        if len(accounts) > 1:
            raise ConfigError(
                f"This TWS/IB Gateway login manages several accounts ({', '.join(accounts)}). Set [ib] account in "
                f"the profile to the one to copy to."
            )
        if not accounts:
            raise VenueUnavailable(f"{self.where} reported no managed account")
        return accounts[0]

    def _hang_up(self) -> None:
        closing, self._closing = self._closing, True
        try:
            self._ib.disconnect()
        finally:
            self._closing = closing
            self._connected = False

    def _on_api_error(self, message: str) -> None:
        # "Peer closed connection" while starting: TWS hung up (after error 326 it always does).
        failure = self._connect_failure
        if failure is not None and not failure.done():
            failure.set_exception(VenueUnavailable(f"{self.where} closed the connection while starting the API"))

    def _on_disconnected(self) -> None:
        if self._closing or not self._connected:
            return
        self._connected = False
        self._lost(f"the connection to {self.where} was lost")
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    def _lost(self, reason: str) -> None:
        if self.on_disconnect is not None:
            self.on_disconnect(reason)
        else:
            log.warning("%s: %s", self.name, reason)

    def _restored(self) -> None:
        if self.on_reconnect is not None:
            self.on_reconnect()
        else:
            log.warning("%s connection restored", self.name)

    async def _reconnect(self) -> None:
        interval = self.settings.reconnection_interval_s
        log.info("reconnecting to %s every %d s", self.where, interval, extra=FILE_ONLY)
        told: set[str] = set()
        while not self._closing:
            await asyncio.sleep(interval)
            if self._closing:
                return
            try:
                await self._open()
            except (ConfigError, VenueError) as e:
                # Unreachable is expected while TWS restarts (file only); a refusal that needs the user (client
                # id taken, account gone) is told once.
                if isinstance(e, ConfigError) and str(e) not in told:
                    told.add(str(e))
                    log.error("%s: %s Retrying every %d s.", self.name, e, interval, extra={"code": "ib_reconnect"})
                else:
                    log.info("reconnect to %s failed: %s", self.where, e, extra=FILE_ONLY)
                continue
            except Exception:
                # A bug here must not leave the copier disconnected for good: log it and keep trying.
                log.exception("unexpected error while reconnecting to %s", self.where, extra=FILE_ONLY)
                continue
            log.info("reconnected to %s (account %s)", self.where, self.account_id, extra=FILE_ONLY)
            self._restored()
            return

    async def close(self) -> None:
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect_task
        self._connected = False
        self._ib.disconnect()

    # --- TWS error messages -----------------------------------------------------------------------------

    def _on_error(self, req_id: int, code: int, text: str, contract: Contract | None) -> None:
        kind = classify(code)
        if kind is Kind.INFO:
            log.debug("TWS: %s (%d)", text, code)
            if self._paused_by == 2110:
                # TWS announces no 1101/1102 after a broken server link (2110); its farms reporting "OK"
                # again is the sign that it is back.
                self._paused, self._paused_by = None, 0
                self._restored()
        elif kind is Kind.CONNECTIVITY_LOST:
            if self._paused is None:
                self._paused_by = code
                self._paused = f"TWS lost its connection to Interactive Brokers (error {code}: {text.rstrip('.')})"
                self._lost(self._paused)
        elif kind in (Kind.RESTORED_DATA_LOST, Kind.RESTORED_DATA_KEPT):
            if self._paused is not None:
                self._paused, self._paused_by = None, 0
                log.info("TWS is connected to Interactive Brokers again (%d: %s)", code, text, extra=FILE_ONLY)
                self._restored()
        elif kind is Kind.CLIENT_ID_IN_USE:
            message = client_id_in_use_message(self.settings.client_id, self.settings.host, self.settings.port)
            failure = self._connect_failure
            if failure is not None and not failure.done():
                failure.set_exception(ConfigError(message))
            else:
                log.error("%s", message, extra={"code": "ib_client_id"})
        elif kind is Kind.SOCKET:
            log.warning("%s: TWS reports a socket problem (%d: %s)", self.name, code, text)
        else:
            # Order errors are read from the order's own log; request errors are kept for the request.
            self._request_errors[req_id] = (code, text)
            if len(self._request_errors) > 1000:
                self._request_errors.pop(next(iter(self._request_errors)))
            log.info("TWS error %d for request %d: %s", code, req_id, text, extra=FILE_ONLY)

    # --- guards and requests ----------------------------------------------------------------------------

    def _require_connection(self) -> None:
        if not self._connected or not self._ib.isConnected():
            raise VenueUnavailable(f"not connected to {self.where}")

    def _require_trading(self) -> None:
        self._require_connection()
        if self._paused is not None:
            raise VenueUnavailable(self._paused)

    async def _request(self, start: Callable[[], Awaitable[T]], what: str) -> T:
        """One keyed TWS request at a time: ib_async files answers to positions, open orders, completed
        orders and the time under one key each, so two such requests in flight would mix their answers."""
        async with self._query_lock:
            self._require_connection()
            try:
                return await asyncio.wait_for(start(), REQUEST_TIMEOUT_S)
            except TimeoutError:
                raise VenueUnavailable(
                    f"{self.where} did not answer the {what} request within {REQUEST_TIMEOUT_S:.0f} s"
                ) from None
            except ConnectionError as e:
                raise VenueUnavailable(
                    f"the connection to {self.where} broke during the {what} request ({e})"
                ) from None

    async def _contract_details(self, query: Contract) -> tuple[list[ContractDetails], str]:
        """Contract details, and TWS's reason when there are none. The request is made with its own id so the
        error TWS sends for it (e.g. 200, no security definition) can be told to the user."""
        self._require_connection()  # before taking an id: ib_async raises ConnectionError without one
        req_id = self._ib.client.getReqId()

        def start() -> asyncio.Future[list[ContractDetails]]:
            # What IB.reqContractDetailsAsync does, with the request id kept (both are unannotated in ib_async).
            future: asyncio.Future[list[ContractDetails]] = self._ib.wrapper.startReq(req_id, query)  # type: ignore[no-untyped-call]
            self._ib.client.reqContractDetails(req_id, query)  # type: ignore[no-untyped-call]
            return future

        details = await self._request(start, "contract details")
        code, text = self._request_errors.pop(req_id, (0, ""))
        return list(details), (f"error {code}: {text}" if code else "no contract found")

    # --- VenueAdapter: instruments and account ----------------------------------------------------------

    async def instruments(self) -> Mapping[str, Instrument]:
        # A live mapping: `resolve` and `positions` add to it as contracts become known.
        return self._instruments

    def venue_symbol(self, base: str, quote: str) -> str:
        return venue_symbol_of(base, quote)

    async def resolve(self, symbols: Collection[str]) -> None:
        for symbol in sorted(symbols):
            if symbol in self._instruments or symbol in self._unresolvable:
                continue
            query = query_contract(symbol, self.sec_type, self.exchange)
            if query is None:
                self._unresolvable[symbol] = "not of the form SYMBOL.CURRENCY"
                log.warning(
                    "%s: %s is not an IB venue symbol; write overrides as SYMBOL.CURRENCY, e.g. IBUS500.USD.",
                    self.name,
                    symbol,
                    extra={"code": "ib_contract"},
                )
                continue
            details, reason = await self._contract_details(query)
            exact = [d for d in details if d.contract is not None and d.contract.secType == self.sec_type]
            if len(exact) == 1:
                self._learn(ContractSpec.from_details(symbol, exact[0], self.exchange))
                continue
            if exact:
                reason = (
                    f"{len(exact)} contracts match ({', '.join(str(d.contract.conId) for d in exact if d.contract)})"
                )
            self._unresolvable[symbol] = reason
            where = "IDEALPRO" if self.sec_type == "CASH" else self.exchange
            log.warning(
                "%s has no single %s contract for %s on %s (%s): positions mapped to it are not copied.",
                self.name,
                self.sec_type,
                symbol.replace(".", "/"),
                where,
                reason,
                extra={"code": "ib_contract"},
            )

    def _learn(self, spec: ContractSpec) -> None:
        self._specs[spec.venue_symbol] = spec
        self._instruments[spec.venue_symbol] = spec.instrument()
        self.cache.put(spec)
        log.info(
            "IB contract %s: conId %d, %s on %s, lot step %s",
            spec.venue_symbol,
            spec.con_id,
            spec.sec_type,
            spec.exchange,
            spec.lot_step,
            extra=FILE_ONLY,
        )

    async def _learn_held(self, symbol: str, contract: Contract) -> None:
        """A position in a contract not seen before: its rules come from its details, by conId."""
        try:
            details, _ = await self._contract_details(
                Contract(conId=contract.conId, exchange=trading_exchange(self.sec_type, self.exchange))
            )
        except VenueUnavailable:
            details = []
        if len(details) == 1:
            self._learn(ContractSpec.from_details(symbol, details[0], self.exchange))
        else:
            self._learn(ContractSpec.from_position(symbol, contract, self.exchange))

    async def check_details(self, traded_symbols: Iterable[str]) -> list[tuple[str, str]]:
        """For `csmc check`, as (label, text): the server version TWS speaks and, per traded contract, the size rules
        TWS reports now beside those the copier applies (README: what a maintainer checks before a release)."""
        version = self._ib.client.serverVersion()
        note = "" if version >= SIZE_RULES_SERVER_VERSION else ": too old to report size rules, whole units are traded"
        lines = [("TWS API", f"server version {version}{note}")]
        symbols = sorted(set(traded_symbols))
        await self.resolve([s for s in symbols if s not in self._specs])
        for symbol in symbols:
            spec = self._specs.get(symbol)
            if spec is None:
                continue
            details, reason = await self._contract_details(Contract(conId=spec.con_id, exchange=spec.exchange))
            if len(details) != 1:
                lines.append(("TWS sizes", f"{symbol}: {reason}"))
                continue
            d = details[0]
            current = ContractSpec.from_details(symbol, d, self.exchange)
            stale = (
                ""
                if (current.lot_step, current.min_qty) == (spec.lot_step, spec.min_qty)
                else f"; the contract cache still says lot step {spec.lot_step}, min size {spec.min_qty}: set "
                f"[ib] reset_cache = true for one start"
            )
            reported = ", ".join(f"{rule} {_plain(_dec(getattr(d, rule)))}" for rule in TWS_SIZE_RULES)
            lines.append(
                (
                    "TWS sizes",
                    f"{symbol} {spec.sec_type} on {spec.exchange} (conId {spec.con_id}): {reported} → copied with "
                    f"lot step {current.lot_step}, min size {current.min_qty}{stale}",
                )
            )
        return lines

    async def account(self) -> AccountSummary:
        self._require_connection()
        balances: dict[str, Decimal] = {}
        for value in self._ib.accountValues(self.account_id):
            if value.tag == "CashBalance" and value.currency not in ("", "BASE"):
                with contextlib.suppress(InvalidOperation):
                    balances[value.currency] = Decimal(value.value)
        return AccountSummary(self.account_id, PositionMode.ONE_WAY, balances)

    def check_account_mode(self, margin_mode: MarginMode, position_mode: PositionMode) -> None:
        if margin_mode is MarginMode.HEDGING:
            raise ConfigError(
                "The MT5 account is a hedging account, but Interactive Brokers keeps one net position per "
                "contract, so its buy and sell positions cannot be copied faithfully. Use a netting MT5 account."
            )
        super().check_account_mode(margin_mode, position_mode)

    async def server_time(self) -> datetime:
        now = await self._request(self._ib.reqCurrentTimeAsync, "current time")
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    # --- VenueAdapter: positions ------------------------------------------------------------------------

    async def positions(self) -> list[VenuePosition]:
        reported = await self._request(self._ib.reqPositionsAsync, "positions")
        latest: dict[int, Any] = {}
        for p in reported:  # a live update may repeat a contract: the last report wins
            if p.account == self.account_id:
                latest[p.contract.conId] = p
        held: dict[str, Decimal] = {}
        for p in latest.values():
            qty = _dec(p.position)
            if qty == 0:
                continue  # TWS lists positions closed today at zero
            contract = p.contract
            if contract.secType != self.sec_type:
                self._report_other(contract, qty)
                continue
            symbol = venue_symbol_of(contract.symbol, contract.currency)
            if symbol not in self._instruments:
                await self._learn_held(symbol, contract)
            held[symbol] = held.get(symbol, Decimal(0)) + qty
        return [VenuePosition(LegKey(symbol), qty) for symbol, qty in sorted(held.items())]

    def _report_other(self, contract: Contract, qty: Decimal) -> None:
        if contract.conId in self._reported_other:
            return
        self._reported_other.add(contract.conId)
        log.warning(
            "%s holds %s %s %s (%s), but this profile copies %s contracts: that position is left alone.",
            self.account_id,
            _plain(qty),
            contract.secType,
            contract.localSymbol or venue_symbol_of(contract.symbol, contract.currency),
            f"conId {contract.conId}",
            self.sec_type,
            extra={"code": "ib_other_sectype"},
        )

    # --- VenueAdapter: orders ---------------------------------------------------------------------------

    async def submit(self, order: OrderRequest) -> OrderResult:
        self._require_trading()
        spec = self._specs.get(order.symbol)
        if spec is None:
            raise OrderRejected(f"{order.symbol} is not a resolved IB contract")
        loop = asyncio.get_running_loop()
        started = datetime.now(UTC)
        resends = 0
        while True:
            trade = self._place(spec, order)
            deadline = loop.time() + self.settings.order_timeout_s
            outcome = await self._await_trade(trade, order, deadline)
            if isinstance(outcome, OrderResult):
                return outcome
            if classify(outcome.code) is Kind.REJECTED:
                raise OrderRejected(f"IB rejected order {order.client_id} ({outcome})")
            # Any other end may be ib_async's reading rather than TWS's, or temporary: TWS's own records decide,
            # and a resend is safe only once they show that this attempt is not working and left no fill behind.
            try:
                found = await self._find(order.client_id, sent_at=started)
            except VenueUnavailable as e:
                raise OutcomeUnknown(
                    f"IB ended order {order.client_id} ({outcome}) and its fills cannot be checked now: {e}"
                ) from None
            if found.state is OrderState.OPEN:
                log.info(
                    "TWS still works order %s after %s; waiting for its fill",
                    order.client_id,
                    outcome,
                    extra=FILE_ONLY,
                )
                return await self._await_fill(trade, order, deadline, found)
            if found.state is not OrderState.ABSENT:
                return found
            if resends >= self.settings.max_order_resubmit_tries:
                raise VenueUnavailable(
                    f"IB did not execute order {order.client_id} after {resends + 1} attempt(s); last: {outcome}"
                )
            resends += 1
            log.warning(
                "IB ended order %s without a fill (%s); sending it again (%d of %d)",
                order.client_id,
                outcome,
                resends,
                self.settings.max_order_resubmit_tries,
                extra={"code": "ib_resubmit"},
            )

    def _place(self, spec: ContractSpec, order: OrderRequest) -> Trade:
        ib_order = MarketOrder(
            "BUY" if order.side is Side.BUY else "SELL",
            float(order.qty),
            orderRef=order.client_id,
            tif="DAY",
            account=self.account_id,
        )
        try:
            ib_order.orderId = self._ib.client.getReqId()
            trade = self._ib.placeOrder(spec.contract(), ib_order)
        except ConnectionError:
            raise VenueUnavailable(f"not connected to {self.where}: order {order.client_id} was not sent") from None
        log.info(
            "IB order %d (%s): %s %s %s",
            ib_order.orderId,
            order.client_id,
            ib_order.action,
            _plain(order.qty),
            spec.venue_symbol,
            extra=FILE_ONLY,
        )
        return trade

    async def _wait(self, trade: Trade, deadline: float, finished: Callable[[Trade], bool]) -> _Wait:
        """Wait until `finished(trade)`, the deadline (loop time) passes, or the connection goes."""
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def poke(*_: object) -> None:
            changed.set()

        trade.statusEvent += poke
        trade.fillEvent += poke
        self._ib.disconnectedEvent += poke
        try:
            while not finished(trade):
                if not self._ib.isConnected():
                    return _Wait.DISCONNECTED
                left = deadline - loop.time()
                if left <= 0:
                    return _Wait.TIMED_OUT
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), left)
            return _Wait.DONE
        finally:
            trade.statusEvent -= poke
            trade.fillEvent -= poke
            self._ib.disconnectedEvent -= poke

    async def _await_trade(self, trade: Trade, order: OrderRequest, deadline: float) -> OrderResult | _Refusal:
        """Wait until the order ends, the order timeout passes, or the connection goes."""
        waited = await self._wait(trade, deadline, lambda t: t.orderStatus.status in ENDED)
        if waited is _Wait.DISCONNECTED:
            raise OutcomeUnknown(f"the connection to {self.where} was lost before order {order.client_id} finished")
        if waited is _Wait.TIMED_OUT:
            status, held = trade.orderStatus, ""
            if status.status == "Inactive":
                held = f" (TWS holds it Inactive{': ' + status.whyHeld if status.whyHeld else ''})"
            raise OutcomeUnknown(
                f"order {order.client_id} was not filled within the order timeout of {self.settings.order_timeout_s} "
                f"s{held}"
            )
        filled = self._filled(trade)
        if filled > 0:
            return self._filled_result(trade, order, filled)
        errors = [entry for entry in trade.log if entry.errorCode]
        if errors:
            return _Refusal(errors[-1].errorCode, errors[-1].message.split(": ", 1)[-1])
        return _Refusal(0, f"TWS reported the order {trade.orderStatus.status} without a fill")

    async def _await_fill(self, trade: Trade, order: OrderRequest, deadline: float, found: OrderResult) -> OrderResult:
        """The rest of the order timeout for an order that TWS works although ib_async has ended it: its fills
        still arrive on the trade. Still unfilled at the deadline, it is reported working (OPEN)."""
        waited = await self._wait(
            trade, deadline, lambda t: t.orderStatus.status == "Filled" or self._filled(t) >= order.qty
        )
        filled = self._filled(trade)
        if waited is _Wait.DONE:
            return self._filled_result(trade, order, filled)
        if waited is _Wait.DISCONNECTED:
            raise OutcomeUnknown(f"the connection to {self.where} was lost before order {order.client_id} finished")
        return OrderResult(order.client_id, OrderState.OPEN, max(filled, found.filled_qty))

    @staticmethod
    def _filled(trade: Trade) -> Decimal:
        return max(_dec(trade.orderStatus.filled), sum((_dec(f.execution.shares) for f in trade.fills), Decimal(0)))

    @staticmethod
    def _filled_result(trade: Trade, order: OrderRequest, filled: Decimal) -> OrderResult:
        price = trade.orderStatus.avgFillPrice
        return OrderResult(order.client_id, OrderState.FILLED, filled, _dec(price) if price else None)

    async def lookup(self, symbol: str, client_id: str, *, sent_at: datetime | None = None) -> OrderResult:
        # Proving absence needs TWS's full picture, which it lacks while it is cut off from IB.
        self._require_trading()
        return await self._find(client_id, sent_at=sent_at)

    async def _find(self, client_id: str, *, sent_at: datetime | None) -> OrderResult:
        """What TWS knows of every order carrying `client_id` as orderRef: working, filled, or nothing.

        TWS reports executions of its current day only, or of as many days as its Trade Log shows: for an order
        sent before those, "absent" means that no fill of it is on record any more."""
        open_trades: list[Trade] = await self._request(self._ib.reqAllOpenOrdersAsync, "open orders")
        listed = [t for t in open_trades if t.order.orderRef == client_id]
        # TWS lists only orders it still holds (IBKR: "it is not possible to obtain cancelled or fully filled
        # orders" this way), so a listed order is working, whatever status ib_async gave it locally. One exception:
        # ib_async files every openOrder that arrives while the request runs under its reply, including the one TWS
        # sends by itself when an order fills; Filled is a status only TWS sets. Judged now, as the reply stands:
        # a fill that arrives later is not in the completed orders and executions asked for next.
        working = any(t.orderStatus.status != "Filled" for t in listed)
        completed: list[Trade] = await self._request(
            lambda: self._ib.reqCompletedOrdersAsync(apiOnly=True), "completed orders"
        )
        since = _tws_time(_executions_since(sent_at, datetime.now(UTC)))
        fills: list[Fill] = await self._request(
            lambda: self._ib.reqExecutionsAsync(ExecutionFilter(acctCode=self.account_id, time=since)), "executions"
        )
        executed: dict[str, Fill] = {f.execution.execId: f for f in fills if f.execution.orderRef == client_id}
        exec_qty = sum((_dec(f.execution.shares) for f in executed.values()), Decimal(0))
        done_qty = sum((_dec(t.order.filledQuantity) for t in completed if t.order.orderRef == client_id), Decimal(0))
        filled = max(exec_qty, done_qty, *(self._filled(t) for t in listed))
        if working:
            return OrderResult(client_id, OrderState.OPEN, filled)
        if filled > 0:
            notional = sum((_dec(f.execution.shares) * _dec(f.execution.price) for f in executed.values()), Decimal(0))
            price = notional / exec_qty if exec_qty else None
            return OrderResult(client_id, OrderState.FILLED, filled, price)
        return OrderResult(client_id, OrderState.ABSENT)
