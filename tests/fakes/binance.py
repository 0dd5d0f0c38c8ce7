"""A fake Binance: a real HTTP server on 127.0.0.1 speaking Binance's REST dialect, Spot and USDⓈ-M.

Each behaviour below cites where Binance (or a public fixture) shows it; "spot docs" is Binance's
binance-spot-api-docs (rest-api.md, errors.md, enums.md, filters.md), "futures docs" is Binance's USDⓈ-M
Futures documentation (General Info, Error Codes, the endpoint pages).

What it checks exactly as Binance documents it:
- Signed endpoints: the X-MBX-APIKEY header, then HMAC-SHA256 (hex, keyed by the secret) over totalParams =
  the query string concatenated with the request body, without the `signature` parameter; then the
  timing rule `timestamp < serverTime + 1000` and `serverTime − timestamp ≤ recvWindow` (default 5000,
  at most 60000). The server clock can be shifted (`clock_offset_ms`) to produce -1021.
- Request weight: every answer carries X-MBX-USED-WEIGHT-1M, the IP's weight this minute (each endpoint's
  "Request Weight"), other programs on the same IP included (`set_foreign_weight`); past exchangeInfo's
  REQUEST_WEIGHT limit a 429 (-1003) with Retry-After, and a request sent before that Retry-After has passed
  gets a 418 ban ("failing to back off after receiving 429s will result in an automated IP ban").
- Symbols keep their status (`set_status`): Spot BREAK/HALT/END_OF_DAY, USDⓈ-M SETTLING/PRE_SETTLE/CLOSE/….
  An order on a symbol that is not TRADING gets Spot -2010 "Market is closed." / USDⓈ-M -4140.
- Orders (MARKET only): Spot LOT_SIZE / MARKET_LOT_SIZE (maxQty included) / NOTIONAL / MIN_NOTIONAL filters
  with -1013 "Filter failure: …", balances (-2010), a book that runs dry (`spot_liquidity`: partly filled or
  unfilled, status EXPIRED), self-trade prevention (`spot_self_trade`: EXPIRED_IN_MATCH), an account that may
  not trade (-2010 "This account may not place or cancel orders."); USDⓈ-M quantity rules (-4003, -1111,
  -4004, -4005 above maxQty, -4023), MIN_NOTIONAL (-4164, waived for reduce-only and hedge-mode closing
  orders), margin (-2019), position side against the Position Mode (-4061), reduceOnly (-1106 in hedge mode,
  -2022 when it would not reduce), a thin book (`futures_thin_book`: -4131), system-level throttling
  (`futures_throttled`: 503 -1008 for orders that add exposure only), the matching engine's own recvWindow
  (`matching_delay_ms`: -5028), and market orders accepted as NEW that fill a moment later
  (`futures_fill_delay_s`). Fills are at the settable price; no fees are charged.
- Lookups by origClientOrderId: -2013 for an unknown one; Spot -2026 for an order that ended with nothing
  executed over 90 days ago; USDⓈ-M -2013 for one that ended unfilled over 3 days ago, or any over 90 days
  (`age_orders` moves orders back in time).

Fault injection per request (`inject`, and the `fault_*` presets for Binance's own error answers: HTTP 408,
the 503 kinds, Spot's -1008, the firewall's HTML 403): an HTTP error with a Binance code and Retry-After, a
delay, or carrying the request out and then stalling or dropping the connection (the client times out with
the order executed). Every request is logged (method, path, parameters without the signature) and every
execution recorded, so tests can assert what reached "Binance" and how often.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.http import VenueHttpHandler, VenueHttpServer
from tests.secrets import TEST_SECRETS

D = Decimal
ZERO = D(0)
Json = Any


# --- signing -----------------------------------------------------------------------------------------


def sign(secret: str, total_params: str) -> str:
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def total_params(query: str, body: str) -> tuple[str, str | None]:
    """Binance's totalParams (query string + body, the signature left out) and the signature sent."""
    signature = None
    kept_parts = []
    for text in (query, body):
        kept = []
        for piece in text.split("&") if text else []:
            if piece.startswith("signature="):
                signature = piece[len("signature=") :]
            else:
                kept.append(piece)
        kept_parts.append("&".join(kept))
    return kept_parts[0] + kept_parts[1], signature


def signature_valid(secret: str, query: str, body: str) -> bool:
    total, signature = total_params(query, body)
    return signature is not None and hmac.compare_digest(sign(secret, total), signature)


# --- instruments -------------------------------------------------------------------------------------


def spot_symbol(symbol: str, base: str, quote: str, step: str, min_qty: str, min_notional: str, tick: str) -> Json:
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000.00000000", "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": "9000.00000000", "stepSize": step},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000", "stepSize": "0"},
            {
                "filterType": "NOTIONAL",
                "minNotional": min_notional,
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
    }


def futures_symbol(symbol: str, base: str, step: str, min_qty: str, notional: str, tick: str, precision: int) -> Json:
    return {
        "symbol": symbol,
        "pair": symbol,
        "contractType": "PERPETUAL",
        "status": "TRADING",
        "baseAsset": base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": 2,
        "quantityPrecision": precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "4529764", "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": "1000", "stepSize": step},
            {"filterType": "MARKET_LOT_SIZE", "minQty": min_qty, "maxQty": "120", "stepSize": step},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": notional},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500"},
        ],
    }


