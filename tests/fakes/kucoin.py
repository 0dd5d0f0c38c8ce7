"""A fake KuCoin: real HTTP servers on 127.0.0.1 speaking KuCoin's REST dialect, Spot (HF) and Futures.

KuCoin serves Spot on api.kucoin.com and Futures on api-futures.kucoin.com, one account behind both; the
fake listens on two ports (`spot_url`, `futures_url`) over one shared state. Several paths exist on both
hosts with different meanings (/api/v1/orders, /api/v1/fills), so each port knows which host it plays.

Sources, cited beside each behaviour below:
- [docs] KuCoin's API documentation (github.com/Kucoin/kucoin-api-docs, source/localizable/index.html.md;
  the HF trading docs in github.com/Kucoin/kucoin-api-docs-hf): signing, the timestamp window, the
  system error codes and HTTP statuses, HF order records.
- [sdk] the documented response examples in kucoin-universal-sdk 1.3.2's generated tests
  (`generate/*/api_*_test.py`, generated from KuCoin's OpenAPI specification): every response body here
  has their fields, and tests/venues/kucoin/test_fake.py checks that against the installed package.
- [ccxt] ccxt's KuCoin exception map (python/ccxt/kucoin.py) and static fixtures
  (ts/src/test/static/response/kucoin.json), which quote real answers.
- [issue] public bug reports quoting real answers, named where used.

What it checks:
- Private endpoints: the KC-API-* headers (400001), the timestamp within 5 s of the server's clock
  (400002), the key (400003), the passphrase — HMAC-SHA256 of the passphrase with the secret, base64, for
  key versions 2 and 3 (400004), after the signature, base64 HMAC-SHA256 over timestamp + METHOD + path
  with query + body (400005) — the IP restriction (400006), the account's state (411100) and the key's
  permissions (400007). Public endpoints ignore the headers. The clock can be shifted (`clock_offset_ms`).
- Spot HF market orders by `size`: symbol listed (900001) and trading (200001), the client id, size step,
  minimum and maximum (400100), minimum funds (600101), balance (230003). Fills are immediate and complete
  at the settable price, with KuCoin's 0.1 % taker fee taken in the quote currency.
- Futures market orders by `size` in lots: whole lots (400100), maximum order size (400100), the contract's
  margin mode (330005), the position mode (330011), reduce-only (clipped to the position; 300009 without
  one), margin (300003) and the contract's open-value limit (330008). Positions are kept in lots, one net
  position per contract (one-way) or LONG and SHORT legs (hedge, `positionMode` 1).
- Lookups by client oid and by order id, fills lists; an unknown order is KuCoin's "order not exist"
  error, or (`not_found_style = "null"`) success with no data, since which one KuCoin sends is unverified.

Fault injection per request (`inject`): an error answer with a KuCoin code and the rate-limit reset header,
a delay, a request held on its way in (`hold`: it reaches the gateway when released, and the timestamp
rule applies then) or held inside KuCoin after the gateway admitted it (`hold_admitted`), or the request
carried out and then the answer stalled or the connection dropped. Every request is logged (host, method,
path, parameters and body, the timestamp it was signed with; never a header) and every execution recorded.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import fnmatch
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.http import VenueHttpHandler, VenueHttpServer
from tests.secrets import TEST_SECRETS

D = Decimal
ZERO = D(0)
Json = Any
SPOT_FEE_RATE = D("0.001")  # KuCoin's base taker fee [ccxt fees.trading.taker 0.001]
FUTURES_FEE_RATE = D("0.0006")  # [sdk] contracts example takerFeeRate


# --- signing ------------------------------------------------------------------------------------------


def sign(secret: str, prehash: str) -> str:
    """[docs] "Signing a Message": base64(HMAC-SHA256(secret, timestamp + METHOD + endpoint + body))."""
    return base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()


def prehash(timestamp: str, method: str, path_with_query: str, body: str) -> str:
    # [docs] "For GET, DELETE request, the endpoint needs to contain the query string."
    return f"{timestamp}{method.upper()}{path_with_query}{body}"


def encrypted_passphrase(secret: str, passphrase: str) -> str:
    """[docs] key version 2 and later: the passphrase HMAC-SHA256'd with the secret, base64."""
    return sign(secret, passphrase)


# --- instruments --------------------------------------------------------------------------------------


def spot_symbol(symbol: str, increment: str, min_size: str, min_funds: str, price_increment: str) -> Json:
    """One row of GET /api/v2/symbols, with the fields of the [sdk] example (get_all_symbols)."""
    base, quote = symbol.split("-")
    return {
        "symbol": symbol,
        "name": symbol,
        "baseCurrency": base,
        "quoteCurrency": quote,
        "feeCurrency": quote,
        "market": "USDS",
        "baseMinSize": min_size,
        "quoteMinSize": "0.1",
        "baseMaxSize": "10000000000",
        "quoteMaxSize": "99999999",
        "baseIncrement": increment,
        "quoteIncrement": "0.000001",
        "priceIncrement": price_increment,
        "priceLimitRate": "0.1",
        "minFunds": min_funds,
        "isMarginEnabled": True,
        "enableTrading": True,
        "feeCategory": 1,
        "makerFeeCoefficient": "1.00",
        "takerFeeCoefficient": "1.00",
        "st": False,
        "callauctionIsEnabled": False,
        "callauctionPriceFloor": None,
        "callauctionPriceCeiling": None,
        "callauctionFirstStageStartTime": None,
        "callauctionSecondStageStartTime": None,
        "callauctionThirdStageStartTime": None,
        "tradingStartTime": None,
    }


