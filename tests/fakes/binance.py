"""A fake Binance: a real HTTP server on 127.0.0.1 speaking Binance's REST dialect, Spot and USDⓈ-M.

What it checks exactly as Binance documents it:
- Signed endpoints: the X-MBX-APIKEY header, then HMAC-SHA256 (hex, keyed by the secret) over totalParams =
  the query string concatenated with the request body, without the `signature` parameter; then the
  timing rule `timestamp < serverTime + 1000` and `serverTime − timestamp ≤ recvWindow` (default 5000,
  at most 60000). The server clock can be shifted (`clock_offset_ms`) to produce -1021.
- Orders (MARKET only): Spot LOT_SIZE / MARKET_LOT_SIZE / NOTIONAL / MIN_NOTIONAL filters with -1013
  "Filter failure: …", balances (-2010); USDⓈ-M quantity rules (-4003, -1111, -4004, -4005, -4023),
  MIN_NOTIONAL (-4164, not for reduce-only), margin (-2019), position side against the Position Mode
  (-4061), reduceOnly (-1106 in hedge mode, -2022 when it would not reduce). Fills are immediate and
  complete at the settable price; no fees are charged.
- Lookups by origClientOrderId, -2013 for an unknown one.

Fault injection per request (`inject`): an HTTP error with a Binance code and Retry-After, a delay, or
carrying the request out and then stalling or dropping the connection (the client times out with the
order executed). Every request is logged (method, path, parameters without the signature) and every
execution recorded, so tests can assert what reached "Binance" and how often.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import itertools
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

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
    def __init__(self, status: int, code: int | None, msg: str, retry_after: int | None = None) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.retry_after = status, code, msg, retry_after


def _bad(code: int, msg: str, status: int = 400) -> BinanceError:
    return BinanceError(status, code, msg)


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}" if value != value.to_integral_value() else f"{value.quantize(D(1)):f}"


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1].rstrip("0")) if "." in text else 0


# --- the server --------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeBinance

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up before its answer was written is part of the tests.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        """Close every open connection, as a venue that goes away does (keep-alive ones included)."""
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Binance; python-binance keeps one session
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm and the client's delayed
        # ACK hold every answer back ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is kept by the fake itself

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
        try:
            if fault is not None and fault.drop and not fault.execute:
                self._drop(entry)
                return
            if fault is not None and fault.status and not fault.execute:
                raise BinanceError(fault.status, fault.code, fault.msg, fault.retry_after)
            status, payload = fake._dispatch(method, parts.path, parts.query, body, self.headers)
            if fault is not None and fault.execute:
                if fault.stall:
                    entry.status = -1  # logged now: no answer will come
                    fake._released.wait(fault.stall)
                if fault.stall or fault.drop:
                    self._drop(entry)
                    return
                if fault.status:
                    raise BinanceError(fault.status, fault.code, fault.msg, fault.retry_after)
        except BinanceError as e:
            status = e.status
            payload = {"code": e.code, "msg": e.msg} if e.code is not None else {"msg": e.msg}
            if e.retry_after is not None:
                extra["Retry-After"] = str(e.retry_after)
            entry.code = e.code
        data = json.dumps(payload).encode()
        entry.status = status
        entry.answered_at = time.monotonic()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-MBX-USED-WEIGHT-1M", str(fake._weight()))
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
        self.dual_side = False
        self.futures_positions: dict[tuple[str, str], Decimal] = {}  # (symbol, BOTH|LONG|SHORT) → signed amount
        self.futures_wallet = D(100_000)
        self.leverage = 20
        self.requests: list[LoggedRequest] = []
        self.executions: list[Execution] = []
        self._orders: dict[str, list[Json]] = {"spot": [], "futures": []}
        self._faults: list[tuple[str, str, Fault]] = []
        self._ids = itertools.count(1000)
        self._released = threading.Event()
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

    def _weight(self) -> int:
        with self.lock:
            return len(self.requests)

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
        return {
            "timezone": "UTC",
            "serverTime": self.server_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            ],
            "exchangeFilters": [],
            "symbols": copy.deepcopy(list(symbols.values())),
        }

    def _ticker(self, params: dict[str, str], symbols: dict[str, Json]) -> Json:
        symbol = params.get("symbol", "")
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

    def _spot_order(self, params: dict[str, str]) -> Json:
        symbol, client_id, text, qty = self._order_basics(params, self.spot_symbols, CLIENT_ID_SPOT)
        info = self.spot_symbols[symbol]
        if _decimals(text) > info["baseAssetPrecision"]:
            raise _bad(-1111, "Parameter 'quantity' has too much precision.")
        if qty <= 0:
            raise _bad(-1013, "Invalid quantity.")
        filters = {f["filterType"]: f for f in info["filters"]}
        price = self.prices[symbol]
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
        base, quote = info["baseAsset"], info["quoteAsset"]
        cost = qty * price
        pay, pay_amount, get, get_amount = (
            (quote, cost, base, qty) if params["side"] == "BUY" else (base, qty, quote, cost)
        )
        held = self.spot_balances.setdefault(pay, [ZERO, ZERO])
        if held[0] < pay_amount:
            raise _bad(-2010, "Account has insufficient balance for requested action.")
        held[0] -= pay_amount
        self.spot_balances.setdefault(get, [ZERO, ZERO])[0] += get_amount
        now = self.server_ms()
        order = {
            "symbol": symbol,
            "orderId": next(self._ids),
            "orderListId": -1,
            "clientOrderId": client_id,
            "price": "0.00000000",
            "origQty": f"{qty:.8f}",
            "executedQty": f"{qty:.8f}",
            "cummulativeQuoteQty": f"{cost:.8f}",
            "status": "FILLED",
            "timeInForce": "GTC",
            "type": "MARKET",
            "side": params["side"],
            "time": now,
            "updateTime": now,
            "workingTime": now,
            "isWorking": True,
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        self._orders["spot"].append(order)
        self.executions.append(Execution("spot", symbol, params["side"], qty, client_id))
        kind = params.get("newOrderRespType", "FULL")
        answer = {k: order[k] for k in ("symbol", "orderId", "orderListId", "clientOrderId")} | {"transactTime": now}
        if kind == "ACK":
            return answer
        fields = ("price", "origQty", "executedQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side")
        answer |= {k: order[k] for k in fields} | {"workingTime": now, "selfTradePreventionMode": "EXPIRE_MAKER"}
        if kind == "FULL":
            answer["fills"] = [
                {"price": _plain(price), "qty": f"{qty:.8f}", "commission": "0.00000000", "commissionAsset": quote}
            ]
        return answer

    def _find_order(self, market: str, params: dict[str, str]) -> Json:
        symbol = params.get("symbol", "")
        wanted = params.get("origClientOrderId")
        order_id = params.get("orderId")
        for order in reversed(self._orders[market]):
            if order["symbol"] != symbol:
                continue
            if (wanted is not None and order["clientOrderId"] == wanted) or (
                order_id is not None and str(order["orderId"]) == order_id
            ):
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

    def _futures_order(self, params: dict[str, str]) -> Json:
        symbol, client_id, text, qty = self._order_basics(params, self.futures_symbols, CLIENT_ID_FUTURES)
        info = self.futures_symbols[symbol]
        side = params["side"]
        position_side = self._futures_position_side(params)
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        self._futures_quantity_rules(info, text, qty)
        filters = {f["filterType"]: f for f in info["filters"]}
        key = (symbol, position_side)
        current = self.futures_positions.get(key, ZERO)
        delta = qty if side == "BUY" else -qty
        closing = (position_side == "LONG" and side == "SELL") or (position_side == "SHORT" and side == "BUY")
        if closing and qty > abs(current):
            raise _bad(-2022, "ReduceOnly Order is rejected.")
        if reduce_only:
            if current == 0 or (current > 0) == (delta > 0):
                raise _bad(-2022, "ReduceOnly Order is rejected.")
            qty = min(qty, abs(current))  # a reduce-only order never flips the position
            delta = qty if side == "BUY" else -qty
            closing = True
        price = self.prices[symbol]
        if not closing:
            minimum = D(filters["MIN_NOTIONAL"]["notional"])
            if qty * price < minimum:
                raise _bad(
                    -4164,
                    f"Order's notional must be no smaller than {_plain(minimum)} (unless you choose reduce only).",
                )
            if qty * price / self.leverage > self.futures_wallet - self._used_margin():
                raise _bad(-2019, "Margin is insufficient.")
        self.futures_positions[key] = current + delta
        now = self.server_ms()
        order = {
            "orderId": next(self._ids),
            "symbol": symbol,
            "status": "FILLED",
            "clientOrderId": client_id,
            "price": "0.00",
            "avgPrice": _plain(price),
            "origQty": text,
            "executedQty": _plain(qty),
            "cumQty": _plain(qty),
            "cumQuote": _plain(qty * price),
            "timeInForce": "GTC",
            "type": "MARKET",
            "reduceOnly": reduce_only,
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
        self.executions.append(Execution("futures", symbol, side, qty, client_id, position_side, reduce_only))
        if params.get("newOrderRespType", "ACK") == "ACK":
            # ACK answers before the match: the order is NEW and nothing is reported executed yet.
            return order | {"status": "NEW", "executedQty": "0", "cumQty": "0", "cumQuote": "0", "avgPrice": "0.00"}
        return dict(order)


def iter_lines(requests: list[LoggedRequest]) -> Iterator[str]:
    """The request log as text, for failure messages."""
    for r in requests:
        yield f"{r.at:.3f} {r.method} {r.path} {r.params} → {r.status} {r.code or ''}"