SPOT_SYMBOLS: dict[str, Json] = {
    s["symbol"]: s
    for s in (
        spot_symbol("BTCUSDT", "BTC", "USDT", "0.00001000", "0.00001000", "5.00000000", "0.01000000"),
        spot_symbol("ETHUSDT", "ETH", "USDT", "0.00010000", "0.00010000", "5.00000000", "0.01000000"),
        spot_symbol("BNBUSDT", "BNB", "USDT", "0.00100000", "0.00100000", "5.00000000", "0.10000000"),
        spot_symbol("ETHBTC", "ETH", "BTC", "0.00010000", "0.00010000", "0.00010000", "0.00001000"),
        {**spot_symbol("LUNAUSDT", "LUNA", "USDT", "0.01", "0.01", "5", "0.0001"), "status": "BREAK"},
    )
}
FUTURES_SYMBOLS: dict[str, Json] = {
    s["symbol"]: s
    for s in (
        futures_symbol("BTCUSDT", "BTC", "0.001", "0.001", "100", "0.10", 3),
        futures_symbol("ETHUSDT", "ETH", "0.001", "0.001", "20", "0.01", 3),
        futures_symbol("XRPUSDT", "XRP", "0.1", "0.1", "5", "0.0001", 1),
    )
}
PRICES = {"BTCUSDT": D(60000), "ETHUSDT": D(3000), "BNBUSDT": D(600), "ETHBTC": D("0.05"), "XRPUSDT": D("0.5")}
CLIENT_ID_SPOT = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")
CLIENT_ID_FUTURES = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
# exchangeInfo `rateLimits`: Spot 6000 request weight a minute (spot docs, enums.md "Rate limiters"), USDⓈ-M 2400.
WEIGHT_LIMITS = {"spot": 6000, "futures": 2400}
# Each endpoint's "Request Weight" (its page in the spot or futures docs); (weight with `symbol`, without).
WEIGHTS: dict[tuple[str, str], tuple[int, int]] = {
    ("GET", "/api/v3/ping"): (1, 1),
    ("GET", "/api/v3/time"): (1, 1),
    ("GET", "/api/v3/exchangeInfo"): (20, 20),
    ("GET", "/api/v3/ticker/price"): (2, 4),
    ("GET", "/api/v3/account"): (20, 20),
    ("POST", "/api/v3/order"): (1, 1),
    ("GET", "/api/v3/order"): (4, 4),
    ("GET", "/fapi/v1/ping"): (1, 1),
    ("GET", "/fapi/v1/time"): (1, 1),
    ("GET", "/fapi/v1/exchangeInfo"): (1, 1),
    ("GET", "/fapi/v1/ticker/price"): (1, 2),
    ("GET", "/fapi/v2/ticker/price"): (1, 2),
    ("GET", "/fapi/v3/positionRisk"): (5, 5),
    ("GET", "/fapi/v1/positionSide/dual"): (30, 30),
    ("POST", "/fapi/v1/positionSide/dual"): (1, 1),
    ("GET", "/fapi/v3/balance"): (5, 5),
    ("POST", "/fapi/v1/order"): (0, 0),  # "0 on IP rate limit(x-mbx-used-weight-1m)"
    ("GET", "/fapi/v1/order"): (1, 1),
}
DAY_MS = 86_400_000
JSON_TYPE = "application/json;charset=UTF-8"
ENDED = ("CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED")
# Texts of Binance's error codes (spot errors.md, futures Error Codes).
TOO_MUCH_WEIGHT = (
    "Too much request weight used; current limit is {limit} request weight per 1 MINUTE. Please use WebSocket "
    "Streams for live updates to avoid polling the API."
)
BANNED = "Way too much request weight used; IP banned until {until}. Please use WebSocket Streams for live updates to "
BANNED += "avoid bans."
ARCHIVED = "Order was canceled or expired with no executed qty over 90 days ago and has been archived."
THROTTLED = (
    "Request throttled by system-level protection. Reduce-only/close-position orders are exempt. Please try again."
)


# --- faults, logs ------------------------------------------------------------------------------------


@dataclass
class Fault:
    """What one matching request gets instead of (or after) normal handling."""

    status: int = 0  # answer with this HTTP status and {"code", "msg"}
    code: int | None = None
    msg: str = ""
    retry_after: int | None = None  # Retry-After header, seconds
    execute: bool = False  # carry the request out first (an order is placed), then apply the fault
    stall: float = 0.0  # then hold the answer this long (or until the fake stops) and drop the connection
    drop: bool = False  # drop the connection without an answer
    delay: float = 0.0  # wait this long before handling
    hold: threading.Event | None = None  # before handling, wait until the test sets this (a request in flight)
    gateway: bool = False  # the body has no code: {"timestamp", "path", "msg"}, as Binance's 503 gateway sends
    html: str = ""  # an HTML page instead of JSON (the web application firewall, a gateway)


def fault_408(*, execute: bool) -> Fault:
    """Futures docs, HTTP Return Codes: "HTTP 408 return code is used when a timeout has occurred while waiting
    for a response from the backend server" (the backend may have placed the order: `execute`)."""
    msg = "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
    return Fault(status=408, code=-1007, msg=msg, execute=execute)


def fault_503_unknown(*, execute: bool) -> Fault:
    """Futures docs, HTTP 503 variant A (execution status unknown). The body is the one Binance's gateway was
    seen sending: {"timestamp":1609300986882,"path":"/fapi/v1/positionRisk","msg":"Unknown error, …"} (quoted
    in daisy613/LHPControl issue 16)."""
    msg = "Unknown error, please check your request or try again later."
    return Fault(status=503, msg=msg, gateway=True, execute=execute)


def fault_503_unavailable() -> Fault:
    """Futures docs, HTTP 503 variant B: "Service Unavailable." — "100% failure"."""
    return Fault(status=503, msg="Service Unavailable.", gateway=True)


def fault_503_internal() -> Fault:
    """Futures docs, HTTP 503: "Internal error; unable to process your request. Please try again." — a failure
    (the -1001 DISCONNECTED text of the futures error codes)."""
    return Fault(status=503, code=-1001, msg="Internal error; unable to process your request. Please try again.")


