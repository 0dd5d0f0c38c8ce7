"""A fake Trader Workstation: a TCP server on 127.0.0.1 that speaks the TWS API socket protocol.

**Server versions.** The handshake goes as with TWS: the client sends the range of versions it speaks, the server
answers with one version and every later message of that connection uses it. The fake offers at most
`server_version` (178 by default: the top of ib_async 2.1's range, `Client.MaxClientVersion`, which a current TWS
grants it) and each connection speaks min(that, the client's highest). ib_async ("v157..178") therefore gets 178
and IB's own ibapi 9.81 ("v100..157") gets 157 from the same server, as both do from a current TWS. A server below
157 is not modelled. Layouts that change between 157 and 178 are written and read per connection, at the versions
IBKR's clients switch them (the MIN_SERVER_VER_* constants of IBKR's TWS API clients; ib_async 2.1's
`decoder.py` and `client.py` read and write the same fields at the same versions):

- 164 SIZE_RULES: contract details lose their message version and mdSizeMultiplier and end with minSize,
  sizeIncrement, suggestedSizeIncrement (IBKR Java client `EDecoder.processContractDataMsg`; ib_async
  `Decoder.contractDetails`);
- 166 ADVANCED_ORDER_REJECT: every error message ends with advancedOrderRejectJson (ib_async `Decoder.errorMsg`,
  which fails on a v166+ error without it); placeOrder carries advancedErrorOverride;
- 158/160/162 DURATION, POST_TO_ATS, AUTO_CANCEL_PARENT and 170 PEGBEST_PEGMID_OFFSETS: new order fields in
  placeOrder, openOrder and completedOrder (ib_async `Client.placeOrder`, `Decoder.openOrder`,
  `Decoder.completedOrder`); 169 MANUAL_ORDER_TIME: placeOrder and cancelOrder carry a manual time;
- 176 BOND_ISSUERID: reqContractDetails ends with issuerId (ib_async `Client.reqContractDetails`);
- 177 FA_PROFILE_DESUPPORT: faProfile leaves placeOrder, openOrder and completedOrder;
- 178 PENDING_PRICE_REVISION: execDetails ends with pendingPriceRevision (IBKR Java client
  `EDecoder.processExecutionDataMsg`; ib_async `Decoder.execDetails`).

Incoming placeOrder messages are parsed field by field for the connection's version and must end exactly where that
layout ends, so a client that sends another layout fails loudly here instead of passing by luck.

**What TWS does that the fake does too** (IBKR's TWS API documentation, "Order Management"):

- reqOpenOrders/reqAllOpenOrders answer every order TWS still holds with openOrder *and* orderStatus, then
  openOrderEnd; filled and cancelled orders are not in that reply.
- reqExecutions delivers the executions since midnight of the current day; "to request executions from the last 7
  days, TWS's Trade Log setting 'Show trades for …' must be adjusted", and IB Gateway only has the current day.
  Here a request without a time filter gets the current day; a time filter (ExecutionFilter.time, "YYYYMMDD
  HH:mm:ss TMZ" or in UTC "YYYYMMDD-HH:mm:ss": executions at and after it) reaches back at most as far as
  `trade_log_days` (1, the default, is IB Gateway or an unchanged Trade Log). `start_new_day` is TWS's midnight.
- reqCompletedOrders returns "all orders for the given day that are no longer modifiable".
- An order can be Inactive and still become active later: "Inactive: … you have not yet activated or transmitted
  it", and error 404 holds an order "while we attempt to locate the shares … transmitted once there is short sale
  available" (`hold_inactive`, `activate_inactive`).
- TWS sends informational messages on live orders as errors, e.g. 10349 "Order TIF was set to DAY based on order
  preset." (ib_async issues #191 and #217: the order stays live and fills later) (`inject_order_notice`).

It keeps accounts, positions, orders and executions; market orders fill at a settable price. Other faults are
injected on command: dropped connections, a listener that goes away, IB connectivity loss (1100, then 1101/1102),
order errors (201 rejection or any other code), fills held back past the client's timeout, and a client id already in
use (326). The server runs on its own thread and event loop, so blocking clients (ibapi's reader thread) and asyncio
clients on the test's loop can use it alike; every control method is thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SERVER_VERSION = 178
OLDEST_SERVER_VERSION = 157
DEFAULT_ACCOUNT = "DU1234567"
UNSET_DOUBLE = "1.7976931348623157E308"

# Server versions at which a layout changes (IBKR's MIN_SERVER_VER_* constants).
DURATION, POST_TO_ATS, AUTO_CANCEL_PARENT, SIZE_RULES, ADVANCED_ORDER_REJECT = 158, 160, 162, 164, 166
MANUAL_ORDER_TIME, PEGBEST_PEGMID_OFFSETS, BOND_ISSUERID, FA_PROFILE_DESUPPORT = 169, 170, 176, 177
PENDING_PRICE_REVISION = 178

T = TypeVar("T")

# Incoming message ids (ibapi.message.OUT).
REQ_MKT_DATA, CANCEL_ORDER_OUT, PLACE_ORDER, CANCEL_ORDER, REQ_OPEN_ORDERS = 1, 2, 3, 4, 5
REQ_ACCT_DATA, REQ_EXECUTIONS, REQ_IDS, REQ_CONTRACT_DATA = 6, 7, 8, 9
REQ_ALL_OPEN_ORDERS, REQ_MANAGED_ACCTS, REQ_CURRENT_TIME = 16, 17, 49
REQ_POSITIONS, REQ_ACCOUNT_SUMMARY, CANCEL_ACCOUNT_SUMMARY, CANCEL_POSITIONS = 61, 62, 63, 64
START_API, REQ_ACCOUNT_UPDATES_MULTI, CANCEL_ACCOUNT_UPDATES_MULTI, REQ_COMPLETED_ORDERS = 71, 76, 77, 99
# Outgoing message ids (ibapi.message.IN).
ORDER_STATUS, ERR_MSG, OPEN_ORDER, ACCT_VALUE, PORTFOLIO_VALUE, ACCT_UPDATE_TIME = 3, 4, 5, 6, 7, 8
NEXT_VALID_ID, CONTRACT_DATA, EXECUTION_DATA, MANAGED_ACCTS, CURRENT_TIME = 9, 10, 11, 15, 49
CONTRACT_DATA_END, OPEN_ORDER_END, ACCT_DOWNLOAD_END, EXECUTION_DATA_END, COMMISSION_REPORT = 52, 53, 54, 55, 59
POSITION_DATA, POSITION_END, ACCOUNT_SUMMARY, ACCOUNT_SUMMARY_END = 61, 62, 63, 64
ACCOUNT_UPDATE_MULTI, ACCOUNT_UPDATE_MULTI_END, COMPLETED_ORDER, COMPLETED_ORDERS_END = 73, 74, 101, 102

MESSAGES = {
    200: "No security definition has been found for the request",
    201: "Order rejected - reason:",
    202: "Order Canceled - reason:",
    326: "Unable to connect as the client id is already in use. Retry with a unique client id.",
    404: "Order held while securities are located.",
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2110: "Connectivity between Trader Workstation and server is broken. It will be restored automatically.",
    2104: "Market data farm connection is OK:usfarm",
    2106: "HMDS data farm connection is OK:ushmds",
    2158: "Sec-def data farm connection is OK:secdefil",
    10268: "The 'EtradeOnly' order attribute is not supported.",
    10269: "The 'firmQuoteOnly' order attribute is not supported.",
    10349: "Order TIF was set to DAY based on order preset.",
}

# Statuses of an order TWS still holds: it is in the open-orders reply and not among the completed orders.
LIVE_STATUSES = frozenset({"PendingSubmit", "PreSubmitted", "Submitted", "Inactive"})
# Statuses in which an order can execute.
WORKING_STATUSES = frozenset({"PendingSubmit", "PreSubmitted", "Submitted"})


class ProtocolViolation(Exception):
    """A client sent something a TWS at that server version would not accept; the connection is closed."""


@dataclass(frozen=True)
class _Fault:
    """An error TWS will send on the next order (for `local_symbol`, or any when it is None)."""

    code: int
    text: str
    local_symbol: str | None
    reject_json: str = ""


@dataclass(frozen=True)
class FakeContract:
    """A contract and its trading rules. The size rules are sent from server version 164 on.

    The sizes of the default table are illustrative, not read from IB: README.md ("Before trusting a release")
    has a maintainer compare them with what a paper account's TWS reports, and correct them here when they differ.
    """

    con_id: int
    symbol: str
    sec_type: str
    currency: str
    exchange: str
    local_symbol: str
    min_tick: str = "0.00005"
    long_name: str = ""
    trading_class: str = ""
    min_size: str = "1"
    size_increment: str = "1"
    suggested_size_increment: str = "1"

    def fields(self, *, exchange: str | None = None) -> list[object]:
        """conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, currency, localSymbol,
        tradingClass: the contract block of position, openOrder, completedOrder and execDetails."""
        return [
            self.con_id,
            self.symbol,
            self.sec_type,
            "",
            "0",
            "",
            "",
            self.exchange if exchange is None else exchange,
            self.currency,
            self.local_symbol,
            self.trading_class or self.local_symbol,
        ]


def _fx(con_id: int, base: str, quote: str, sec_type: str, tick: str = "0.00005") -> FakeContract:
    exchange = "IDEALPRO" if sec_type == "CASH" else "SMART"
    return FakeContract(con_id, base, sec_type, quote, exchange, f"{base}.{quote}", tick, f"{base} {quote}")


DEFAULT_CONTRACTS: tuple[FakeContract, ...] = (
    _fx(12087792, "EUR", "USD", "CASH"),
    _fx(12087797, "GBP", "USD", "CASH"),
    _fx(15016059, "USD", "JPY", "CASH", "0.005"),
    _fx(143916318, "EUR", "USD", "CFD"),
    _fx(143916322, "GBP", "USD", "CFD"),
    _fx(143916330, "USD", "JPY", "CFD", "0.005"),
    FakeContract(134770228, "IBUS500", "CFD", "USD", "SMART", "IBUS500", "0.1", "US 500", "IBUS500"),
)


@dataclass
class FakeOrder:
    order_id: int
    client_id: int
    perm_id: int
    contract: FakeContract
    action: str
    qty: Decimal
    order_type: str
    tif: str
    account: str
    order_ref: str
    e_trade_only: bool
    firm_quote_only: bool
    outside_rth: bool
    placed_at: datetime
    status: str = "PreSubmitted"
    why_held: str = ""
    filled: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)
    completed_at: datetime | None = None
    completed_status: str = ""

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def working(self) -> bool:
        return self.status in WORKING_STATUSES

    def complete(self, status: str, text: str, at: datetime) -> None:
        self.status, self.completed_status, self.completed_at = status, text, at


@dataclass(frozen=True)
class FakeExecution:
    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    contract: FakeContract
    side: str  # BOT or SLD
    shares: Decimal
    price: Decimal
    at: datetime
    account: str
    order_ref: str
    cum_qty: Decimal
    avg_price: Decimal

    @property
    def time(self) -> str:
        return _ib_time(self.at)


@dataclass(frozen=True)
class Received:
    """One message a client sent, as its fields (message id first)."""

    client_id: int | None
    fields: tuple[str, ...]

    @property
    def msg_id(self) -> int:
        return int(self.fields[0])


@dataclass
class _Conn:
    """One client connection. Everything the fake sends it while handling one request or event goes out in one
    write at the end of that loop turn: a client then reads the messages together, as it reads a burst from TWS
    (ib_async handles all it has read before its waiting coroutines resume, which is what makes timing tests
    repeatable)."""

    writer: asyncio.StreamWriter
    number: int
    version: int = 0
    client_id: int | None = None
    positions: bool = False
    account_updates: str | None = None
    pending: bytearray = field(default_factory=bytearray)

    def send(self, *fields: object) -> None:
        payload = "".join(f"{_text(f)}\0" for f in fields).encode()
        if not self.pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self.pending += struct.pack(">I", len(payload)) + payload

    def flush(self) -> None:
        if self.pending and not self.writer.transport.is_closing():
            self.writer.write(bytes(self.pending))
        self.pending.clear()


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return _plain(value)
    return str(value)


def _plain(value: Decimal) -> str:
    """Sizes as TWS writes them: 25000, 0.5; never 25000.0 or 2.5E+4."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _ib_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")