def contract(symbol: str, base: str, multiplier: float, tick: float, max_lots: int = 1_000_000, **extra: Any) -> Json:
    """One row of GET /api/v1/contracts/active, with the fields of the [sdk] example (get_all_symbols).
    KuCoin writes these as JSON numbers, not strings."""
    row = {
        "symbol": symbol,
        "rootSymbol": "USDT",
        "type": "FFWCSX",
        "firstOpenDate": 1585555200000,
        "expireDate": None,
        "settleDate": None,
        "baseCurrency": base,
        "quoteCurrency": "USDT",
        "settleCurrency": "USDT",
        "maxOrderQty": max_lots,
        "maxPrice": 1000000.0,
        "lotSize": 1,
        "tickSize": tick,
        "indexPriceTickSize": 0.01,
        "multiplier": multiplier,
        "initialMargin": 0.008,
        "maintainMargin": 0.004,
        "maxRiskLimit": 100000,
        "minRiskLimit": 100000,
        "riskStep": 50000,
        "makerFeeRate": 0.0002,
        "takerFeeRate": 0.0006,
        "takerFixFee": 0.0,
        "makerFixFee": 0.0,
        "settlementFee": None,
        "isDeleverage": True,
        "isQuanto": True,
        "isInverse": False,
        "markMethod": "FairPrice",
        "fairMethod": "FundingRate",
        "fundingBaseSymbol": f".{base}INT8H",
        "fundingQuoteSymbol": ".USDTINT8H",
        "fundingRateSymbol": f".{symbol}FPI8H",
        "indexSymbol": f".K{base}USDT",
        "settlementSymbol": "",
        "status": "Open",
        "fundingFeeRate": 0.000052,
        "predictedFundingFeeRate": 0.000083,
        "fundingRateGranularity": 28800000,
        "openInterest": "6748176",
        "turnoverOf24h": 1034643198.3265533,
        "volumeOf24h": 12069.225,
        "markPrice": 0.0,
        "indexPrice": 0.0,
        "lastTradePrice": 0.0,
        "nextFundingRateTime": 17752926,
        "maxLeverage": 125,
        "sourceExchanges": ["okex", "binance", "kucoin", "bybit", "bitmart", "gateio"],
        "premiumsSymbol1M": f".{symbol}PI",
        "premiumsSymbol8H": f".{symbol}PI8H",
        "fundingBaseSymbol1M": f".{base}INT",
        "fundingQuoteSymbol1M": ".USDTINT",
        "lowPrice": 0.0,
        "highPrice": 0.0,
        "priceChgPct": -0.028,
        "priceChg": -2495.9,
        "k": 490.0,
        "m": 300.0,
        "f": 1.3,
        "mmrLimit": 0.3,
        "mmrLevConstant": 125.0,
        "supportCross": True,
        "buyLimit": 0.0,
        "sellLimit": 0.0,
    }
    return row | extra


SPOT_SYMBOLS: dict[str, Json] = {
    s["symbol"]: s
    for s in (
        spot_symbol("BTC-USDT", "0.00001", "0.00001", "0.1", "0.1"),
        spot_symbol("ETH-USDT", "0.0001", "0.0001", "0.1", "0.01"),
        spot_symbol("KCS-USDT", "0.0001", "0.01", "0.1", "0.001"),
        spot_symbol("ETH-BTC", "0.0001", "0.0001", "0.00001", "0.00001"),
        {**spot_symbol("LUNA-USDT", "0.01", "0.01", "0.1", "0.0001"), "enableTrading": False},
    )
}
CONTRACTS: dict[str, Json] = {
    c["symbol"]: c
    for c in (
        contract("XBTUSDTM", "XBT", 0.001, 0.1),  # [sdk] 1 lot = 0.001 BTC
        contract("ETHUSDTM", "ETH", 0.01, 0.01),  # [ccxt] fetchMarkets comment: ETHUSDTM multiplier 0.01
        contract("XRPUSDTM", "XRP", 10, 0.0001),
        contract("XBTUSDM", "XBT", -1, 0.1, isInverse=True, quoteCurrency="USD", settleCurrency="XBT"),  # inverse
    )
}
PRICES = {
    "BTC-USDT": D(60000),
    "ETH-USDT": D(3000),
    "KCS-USDT": D(10),
    "ETH-BTC": D("0.05"),
    "LUNA-USDT": D("0.0001"),
    "XBTUSDTM": D(60000),
    "ETHUSDTM": D(3000),
    "XRPUSDTM": D("0.5"),
    "XBTUSDM": D(60000),
}
CLIENT_OID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")  # [sdk] AddOrderReq.client_oid: ≤ 40, letters digits _ -


# --- faults, logs -------------------------------------------------------------------------------------


@dataclass
class Fault:
    """What one matching request gets instead of (or after) normal handling."""

    status: int = 0  # answer with this HTTP status and {"code", "msg"}
    code: str = ""
    msg: str = ""
    reset_ms: int | None = None  # gw-ratelimit-reset header
    raw: bytes | None = None  # with `status`: this body instead of KuCoin's JSON (a proxy's error page)
    execute: bool = False  # carry the request out first (an order is placed), then apply the fault
    stall: float = 0.0  # hold the answer this long (or until the fake stops) and drop the connection
    drop: bool = False  # drop the connection without an answer
    delay: float = 0.0  # wait this long before handling
    hold: threading.Event | None = None  # on its way: reaches the gateway when the test sets this
    hold_admitted: threading.Event | None = None  # admitted by the gateway, then held inside KuCoin


@dataclass
class LoggedRequest:
    at: float  # time.monotonic() on arrival
    host: str  # "spot" or "futures"
    method: str
    path: str
    params: dict[str, Any]  # query and JSON body, never a header
    signed_ms: int = 0  # KC-API-TIMESTAMP, 0 when absent
    server_ms: int = 0  # the fake's clock when the request arrived
    status: int = 0  # -1: no answer (connection stalled or dropped)
    code: str = ""
    answered_at: float = 0.0


@dataclass(frozen=True)
class Execution:
    market: str  # "spot" or "futures"
    symbol: str
    side: str
    size: Decimal  # base units (spot) or lots (futures)
    client_id: str
    position_side: str = ""
    reduce_only: bool = False
    margin_mode: str = ""
    leverage: int | None = None


@dataclass(frozen=True)
class _FuturesOrder:
    symbol: str
    client_id: str
    side: str
    size: int  # lots
    margin_mode: str
    position_side: str  # BOTH in one-way mode
    reduce_only: bool
    leverage: Decimal | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.symbol, self.position_side)


class KuCoinError(Exception):
    def __init__(self, status: int, code: str, msg: str, reset_ms: int | None = None) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.reset_ms = status, code, msg, reset_ms


def _refused(code: str, msg: str, status: int = 200) -> KuCoinError:
    # [docs] "If the returned HTTP status code is 200, whereas the operation failed, an error will occur":
    # business refusals come with HTTP 200 and the code in the body.
    return KuCoinError(status, code, msg)


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}" if value != value.to_integral_value() else f"{value.quantize(D(1)):f}"


def _dec(text: object, what: str) -> Decimal:
    try:
        value = D(str(text))
    except InvalidOperation:
        raise _refused("400100", f"{what} invalid") from None
    if not value.is_finite():
        raise _refused("400100", f"{what} invalid")
    return value


# --- the servers --------------------------------------------------------------------------------------


class _Server(VenueHttpServer):
    fake: FakeKuCoin
    host_kind: str