def fault_spot_busy(*, execute: bool) -> Fault:
    """Spot errors.md: -1008 SERVER_BUSY "Server is currently overloaded with other requests. Please try again in
    a few minutes.", a 5XX, whose "execution status is UNKNOWN and could have been a success" (rest-api.md)."""
    msg = "Server is currently overloaded with other requests. Please try again in a few minutes."
    return Fault(status=503, code=-1008, msg=msg, execute=execute)


WAF_PAGE = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">\n'
    '<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">\n'
    "<TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n<H1>403 ERROR</H1>\n"
    '<H2>The request could not be satisfied.</H2>\n<HR noshade size="1px">\nRequest blocked.\n'
    "</BODY></HTML>"
)


def fault_waf_403() -> Fault:
    """Spot and futures docs: "HTTP 403 return code is used when the WAF Limit (Web Application Firewall) has been
    violated." The firewall answers with an HTML page in front of the API, which never sees the request
    (python-binance then says "APIError(code=0): Invalid JSON error message from Binance: <html>…", as in
    python-binance issue 1198)."""
    return Fault(status=403, html=WAF_PAGE)


@dataclass
class LoggedRequest:
    at: float  # time.monotonic() on arrival
    method: str
    path: str
    params: dict[str, str]  # query and body, without the signature
    api_key_ok: bool
    status: int = 0  # -1: no answer (connection stalled or dropped)
    code: int | None = None
    answered_at: float = 0.0


@dataclass(frozen=True)
class Execution:
    market: str  # "spot" or "futures"
    symbol: str
    side: str
    qty: Decimal
    client_id: str
    position_side: str = ""
    reduce_only: bool = False


class BinanceError(Exception):
    def __init__(
        self,
        status: int,
        code: int | None,
        msg: str,
        retry_after: int | None = None,
        *,
        gateway: bool = False,
        html: str = "",
    ) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.retry_after = status, code, msg, retry_after
        self.gateway, self.html = gateway, html

    @classmethod
    def of(cls, fault: Fault) -> BinanceError:
        return cls(fault.status, fault.code, fault.msg, fault.retry_after, gateway=fault.gateway, html=fault.html)

    def body(self, path: str, server_ms: int) -> tuple[bytes, str]:
        """The answer's body and content type: an HTML page, the gateway's code-less JSON, or {code, msg}."""
        if self.html:
            return self.html.encode(), "text/html"
        if self.gateway:
            payload: Json = {"timestamp": server_ms, "path": path, "msg": self.msg}
        else:
            payload = {"code": self.code, "msg": self.msg} if self.code is not None else {"msg": self.msg}
        return json.dumps(payload).encode(), JSON_TYPE


def _bad(code: int, msg: str, status: int = 400) -> BinanceError:
    return BinanceError(status, code, msg)


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}" if value != value.to_integral_value() else f"{value.quantize(D(1)):f}"


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1].rstrip("0")) if "." in text else 0


# --- the server --------------------------------------------------------------------------------------


class _Server(VenueHttpServer):
    fake: FakeBinance


class _Handler(VenueHttpHandler):
    server: _Server

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        entry = fake._log(method, parts.path, parts.query, body, self.headers.get("X-MBX-APIKEY"))
        fault = fake._take_fault(method, parts.path)
        if fault is not None and fault.delay:
            fake._released.wait(fault.delay)
        if fault is not None and fault.hold is not None:
            fault.hold.wait(30)
        extra: dict[str, str] = {}
        content_type = JSON_TYPE
        try:
            if fault is not None and fault.drop and not fault.execute:
                self._drop(entry)
                return
            if fault is not None and fault.status and not fault.execute:
                raise BinanceError.of(fault)
            fake._charge_weight(method, parts.path, parts.query)
            status, payload = fake._dispatch(method, parts.path, parts.query, body, self.headers)
            data = json.dumps(payload).encode()
            if fault is not None and fault.execute:
                if fault.stall:
                    entry.status = -1  # logged now: no answer will come
                    fake._released.wait(fault.stall)
                if fault.stall or fault.drop:
                    self._drop(entry)
                    return
                if fault.status:
                    raise BinanceError.of(fault)
        except BinanceError as e:
            status = e.status
            data, content_type = e.body(parts.path, fake.server_ms())
            if e.retry_after is not None:
                extra["Retry-After"] = str(e.retry_after)
            entry.code = e.code
        entry.status = status
        entry.answered_at = time.monotonic()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-MBX-USED-WEIGHT-1M", str(fake.used_weight(fake.market_of(parts.path))))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self, entry: LoggedRequest) -> None:
        entry.status = -1
        entry.answered_at = time.monotonic()
        self.close_connection = True