class _Fields:
    """Reads the fields of one incoming message in order; running out, or leaving some over, is a violation."""

    def __init__(self, fields: Iterable[str], what: str) -> None:
        self._items: deque[str] = deque(fields)
        self.what = what

    def str(self) -> str:
        if not self._items:
            raise ProtocolViolation(f"{self.what}: message ended early")
        return self._items.popleft()

    def int(self) -> int:
        text = self.str()
        return int(text) if text else 0

    def float(self) -> float:
        text = self.str()
        return float(text) if text else 0.0

    def bool(self) -> bool:
        return self.int() != 0

    def skip(self, n: int) -> None:
        for _ in range(n):
            self.str()

    def end(self) -> None:
        if self._items:
            raise ProtocolViolation(f"{self.what}: {len(self._items)} unexpected trailing field(s)")


@dataclass(frozen=True)
class PlacedOrder:
    """The fields of a placeOrder message that the fake acts on (the rest is parsed and checked only)."""

    order_id: int
    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str
    local_symbol: str
    action: str
    qty: Decimal
    order_type: str
    tif: str
    account: str
    order_ref: str
    transmit: bool
    outside_rth: bool
    e_trade_only: bool
    firm_quote_only: bool
    what_if: bool
    field_count: int


def parse_place_order(fields: tuple[str, ...], version: int = SERVER_VERSION) -> PlacedOrder:
    """Parse placeOrder (message 3) as a TWS at `version` reads it: no version field (server ≥ 145), every
    conditional block keyed on the value that announces it, and nothing left over."""
    f = _Fields(fields[1:], "placeOrder")
    order_id = f.int()
    con_id, symbol, sec_type = f.int(), f.str(), f.str()
    f.skip(4)  # lastTradeDateOrContractMonth, strike, right, multiplier
    exchange = f.str()
    f.skip(1)  # primaryExchange
    currency, local_symbol = f.str(), f.str()
    f.skip(3)  # tradingClass, secIdType, secId
    action, qty_text, order_type = f.str(), f.str(), f.str()
    f.skip(2)  # lmtPrice, auxPrice
    tif = f.str()
    f.skip(1)  # ocaGroup
    account = f.str()
    f.skip(2)  # openClose, origin
    order_ref = f.str()
    transmit = f.bool()
    f.skip(5)  # parentId, blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth = f.bool()
    f.skip(1)  # hidden
    if sec_type == "BAG":
        raise ProtocolViolation("placeOrder: combo (BAG) orders are not supported by this fake")
    # sharesAllocation, discretionaryAmt, goodAfterTime, goodTillDate, faGroup, faMethod, faPercentage
    f.skip(7)
    if version < FA_PROFILE_DESUPPORT:
        f.skip(1)  # faProfile
    # modelCode, shortSaleSlot, designatedLocation, exemptCode, ocaType, rule80A, settlingFirm, allOrNone, minQty,
    # percentOffset
    f.skip(10)
    e_trade_only, firm_quote_only = f.bool(), f.bool()
    _skip_order_middle(f)
    what_if = f.bool()
    f.skip(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
    if order_type in ("PEG BENCH", "PEGBENCH", "PEG BEST", "PEGBEST", "PEG MID", "PEGMID"):
        raise ProtocolViolation(f"placeOrder: {order_type} orders are not supported by this fake")
    if f.int():
        raise ProtocolViolation("placeOrder: order conditions are not supported by this fake")
    # adjustedOrderType, triggerPrice, lmtPriceOffset, adjustedStopPrice, adjustedStopLimitPrice,
    # adjustedTrailingAmount, adjustableTrailingUnit, extOperator, softDollarTier name and value, cashQty,
    # mifid2DecisionMaker, mifid2DecisionAlgo, mifid2ExecutionTrader, mifid2ExecutionAlgo,
    # dontUseAutoPriceForHedge, isOmsContainer, discretionaryUpToLimitPrice, usePriceMgmtAlgo
    f.skip(19)
    _skip_order_tail(f, version, exchange)
    f.end()
    return PlacedOrder(
        order_id=order_id,
        con_id=con_id,
        symbol=symbol,
        sec_type=sec_type,
        exchange=exchange,
        currency=currency,
        local_symbol=local_symbol,
        action=action,
        qty=Decimal(qty_text or "0"),
        order_type=order_type,
        tif=tif,
        account=account,
        order_ref=order_ref,
        transmit=transmit,
        outside_rth=outside_rth,
        e_trade_only=e_trade_only,
        firm_quote_only=firm_quote_only,
        what_if=what_if,
        field_count=len(fields),
    )


def _skip_order_middle(f: _Fields) -> None:
    """From nbboPriceCap to algoId: the same at every version from 157 to 178."""
    # nbboPriceCap, auctionStrategy, startingPrice, stockRefPrice, delta, stockRangeLower, stockRangeUpper,
    # overridePercentageConstraints, volatility, volatilityType
    f.skip(10)
    delta_neutral_order_type = f.str()
    f.skip(1)  # deltaNeutralAuxPrice
    if delta_neutral_order_type:
        f.skip(8)
    f.skip(6)  # continuousUpdate, referencePriceType, trailStopPrice, trailingPercent, scaleInit/SubsLevelSize
    scale_price_increment = f.float()
    if 0 < scale_price_increment < float(UNSET_DOUBLE):
        f.skip(7)
    f.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if f.str():  # hedgeType
        f.skip(1)
    f.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if f.bool():  # delta-neutral contract
        f.skip(3)
    if f.str():  # algoStrategy
        f.skip(2 * f.int())
    f.skip(1)  # algoId


def _skip_order_tail(f: _Fields, version: int, exchange: str) -> None:
    """The fields placeOrder gained after usePriceMgmtAlgo, each from its server version on."""
    for since in (DURATION, POST_TO_ATS, AUTO_CANCEL_PARENT, ADVANCED_ORDER_REJECT, MANUAL_ORDER_TIME):
        if version >= since:
            f.skip(1)  # duration, postToAts, autoCancelParent, advancedErrorOverride, manualOrderTime
    if version >= PEGBEST_PEGMID_OFFSETS and exchange == "IBKRATS":
        f.skip(1)  # minTradeQty (PEG BEST / PEG MID fields are refused above)


def parse_tws_time(text: str) -> datetime:
    """An ExecutionFilter time as IBKR documents it: "YYYYMMDD-HH:mm:ss" in UTC, "YYYYMMDD HH:mm:ss TMZ", or
    "YYYYMMDD HH:mm:ss" in the fake's own time zone (UTC)."""
    try:
        if "-" in text:
            return datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        date, clock, *zone = text.split(" ")
        zone_info = ZoneInfo(zone[0]) if zone else UTC
        return datetime.strptime(f"{date} {clock}", "%Y%m%d %H:%M:%S").replace(tzinfo=zone_info)
    except (ValueError, ZoneInfoNotFoundError):
        raise ProtocolViolation(f"reqExecutions: {text!r} is not a time TWS accepts") from None


class FakeTws:
    """Start with `with FakeTws() as tws:`; point a client at 127.0.0.1:`tws.port`."""

    def __init__(
        self,
        *,
        accounts: Iterable[str] = (DEFAULT_ACCOUNT,),
        contracts: Iterable[FakeContract] = DEFAULT_CONTRACTS,
        next_order_id: int = 1,
        server_version: int = SERVER_VERSION,
        trade_log_days: int = 1,
    ) -> None:
        if not OLDEST_SERVER_VERSION <= server_version <= SERVER_VERSION:
            raise ValueError(f"the fake speaks server versions {OLDEST_SERVER_VERSION} to {SERVER_VERSION}")
        self.accounts = list(accounts)
        self.contracts = list(contracts)
        self.server_version = server_version
        self.trade_log_days = trade_log_days
        self._prices: dict[int, Decimal] = {}
        self._positions: dict[tuple[str, int], Decimal] = {}
        self._avg_cost: dict[tuple[str, int], Decimal] = {}
        self._orders: list[FakeOrder] = []
        self._executions: list[FakeExecution] = []
        self._received: list[Received] = []
        self._order_errors: deque[_Fault] = deque()
        self._order_notices: deque[_Fault] = deque()
        self._inactive_next: deque[tuple[str, str | None]] = deque()
        self._after_reply: dict[int, list[Callable[[], None]]] = {}
        self._held: list[FakeOrder] = []
        self._holding = False
        self._occupied: set[int] = set()
        self._connectivity_lost = False
        self._next_order_id = next_order_id
        self._next_perm_id = 900_000_001
        self._day_start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.notice_delay_s = 0.05
        self.handshakes = 0
        self.negotiated: list[int] = []
        self.violations: list[str] = []
        self._conns: dict[int, _Conn] = {}
        self._conn_numbers = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-tws", daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    # --- life cycle ----------------------------------------------------------------------------------

    def start(self) -> FakeTws:
        self._thread.start()
        self._call_async(self._listen())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call_async(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> FakeTws:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- what happened (copies, safe to read from any thread) ---------------------------------------

    @property
    def executions(self) -> list[FakeExecution]:
        return self._call(lambda: list(self._executions))

    @property
    def orders(self) -> list[FakeOrder]:
        return self._call(lambda: [replace(o) for o in self._orders])

    def received(self, msg_id: int | None = None) -> list[Received]:
        return self._call(lambda: [r for r in self._received if msg_id is None or r.msg_id == msg_id])

    def position(self, local_symbol: str, sec_type: str, account: str | None = None) -> Decimal:
        contract = self.contract(local_symbol, sec_type)
        return self._call(lambda: self._positions.get((account or self.accounts[0], contract.con_id), Decimal(0)))

    def connected_clients(self) -> list[int]:
        return self._call(lambda: sorted(c.client_id for c in self._conns.values() if c.client_id is not None))

    def contract(self, local_symbol: str, sec_type: str) -> FakeContract:
        for contract in self.contracts:
            if contract.local_symbol == local_symbol and contract.sec_type == sec_type:
                return contract
        raise KeyError(f"{sec_type} {local_symbol} is not in the fake's contract table")

    # --- controls ------------------------------------------------------------------------------------

    def set_position(
        self, local_symbol: str, sec_type: str, qty: Decimal | int | str, account: str | None = None
    ) -> None:
        """Change a position behind the client's back, as a trade in TWS itself would (subscribers are told)."""
        contract = self.contract(local_symbol, sec_type)
        self._call(lambda: self._set_position(account or self.accounts[0], contract, Decimal(qty), notify=True))

    def set_price(self, local_symbol: str, sec_type: str, price: Decimal | str) -> None:
        contract = self.contract(local_symbol, sec_type)
        self._call(lambda: self._prices.__setitem__(contract.con_id, Decimal(price)))

    def inject_order_error(
        self, code: int = 201, text: str | None = None, *, local_symbol: str | None = None, reject_json: str = ""
    ) -> None:
        """The next order (for `local_symbol`, if given) is refused with this error: 201 is a rejection, others
        (e.g. 202) a server-side cancel. Each call refuses one order. `reject_json` is the advanced order reject
        JSON TWS attaches to some rejections from server version 166 on (its content is not modelled)."""
        message = text or (f"{MESSAGES[code]} simulated" if code in MESSAGES else f"simulated error {code}")
        self._call(lambda: self._order_errors.append(_Fault(code, message, local_symbol, reject_json)))

    def inject_order_notice(
        self, code: int = 10349, text: str | None = None, *, local_symbol: str | None = None
    ) -> None:
        """The next order (for `local_symbol`, if given) is accepted, and `notice_delay_s` later TWS sends an
        informational error on it, e.g. 10349; the order stays live and fills afterwards (or when fills are
        released). ib_async marks such an order Cancelled (issues #191, #217) although TWS keeps working it."""
        message = text or MESSAGES.get(code, f"simulated message {code}")
        self._call(lambda: self._order_notices.append(_Fault(code, message, local_symbol)))

    def hold_inactive(self, why_held: str = "", *, local_symbol: str | None = None) -> None:
        """The next order (for `local_symbol`, if given) is accepted but Inactive: TWS keeps it, lists it among
        the open orders with status Inactive (and `why_held`, e.g. "locate"), and activates it on
        `activate_inactive`."""
        self._call(lambda: self._inactive_next.append((why_held, local_symbol)))

    def activate_inactive(self, *, after: int | None = None) -> None:
        """Every Inactive order becomes Submitted and fills (unless fills are held): now, or, with `after` (a message
        id such as REQ_EXECUTIONS), right after the fake has answered the next such request, so that the activation
        lands between two requests of a client."""

        def activate() -> None:
            for order in self._orders:
                if order.status == "Inactive":
                    order.status, order.why_held = "Submitted", ""
                    self._report(order)
                    self._work(order)

        if after is None:
            self._call(activate)
        else:
            self._call(lambda: self._after_reply.setdefault(after, []).append(activate))

    def hold_fills(self) -> None:
        """Orders are accepted and stay working until `release_fills` (a fill that arrives late)."""
        self._call(lambda: setattr(self, "_holding", True))

    def release_fills(self) -> None:
        def release() -> None:
            self._holding = False
            held, self._held = self._held, []
            for order in held:
                self._fill(order)

        self._call(release)

    def start_new_day(self, *, fill_held_first: bool = False) -> None:
        """TWS's midnight: executions and completed orders before now belong to an earlier day, and DAY orders that
        are still live expire. `fill_held_first` fills the held orders just before midnight, in the same step."""

        def new_day() -> None:
            if fill_held_first:
                self._holding = False
                held, self._held = self._held, []
                for order in held:
                    self._fill(order)
            now = datetime.now(UTC)
            for order in self._orders:
                if order.live and order.tif == "DAY":
                    order.complete("Cancelled", "Expired", now - timedelta(microseconds=1))
                    self._held = [o for o in self._held if o is not order]
            self._day_start = now

        self._call(new_day)

    def age_history(self, by: timedelta) -> None:
        """Let time pass for what TWS has recorded: every order, execution and the day's start move `by` into the
        past (follow with `start_new_day` for TWS's midnight since)."""

        def age() -> None:
            for order in self._orders:
                order.placed_at -= by
                if order.completed_at is not None:
                    order.completed_at -= by
            self._executions = [replace(e, at=e.at - by) for e in self._executions]
            self._day_start -= by

        self._call(age)

    def drop_connections(self) -> None:
        """Close every client socket, as a TWS restart or a network failure does."""
        self._call(self._drop_all)

    def stop_listening(self) -> None:
        """Refuse new connections (TWS not running) until `start_listening`."""
        self._call_async(self._close_listener())

    def start_listening(self) -> None:
        self._call_async(self._listen(self.port))

    def connectivity_lost(self) -> None:
        """TWS lost its link to IB (error 1100); the API sockets stay open."""
        self._call(lambda: self._broadcast_connectivity(1100))

    def connectivity_restored(self, *, data_lost: bool = False) -> None:
        self._call(lambda: self._broadcast_connectivity(1101 if data_lost else 1102))

    def broadcast_error(self, code: int, text: str | None = None) -> None:
        """Send every client an error message that concerns no request (id -1), e.g. 2110 or 2104."""

        def send() -> None:
            for conn in self._conns.values():
                if conn.client_id is not None:
                    self._error(conn, -1, code, text if text is not None else MESSAGES.get(code, f"message {code}"))

        self._call(send)

    def occupy_client_id(self, client_id: int) -> None:
        """Another application holds this client id: a START_API with it gets error 326."""
        self._call(lambda: self._occupied.add(client_id))

    def free_client_id(self, client_id: int) -> None:
        self._call(lambda: self._occupied.discard(client_id))

    async def wait_for(self, predicate: Callable[[FakeTws], bool], timeout: float, what: str = "condition") -> None:
        """Wait, with a deadline, until `predicate(self)` holds (for tests on an event loop)."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise TimeoutError(f"fake TWS: {what} not reached within {timeout} s")
            await asyncio.sleep(0.02)

    def wait_until(self, predicate: Callable[[FakeTws], bool], timeout: float, what: str = "condition") -> None:
        """`wait_for` for tests without an event loop."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise TimeoutError(f"fake TWS: {what} not reached within {timeout} s")
            time.sleep(0.02)

    # --- threading helpers ---------------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return self._call_async(run())

    def _call_async(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    # --- server --------------------------------------------------------------------------------------

    async def _listen(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _shutdown(self) -> None:
        self._drop_all()
        await self._close_listener()

    def _drop_all(self) -> None:
        for conn in list(self._conns.values()):
            conn.writer.transport.abort()
        self._conns.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conn_numbers += 1
        conn = _Conn(writer, self._conn_numbers)
        self._conns[conn.number] = conn
        try:
            if await reader.readexactly(4) != b"API\0":
                raise ProtocolViolation("handshake: the connection did not start with API\\0")
            versions = (await self._read_message(reader)).decode()
            self._handshake(conn, versions)
            while True:
                fields = tuple((await self._read_message(reader)).decode().split("\0")[:-1])
                if not fields:
                    continue
                sender = int(fields[2]) if int(fields[0]) == START_API and len(fields) > 2 else conn.client_id
                self._received.append(Received(sender, fields))
                self._dispatch(conn, fields)
                for action in self._after_reply.pop(int(fields[0]), []):
                    action()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except ProtocolViolation as e:
            self.violations.append(str(e))
        finally:
            self._conns.pop(conn.number, None)
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def _read_message(reader: asyncio.StreamReader) -> bytes:
        (size,) = struct.unpack(">I", await reader.readexactly(4))
        return await reader.readexactly(size)

    def _handshake(self, conn: _Conn, text: str) -> None:
        # "v100..157", "v157..178", optionally followed by connect options such as " +PACEAPI"
        span = text.split(" ", 1)[0].lstrip("v")
        low_text, _, high_text = span.partition("..")
        low, high = int(low_text), int(high_text or low_text)
        version = min(self.server_version, high)
        if version < max(low, OLDEST_SERVER_VERSION):
            raise ProtocolViolation(
                f"handshake: client versions {span} and server versions up to {self.server_version} have none in common"
            )
        conn.version = version
        self.handshakes += 1
        self.negotiated.append(version)
        conn.send(version, _ib_time(datetime.now(UTC)))

    def _dispatch(self, conn: _Conn, fields: tuple[str, ...]) -> None:
        msg_id = int(fields[0])
        if msg_id == START_API:
            self._start_api(conn, int(fields[2]))
            return
        if conn.client_id is None:
            raise ProtocolViolation(f"message {msg_id} before START_API")
        handler = self._handlers().get(msg_id)
        if handler is not None:
            handler(conn, fields)

    def _handlers(self) -> dict[int, Callable[[_Conn, tuple[str, ...]], None]]:
        return {
            PLACE_ORDER: self._place_order,
            CANCEL_ORDER: self._cancel_order,
            REQ_OPEN_ORDERS: lambda c, f: self._open_orders(c, only_own=True),
            REQ_ALL_OPEN_ORDERS: lambda c, f: self._open_orders(c, only_own=False),
            REQ_ACCT_DATA: self._account_updates,
            REQ_EXECUTIONS: self._req_executions,
            REQ_IDS: lambda c, f: c.send(NEXT_VALID_ID, 1, self._next_order_id),
            REQ_CONTRACT_DATA: self._contract_details,
            REQ_MANAGED_ACCTS: lambda c, f: c.send(MANAGED_ACCTS, 1, ",".join(self.accounts)),
            REQ_CURRENT_TIME: lambda c, f: c.send(CURRENT_TIME, 1, int(time.time())),
            REQ_POSITIONS: self._req_positions,
            CANCEL_POSITIONS: lambda c, f: setattr(c, "positions", False),
            REQ_ACCOUNT_SUMMARY: self._account_summary,
            REQ_ACCOUNT_UPDATES_MULTI: self._account_updates_multi,
            REQ_COMPLETED_ORDERS: self._completed_orders,
        }

    # --- session -------------------------------------------------------------------------------------

    def _start_api(self, conn: _Conn, client_id: int) -> None:
        in_use = client_id in self._occupied or any(
            c.client_id == client_id for c in self._conns.values() if c is not conn
        )
        if in_use:
            self._error(conn, -1, 326)
            conn.flush()
            conn.writer.transport.close()  # TWS hangs up after refusing the id
            return
        conn.client_id = client_id
        conn.send(NEXT_VALID_ID, 1, self._next_order_id)
        conn.send(MANAGED_ACCTS, 1, ",".join(self.accounts))
        for code in (2104, 2106, 2158):
            self._error(conn, -1, code)
        if self._connectivity_lost:
            self._error(conn, -1, 1100)

    def _error(self, conn: _Conn, req_id: int, code: int, text: str | None = None, reject_json: str = "") -> None:
        # version 2: id, code, message; from server version 166 the advanced order reject JSON follows, empty for
        # anything but an order rejection that carries one
        fields: list[object] = [ERR_MSG, 2, req_id, code, text if text is not None else MESSAGES[code]]
        if conn.version >= ADVANCED_ORDER_REJECT:
            fields.append(reject_json)
        conn.send(*fields)

    def _broadcast_connectivity(self, code: int) -> None:
        self._connectivity_lost = code == 1100
        for conn in self._conns.values():
            if conn.client_id is not None:
                self._error(conn, -1, code)

    # --- contracts and positions ---------------------------------------------------------------------

    def _contract_details(self, conn: _Conn, fields: tuple[str, ...]) -> None:
        f = _Fields(fields[2:], "reqContractDetails")  # msgId, version 8
        req_id, con_id, symbol, sec_type = f.int(), f.int(), f.str(), f.str()
        f.skip(4)  # lastTradeDateOrContractMonth, strike, right, multiplier
        exchange = f.str()
        f.skip(1)  # primaryExchange
        currency, local_symbol = f.str(), f.str()
        f.skip(4)  # tradingClass, includeExpired, secIdType, secId
        if conn.version >= BOND_ISSUERID:
            f.skip(1)  # issuerId
        f.end()
        matches = [
            c
            for c in self.contracts
            if (not con_id or c.con_id == con_id)
            and (not symbol or c.symbol == symbol)
            and (not sec_type or c.sec_type == sec_type)
            and (not currency or c.currency == currency)
            and (not local_symbol or c.local_symbol == local_symbol)
            and (not exchange or exchange == c.exchange)
        ]
        if not matches:
            self._error(conn, req_id, 200)
            return
        for c in matches:
            self._send_contract_details(conn, req_id, c)
        conn.send(CONTRACT_DATA_END, 1, req_id)

    def _send_contract_details(self, conn: _Conn, req_id: int, c: FakeContract) -> None:
        size_rules = conn.version >= SIZE_RULES
        # below 164 the message starts with its version (8) and carries mdSizeMultiplier after minTick
        head: list[object] = [CONTRACT_DATA] if size_rules else [CONTRACT_DATA, 8]
        multiplier: list[object] = [] if size_rules else [1]
        sizes: list[object] = [c.min_size, c.size_increment, c.suggested_size_increment] if size_rules else []
        conn.send(
            *head,
            req_id,
            c.symbol,
            c.sec_type,
            "",  # lastTradeDateOrContractMonth
            "0",  # strike
            "",  # right
            c.exchange,
            c.currency,
            c.local_symbol,
            c.local_symbol,  # marketName
            c.trading_class or c.local_symbol,
            c.con_id,
            c.min_tick,
            *multiplier,
            "",  # multiplier
            "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,AVGCOST,BASKET,COND,CONDORDER,DAY,GTC,IOC,LMT,MKT,STP,TRAIL",
            f"{c.exchange},IDEAL" if c.sec_type == "CASH" else c.exchange,
            1,  # priceMagnifier
            0,  # underConId
            c.long_name,
            "",  # primaryExchange
            "",  # contractMonth
            "",  # industry
            "",  # category
            "",  # subcategory
            "US/Eastern",  # timeZoneId
            "20251121:1715-20251122:1700",  # tradingHours
            "20251121:1715-20251122:1700",  # liquidHours
            "",  # evRule
            "",  # evMultiplier
            0,  # secIdList count
            4,  # aggGroup
            "",  # underSymbol
            "",  # underSecType
            "239",  # marketRuleIds
            "",  # realExpirationDate
            "",  # stockType
            *sizes,
        )

    def _req_positions(self, conn: _Conn, fields: tuple[str, ...]) -> None:
        conn.positions = True
        # Positions closed today are still listed, at zero, as TWS does.
        for (account, con_id), qty in sorted(self._positions.items()):
            self._send_position(conn, account, self._by_con_id(con_id), qty)
        conn.send(POSITION_END, 1)

    def _send_position(self, conn: _Conn, account: str, contract: FakeContract, qty: Decimal) -> None:
        avg = self._avg_cost.get((account, contract.con_id), Decimal(0))
        # version 3: tradingClass (v2) and avgCost (v3); the exchange of a position is empty
        conn.send(POSITION_DATA, 3, account, *contract.fields(exchange=""), qty, avg)

    def _set_position(self, account: str, contract: FakeContract, qty: Decimal, *, notify: bool) -> None:
        self._positions[(account, contract.con_id)] = qty
        self._avg_cost.setdefault((account, contract.con_id), self._price(contract))
        if notify:
            for conn in self._conns.values():
                if conn.positions:
                    self._send_position(conn, account, contract, qty)

    def _by_con_id(self, con_id: int) -> FakeContract:
        return next(c for c in self.contracts if c.con_id == con_id)

    def _price(self, contract: FakeContract) -> Decimal:
        return self._prices.get(contract.con_id, Decimal("150") if contract.currency == "JPY" else Decimal("1.25"))

    # --- accounts ------------------------------------------------------------------------------------

    def _account_values(self, account: str) -> list[tuple[str, str, str]]:
        return [
            ("AccountType", "INDIVIDUAL", ""),
            ("NetLiquidation", "1000000.00", "USD"),
            ("TotalCashValue", "1000000.00", "USD"),
            ("CashBalance", "1000000.00", "USD"),
            ("CashBalance", "1000000.00", "BASE"),
        ]

    def _account_updates(self, conn: _Conn, fields: tuple[str, ...]) -> None:
        subscribe, account = fields[2] == "1", fields[3] or self.accounts[0]
        conn.account_updates = account if subscribe else None
        if not subscribe:
            return
        for key, value, currency in self._account_values(account):
            conn.send(ACCT_VALUE, 2, key, value, currency, account)
        for (holder, con_id), qty in sorted(self._positions.items()):
            if holder != account or qty == 0:
                continue
            c = self._by_con_id(con_id)
            price = self._price(c)
            avg = self._avg_cost.get((holder, con_id), price)
            conn.send(
                PORTFOLIO_VALUE,
                8,
                c.con_id,
                c.symbol,
                c.sec_type,
                "",
                "0",
                "",
                "",  # multiplier
                "",  # primaryExchange
                c.currency,
                c.local_symbol,
                c.trading_class or c.local_symbol,
                qty,
                price,
                qty * price,
                avg,
                qty * (price - avg),
                0,
                account,
            )
        conn.send(ACCT_UPDATE_TIME, 1, datetime.now(UTC).strftime("%H:%M"))
        conn.send(ACCT_DOWNLOAD_END, 1, account)

    def _account_updates_multi(self, conn: _Conn, fields: tuple[str, ...]) -> None:
        req_id, account, model_code = int(fields[2]), fields[3], fields[4]
        for key, value, currency in self._account_values(account):
            conn.send(ACCOUNT_UPDATE_MULTI, 1, req_id, account, model_code, key, value, currency)
        conn.send(ACCOUNT_UPDATE_MULTI_END, 1, req_id)

    def _account_summary(self, conn: _Conn, fields: tuple[str, ...]) -> None:
        req_id = int(fields[2])
        for account in self.accounts:
            for key, value, currency in self._account_values(account):
                conn.send(ACCOUNT_SUMMARY, 1, req_id, account, key, value, currency)
        conn.send(ACCOUNT_SUMMARY_END, 1, req_id)

    # --- orders --------------------------------------------------------------------------------------

    def _place_order(self, conn: _Conn, fields: tuple[str, ...]) -> None:
        placed = parse_place_order(fields, conn.version)
        assert conn.client_id is not None
        if any(o.order_id == placed.order_id and o.client_id == conn.client_id for o in self._orders):
            self._error(conn, placed.order_id, 103, f"Duplicate order id {placed.order_id}")
            return
        self._next_order_id = max(self._next_order_id, placed.order_id + 1)
        refusal = self._refusal(placed)
        if refusal is not None:
            self._error(conn, placed.order_id, *refusal)
            return
        contract = self._resolve_order_contract(placed)
        assert contract is not None
        order = FakeOrder(
            order_id=placed.order_id,
            client_id=conn.client_id,
            perm_id=self._next_perm_id,
            contract=contract,
            action=placed.action,
            qty=placed.qty,
            order_type=placed.order_type,
            tif=placed.tif or "DAY",
            account=placed.account or self.accounts[0],
            order_ref=placed.order_ref,
            e_trade_only=placed.e_trade_only,
            firm_quote_only=placed.firm_quote_only,
            outside_rth=placed.outside_rth,
            placed_at=datetime.now(UTC),
        )
        self._next_perm_id += 1
        self._orders.append(order)
        error = self._take(self._order_errors, contract)
        if error is not None:
            order.complete("Cancelled", error.text, datetime.now(UTC))
            self._error(conn, order.order_id, error.code, error.text, error.reject_json)
            self._send_status(conn, order)
            return
        inactive = next((i for i in self._inactive_next if i[1] in (None, contract.local_symbol)), None)
        if inactive is not None:
            self._inactive_next.remove(inactive)
            order.status, order.why_held = "Inactive", inactive[0]
            self._report(order)
            return
        order.status = "Submitted"
        self._report(order)
        notice = self._take(self._order_notices, contract)
        if notice is None:
            self._work(order)
            return

        def notify_then_work() -> None:
            owner = self._conn_of(order.client_id)
            if owner is not None and order.live:
                self._error(owner, order.order_id, notice.code, notice.text)
            self._work(order)

        self._loop.call_later(self.notice_delay_s, notify_then_work)

    def _refusal(self, placed: PlacedOrder) -> tuple[int, str] | None:
        """Why TWS refuses this order before it takes it (code and text), or None."""
        if self._resolve_order_contract(placed) is None:
            return 200, MESSAGES[200]
        if placed.e_trade_only:
            return 10268, MESSAGES[10268]
        if placed.firm_quote_only:
            return 10269, MESSAGES[10269]
        if placed.order_type != "MKT" or placed.what_if or not placed.transmit:
            return 387, "Unsupported order type for this exchange and security type."
        account = placed.account or self.accounts[0]
        if account not in self.accounts:
            return 321, f"Error validating request: invalid account {account}"
        return None

    @staticmethod
    def _take(queue: deque[_Fault], contract: FakeContract) -> _Fault | None:
        """The first injected fault meant for this contract (or for any), taken off its queue."""
        fault = next((e for e in queue if e.local_symbol in (None, contract.local_symbol)), None)
        if fault is not None:
            queue.remove(fault)
        return fault

    def _work(self, order: FakeOrder) -> None:
        if self._holding:
            self._held.append(order)
        else:
            self._fill(order)

    def _report(self, order: FakeOrder) -> None:
        """openOrder and orderStatus to the client that placed the order, as TWS sends on every change."""
        owner = self._conn_of(order.client_id)
        if owner is not None:
            self._send_open_order(owner, order)
            self._send_status(owner, order)

    def _resolve_order_contract(self, placed: PlacedOrder) -> FakeContract | None:
        for c in self.contracts:
            if placed.con_id and c.con_id == placed.con_id:
                return c
        for c in self.contracts:
            if (
                not placed.con_id
                and c.sec_type == placed.sec_type
                and c.symbol == placed.symbol
                and c.currency == placed.currency
            ):
                return c
        return None

    def _fill(self, order: FakeOrder) -> None:
        if not order.working:
            return
        price = self._price(order.contract)
        shares = order.qty - order.filled
        now = datetime.now(UTC)
        order.filled = order.qty
        order.avg_price = price
        order.complete("Filled", "Filled", now)
        execution = FakeExecution(
            exec_id=f"0000e1a7.{len(self._executions) + 1:08x}.01.01",
            order_id=order.order_id,
            client_id=order.client_id,
            perm_id=order.perm_id,
            contract=order.contract,
            side="BOT" if order.action == "BUY" else "SLD",
            shares=shares,
            price=price,
            at=now,
            account=order.account,
            order_ref=order.order_ref,
            cum_qty=order.filled,
            avg_price=price,
        )
        self._executions.append(execution)
        owner = self._conn_of(order.client_id)
        # A client that is gone finds the fill later through executions and completed orders.
        if owner is not None:
            self._send_execution(owner, -1, execution)
            owner.send(COMMISSION_REPORT, 1, execution.exec_id, "2.0", "USD", UNSET_DOUBLE, "", "")
            self._send_status(owner, order)
            self._send_open_order(owner, order)
        key = (order.account, order.contract.con_id)
        signed = shares if order.action == "BUY" else -shares
        self._avg_cost[key] = price
        self._set_position(order.account, order.contract, self._positions.get(key, Decimal(0)) + signed, notify=True)

    def _cancel_order(self, conn: _Conn, fields: tuple[str, ...]) -> None:
        f = _Fields(fields[1:], "cancelOrder")
        f.skip(1)  # version 1
        order_id = f.int()
        if conn.version >= MANUAL_ORDER_TIME:
            f.skip(1)  # manualOrderCancelTime
        f.end()
        for order in self._orders:
            if order.order_id == order_id and order.client_id == conn.client_id and order.live:
                order.complete("Cancelled", "Cancelled by Trader", datetime.now(UTC))
                if order in self._held:
                    self._held.remove(order)
                self._send_status(conn, order)
                self._error(conn, order_id, 202, "Order Canceled - reason:")
                return
        self._error(conn, order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found.")

    def _conn_of(self, client_id: int) -> _Conn | None:
        return next((c for c in self._conns.values() if c.client_id == client_id), None)

    def _send_status(self, conn: _Conn, order: FakeOrder) -> None:
        # no version field from server version 131 (market cap price) on
        conn.send(
            ORDER_STATUS,
            order.order_id,
            order.status,
            order.filled,
            order.qty - order.filled,
            order.avg_price,
            order.perm_id,
            0,  # parentId
            order.avg_price,  # lastFillPrice
            order.client_id,
            order.why_held,
            0,  # mktCapPrice
        )

    def _send_open_order(self, conn: _Conn, order: FakeOrder) -> None:
        # no version field from server version 145 (order container) on; the fields up to usePriceMgmtAlgo are
        # those of version 157, then what later versions add
        o = order
        fa_profile: list[object] = [""] if conn.version < FA_PROFILE_DESUPPORT else []
        conn.send(
            OPEN_ORDER,
            o.order_id,
            *o.contract.fields(),
            o.action,
            o.qty,
            o.order_type,
            "",  # lmtPrice
            "",  # auxPrice
            o.tif,
            "",  # ocaGroup
            o.account,
            "",  # openClose
            0,  # origin
            o.order_ref,
            o.client_id,
            o.perm_id,
            o.outside_rth,
            False,  # hidden
            0,  # discretionaryAmt
            "",  # goodAfterTime
            "",  # sharesAllocation (deprecated)
            "",  # faGroup
            "",  # faMethod
            "",  # faPercentage
            *fa_profile,
            "",  # modelCode
            "",  # goodTillDate
            "",  # rule80A
            "",  # percentOffset
            "",  # settlingFirm
            0,  # shortSaleSlot
            "",  # designatedLocation
            -1,  # exemptCode
            0,  # auctionStrategy
            "",  # startingPrice
            "",  # stockRefPrice
            "",  # delta
            "",  # stockRangeLower
            "",  # stockRangeUpper
            0,  # displaySize
            False,  # blockOrder
            False,  # sweepToFill
            False,  # allOrNone
            "",  # minQty
            0,  # ocaType
            o.e_trade_only,
            o.firm_quote_only,
            "",  # nbboPriceCap
            0,  # parentId
            0,  # triggerMethod
            "",  # volatility
            0,  # volatilityType
            "",  # deltaNeutralOrderType (empty: no delta-neutral block)
            "",  # deltaNeutralAuxPrice
            False,  # continuousUpdate
            0,  # referencePriceType
            "",  # trailStopPrice
            "",  # trailingPercent
            "",  # basisPoints
            "",  # basisPointsType
            "",  # comboLegsDescrip
            0,  # comboLegs count
            0,  # orderComboLegs count
            0,  # smartComboRoutingParams count
            "",  # scaleInitLevelSize
            "",  # scaleSubsLevelSize
            "",  # scalePriceIncrement (empty: no scale block)
            "",  # hedgeType (empty: no hedgeParam)
            False,  # optOutSmartRouting
            "",  # clearingAccount
            "",  # clearingIntent
            False,  # notHeld
            False,  # delta-neutral contract present
            "",  # algoStrategy (empty: no params)
            False,  # solicited
            False,  # whatIf
            o.status,
            "",  # initMarginBefore
            "",  # maintMarginBefore
            "",  # equityWithLoanBefore
            "",  # initMarginChange
            "",  # maintMarginChange
            "",  # equityWithLoanChange
            "",  # initMarginAfter
            "",  # maintMarginAfter
            "",  # equityWithLoanAfter
            "",  # commission
            "",  # minCommission
            "",  # maxCommission
            "",  # commissionCurrency
            "",  # warningText
            False,  # randomizeSize
            False,  # randomizePrice
            0,  # conditions count
            "",  # adjustedOrderType
            "",  # triggerPrice
            "",  # trailStopPrice
            "",  # lmtPriceOffset
            "",  # adjustedStopPrice
            "",  # adjustedStopLimitPrice
            "",  # adjustedTrailingAmount
            0,  # adjustableTrailingUnit
            "",  # softDollarTier name
            "",  # softDollarTier value
            "",  # softDollarTier displayName
            "",  # cashQty
            False,  # dontUseAutoPriceForHedge
            False,  # isOmsContainer
            False,  # discretionaryUpToLimitPrice
            False,  # usePriceMgmtAlgo
            *_open_order_tail(conn.version),
        )

    def _open_orders(self, conn: _Conn, *, only_own: bool) -> None:
        # every order TWS still holds, each as openOrder and orderStatus
        for order in self._orders:
            if order.live and (not only_own or order.client_id == conn.client_id):
                self._send_open_order(conn, order)
                self._send_status(conn, order)
        conn.send(OPEN_ORDER_END, 1)

    def _completed_orders(self, conn: _Conn, fields: tuple[str, ...]) -> None:
        fa_profile: list[object] = [""] if conn.version < FA_PROFILE_DESUPPORT else []
        peg_offsets: list[object] = [""] * 5 if conn.version >= PEGBEST_PEGMID_OFFSETS else []
        for o in self._orders:
            if o.live or o.completed_at is None or o.completed_at < self._day_start:
                continue
            conn.send(
                COMPLETED_ORDER,
                *o.contract.fields(),
                o.action,
                o.qty,
                o.order_type,
                "",  # lmtPrice
                "",  # auxPrice
                o.tif,
                "",  # ocaGroup
                o.account,
                "",  # openClose
                0,  # origin
                o.order_ref,
                o.perm_id,
                o.outside_rth,
                False,  # hidden
                0,  # discretionaryAmt
                "",  # goodAfterTime
                "",  # faGroup
                "",  # faMethod
                "",  # faPercentage
                *fa_profile,
                "",  # modelCode
                "",  # goodTillDate
                "",  # rule80A
                "",  # percentOffset
                "",  # settlingFirm
                0,  # shortSaleSlot
                "",  # designatedLocation
                -1,  # exemptCode
                "",  # startingPrice
                "",  # stockRefPrice
                "",  # delta
                "",  # stockRangeLower
                "",  # stockRangeUpper
                0,  # displaySize
                False,  # sweepToFill
                False,  # allOrNone
                "",  # minQty
                0,  # ocaType
                0,  # triggerMethod
                "",  # volatility
                0,  # volatilityType
                "",  # deltaNeutralOrderType
                "",  # deltaNeutralAuxPrice
                False,  # continuousUpdate
                0,  # referencePriceType
                "",  # trailStopPrice
                "",  # trailingPercent
                "",  # comboLegsDescrip
                0,  # comboLegs count
                0,  # orderComboLegs count
                0,  # smartComboRoutingParams count
                "",  # scaleInitLevelSize
                "",  # scaleSubsLevelSize
                "",  # scalePriceIncrement
                "",  # hedgeType
                "",  # clearingAccount
                "",  # clearingIntent
                False,  # notHeld
                False,  # delta-neutral contract present
                "",  # algoStrategy
                False,  # solicited
                o.status,
                False,  # randomizeSize
                False,  # randomizePrice
                0,  # conditions count
                "",  # trailStopPrice
                "",  # lmtPriceOffset
                "",  # cashQty
                False,  # dontUseAutoPriceForHedge
                False,  # isOmsContainer
                "",  # autoCancelDate
                o.filled,  # filledQuantity
                0,  # refFuturesConId
                False,  # autoCancelParent
                "",  # shareholder
                False,  # imbalanceOnly
                False,  # routeMarketableToBbo
                0,  # parentPermId
                _ib_time(o.completed_at),
                o.completed_status,
                *peg_offsets,  # minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsetAtWhole/AtHalf
            )
        conn.send(COMPLETED_ORDERS_END)

    # --- executions ----------------------------------------------------------------------------------

    def _req_executions(self, conn: _Conn, fields: tuple[str, ...]) -> None:
        f = _Fields(fields[2:], "reqExecutions")  # msgId, version 3
        req_id, client_id, account, since = f.int(), f.int(), f.str(), f.str()
        symbol, sec_type, exchange, side = f.str(), f.str(), f.str(), f.str()
        f.end()
        earliest = self._day_start
        if since:
            reach = self._day_start - timedelta(days=max(self.trade_log_days, 1) - 1)
            earliest = max(parse_tws_time(since), reach)
        for e in self._executions:
            if e.at < earliest:
                continue
            if client_id and e.client_id != client_id:
                continue
            if account and e.account != account:
                continue
            if (symbol and e.contract.symbol != symbol) or (sec_type and e.contract.sec_type != sec_type):
                continue
            if exchange and e.contract.exchange != exchange:
                continue
            if side and {"BUY": "BOT", "SELL": "SLD"}.get(side, side) != e.side:
                continue
            self._send_execution(conn, req_id, e)
        conn.send(EXECUTION_DATA_END, 1, req_id)

    def _send_execution(self, conn: _Conn, req_id: int, e: FakeExecution) -> None:
        # no version field from server version 136 (last liquidity) on; pendingPriceRevision from 178
        revision: list[object] = [False] if conn.version >= PENDING_PRICE_REVISION else []
        conn.send(
            EXECUTION_DATA,
            req_id,
            e.order_id,
            *e.contract.fields(),
            e.exec_id,
            e.time,
            e.account,
            e.contract.exchange,
            e.side,
            e.shares,
            e.price,
            e.perm_id,
            e.client_id,
            0,  # liquidation
            e.cum_qty,
            e.avg_price,
            e.order_ref,
            "",  # evRule
            "",  # evMultiplier
            "",  # modelCode
            1,  # lastLiquidity
            *revision,
        )


def _open_order_tail(version: int) -> list[object]:
    """What openOrder carries after usePriceMgmtAlgo at `version` (all unset for a plain market order)."""
    tail: list[object] = []
    if version >= DURATION:
        tail.append("")  # duration (ib_async reads it from 159, IBKR's clients from 158: the same at 157 and 178)
    if version >= POST_TO_ATS:
        tail.append("")  # postToAts
    if version >= AUTO_CANCEL_PARENT:
        tail.append(False)  # autoCancelParent
    if version >= PEGBEST_PEGMID_OFFSETS:
        tail += [""] * 5  # minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsetAtWhole, midOffsetAtHalf
    return tail


@contextlib.contextmanager
def running_tws(**kwargs: Any) -> Iterator[FakeTws]:
    tws = FakeTws(**kwargs).start()
    try:
        yield tws
    finally:
        tws.stop()


__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_CONTRACTS",
    "SERVER_VERSION",
    "FakeContract",
    "FakeExecution",
    "FakeOrder",
    "FakeTws",
    "PlacedOrder",
    "Received",
    "parse_place_order",
    "running_tws",
]