class _Handler(VenueHttpHandler):
    server: _Server

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        fake, host = self.server.fake, self.server.host_kind
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        entry = fake._log(host, method, self.path, body, self.headers.get("KC-API-TIMESTAMP"))
        fault = fake._take_fault(host, method, urlsplit(self.path).path)
        extra: dict[str, str] = {}
        try:
            if fault is not None and fault.delay:
                fake._released.wait(fault.delay)
            if fault is not None and fault.hold is not None:
                fault.hold.wait(30)
            if fault is not None and (fault.drop or fault.stall) and not fault.execute:
                entry.status = -1
                fake._released.wait(fault.stall)
                self._drop(entry)
                return
            if fault is not None and fault.raw is not None:
                self._answer_raw(entry, fault.status, fault.raw)
                return
            if fault is not None and fault.status and not fault.execute:
                raise KuCoinError(fault.status, fault.code, fault.msg, fault.reset_ms)
            data = fake._dispatch(host, method, self.path, body, self.headers, fault)
            status, payload = 200, {"code": "200000", "data": data}
            if fault is not None and fault.execute:
                if fault.stall:
                    entry.status = -1  # logged now: no answer will come
                    fake._released.wait(fault.stall)
                if fault.stall or fault.drop:
                    self._drop(entry)
                    return
                if fault.status:
                    raise KuCoinError(fault.status, fault.code, fault.msg, fault.reset_ms)
        except KuCoinError as e:
            status, payload = e.status, {"code": e.code, "msg": e.msg}
            if e.reset_ms is not None:
                extra["gw-ratelimit-remaining"] = "0"
                extra["gw-ratelimit-reset"] = str(e.reset_ms)
            entry.code = e.code
        data_bytes = json.dumps(payload, default=str).encode()
        entry.status = status
        entry.answered_at = time.monotonic()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data_bytes)))
        # [sdk] RestRateLimit: gw-ratelimit-limit / -remaining / -reset (ms) come with every answer.
        self.send_header("gw-ratelimit-limit", "4000")
        self.send_header("gw-ratelimit-remaining", extra.pop("gw-ratelimit-remaining", "3999"))
        self.send_header("gw-ratelimit-reset", extra.pop("gw-ratelimit-reset", "29000"))
        self.end_headers()
        self.wfile.write(data_bytes)

    def _answer_raw(self, entry: LoggedRequest, status: int, body: bytes) -> None:
        entry.status, entry.answered_at = status, time.monotonic()
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drop(self, entry: LoggedRequest) -> None:
        entry.status = -1
        entry.answered_at = time.monotonic()
        self.close_connection = True


@dataclass
class _Route:
    host: str
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Json]
    access: str  # "public", or the key permission needed: General, Spot, Futures