class FakeBinance:
    def __init__(
        self, api_key: str = TEST_SECRETS["binance_api_key"], secret: str = TEST_SECRETS["binance_secret_key"]
    ) -> None:
        self._api_key = api_key
        self._secret = secret
        self.lock = threading.RLock()
        self.clock_offset_ms = 0
        self.spot_symbols: dict[str, Json] = copy.deepcopy(SPOT_SYMBOLS)
        self.futures_symbols: dict[str, Json] = copy.deepcopy(FUTURES_SYMBOLS)
        self.prices: dict[str, Decimal] = dict(PRICES)
        self.spot_balances: dict[str, list[Decimal]] = {"USDT": [D(100_000), ZERO]}  # asset → [free, locked]
        self.spot_can_trade = True
        # Base quantity a Spot market order finds in the book (absent: unlimited). Spot enums.md, EXPIRED: "MARKET
        # orders that partially fill" expire; with nothing in the book they expire unfilled.
        self.spot_liquidity: dict[str, Decimal] = {}
        # Symbols where the order meets this account's own resting orders: spot enums.md, EXPIRED_IN_MATCH "The
        # order was expired by the exchange due to STP" (an EXPIRE_TAKER order against the same account).
        self.spot_self_trade: set[str] = set()
        self.dual_side = False
        self.futures_positions: dict[tuple[str, str], Decimal] = {}  # (symbol, BOTH|LONG|SHORT) → signed amount
        self.futures_wallet = D(100_000)
        self.leverage = 20
        # USDⓈ-M market orders accepted NEW and filled this long after the answer (0: filled in the answer).
        self.futures_fill_delay_s = 0.0
        # How long an order takes from the API to the matching engine; past the order's recvWindow it is refused
        # with -5028 ME_RECVWINDOW_REJECT "Timestamp for this request is outside of the ME recvWindow."
        self.matching_delay_ms = 0
        # Symbols whose book has no counterparty within PERCENT_PRICE: -4131 MARKET_ORDER_REJECT.
        self.futures_thin_book: set[str] = set()
        # Futures docs, 503 variant C: -1008 for orders that add exposure; "Reduce-only / Close-position: …
        # positionSide = BOTH with reduceOnly = true, or LONG+SELL, or SHORT+BUY" are exempt.
        self.futures_throttled = False
        self.requests: list[LoggedRequest] = []
        self.executions: list[Execution] = []
        self._orders: dict[str, list[Json]] = {"spot": [], "futures": []}
        self._faults: list[tuple[str, str, Fault]] = []
        self._ids = itertools.count(1000)
        self._released = threading.Event()
        self._timers: list[threading.Timer] = []
        self._weight: dict[str, tuple[int, int]] = {}  # market → (server minute, weight used in it)
        self._foreign_weight: dict[str, tuple[int, int]] = {}  # market → (server minute, weight of other programs)
        self._refused_until: dict[str, float] = {}  # market → server ms until which a 429's Retry-After holds
        self._banned_until: dict[str, float] = {}  # market → server ms until which the IP is banned (418)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # A short poll interval: stopping waits for the next poll, and tests start and stop many fakes.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-binance", daemon=True
        )

    # --- life cycle -----------------------------------------------------------------------------------

    def start(self) -> FakeBinance:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()  # stalled and delayed answers end now
        with self.lock:
            for timer in self._timers:
                timer.cancel()
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()

    def __enter__(self) -> FakeBinance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def spot_url(self) -> str:
        return f"{self.root_url}/api"

    @property
    def futures_url(self) -> str:
        return f"{self.root_url}/fapi"

    # --- test controls --------------------------------------------------------------------------------

    def server_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    def inject(self, method: str, path: str, fault: Fault, times: int = 1) -> None:
        """The next `times` requests to METHOD path get `fault`."""
        with self.lock:
            self._faults.extend((method.upper(), path, fault) for _ in range(times))

    def set_filter(self, market: str, symbol: str, filter_type: str, **fields: object) -> None:
        """Change a symbol's filter, as Binance does now and then (a running sidecar's copy goes stale)."""
        table = self.spot_symbols if market == "spot" else self.futures_symbols
        with self.lock:
            for f in table[symbol]["filters"]:
                if f["filterType"] == filter_type:
                    f.update({k: str(v) if isinstance(v, Decimal) else v for k, v in fields.items()})

    def set_status(self, market: str, symbol: str, status: str) -> None:
        """Binance stops or resumes a symbol (Spot BREAK, USDⓈ-M SETTLING, … and back to TRADING)."""
        table = self.spot_symbols if market == "spot" else self.futures_symbols
        with self.lock:
            table[symbol]["status"] = status

    def add_symbol(self, market: str, base: str, price: Decimal | str) -> str:
        """Another <base>USDT instrument, with the rules of the fake's ETHUSDT; returns its symbol."""
        symbol = f"{base}USDT"
        with self.lock:
            if market == "spot":
                self.spot_symbols[symbol] = spot_symbol(symbol, base, "USDT", "0.0001", "0.0001", "5", "0.01")
            else:
                self.futures_symbols[symbol] = futures_symbol(symbol, base, "0.001", "0.001", "5", "0.01", 3)
            self.prices[symbol] = D(price)
        return symbol

    def set_foreign_weight(self, market: str, weight: int) -> None:
        """Request weight other programs on this IP have used this minute (Binance's limits are per IP)."""
        with self.lock:
            self._foreign_weight[market] = (self._minute(), weight)

    def used_weight(self, market: str) -> int:
        """What X-MBX-USED-WEIGHT-1M says now: this minute's weight of every program on the IP."""
        with self.lock:
            minute = self._minute()
            ours = self._weight.get(market, (minute, 0))
            theirs = self._foreign_weight.get(market, (minute, 0))
            return (ours[1] if ours[0] == minute else 0) + (theirs[1] if theirs[0] == minute else 0)

    def age_orders(self, market: str, days: float) -> None:
        """Every order of `market` was placed and last updated `days` earlier than recorded."""
        with self.lock:
            for order in self._orders[market]:
                for name in ("time", "updateTime", "workingTime"):
                    if name in order:
                        order[name] -= int(days * DAY_MS)

    def order(self, market: str, client_id: str) -> Json | None:
        with self.lock:
            return next((dict(o) for o in reversed(self._orders[market]) if o["clientOrderId"] == client_id), None)

    def set_spot_balance(self, asset: str, free: Decimal | str, locked: Decimal | str = ZERO) -> None:
        with self.lock:
            self.spot_balances[asset] = [D(free), D(locked)]

    def spot_balance(self, asset: str) -> Decimal:
        with self.lock:
            free, locked = self.spot_balances.get(asset, [ZERO, ZERO])
            return free + locked

    def set_position(self, symbol: str, amount: Decimal | str, side: str = "BOTH") -> None:
        """A USDⓈ-M position changed behind the copier's back (signed: a SHORT leg is negative)."""
        with self.lock:
            self.futures_positions[(symbol, side)] = D(amount)

    def position(self, symbol: str, side: str = "BOTH") -> Decimal:
        with self.lock:
            return self.futures_positions.get((symbol, side), ZERO)

    def requests_to(self, method: str, path: str) -> list[LoggedRequest]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def executions_of(self, client_id: str) -> list[Execution]:
        with self.lock:
            return [e for e in self.executions if e.client_id == client_id]

    # --- request handling -----------------------------------------------------------------------------

    def _log(self, method: str, path: str, query: str, body: str, api_key: str | None) -> LoggedRequest:
        params = {k: v for k, v in parse_qsl(query) + parse_qsl(body) if k != "signature"}
        entry = LoggedRequest(time.monotonic(), method, path, params, api_key == self._api_key)
        with self.lock:
            self.requests.append(entry)
        return entry

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for i, (m, p, fault) in enumerate(self._faults):
                if m == method and p == path:
                    del self._faults[i]
                    return fault
        return None

    def _minute(self) -> int:
        return self.server_ms() // 60_000

    @staticmethod
    def market_of(path: str) -> str:
        return "futures" if path.startswith("/fapi") else "spot"

    def _charge_weight(self, method: str, path: str, query: str) -> None:
        """Count the request's weight against the IP's minute; refuse past the limit as Binance does."""
        market = self.market_of(path)
        with self.lock:
            now = self.server_ms()
            if now < self._refused_until.get(market, 0):
                # Spot rest-api.md: "Repeatedly violating rate limits and/or failing to back off after receiving
                # 429s will result in an automated IP ban (HTTP status 418)", "from 2 minutes to 3 days".
                self._banned_until[market] = max(self._banned_until.get(market, 0), now + 120_000)
            if now < self._banned_until.get(market, 0):
                until = self._banned_until[market]
                raise BinanceError(418, -1003, BANNED.format(until=until), int((until - now) / 1000) + 1)
            with_symbol, without = WEIGHTS.get((method, path), (1, 1))
            weight = with_symbol if "symbol=" in query else without
            limit = WEIGHT_LIMITS[market]
            if self.used_weight(market) + weight > limit:
                # A 429 with Retry-After: the seconds until the minute's count starts afresh.
                left = 60 - (now // 1000) % 60
                self._refused_until[market] = now + left * 1000
                raise BinanceError(429, -1003, TOO_MUCH_WEIGHT.format(limit=limit), left)
            minute = self._minute()
            before = self._weight.get(market, (minute, 0))
            self._weight[market] = (minute, (before[1] if before[0] == minute else 0) + weight)

    def _dispatch(self, method: str, path: str, query: str, body: str, headers: Any) -> tuple[int, Json]:
        route = self._routes().get((method, path))
        if route is None:
            raise BinanceError(404, None, f"no such endpoint: {method} {path}")
        handler, signed = route
        params = dict(parse_qsl(query, keep_blank_values=True) + parse_qsl(body, keep_blank_values=True))
        params.pop("signature", None)
        if signed:
            self._authenticate(query, body, headers, params)
        with self.lock:
            return 200, handler(params)

    def _routes(self) -> dict[tuple[str, str], tuple[Callable[[dict[str, str]], Json], bool]]:
        return {
            ("GET", "/api/v3/ping"): (lambda p: {}, False),
            ("GET", "/api/v3/time"): (lambda p: {"serverTime": self.server_ms()}, False),
            ("GET", "/api/v3/exchangeInfo"): (lambda p: self._exchange_info("spot"), False),
            ("GET", "/api/v3/ticker/price"): (lambda p: self._ticker(p, self.spot_symbols), False),
            ("GET", "/api/v3/account"): (self._spot_account, True),
            ("POST", "/api/v3/order"): (self._spot_order, True),
            ("GET", "/api/v3/order"): (lambda p: self._find_order("spot", p), True),
            ("GET", "/fapi/v1/ping"): (lambda p: {}, False),
            ("GET", "/fapi/v1/time"): (lambda p: {"serverTime": self.server_ms()}, False),
            ("GET", "/fapi/v1/exchangeInfo"): (lambda p: self._exchange_info("futures"), False),
            ("GET", "/fapi/v1/ticker/price"): (lambda p: self._ticker(p, self.futures_symbols), False),
            ("GET", "/fapi/v2/ticker/price"): (lambda p: self._ticker(p, self.futures_symbols), False),
            ("GET", "/fapi/v3/positionRisk"): (self._position_risk, True),
            ("GET", "/fapi/v1/positionSide/dual"): (lambda p: {"dualSidePosition": self.dual_side}, True),
            ("POST", "/fapi/v1/positionSide/dual"): (self._change_position_mode, True),
            ("GET", "/fapi/v3/balance"): (self._futures_balance, True),
            ("POST", "/fapi/v1/order"): (self._futures_order, True),
            ("GET", "/fapi/v1/order"): (lambda p: self._find_order("futures", p), True),
        }

    def _authenticate(self, query: str, body: str, headers: Any, params: dict[str, str]) -> None:
        key = headers.get("X-MBX-APIKEY")
        if not key:
            raise _bad(-2014, "API-key format invalid.", 401)
        if key != self._api_key:
            raise _bad(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if not signature_valid(self._secret, query, body):
            raise _bad(-1022, "Signature for this request is not valid.")
        try:
            timestamp = int(params["timestamp"])
        except (KeyError, ValueError):
            raise _bad(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.") from None
        try:
            window = D(params.get("recvWindow", "5000"))
        except InvalidOperation:
            raise _bad(-1100, "Illegal characters found in parameter 'recvWindow'.") from None
        if window > 60000 or window <= 0:
            raise _bad(-1131, "recvWindow must be less than 60000")
        now = self.server_ms()
        if timestamp >= now + 1000:
            raise _bad(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - timestamp > window:
            raise _bad(-1021, "Timestamp for this request is outside of the recvWindow.")

    # --- market data ------------------------------------------------------------------------------------

    def _exchange_info(self, market: str) -> Json:
        symbols = self.spot_symbols if market == "spot" else self.futures_symbols
        limit = WEIGHT_LIMITS[market]
        return {
            "timezone": "UTC",
            "serverTime": self.server_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limit},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            ],
            "exchangeFilters": [],
            "symbols": copy.deepcopy(list(symbols.values())),
        }

    def _ticker(self, params: dict[str, str], symbols: dict[str, Json]) -> Json:
        """ticker/price: one symbol with `symbol`, every symbol without it (spot docs "Symbol price ticker",
        futures docs "Symbol Price Ticker V2")."""
        if "symbol" not in params:
            return [
                {"symbol": name, "price": _plain(self.prices[name]), "time": self.server_ms()}
                for name in symbols
                if name in self.prices
            ]
        symbol = params["symbol"]
        if symbol not in symbols or symbol not in self.prices:
            raise _bad(-1121, "Invalid symbol.")
        return {"symbol": symbol, "price": _plain(self.prices[symbol]), "time": self.server_ms()}

    # --- Spot -------------------------------------------------------------------------------------------

    def _spot_account(self, params: dict[str, str]) -> Json:
        omit = params.get("omitZeroBalances", "false").lower() == "true"
        balances = [
            {"asset": a, "free": f"{free:.8f}", "locked": f"{locked:.8f}"}
            for a, (free, locked) in sorted(self.spot_balances.items())
            if not omit or free + locked != 0
        ]
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "canTrade": self.spot_can_trade,
            "canWithdraw": True,
            "canDeposit": True,
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    def _order_basics(self, params: dict[str, str], symbols: dict[str, Json], pattern: re.Pattern[str]) -> Json:
        symbol = params.get("symbol", "")
        if symbol not in symbols:
            raise _bad(-1121, "Invalid symbol.")
        if params.get("side") not in ("BUY", "SELL"):
            raise _bad(-1100, "Illegal characters found in parameter 'side'; legal range is 'BUY, SELL'.")
        if params.get("type") != "MARKET":
            raise _bad(-1116, "Invalid orderType.")
        client_id = params.get("newClientOrderId") or f"fake{next(self._ids)}"
        if not pattern.match(client_id):
            raise _bad(-1100, f"Illegal characters found in parameter 'newClientOrderId'; legal range is "
                       f"'{pattern.pattern}'.")  # fmt: skip
        text = params.get("quantity", "")
        try:
            qty = D(text)
        except InvalidOperation:
            raise _bad(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!") from None
        return symbol, client_id, text, qty

    @staticmethod
    def _spot_filters(info: Json, qty: Decimal, price: Decimal) -> None:
        """Spot filters.md: what a MARKET order must meet, each failure a -1013 "Filter failure: <NAME>"."""
        filters = {f["filterType"]: f for f in info["filters"]}
        for name in ("LOT_SIZE", "MARKET_LOT_SIZE"):
            f = filters.get(name)
            if f is None:
                continue
            step, low, high = D(f["stepSize"]), D(f["minQty"]), D(f["maxQty"])
            if qty < low or (high > 0 and qty > high) or (step > 0 and (qty - low) % step != 0):
                raise _bad(-1013, f"Filter failure: {name}")
        notional = filters.get("NOTIONAL")
        if notional is not None and notional.get("applyMinToMarket") and qty * price < D(notional["minNotional"]):
            raise _bad(-1013, "Filter failure: NOTIONAL")
        legacy = filters.get("MIN_NOTIONAL")
        if legacy is not None and legacy.get("applyToMarket") and qty * price < D(legacy["minNotional"]):
            raise _bad(-1013, "Filter failure: MIN_NOTIONAL")

    def _spot_order(self, params: dict[str, str]) -> Json:
        symbol, client_id, text, qty = self._order_basics(params, self.spot_symbols, CLIENT_ID_SPOT)
        info = self.spot_symbols[symbol]
        if _decimals(text) > info["baseAssetPrecision"]:
            raise _bad(-1111, "Parameter 'quantity' has too much precision.")
        if qty <= 0:
            raise _bad(-1013, "Invalid quantity.")
        price = self.prices[symbol]
        self._spot_filters(info, qty, price)
        # Spot errors.md, messages of -2010 NEW_ORDER_REJECTED from the matching engine.
        if not self.spot_can_trade:
            raise _bad(-2010, "This account may not place or cancel orders.")
        if info["status"] != "TRADING":
            raise _bad(-2010, "Market is closed.")
        base, quote = info["baseAsset"], info["quoteAsset"]
        pay, pay_amount = (quote, qty * price) if params["side"] == "BUY" else (base, qty)
        if self.spot_balances.setdefault(pay, [ZERO, ZERO])[0] < pay_amount:
            raise _bad(-2010, "Account has insufficient balance for requested action.")
        if symbol in self.spot_self_trade:
            executed, status = ZERO, "EXPIRED_IN_MATCH"
        else:
            executed = min(qty, self.spot_liquidity.get(symbol, qty))
            status = "FILLED" if executed == qty else "EXPIRED"
        cost = executed * price
        pay, pay_amount, get, get_amount = (
            (quote, cost, base, executed) if params["side"] == "BUY" else (base, executed, quote, cost)
        )
        self.spot_balances[pay][0] -= pay_amount
        self.spot_balances.setdefault(get, [ZERO, ZERO])[0] += get_amount
        now = self.server_ms()
        order = {
            "symbol": symbol,
            "orderId": next(self._ids),
            "orderListId": -1,
            "clientOrderId": client_id,
            "price": "0.00000000",
            "origQty": f"{qty:.8f}",
            "executedQty": f"{executed:.8f}",
            "cummulativeQuoteQty": f"{cost:.8f}",
            "status": status,
            "timeInForce": "GTC",
            "type": "MARKET",
            "side": params["side"],
            "time": now,
            "updateTime": now,
            "workingTime": now,
            "isWorking": True,
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "EXPIRE_TAKER" if symbol in self.spot_self_trade else "EXPIRE_MAKER",
        }
        self._orders["spot"].append(order)
        if executed > 0:
            self.executions.append(Execution("spot", symbol, params["side"], executed, client_id))
        return self._spot_answer(order, params.get("newOrderRespType", "FULL"), price, quote)

    @staticmethod
    def _spot_answer(order: Json, kind: str, price: Decimal, quote: str) -> Json:
        """The answer of each newOrderRespType (spot rest-api.md, New order: ACK, RESULT, FULL)."""
        answer = {k: order[k] for k in ("symbol", "orderId", "orderListId", "clientOrderId")}
        answer["transactTime"] = order["time"]
        if kind == "ACK":
            return answer
        fields = ("price", "origQty", "executedQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side")
        answer |= {k: order[k] for k in (*fields, "workingTime", "selfTradePreventionMode")}
        if kind == "FULL":
            executed = order["executedQty"]
            fill = {"price": _plain(price), "qty": executed, "commission": "0.00000000", "commissionAsset": quote}
            answer["fills"] = [fill] if D(executed) > 0 else []
        return answer

    def _find_order(self, market: str, params: dict[str, str]) -> Json:
        symbol = params.get("symbol", "")
        wanted = params.get("origClientOrderId")
        order_id = params.get("orderId")
        now = self.server_ms()
        for order in reversed(self._orders[market]):
            if order["symbol"] != symbol:
                continue
            if (wanted is not None and order["clientOrderId"] == wanted) or (
                order_id is not None and str(order["orderId"]) == order_id
            ):
                unfilled_end = order["status"] in ENDED and D(order["executedQty"]) == 0
                if market == "spot" and unfilled_end and order["updateTime"] < now - 90 * DAY_MS:
                    raise _bad(-2026, ARCHIVED)  # spot errors.md, -2026 ORDER_ARCHIVED
                if market == "futures" and (
                    (unfilled_end and order["time"] + 3 * DAY_MS < now) or order["time"] + 90 * DAY_MS < now
                ):
                    # Futures docs, Query Order: "These orders will not be found: order status is CANCELED or
                    # EXPIRED AND order has NO filled trade AND created time + 3 days < current time; order
                    # create time + 90 days < current time".
                    break
                return dict(order)
        raise _bad(-2013, "Order does not exist.")

    # --- USDⓈ-M -----------------------------------------------------------------------------------------

    def _used_margin(self) -> Decimal:
        return sum(
            (
                abs(amount) * self.prices[symbol] / self.leverage
                for (symbol, _), amount in self.futures_positions.items()
            ),
            ZERO,
        )

    def _position_risk(self, params: dict[str, str]) -> Json:
        rows = []
        held = {symbol for (symbol, _), amount in self.futures_positions.items() if amount != 0}
        for symbol in sorted(held):
            sides = ("LONG", "SHORT") if self.dual_side else ("BOTH",)
            for side in sides:
                amount = self.futures_positions.get((symbol, side), ZERO)
                price = self.prices[symbol]
                rows.append(
                    {
                        "symbol": symbol,
                        "positionSide": side,
                        "positionAmt": _plain(amount) if amount else "0.000",
                        "entryPrice": _plain(price) if amount else "0.0",
                        "breakEvenPrice": "0.0",
                        "markPrice": _plain(price),
                        "unRealizedProfit": "0.00000000",
                        "liquidationPrice": "0",
                        "isolatedMargin": "0",
                        "notional": _plain(amount * price),
                        "marginAsset": "USDT",
                        "isolatedWallet": "0",
                        "initialMargin": _plain(abs(amount) * price / self.leverage),
                        "maintMargin": "0",
                        "positionInitialMargin": _plain(abs(amount) * price / self.leverage),
                        "openOrderInitialMargin": "0",
                        "adl": 0,
                        "bidNotional": "0",
                        "askNotional": "0",
                        "updateTime": self.server_ms(),
                    }
                )
        return rows

    def _change_position_mode(self, params: dict[str, str]) -> Json:
        wanted = params.get("dualSidePosition", "").lower() == "true"
        if wanted == self.dual_side:
            raise _bad(-4059, "No need to change position side.")
        if any(amount != 0 for amount in self.futures_positions.values()):
            raise _bad(-4068, "Position side cannot be changed if there exists position.")
        self.dual_side = wanted
        return {"code": 200, "msg": "success"}

    def _futures_balance(self, params: dict[str, str]) -> Json:
        available = self.futures_wallet - self._used_margin()
        return [
            {
                "accountAlias": "SgsR",
                "asset": "USDT",
                "balance": f"{self.futures_wallet:.8f}",
                "crossWalletBalance": f"{self.futures_wallet:.8f}",
                "crossUnPnl": "0.00000000",
                "availableBalance": f"{available:.8f}",
                "maxWithdrawAmount": f"{available:.8f}",
                "marginAvailable": True,
                "updateTime": self.server_ms(),
            }
        ]

    def _futures_position_side(self, params: dict[str, str]) -> str:
        position_side = params.get("positionSide", "BOTH").upper()
        if self.dual_side:
            if position_side not in ("LONG", "SHORT"):
                raise _bad(-4061, "Order's position side does not match user's setting.")
            if "reduceOnly" in params:
                raise _bad(-1106, "Parameter 'reduceOnly' sent when not required.")
        elif position_side != "BOTH":
            raise _bad(-4061, "Order's position side does not match user's setting.")
        return position_side

    @staticmethod
    def _futures_quantity_rules(info: Json, text: str, qty: Decimal) -> None:
        if qty <= 0:
            raise _bad(-4003, "Quantity less than or equal to zero.")
        if _decimals(text) > info["quantityPrecision"]:
            raise _bad(-1111, "Precision is over the maximum defined for this asset.")
        filters = {f["filterType"]: f for f in info["filters"]}
        for name in ("LOT_SIZE", "MARKET_LOT_SIZE"):
            f = filters[name]
            step, low, high = D(f["stepSize"]), D(f["minQty"]), D(f["maxQty"])
            if qty < low:
                raise _bad(-4004, "Quantity less than min quantity.")
            if qty > high:
                raise _bad(-4005, "Quantity greater than max quantity.")
            if step > 0 and (qty - low) % step != 0:
                raise _bad(-4023, "Quantity not increased by step size.")

    def _futures_market_checks(self, symbol: str, params: dict[str, str]) -> None:
        """What the matching engine refuses (futures Error Codes): -4131 MARKET_ORDER_REJECT, -5028."""
        if symbol in self.futures_thin_book:
            raise _bad(-4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit.")
        window = int(params.get("recvWindow", "5000"))
        if self.server_ms() + self.matching_delay_ms - int(params["timestamp"]) > window:
            raise _bad(-5028, "Timestamp for this request is outside of the ME recvWindow.")

    def _futures_order(self, params: dict[str, str]) -> Json:
        symbol, client_id, text, qty = self._order_basics(params, self.futures_symbols, CLIENT_ID_FUTURES)
        info = self.futures_symbols[symbol]
        side = params["side"]
        position_side = self._futures_position_side(params)
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        closing = (position_side == "LONG" and side == "SELL") or (position_side == "SHORT" and side == "BUY")
        if self.futures_throttled and not (reduce_only or closing):
            raise BinanceError(503, -1008, THROTTLED)
        if info["status"] != "TRADING":
            # Futures error codes: -4140 INVALID_OPENING_POSITION_STATUS.
            raise _bad(-4140, "Invalid symbol status for opening position.")
        self._futures_quantity_rules(info, text, qty)
        self._futures_market_checks(symbol, params)
        filters = {f["filterType"]: f for f in info["filters"]}
        key = (symbol, position_side)
        current = self.futures_positions.get(key, ZERO)
        delta = qty if side == "BUY" else -qty
        if closing and qty > abs(current):
            # A hedge-mode close larger than its leg is refused as a reduce-only order though no reduceOnly was
            # sent (ccxt issue 8304, "Closing position orders rejected in Binance Hedge Mode").
            raise _bad(-2022, "ReduceOnly Order is rejected.")
        if reduce_only:
            if current == 0 or (current > 0) == (delta > 0):
                raise _bad(-2022, "ReduceOnly Order is rejected.")
            qty = min(qty, abs(current))  # a reduce-only order never flips the position
            delta = qty if side == "BUY" else -qty
            closing = True
        price = self.prices[symbol]
        if not closing:
            # Futures error codes, -4164: "Order's notional must be no smaller than %s (unless you choose reduce
            # only)"; hedge-mode LONG+SELL / SHORT+BUY count as reduce-only (futures docs, 503 variant C).
            minimum = D(filters["MIN_NOTIONAL"]["notional"])
            if qty * price < minimum:
                raise _bad(
                    -4164,
                    f"Order's notional must be no smaller than {_plain(minimum)} (unless you choose reduce only).",
                )
            if qty * price / self.leverage > self.futures_wallet - self._used_margin():
                raise _bad(-2019, "Margin is insufficient.")
        now = self.server_ms()
        # Field set of a USDⓈ-M order (futures docs, New Order response; ccxt's static response fixture
        # binance.json, createOrders "create swap orders").
        order = {
            "orderId": next(self._ids),
            "symbol": symbol,
            "status": "NEW",
            "clientOrderId": client_id,
            "price": "0.00",
            "avgPrice": "0.00",
            "origQty": text,
            "executedQty": "0",
            "cumQty": "0",
            "cumQuote": "0",
            "timeInForce": "GTC",
            "type": "MARKET",
            "reduceOnly": reduce_only or closing,
            "closePosition": False,
            "side": side,
            "positionSide": position_side,
            "stopPrice": "0.00",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": "MARKET",
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "goodTillDate": 0,
            "time": now,
            "updateTime": now,
        }
        self._orders["futures"].append(order)
        fill = (key, delta, qty, price, reduce_only)
        if self.futures_fill_delay_s > 0:
            # Accepted before the match: the answer says NEW, the position changes when the fill comes.
            timer = threading.Timer(self.futures_fill_delay_s, self._fill_futures, (order, *fill))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()
        else:
            self._fill_futures(order, *fill)
        if params.get("newOrderRespType", "ACK") == "ACK":
            # ACK answers before the match: the order is NEW and nothing is reported executed yet.
            return order | {"status": "NEW", "executedQty": "0", "cumQty": "0", "cumQuote": "0", "avgPrice": "0.00"}
        return dict(order)

    def _fill_futures(
        self, order: Json, key: tuple[str, str], delta: Decimal, qty: Decimal, price: Decimal, reduce_only: bool
    ) -> None:
        with self.lock:
            self.futures_positions[key] = self.futures_positions.get(key, ZERO) + delta
            order.update(
                status="FILLED",
                avgPrice=_plain(price),
                executedQty=_plain(qty),
                cumQty=_plain(qty),
                cumQuote=_plain(qty * price),
                updateTime=self.server_ms(),
            )
            self.executions.append(
                Execution("futures", key[0], order["side"], qty, order["clientOrderId"], key[1], reduce_only)
            )


def iter_lines(requests: list[LoggedRequest]) -> Iterator[str]:
    """The request log as text, for failure messages."""
    for r in requests:
        yield f"{r.at:.3f} {r.method} {r.path} {r.params} → {r.status} {r.code or ''}"