class FakeKuCoin:
    def __init__(
        self,
        api_key: str = TEST_SECRETS["kucoin_api_key"],
        secret: str = TEST_SECRETS["kucoin_secret_key"],
        passphrase: str = TEST_SECRETS["kucoin_passphrase"],
    ) -> None:
        self._api_key, self._secret, self._passphrase = api_key, secret, passphrase
        self.lock = threading.RLock()
        self.clock_offset_ms = 0
        self.timestamp_window_ms = 5000  # [docs] "must be less than 5 seconds"
        self.spot_symbols: dict[str, Json] = copy.deepcopy(SPOT_SYMBOLS)
        self.contracts: dict[str, Json] = copy.deepcopy(CONTRACTS)
        self.prices: dict[str, Decimal] = dict(PRICES)
        self.spot_balances: dict[str, list[Decimal]] = {"USDT": [D(100_000), ZERO]}  # [available, holds]
        self.position_mode = 0  # 0 one-way, 1 hedge [issue] ccxt/ccxt#26822: {"positionMode": 1}
        self.margin_modes: dict[str, str] = {}  # symbol → CROSS | ISOLATED; unset = ISOLATED [sdk] default
        self.cross_leverage: dict[str, int] = {}
        self.futures_positions: dict[tuple[str, str], int] = {}  # (symbol, BOTH|LONG|SHORT) → signed lots
        self.position_leverage: dict[tuple[str, str], Decimal] = {}
        self.futures_equity = D(100_000)
        self.max_open_value: dict[str, Decimal] = {}  # symbol → largest position value (330008 beyond)
        self.permissions = {"General", "Spot", "Futures"}
        self.ip_whitelist = ""  # shown by /api/v1/user/api-key; "" = no restriction
        self.ip_allowed = True
        self.frozen = False
        self.not_found_style = "error"  # or "null": success with no data
        self.hidden_client_oids: set[str] = set()  # lookups by client oid miss these (an index that lags)
        self.requests: list[LoggedRequest] = []
        self.executions: list[Execution] = []
        self.orders: dict[str, list[Json]] = {"spot": [], "futures": []}
        self.fills: dict[str, list[Json]] = {"spot": [], "futures": []}
        self._faults: list[tuple[str | None, str, str, Fault]] = []
        self._ids = itertools.count(1000)
        self._released = threading.Event()
        self._routes = self._make_routes()
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []
        for kind in ("spot", "futures"):
            server = _Server(("127.0.0.1", 0), _Handler)
            server.fake, server.host_kind = self, kind
            self._servers[kind] = server
            # A short poll interval: stopping waits for the next poll, and tests start and stop many fakes.
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=f"fake-kucoin-{kind}", daemon=True
            )
            self._threads.append(thread)

    # --- life cycle ---------------------------------------------------------------------------------

    def __enter__(self) -> FakeKuCoin:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._released.set()
        for _, _, _, fault in self._faults:
            for event in (fault.hold, fault.hold_admitted):
                if event is not None:
                    event.set()
        # Both hosts at once: each shutdown waits for its server's next poll.
        stopping = [threading.Thread(target=server.shutdown) for server in self._servers.values()]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        for server in self._servers.values():
            server.drop_connections()
            server.server_close()

    @property
    def spot_url(self) -> str:
        return f"http://127.0.0.1:{self._servers['spot'].server_address[1]}"

    @property
    def futures_url(self) -> str:
        return f"http://127.0.0.1:{self._servers['futures'].server_address[1]}"

    def url(self, market: str) -> str:
        return self.spot_url if market == "spot" else self.futures_url

    # --- test controls ------------------------------------------------------------------------------

    def server_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    def inject(self, method: str, path: str, fault: Fault, host: str | None = None) -> None:
        """The next request matching method and path (a glob) gets `fault`."""
        with self.lock:
            self._faults.append((host, method, path, fault))

    def set_spot_balance(self, currency: str, available: Decimal | str, holds: Decimal | str = "0") -> None:
        with self.lock:
            self.spot_balances[currency] = [D(available), D(holds)]

    def spot_balance(self, currency: str) -> Decimal:
        with self.lock:
            available, holds = self.spot_balances.get(currency, [ZERO, ZERO])
            return available + holds

    def set_position(self, symbol: str, lots: int, side: str = "BOTH") -> None:
        with self.lock:
            self.futures_positions[(symbol, side)] = lots

    def position(self, symbol: str, side: str = "BOTH") -> int:
        with self.lock:
            return self.futures_positions.get((symbol, side), 0)

    def set_spot_rule(self, symbol: str, **fields: Any) -> None:
        with self.lock:
            self.spot_symbols[symbol].update(fields)

    def set_contract(self, symbol: str, **fields: Any) -> None:
        with self.lock:
            self.contracts[symbol].update(fields)

    def requests_to(self, method: str, path: str, host: str | None = None) -> list[LoggedRequest]:
        return [
            r
            for r in list(self.requests)
            if r.method == method and fnmatch.fnmatchcase(r.path, path) and host in (None, r.host)
        ]

    def executions_of(self, client_id: str) -> list[Execution]:
        return [e for e in self.executions if e.client_id == client_id]

    # --- plumbing -----------------------------------------------------------------------------------

    def _log(self, host: str, method: str, raw_path: str, body: str, stamp: str | None) -> LoggedRequest:
        parts = urlsplit(raw_path)
        params: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        with contextlib.suppress(ValueError):
            parsed = json.loads(body) if body else {}
            if isinstance(parsed, dict):
                params.update(parsed)
        entry = LoggedRequest(
            time.monotonic(), host, method, parts.path, params, int(stamp) if stamp and stamp.isdigit() else 0,
            self.server_ms(),
        )
        with self.lock:
            self.requests.append(entry)
        return entry

    def _take_fault(self, host: str, method: str, path: str) -> Fault | None:
        with self.lock:
            for i, (fault_host, fault_method, pattern, fault) in enumerate(self._faults):
                if fault_method == method and fnmatch.fnmatchcase(path, pattern) and fault_host in (None, host):
                    del self._faults[i]
                    return fault
        return None

    def _make_routes(self) -> list[_Route]:
        table: list[tuple[str, str, str, Callable[..., Json], str]] = [
            ("spot", "GET", "/api/v1/timestamp", self._timestamp, "public"),
            ("spot", "GET", "/api/v2/symbols", self._spot_symbols, "public"),
            ("spot", "GET", "/api/v1/market/allTickers", self._spot_all_tickers, "public"),
            ("spot", "GET", "/api/v1/market/orderbook/level1", self._spot_level1, "public"),
            ("spot", "GET", "/api/v1/accounts", self._spot_accounts, "General"),
            ("spot", "GET", "/api/v1/user/api-key", self._api_key_info, "General"),
            ("spot", "POST", "/api/v1/hf/orders/sync", self._spot_order, "Spot"),
            ("spot", "GET", "/api/v1/hf/orders/client-order/(?P<oid>[^/]+)", self._spot_by_client_oid, "General"),
            ("spot", "GET", "/api/v1/hf/fills", self._spot_fills, "General"),
            ("spot", "GET", "/api/v1/hf/orders/(?P<id>[^/]+)", self._spot_by_id, "General"),
            ("futures", "GET", "/api/v1/timestamp", self._timestamp, "public"),
            ("futures", "GET", "/api/v1/contracts/active", self._contracts, "public"),
            ("futures", "GET", "/api/v1/allTickers", self._futures_all_tickers, "public"),
            ("futures", "GET", "/api/v1/ticker", self._futures_ticker, "public"),
            ("futures", "GET", "/api/v1/account-overview", self._account_overview, "General"),
            ("futures", "GET", "/api/v1/positions", self._positions, "General"),
            ("futures", "GET", "/api/v2/position/getPositionMode", self._get_position_mode, "General"),
            ("futures", "POST", "/api/v2/position/switchPositionMode", self._switch_position_mode, "Futures"),
            ("futures", "GET", "/api/v2/position/getMarginMode", self._get_margin_mode, "General"),
            ("futures", "POST", "/api/v1/orders", self._futures_order, "Futures"),
            ("futures", "GET", "/api/v1/orders/byClientOid", self._futures_by_client_oid, "General"),
            ("futures", "GET", "/api/v1/orders/(?P<id>[^/]+)", self._futures_by_id, "General"),
            ("futures", "GET", "/api/v1/fills", self._futures_fills, "General"),
        ]
        return [_Route(h, m, re.compile(f"^{p}$"), fn, access) for h, m, p, fn, access in table]

    def _dispatch(self, host: str, method: str, raw_path: str, body: str, headers: Any, fault: Fault | None) -> Json:
        parts = urlsplit(raw_path)
        for route in self._routes:
            match = route.pattern.match(parts.path) if (route.host, route.method) == (host, method) else None
            if match is None:
                continue
            if route.access != "public":
                self._authenticate(method, raw_path, body, headers, route.access)
            if method == "POST" and "application/json" not in str(headers.get("Content-Type", "")):
                raise KuCoinError(415, "415000", "Unsupported Media Type")  # [docs] 415000
            if fault is not None and fault.hold_admitted is not None:
                fault.hold_admitted.wait(30)  # admitted: the timestamp was checked on arrival, not now
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            try:
                payload = json.loads(body) if body else {}
            except ValueError:
                raise _refused("400100", "Parameter Error", 400) from None
            with self.lock:
                return route.handler(query=query, body=payload, **match.groupdict())
        raise KuCoinError(404, "404000", "Url Not Found")  # [docs] 404000

    def _authenticate(self, method: str, raw_path: str, body: str, headers: Any, access: str) -> None:
        """The gateway's checks of a private request, in [docs] "Creating a Request" / "Signing a Message"."""
        key, signature = headers.get("KC-API-KEY"), headers.get("KC-API-SIGN")
        stamp, passphrase = headers.get("KC-API-TIMESTAMP"), headers.get("KC-API-PASSPHRASE")
        if not (key and signature and stamp and passphrase):
            # [docs] 400001 "Any of KC-API-KEY, KC-API-SIGN, KC-API-TIMESTAMP, KC-API-PASSPHRASE is missing"
            raise KuCoinError(
                401,
                "400001",
                "Please check the header of your request for KC-API-KEY, KC-API-SIGN, "
                "KC-API-TIMESTAMP, KC-API-PASSPHRASE",
            )
        try:
            timestamp = int(stamp)
        except ValueError:
            timestamp = 0
        if abs(self.server_ms() - timestamp) >= self.timestamp_window_ms:
            # [docs] "must be less than 5 seconds"; [issue] Kucoin/kucoin-python-sdk#82 quotes this answer as
            # HTTP 400 {"code":"400002","msg":"Invalid KC-API-TIMESTAMP"}.
            raise KuCoinError(400, "400002", "Invalid KC-API-TIMESTAMP")
        if key != self._api_key:
            raise KuCoinError(401, "400003", "KC-API-KEY not exists")  # [docs] 400003; 401 "Invalid API Key"
        expected = sign(self._secret, prehash(stamp, method, raw_path, body))
        if not hmac.compare_digest(str(signature), expected):
            # [issue] hummingbot/hummingbot#5273 quotes KuCoin's text "Invalid KC-API-SIGN". (Which of signature
            # and passphrase KuCoin checks first is not documented; a wrong secret fails both.)
            raise KuCoinError(401, "400005", "Invalid KC-API-SIGN")
        # The key is a version-3 key (its info says apiVersion 3): its passphrase always comes encrypted.
        if not hmac.compare_digest(str(passphrase), encrypted_passphrase(self._secret, self._passphrase)):
            raise KuCoinError(401, "400004", "Invalid KC-API-PASSPHRASE")  # [docs] 400004 "KC-API-PASSPHRASE error"
        if not self.ip_allowed:
            # [docs] 400006; text as OctoBot's KuCoin connector quotes it.
            raise KuCoinError(401, "400006", "Invalid request ip, the current clientIp is:127.0.0.1")
        if self.frozen:
            raise KuCoinError(403, "411100", "User are frozen")  # [docs] 411100
        if access not in self.permissions:
            # [docs] 400007 "Access Denied"; [ccxt] broad match "require more permission".
            raise KuCoinError(403, "400007", "Access denied, require more permission.")

    # --- shared endpoints ---------------------------------------------------------------------------

    def _timestamp(self, **_: Any) -> Json:
        return self.server_ms()  # [sdk] {"code":"200000","data":1729100692873}

    def _api_key_info(self, **_: Any) -> Json:
        # [sdk] get_apikey_info example; a key's secret is never part of it.
        return {
            "remark": "copier",
            "apiKey": "6705f5c311545b000157d3eb",
            "apiVersion": 3,
            "permission": ",".join(sorted(self.permissions)),
            "ipWhitelist": self.ip_whitelist,
            "createdAt": 1728443843000,
            "uid": 165111215,
            "isMaster": True,
        }

    # --- Spot ---------------------------------------------------------------------------------------

    def _spot_symbols(self, query: dict[str, str], **_: Any) -> Json:
        return copy.deepcopy(list(self.spot_symbols.values()))

    def _spot_all_tickers(self, **_: Any) -> Json:
        # [sdk] get_all_tickers: {"time", "ticker": [...]} with prices as strings.
        rows = []
        for symbol in self.spot_symbols:
            price = _plain(self.prices[symbol])
            rows.append(
                {
                    "symbol": symbol,
                    "symbolName": symbol,
                    "buy": price,
                    "bestBidSize": "0.000025",
                    "sell": price,
                    "bestAskSize": "1.24949204",
                    "changeRate": "-0.0014",
                    "changePrice": "-98.5",
                    "high": price,
                    "low": price,
                    "vol": "1836.03034612",
                    "volValue": "124068431.06726933",
                    "last": price,
                    "averagePrice": price,
                    "takerFeeRate": "0.001",
                    "makerFeeRate": "0.001",
                    "takerCoefficient": "1",
                    "makerCoefficient": "1",
                }
            )
        return {"time": self.server_ms(), "ticker": rows}

    def _spot_level1(self, query: dict[str, str], **_: Any) -> Json:
        symbol = query.get("symbol", "")
        if symbol not in self.spot_symbols:
            raise _refused("900001", "symbol not exists")  # [docs] 900001
        price = _plain(self.prices[symbol])
        # [sdk] get_ticker example
        return {
            "time": self.server_ms(),
            "sequence": "14609309753",
            "price": price,
            "size": "0.000025",
            "bestBid": price,
            "bestBidSize": "0.000025",
            "bestAsk": price,
            "bestAskSize": "1.24808993",
        }

    def _spot_accounts(self, query: dict[str, str], **_: Any) -> Json:
        if query.get("type", "trade") != "trade":
            return []
        # [sdk] get_spot_account_list: id, currency, type, balance (= available + holds), available, holds.
        return [
            {
                "id": f"5486745917{index:02d}",
                "currency": currency,
                "type": "trade",
                "balance": _plain(available + holds),
                "available": _plain(available),
                "holds": _plain(holds),
            }
            for index, (currency, (available, holds)) in enumerate(sorted(self.spot_balances.items()))
        ]

    def _spot_order(self, body: dict[str, Any], **_: Any) -> Json:
        symbol = str(body.get("symbol", ""))
        info = self.spot_symbols.get(symbol)
        if info is None:
            raise _refused("900001", "symbol not exists")  # [docs] 900001
        if not info["enableTrading"]:
            raise _refused("200001", "Order creation for this pair suspended")  # [docs] 200001
        client_id = str(body.get("clientOid", ""))
        if not CLIENT_OID.match(client_id):
            raise _refused("400100", "clientOid invalid")
        if any(o["clientOid"] == client_id and o["active"] for o in self.orders["spot"]):
            # [issue] JKorf/Kucoin.Net#120: 400100 "validation.createOrder.clientOidDuplicated"; KuCoin enforces
            # it among active orders only (Kucoin/kucoin-api-docs#468).
            raise _refused("400100", "validation.createOrder.clientOidDuplicated")
        side = body.get("side")
        if side not in ("buy", "sell") or body.get("type") != "market" or "funds" in body:
            raise _refused("400100", "Parameter Error")
        size = _dec(body.get("size"), "size")
        increment, low, high = (D(info[k]) for k in ("baseIncrement", "baseMinSize", "baseMaxSize"))
        if size < low:
            raise _refused("400100", "Order size below the minimum requirement.")  # [ccxt] exact-message map
        if size > high:
            raise _refused("400100", "Order size above the maximum requirement.")
        if size % increment != 0:
            raise _refused("400100", "Order size increment invalid.")  # 400100 [docs]; the text is unverified
        price = self.prices[symbol]
        funds = size * price
        if funds < D(info["minFunds"]):
            # [ccxt] 600101 {"msg":"The order funds should more then 0.1 USDT.","code":"600101"}
            raise _refused("600101", f"The order funds should more then {info['minFunds']} {info['quoteCurrency']}.")
        base, quote = info["baseCurrency"], info["quoteCurrency"]
        fee = (funds * SPOT_FEE_RATE).quantize(D("0.000000001"), rounding=ROUND_DOWN)
        pay, pay_amount = (quote, funds + fee) if side == "buy" else (base, size)
        held = self.spot_balances.setdefault(pay, [ZERO, ZERO])
        if held[0] < pay_amount:
            raise _refused("230003", "Balance insufficient!")  # [ccxt] 230003 quoted answer (HF)
        held[0] -= pay_amount
        if side == "buy":
            self.spot_balances.setdefault(base, [ZERO, ZERO])[0] += size
        else:
            self.spot_balances.setdefault(quote, [ZERO, ZERO])[0] += funds - fee
        now = self.server_ms()
        order_id = f"67{next(self._ids):022x}"
        # [sdk] get_order_by_client_oid (HF): the record lookups answer with.
        order = {
            "id": order_id,
            "clientOid": client_id,
            "symbol": symbol,
            "opType": "DEAL",
            "type": "market",
            "side": side,
            "price": "0",
            "size": _plain(size),
            "funds": "0",
            "dealSize": _plain(size),
            "dealFunds": _plain(funds),
            "remainSize": "0",
            "remainFunds": "0",
            "cancelledSize": "0",
            "cancelledFunds": "0",
            "fee": _plain(fee),
            "feeCurrency": quote,
            "stp": None,
            "timeInForce": "GTC",
            "postOnly": False,
            "hidden": False,
            "iceberg": False,
            "visibleSize": "0",
            "cancelAfter": 0,
            "channel": "API",
            "remark": None,
            "tags": None,
            "cancelExist": False,
            "tradeType": "TRADE",
            "inOrderBook": False,
            "active": False,
            "tax": "0",
            "createdAt": now,
            "lastUpdatedAt": now,
        }
        self.orders["spot"].append(order)
        # [sdk] get_trade_history (HF fills)
        self.fills["spot"].append(
            {
                "id": next(self._ids),
                "orderId": order_id,
                "counterOrderId": f"67{next(self._ids):022x}",
                "tradeId": next(self._ids),
                "symbol": symbol,
                "side": side,
                "liquidity": "taker",
                "type": "market",
                "forceTaker": False,
                "price": _plain(price),
                "size": _plain(size),
                "funds": _plain(funds),
                "fee": _plain(fee),
                "feeRate": _plain(SPOT_FEE_RATE),
                "feeCurrency": quote,
                "stop": "",
                "tradeType": "TRADE",
                "taxRate": "0",
                "tax": "0",
                "createdAt": now,
            }
        )
        self.executions.append(Execution("spot", symbol, side, size, client_id))
        # [sdk] add_order_sync; [docs] HF "Sync place hf order": the funds fields come with market orders.
        return {
            "orderId": order_id,
            "clientOid": client_id,
            "orderTime": now,
            "originSize": _plain(size),
            "dealSize": _plain(size),
            "remainSize": "0",
            "canceledSize": "0",
            "originFunds": "0",
            "dealFunds": _plain(funds),
            "remainFunds": "0",
            "canceledFunds": "0",
            "status": "done",
            "matchTime": now,
        }

    def _not_found(self, market: str) -> Json:
        if self.not_found_style == "null":
            return None
        if market == "futures":
            # [ccxt] 100001 OrderNotFound; the text "error.getOrder.orderNotExist" as Gainium's bot matches it.
            raise _refused("100001", "error.getOrder.orderNotExist")
        # [docs-hf] "If the order does not exist, then there will be a prompt saying that the order does not
        # exist"; [ccxt] exact message "order not exist." → OrderNotFound.
        raise _refused("400100", "order not exist.")

    def _spot_by_client_oid(self, oid: str, query: dict[str, str], **_: Any) -> Json:
        if "symbol" not in query:
            raise _refused("400100", "Parameter Error")
        for order in reversed(self.orders["spot"]):
            if order["clientOid"] == oid and order["symbol"] == query["symbol"] and oid not in self.hidden_client_oids:
                return dict(order)
        return self._not_found("spot")

    def _spot_by_id(self, id: str, query: dict[str, str], **_: Any) -> Json:
        for order in self.orders["spot"]:
            if order["id"] == id and order["symbol"] == query.get("symbol"):
                return dict(order)
        return self._not_found("spot")

    def _spot_fills(self, query: dict[str, str], **_: Any) -> Json:
        symbol = query.get("symbol")
        if not symbol:
            raise _refused("400100", "Parameter Error")  # [docs-hf] symbol is mandatory
        start, end = int(query.get("startAt", 0)), int(query.get("endAt", 2**62))
        limit = min(int(query.get("limit", 20)), 100)  # [docs-hf] limit: default 20, at most 100
        rows = [
            f
            for f in reversed(self.fills["spot"])
            if f["symbol"] == symbol and start <= f["createdAt"] <= end and query.get("side") in (None, f["side"])
        ][:limit]
        return {"items": copy.deepcopy(rows), "lastId": rows[-1]["id"] if rows else 0}

    # --- Futures ------------------------------------------------------------------------------------

    def _contracts(self, **_: Any) -> Json:
        rows = copy.deepcopy(list(self.contracts.values()))
        for row in rows:
            price = float(self.prices[row["symbol"]])
            row.update(markPrice=price, indexPrice=price, lastTradePrice=price)
        return rows

    def _ticker_row(self, symbol: str) -> Json:
        price = _plain(self.prices[symbol])
        # [sdk] futures get_ticker / get_all_tickers: prices as strings, sizes as numbers.
        return {
            "sequence": 1707992727046,
            "symbol": symbol,
            "side": "sell",
            "size": 21,
            "tradeId": "1784299761369",
            "price": price,
            "bestBidPrice": price,
            "bestBidSize": 2767,
            "bestAskPrice": price,
            "bestAskSize": 5368,
            "ts": self.server_ms() * 1_000_000,
        }

    def _futures_all_tickers(self, **_: Any) -> Json:
        return [self._ticker_row(s) for s in self.contracts]

    def _futures_ticker(self, query: dict[str, str], **_: Any) -> Json:
        symbol = query.get("symbol", "")
        if symbol not in self.contracts:
            raise _refused("400100", "Contract does not exist")
        return self._ticker_row(symbol)

    def _lot(self, symbol: str) -> Decimal:
        return D(str(self.contracts[symbol]["multiplier"]))

    def _used_margin(self) -> Decimal:
        used = ZERO
        for (symbol, side), lots in self.futures_positions.items():
            leverage = self.position_leverage.get((symbol, side)) or D(self.cross_leverage.get(symbol, 5))
            used += abs(lots) * self._lot(symbol) * self.prices[symbol] / leverage
        return used

    def _account_overview(self, query: dict[str, str], **_: Any) -> Json:
        available = self.futures_equity - self._used_margin()
        # [sdk] get_futures_account: JSON numbers.
        return {
            "accountEquity": float(self.futures_equity),
            "unrealisedPNL": 0.0,
            "marginBalance": float(self.futures_equity),
            "positionMargin": float(self._used_margin()),
            "orderMargin": 0.0,
            "frozenFunds": 0.0,
            "availableBalance": float(available),
            "currency": query.get("currency", "USDT"),
            "riskRatio": 0.0065,
            "maxWithdrawAmount": float(available),
        }

    def _positions(self, **_: Any) -> Json:
        rows = []
        now = self.server_ms()
        for (symbol, side), lots in sorted(self.futures_positions.items()):
            if lots == 0:
                continue
            price = float(self.prices[symbol])
            value = float(lots * self._lot(symbol) * self.prices[symbol])
            margin_mode = self.margin_modes.get(symbol, "ISOLATED")
            leverage = float(self.position_leverage.get((symbol, side)) or self.cross_leverage.get(symbol, 5))
            # [sdk] get_position_list example: currentQty in lots, signed; positionSide BOTH in one-way mode.
            # In hedge mode the legs are LONG and SHORT ([issue] tiagosiebler/kucoin-api positionSide
            # 'BOTH' | 'LONG' | 'SHORT'); a SHORT leg's currentQty is negative here (unverified: the adapter
            # reads legs as sizes either way).
            rows.append(
                {
                    "id": f"5000000000{len(rows):08d}",
                    "symbol": symbol,
                    "crossMode": margin_mode == "CROSS",
                    "delevPercentage": 0.5,
                    "openingTimestamp": now - 60_000,
                    "currentTimestamp": now,
                    "currentQty": lots,
                    "currentCost": value,
                    "currentComm": 0.0,
                    "unrealisedCost": value,
                    "realisedGrossCost": 0.0,
                    "realisedCost": 0.0,
                    "isOpen": True,
                    "markPrice": price,
                    "markValue": value,
                    "posCost": value,
                    "posInit": abs(value) / leverage,
                    "posMargin": abs(value) / leverage,
                    "realisedGrossPnl": 0.0,
                    "realisedPnl": 0.0,
                    "unrealisedPnl": 0.0,
                    "unrealisedPnlPcnt": 0.0,
                    "unrealisedRoePcnt": 0.0,
                    "avgEntryPrice": price,
                    "liquidationPrice": 0.0,
                    "bankruptPrice": 0.0,
                    "settleCurrency": "USDT",
                    "isInverse": False,
                    "marginMode": margin_mode,
                    "positionSide": side,
                    "leverage": leverage,
                }
            )
        return rows

    def _get_position_mode(self, **_: Any) -> Json:
        # [issue] tiagosiebler/kucoin-api GetPositionModeResponse {positionMode: 0 | 1}
        return {"positionMode": self.position_mode}

    def _switch_position_mode(self, body: dict[str, Any], **_: Any) -> Json:
        wanted = str(body.get("positionMode", ""))
        if wanted not in ("0", "1"):
            raise _refused("400100", "Parameter Error")
        # [issue] KuCoin's hedge-mode announcement: "You must have no open positions or pending orders
        # before switching" (the refusal's code is unverified).
        if any(lots for lots in self.futures_positions.values()):
            raise _refused("300000", "There are open positions, so the position mode cannot be switched.")
        self.position_mode = int(wanted)
        return {"positionMode": self.position_mode}  # [issue] ccxt/ccxt#26822

    def _get_margin_mode(self, query: dict[str, str], **_: Any) -> Json:
        symbol = query.get("symbol", "")
        if symbol not in self.contracts:
            raise _refused("400100", "Contract does not exist")
        return {"symbol": symbol, "marginMode": self.margin_modes.get(symbol, "ISOLATED")}  # [sdk] get_margin_mode

    def _futures_order(self, body: dict[str, Any], **_: Any) -> Json:
        order = self._futures_request(body)
        current = self.futures_positions.get(order.key, 0)
        closing = (order.position_side, order.side) in (("LONG", "sell"), ("SHORT", "buy"))
        size = self._futures_size(order, current, closing)
        delta = size if order.side == "buy" else -size
        opening = not (order.reduce_only or closing) and abs(current + delta) > abs(current)
        leverage = self._futures_margin(order, current, delta) if opening else None
        self.futures_positions[order.key] = current + delta
        if leverage is not None and order.margin_mode == "ISOLATED":
            self.position_leverage[order.key] = leverage
        return self._record_futures(order, size)

    def _futures_request(self, body: dict[str, Any]) -> _FuturesOrder:
        """The order's parameters, refused as KuCoin refuses them before looking at the account."""
        symbol = str(body.get("symbol", ""))
        info = self.contracts.get(symbol)
        if info is None or info["isInverse"]:
            raise _refused("400100", "Contract does not exist")
        if info["status"] != "Open":
            raise _refused("300000", "Contract is not open for trading")
        client_id = str(body.get("clientOid", ""))
        if not CLIENT_OID.match(client_id):
            raise _refused("400100", "clientOid invalid")
        side = str(body.get("side"))
        if side not in ("buy", "sell") or body.get("type") != "market":
            raise _refused("400100", "Parameter Error")
        size = body.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            # [sdk] AddOrderReq.size: "Order size (lot), must be a positive integer"
            raise _refused("400100", "The order size must be a positive integer number of lots")
        if size > info["maxOrderQty"]:
            raise _refused("400100", f"The order quantity exceeds the maximum of {info['maxOrderQty']} lots")
        margin_mode = str(body.get("marginMode", "ISOLATED"))  # [sdk] "default: ISOLATED"
        if margin_mode != self.margin_modes.get(symbol, "ISOLATED"):
            # [issue] ccxt/ccxt#25592 quotes this answer.
            raise _refused(
                "330005", "The order's margin mode does not match the selected one. Please switch and try again."
            )
        position_side = str(body.get("positionSide", "BOTH"))
        if (self.position_mode == 1) != (position_side in ("LONG", "SHORT")):
            # [issue] sieblyio/kucoin-api#93 quotes this answer.
            raise _refused(
                "330011",
                "The order's position mode does not match your selected mode. Please switch modes and try again.",
            )
        leverage = body.get("leverage")
        return _FuturesOrder(
            symbol,
            client_id,
            side,
            size,
            margin_mode,
            position_side,
            body.get("reduceOnly") is True,
            D(str(leverage)) if leverage is not None else None,
        )

    @staticmethod
    def _futures_size(order: _FuturesOrder, current: int, closing: bool) -> int:
        """Lots executed: a reduce-only order or a hedge leg's close never goes past the position."""
        if not (order.reduce_only or closing):
            return order.size
        growing = (current > 0) == (order.side == "buy")
        if current == 0 or (growing and not closing):
            # [ccxt] 300009 InvalidOrder; the text as OctoBot's KuCoin connector quotes it.
            raise _refused("300009", "No open positions to close.")
        # [sdk] AddOrderReq.reduce_only: "If the reduce-only order size exceeds the position size, the extra
        # size will be canceled."
        return min(order.size, abs(current))

    def _futures_margin(self, order: _FuturesOrder, current: int, delta: int) -> Decimal:
        """The leverage an opening order is margined at; refused beyond the limit or the available margin."""
        if order.margin_mode == "ISOLATED":
            if order.leverage is None:
                # [sdk] AddOrderReq.leverage: needed to freeze margin; "not required" only to close.
                raise _refused("400100", "leverage is required")
            leverage = order.leverage
        else:
            # Cross margin uses the contract's leverage set on KuCoin (KuCoin's cross-margin API guide).
            leverage = D(self.cross_leverage.get(order.symbol, 5))
        unit = self._lot(order.symbol) * self.prices[order.symbol]
        limit = self.max_open_value.get(order.symbol)
        if limit is not None and abs(current + delta) * unit > limit:
            # [ccxt] 330008 quoted answer
            raise _refused(
                "330008",
                "Your current margin and leverage have reached the maximum open limit. Please "
                "increase your margin or raise your leverage to open larger positions.",
            )
        cost = (abs(current + delta) - abs(current)) * unit / leverage
        if cost > self.futures_equity - self._used_margin():
            # [ccxt] 300003 InsufficientFunds; text as quoted in ccxt/ccxt#14682
            raise _refused("300003", f"Balance insufficient. The order would cost {_plain(cost)}.")
        return leverage

    def _record_futures(self, order: _FuturesOrder, size: int) -> Json:
        now = self.server_ms()
        order_id = f"{next(self._ids) + 234125150956625920}"
        price = self.prices[order.symbol]
        value = size * self._lot(order.symbol) * price
        leverage = "" if order.leverage is None else _plain(order.leverage)
        # [sdk] get_order_by_client_oid (futures): the record lookups answer with, sizes in lots.
        self.orders["futures"].append(
            {
                "id": order_id,
                "symbol": order.symbol,
                "type": "market",
                "side": order.side,
                "price": "0",
                "size": size,
                "value": _plain(value),
                "dealValue": _plain(value),
                "dealSize": size,
                "stp": "",
                "stop": "",
                "stopPriceType": "",
                "stopTriggered": False,
                "stopPrice": None,
                "timeInForce": "GTC",
                "postOnly": False,
                "hidden": False,
                "iceberg": False,
                "leverage": leverage,
                "forceHold": False,
                "closeOrder": False,
                "visibleSize": 0,
                "clientOid": order.client_id,
                "remark": None,
                "tags": "",
                "isActive": False,
                "cancelExist": False,
                "createdAt": now,
                "updatedAt": now,
                "endAt": now,
                "orderTime": now * 1_000_000,
                "settleCurrency": "USDT",
                "marginMode": order.margin_mode,
                "avgDealPrice": _plain(price),
                "filledSize": size,
                "filledValue": _plain(value),
                "status": "done",
                "reduceOnly": order.reduce_only,
                "positionSide": order.position_side,
            }
        )
        fee = value * FUTURES_FEE_RATE
        # [sdk] futures get_trade_history item
        self.fills["futures"].append(
            {
                "symbol": order.symbol,
                "tradeId": str(next(self._ids)),
                "orderId": order_id,
                "side": order.side,
                "liquidity": "taker",
                "forceTaker": False,
                "price": _plain(price),
                "size": size,
                "value": _plain(value),
                "openFeePay": _plain(fee),
                "closeFeePay": "0",
                "stop": "",
                "feeRate": "0.00060",
                "fixFee": "0",
                "feeCurrency": "USDT",
                "subTradeType": None,
                "marginMode": order.margin_mode,
                "openFeeTaxPay": "0",
                "closeFeeTaxPay": "0",
                "displayType": "market",
                "fee": _plain(fee),
                "settleCurrency": "USDT",
                "orderType": "market",
                "tradeType": "trade",
                "tradeTime": now * 1_000_000,
                "createdAt": now,
            }
        )
        self.executions.append(
            Execution(
                "futures",
                order.symbol,
                order.side,
                D(size),
                order.client_id,
                order.position_side,
                order.reduce_only,
                order.margin_mode,
                int(order.leverage) if order.leverage is not None else None,
            )
        )
        return {"orderId": order_id, "clientOid": order.client_id}  # [sdk] add_order

    def _futures_by_client_oid(self, query: dict[str, str], **_: Any) -> Json:
        oid = query.get("clientOid", "")
        for order in reversed(self.orders["futures"]):
            if order["clientOid"] == oid and oid not in self.hidden_client_oids:
                return dict(order)
        return self._not_found("futures")

    def _futures_by_id(self, id: str, **_: Any) -> Json:
        for order in self.orders["futures"]:
            if order["id"] == id:
                return dict(order)
        return self._not_found("futures")

    def _futures_fills(self, query: dict[str, str], **_: Any) -> Json:
        start, end = int(query.get("startAt", 0)), int(query.get("endAt", 2**62))
        page_size = min(int(query.get("pageSize", 50)), 1000)
        rows = [
            f
            for f in reversed(self.fills["futures"])
            if query.get("symbol") in (None, f["symbol"])
            and start <= f["createdAt"] <= end
            and query.get("side") in (None, f["side"])
        ]
        # [sdk] futures get_trade_history: a page of {currentPage, pageSize, totalNum, totalPage, items}.
        return {
            "currentPage": 1,
            "pageSize": page_size,
            "totalNum": len(rows),
            "totalPage": max(1, -(-len(rows) // page_size)),
            "items": copy.deepcopy(rows[:page_size]),
        }


def iter_lines(requests: list[LoggedRequest]) -> Iterator[str]:
    """The request log as text, for failure messages."""
    for r in requests:
        yield f"{r.at:.3f} {r.host} {r.method} {r.path} {r.params} → {r.status} {r.code}"
