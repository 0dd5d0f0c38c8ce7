"""A fake Kraken: one real HTTP server on 127.0.0.1 speaking both of Kraken's REST dialects.

Spot (`/0/public/*`, `/0/private/*`; docs.kraken.com/api/docs/rest-api): every answer is HTTP 200 with
`{"error": [...], "result": ...}`. Private requests are checked as Kraken documents them ("Spot REST
Authentication"): the `API-Key` header names a key, `API-Sign` must be base64(HMAC-SHA512(base64-decoded
private key, URI path + SHA-256(nonce + POST body))), the form body's `nonce` must exceed the key's last
one, a key with a two-factor password needs `otp` (missing: `EGeneral:Permission denied`, wrong:
`EAPI:Invalid signature`, as users of keys with 2FA report it: nothing-is-dead/npm-kraken-api#61,
veox/python3-krakenex#50), and the key must hold the endpoint's permission.
- Assets / AssetPairs with Kraken's asset keys (`XXBT`, `XETH`, `ZUSD`, `SOL`) and pair keys (`XXBTZUSD`,
  altname `XBTUSD`); field names and values as in the API reference and ccxt's static Kraken fixtures.
- Balance and BalanceEx with the same keys, including earn (`.F`) and staked (`.S`) balances.
- AddOrder (market only): ordermin, costmin, lot_decimals, the pair's status, the balance, the optional
  `deadline` (refused beyond 60 s, `EService:Deadline elapsed` once passed by the server's clock) and
  `validate`; the answer carries `txid` and `descr`. QueryOrders by txid, OpenOrders / ClosedOrders by
  `cl_ord_id`, order records shaped like ccxt's kraken.json fixtures.

Futures (`/derivatives/api/v3/*`, `/api/history/v2/*`; docs.kraken.com/api/docs/futures-api): `APIKey`,
`Nonce` and `Authent` = base64(HMAC-SHA512(base64-decoded private key, SHA-256(postData + Nonce +
endpoint path without "/derivatives"))), where postData is the query string followed by the form body;
refusals are `{"result": "error", "error": "authenticationError" | "nonceBelowThreshold" |
"nonceDuplicate" | "apiLimitExceeded" | ...}`. Instruments (PF_ linear perpetuals with
`contractValueTradePrecision`, and a PI_ inverse one), tickers, accounts (flex), openpositions (unsigned
size + side), sendorder (`sendStatus.status`: placed, invalidSize, insufficientAvailableFunds,
wouldNotReducePosition, wouldProcessAfterSpecifiedTime after `processBefore`, marketSuspended,
clientOrderIdAlreadyExist), orders/status by `cliOrdIds` — only orders open or finished in the last
5 seconds, as Kraken documents — and the execution history with each order's `clientId`.

Faults per request (`inject`): a Spot error list or a Futures error code instead of handling, an HTTP
status, a delay, or carrying the request out and then stalling or dropping the connection (an order is
placed and the client times out). Every request is logged without its signature and without `otp`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.http import VenueHttpHandler, VenueHttpServer
from tests.secrets import TEST_SECRETS

D = Decimal
ZERO = D(0)
Json = Any
SPOT_PERMISSIONS = frozenset({"funds", "open_orders", "closed_orders", "trade"})
FUTURES_BASE_PATH = "/derivatives"


# --- signing (what Kraken documents; the fake's tests check these against the documented example) -----


def spot_sign(secret: str, uri_path: str, nonce: str, post_data: str) -> str:
    digest = hashlib.sha256((nonce + post_data).encode()).digest()
    mac = hmac.new(base64.b64decode(secret), uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def futures_sign(secret: str, endpoint_path: str, nonce: str, post_data: str) -> str:
    path = endpoint_path.removeprefix(FUTURES_BASE_PATH)
    digest = hashlib.sha256((post_data + nonce + path).encode()).digest()
    mac = hmac.new(base64.b64decode(secret), digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


# --- reference data ----------------------------------------------------------------------------------


def _asset(altname: str, decimals: int = 10) -> Json:
    return {"aclass": "currency", "altname": altname, "decimals": decimals, "display_decimals": 5, "status": "enabled"}


ASSETS: dict[str, Json] = {
    "XXBT": _asset("XBT"),
    "XETH": _asset("ETH"),
    "SOL": _asset("SOL"),
    "ZUSD": _asset("USD", 4),
    "ZEUR": _asset("EUR", 4),
    "USDT": _asset("USDT", 8),
    "XBT.F": _asset("XBT.F"),
    "ETH.S": _asset("ETH.S"),
}


def _pair(alt: str, ws: str, base: str, quote: str, lot: int, ordermin: str, costmin: str, tick: str) -> Json:
    return {
        "altname": alt,
        "wsname": ws,
        "aclass_base": "currency",
        "base": base,
        "aclass_quote": "currency",
        "quote": quote,
        "lot": "unit",
        "cost_decimals": 5,
        "pair_decimals": max(-D(tick).as_tuple().exponent, 0),  # type: ignore[operator]
        "lot_decimals": lot,
        "lot_multiplier": 1,
        "leverage_buy": [2, 3, 4, 5],
        "leverage_sell": [2, 3, 4, 5],
        "fees": [[0, 0.4], [10000, 0.35]],
        "fees_maker": [[0, 0.25], [10000, 0.2]],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": ordermin,
        "costmin": costmin,
        "tick_size": tick,
        "status": "online",
        "long_position_limit": 270,
        "short_position_limit": 180,
    }


PAIRS: dict[str, Json] = {
    "XXBTZUSD": _pair("XBTUSD", "XBT/USD", "XXBT", "ZUSD", 8, "0.00005", "0.5", "0.1"),
    "XETHZUSD": _pair("ETHUSD", "ETH/USD", "XETH", "ZUSD", 8, "0.002", "0.5", "0.01"),
    "SOLUSD": _pair("SOLUSD", "SOL/USD", "SOL", "ZUSD", 8, "0.02", "0.5", "0.01"),
    "XETHXXBT": _pair("ETHXBT", "ETH/XBT", "XETH", "XXBT", 8, "0.002", "0.00002", "0.00001"),
    "XXBTZEUR": _pair("XBTEUR", "XBT/EUR", "XXBT", "ZEUR", 8, "0.00005", "0.5", "0.1"),
}
SPOT_PRICES = {"XBTUSD": D(60000), "ETHUSD": D(3000), "SOLUSD": D(150), "ETHXBT": D("0.05"), "XBTEUR": D(55000)}


def _instrument(symbol: str, precision: int, tick: str, tradeable: bool = True) -> Json:
    return {
        "symbol": symbol,
        "type": "flexible_futures",
        "tradeable": tradeable,
        "tickSize": float(tick),
        "contractSize": 1,
        "impactMidSize": 1,
        "maxPositionSize": 1000000,
        "openingDate": "2022-01-01T00:00:00.000Z",
        "marginLevels": [{"numNonContractUnits": 0, "initialMargin": 0.02, "maintenanceMargin": 0.01}],
        "fundingRateCoefficient": 8,
        "maxRelativeFundingRate": 0.001,
        "contractValueTradePrecision": precision,
        "postOnly": False,
        "feeScheduleUid": "5b755fea-c5b0-4307-a66e-b392cd5bd931",
        "mtf": False,
        "base": symbol[3:-3],
        "quote": "USD",
        "pair": f"{symbol[3:-3]}:USD",
        "category": "Layer 1",
        "tags": [],
        "tradfi": False,
    }


INSTRUMENTS: list[Json] = [
    _instrument("PF_XBTUSD", 4, "1"),
    _instrument("PF_ETHUSD", 3, "0.1"),
    _instrument("PF_SOLUSD", 2, "0.01"),
    {  # an inverse contract, sized in USD: not the copier's
        "symbol": "PI_XBTUSD",
        "type": "futures_inverse",
        "underlying": "rr_xbtusd",
        "tickSize": 0.5,
        "contractSize": 1,
        "tradeable": True,
        "impactMidSize": 1,
        "maxPositionSize": 1000000,
        "openingDate": "2018-08-31T00:00:00.000Z",
        "marginLevels": [{"contracts": 0, "initialMargin": 0.02, "maintenanceMargin": 0.01}],
        "fundingRateCoefficient": 8,
        "maxRelativeFundingRate": 0.001,
        "isin": "GB00J62YGL67",
        "contractValueTradePrecision": 0,
        "postOnly": False,
        "feeScheduleUid": "eef90775-995b-4596-9257-0917f6134766",
        "retailMarginLevels": [],
        "category": "",
        "tags": [],
    },
]
FUTURES_PRICES = {"PF_XBTUSD": D(60000), "PF_ETHUSD": D(3000), "PF_SOLUSD": D(150), "PI_XBTUSD": D(60000)}


# --- faults, logs ------------------------------------------------------------------------------------


@dataclass
class Fault:
    """What one matching request gets instead of (or after) normal handling."""

    errors: list[str] | None = None  # Spot: answer {"error": errors}
    futures_error: str | None = None  # Futures: answer {"result": "error", "error": futures_error}
    status: int = 0  # answer with this HTTP status (and a proxy's HTML page unless errors/futures_error say)
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
    params: dict[str, str]  # query and body, without `otp`
    api_key_ok: bool
    nonce: int | None = None
    otp_sent: bool = False
    status: int = 0  # -1: no answer (connection stalled or dropped)
    error: str = ""  # Kraken's error string or code, when refused
    answered_at: float = 0.0


@dataclass(frozen=True)
class Execution:
    market: str  # "spot" or "futures"
    symbol: str
    side: str
    qty: Decimal
    client_id: str
    reduce_only: bool = False


@dataclass
class ApiKey:
    secret: str
    otp: str = ""
    permissions: frozenset[str] = SPOT_PERMISSIONS
    last_nonce: int = 0
    #: Kraken's per-key "nonce window": a nonce up to this much below the highest one is still accepted once.
    nonce_window: int = 0
    seen: set[int] = field(default_factory=set)

    def take_nonce(self, nonce: int) -> bool:
        if nonce in self.seen or nonce <= self.last_nonce - self.nonce_window:
            return False
        self.seen.add(nonce)
        self.last_nonce = max(self.last_nonce, nonce)
        return True


class KrakenError(Exception):
    """A refusal in the dialect of the endpoint: Spot error strings or a Futures error code."""

    def __init__(self, error: str, status: int = 200) -> None:
        super().__init__(error)
        self.error, self.status = error, status


class SendRefused(Exception):
    """A Futures order that got a `sendStatus.status` other than placed."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}" if value != value.to_integral_value() else f"{value.quantize(D(1)):f}"


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1].rstrip("0")) if "." in text else 0


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch * 1000) % 1000:03d}Z"


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _true(text: str | None) -> bool:
    return (text or "").lower() in ("true", "1")


# --- the server --------------------------------------------------------------------------------------


class _Server(VenueHttpServer):
    fake: FakeKraken


class _Handler(VenueHttpHandler):
    server: _Server

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        futures = not parts.path.startswith("/0/")
        entry = fake._log(method, parts.path, parts.query, body, self.headers, futures)
        fault = fake._take_fault(method, parts.path)
        if fault is not None and fault.delay:
            fake._released.wait(fault.delay)
        if fault is not None and fault.hold is not None:
            fault.hold.wait(30)
        try:
            if fault is not None and fault.drop and not fault.execute:
                self._drop(entry)
                return
            if fault is not None and not fault.execute and (fault.errors or fault.futures_error or fault.status):
                raise fake._fault_error(fault)
            status, payload = fake._dispatch(method, parts.path, parts.query, body, self.headers, entry)
            if fault is not None and fault.execute:
                if fault.stall:
                    entry.status = -1  # logged now: no answer will come
                    fake._released.wait(fault.stall)
                if fault.stall or fault.drop:
                    self._drop(entry)
                    return
                if fault.errors or fault.futures_error or fault.status:
                    raise fake._fault_error(fault)
        except KrakenError as e:
            entry.error = e.error
            status, payload = e.status, fake._refusal(futures, e.error)
        if payload is None:  # a proxy's page, not Kraken's JSON
            data = b"<html><body>520: Web server is returning an unknown error</body></html>"
            content_type = "text/html"
        else:
            data = json.dumps(payload).encode()
            content_type = "application/json"
        entry.status = status
        entry.answered_at = time.monotonic()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self, entry: LoggedRequest) -> None:
        entry.status = -1
        entry.answered_at = time.monotonic()
        self.close_connection = True


class FakeKraken:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock_offset = 0.0  # seconds the server's clock runs ahead of this computer's
        self.keys: dict[str, ApiKey] = {
            TEST_SECRETS["kraken_api_key"]: ApiKey(TEST_SECRETS["kraken_secret_key"]),
        }
        self.futures_keys: dict[str, ApiKey] = {
            TEST_SECRETS["kraken_api_key"]: ApiKey(TEST_SECRETS["kraken_secret_key"]),
        }
        self.assets: dict[str, Json] = copy.deepcopy(ASSETS)
        self.pairs: dict[str, Json] = copy.deepcopy(PAIRS)
        self.spot_prices: dict[str, Decimal] = dict(SPOT_PRICES)
        self.balances: dict[str, Decimal] = {"ZUSD": D(100_000)}
        self.taker_fee = D("0.0025")  # charged in the quote currency, as Kraken does by default for spot (fciq)
        self.instruments: list[Json] = copy.deepcopy(INSTRUMENTS)
        self.futures_prices: dict[str, Decimal] = dict(FUTURES_PRICES)
        self.futures_positions: dict[str, Decimal] = {}  # symbol → signed size
        self.collateral = D(100_000)  # USD in the flex account
        self.leverage = D(10)
        self.requests: list[LoggedRequest] = []
        self.executions: list[Execution] = []
        self.spot_orders: dict[str, Json] = {}  # txid → Kraken's order record
        self.futures_orders: list[Json] = []  # {"order": ..., "status": ..., "updated": epoch}
        self.futures_history: list[Json] = []  # execution history elements, oldest first
        self._faults: list[tuple[str, str, Fault]] = []
        self._ids = itertools.count(100_000)
        self._released = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-kraken", daemon=True
        )

    # --- life cycle -----------------------------------------------------------------------------------

    def start(self) -> FakeKraken:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()  # stalled and delayed answers end now
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()

    def __enter__(self) -> FakeKraken:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- test controls --------------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.clock_offset

    def inject(self, method: str, path: str, fault: Fault, times: int = 1) -> None:
        """The next `times` requests to METHOD path get `fault`."""
        with self.lock:
            self._faults.extend((method.upper(), path, fault) for _ in range(times))

    def set_balance(self, asset_key: str, amount: Decimal | str) -> None:
        with self.lock:
            self.balances[asset_key] = D(amount)

    def balance(self, asset_key: str) -> Decimal:
        with self.lock:
            return self.balances.get(asset_key, ZERO)

    def set_pair(self, key: str, **fields: object) -> None:
        """Change a pair's rules, as Kraken does now and then (a running sidecar's copy goes stale)."""
        with self.lock:
            self.pairs[key].update(fields)

    def set_instrument(self, symbol: str, **fields: object) -> None:
        with self.lock:
            next(i for i in self.instruments if i["symbol"] == symbol).update(fields)

    def set_position(self, symbol: str, size: Decimal | str) -> None:
        """A Futures position changed behind the copier's back (signed: short is negative)."""
        with self.lock:
            self.futures_positions[symbol] = D(size)

    def position(self, symbol: str) -> Decimal:
        with self.lock:
            return self.futures_positions.get(symbol, ZERO)

    def requests_to(self, method: str, path: str) -> list[LoggedRequest]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def executions_of(self, client_id: str) -> list[Execution]:
        with self.lock:
            return [e for e in self.executions if e.client_id == client_id]

    def nonces(self) -> list[int]:
        """Every nonce received with a valid key, in arrival order."""
        with self.lock:
            return [r.nonce for r in self.requests if r.nonce is not None and r.api_key_ok]

    # --- request handling -----------------------------------------------------------------------------

    def _log(self, method: str, path: str, query: str, body: str, headers: Any, futures: bool) -> LoggedRequest:
        fields = parse_qsl(query, keep_blank_values=True) + parse_qsl(body, keep_blank_values=True)
        params = {k: v for k, v in fields if k != "otp"}
        key = headers.get("APIKey") if futures else headers.get("API-Key")
        keys = self.futures_keys if futures else self.keys
        raw_nonce = headers.get("Nonce") if futures else params.get("nonce")
        nonce = int(raw_nonce) if raw_nonce and raw_nonce.isdigit() else None
        otp_sent = any(k == "otp" for k, _ in fields)
        entry = LoggedRequest(time.monotonic(), method, path, params, key in keys, nonce, otp_sent)
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

    @staticmethod
    def _fault_error(fault: Fault) -> KrakenError:
        if fault.errors:
            return KrakenError("\n".join(fault.errors), fault.status or 200)
        if fault.futures_error:
            return KrakenError(fault.futures_error, fault.status or 200)
        return KrakenError("", fault.status)

    def _refusal(self, futures: bool, error: str) -> Json:
        if not error:
            return None
        if futures:
            return {"result": "error", "error": error, "serverTime": _iso(self.now())}
        return {"error": error.split("\n")}

    def _dispatch(
        self, method: str, path: str, query: str, body: str, headers: Any, entry: LoggedRequest
    ) -> tuple[int, Json]:
        params = dict(parse_qsl(query, keep_blank_values=True) + parse_qsl(body, keep_blank_values=True))
        if path.startswith("/0/"):
            return 200, {"error": [], "result": self._spot(method, path, params, body, headers)}
        route = self._futures_routes().get((method, path))
        if route is None:
            raise KrakenError("notFound", 404)
        handler, private = route
        if private:
            self._futures_authenticate(path, query, body, headers)
        with self.lock:
            try:
                payload = handler(params)
            except SendRefused as refused:
                payload = {"sendStatus": {"status": refused.status, "receivedTime": _iso(self.now())}}
        return 200, {"result": "success", **payload, "serverTime": _iso(self.now())}

    # --- Spot ---------------------------------------------------------------------------------------------

    def _spot(self, method: str, path: str, params: dict[str, str], body: str, headers: Any) -> Json:
        public = {
            "/0/public/Time": self._time,
            "/0/public/Assets": lambda p: copy.deepcopy(self.assets),
            "/0/public/AssetPairs": lambda p: copy.deepcopy(self.pairs),
            "/0/public/Ticker": self._ticker,
        }
        private = {
            "/0/private/Balance": ("funds", self._balance),
            "/0/private/BalanceEx": ("funds", self._balance_ex),
            "/0/private/AddOrder": ("trade", self._add_order),
            "/0/private/QueryOrders": ("closed_orders", self._query_orders),
            "/0/private/OpenOrders": ("open_orders", self._open_orders),
            "/0/private/ClosedOrders": ("closed_orders", self._closed_orders),
        }
        if path in public:
            with self.lock:
                return public[path](params)
        if path not in private:
            raise KrakenError("EGeneral:Unknown method", 404)
        if method != "POST":
            raise KrakenError("EGeneral:Invalid arguments")
        permission, handler = private[path]
        self._spot_authenticate(path, params, body, headers, permission)
        with self.lock:
            return handler(params)

    def _spot_authenticate(self, path: str, params: dict[str, str], body: str, headers: Any, permission: str) -> None:
        key = self.keys.get(headers.get("API-Key") or "")
        if key is None:
            raise KrakenError("EAPI:Invalid key")
        nonce = params.get("nonce", "")
        if not nonce.isdigit():
            raise KrakenError("EAPI:Invalid nonce")
        expected = spot_sign(key.secret, path, nonce, body)
        if not hmac.compare_digest(expected, headers.get("API-Sign") or ""):
            raise KrakenError("EAPI:Invalid signature")
        with self.lock:
            if not key.take_nonce(int(nonce)):
                raise KrakenError("EAPI:Invalid nonce")
        if key.otp and "otp" not in params:
            raise KrakenError("EGeneral:Permission denied")
        if key.otp and not hmac.compare_digest(key.otp, params["otp"]):
            raise KrakenError("EAPI:Invalid signature")
        if permission not in key.permissions:
            raise KrakenError("EGeneral:Permission denied")

    def _time(self, params: dict[str, str]) -> Json:
        now = self.now()
        return {"unixtime": int(now), "rfc1123": formatdate(now, usegmt=True)}

    def _pair_of(self, name: str) -> tuple[str, Json]:
        for key, info in self.pairs.items():
            if name in (key, info["altname"]):
                return key, info
        raise KrakenError("EQuery:Unknown asset pair")

    def _ticker(self, params: dict[str, str]) -> Json:
        names = params["pair"].split(",") if params.get("pair") else [p["altname"] for p in self.pairs.values()]
        out = {}
        for name in names:
            key, info = self._pair_of(name)
            price = _plain(self.spot_prices[info["altname"]])
            out[key] = {
                "a": [price, "1", "1.000"],
                "b": [price, "1", "1.000"],
                "c": [price, "0.00100000"],
                "v": ["100.0", "1000.0"],
                "p": [price, price],
                "t": [100, 1000],
                "l": [price, price],
                "h": [price, price],
                "o": price,
            }
        return out

    def _balance(self, params: dict[str, str]) -> Json:
        return {k: f"{v:.10f}" if k[0] == "X" else f"{v:.4f}" for k, v in sorted(self.balances.items())}

    def _balance_ex(self, params: dict[str, str]) -> Json:
        return {k: {"balance": f"{v:.10f}", "hold_trade": "0.0000000000"} for k, v in sorted(self.balances.items())}

    def _order_request(self, params: dict[str, str]) -> tuple[Json, str, Decimal]:
        """The pair, side and size of an AddOrder, checked as Kraken checks them before it matches anything."""
        _, info = self._pair_of(params.get("pair", ""))
        if info["status"] != "online":
            if info["status"] in ("cancel_only", "post_only", "limit_only"):
                raise KrakenError(f"EService:Market in {info['status']} mode")
            raise KrakenError("EQuery:Unknown asset pair")
        if params.get("ordertype") != "market":
            raise KrakenError("EGeneral:Invalid arguments:ordertype")
        side = params.get("type", "")
        if side not in ("buy", "sell"):
            raise KrakenError("EGeneral:Invalid arguments:type")
        text = params.get("volume", "")
        try:
            qty = D(text)
        except InvalidOperation:
            raise KrakenError("EGeneral:Invalid arguments:volume") from None
        if qty <= 0 or _decimals(text) > info["lot_decimals"]:
            raise KrakenError("EGeneral:Invalid arguments:volume")
        client_id = params.get("cl_ord_id", "")
        if client_id and len(client_id) > 18 and len(client_id.replace("-", "")) != 32:
            raise KrakenError("EGeneral:Invalid arguments:cl_ord_id")
        if "deadline" in params:
            self._check_deadline(params["deadline"])
        if qty < D(info["ordermin"]):
            raise KrakenError("EOrder:Order minimum not met")
        if qty * self.spot_prices[info["altname"]] < D(info["costmin"]):
            raise KrakenError("EOrder:Cost minimum not met")
        return info, side, qty

    def _check_deadline(self, text: str) -> None:
        """docs: an RFC3339 timestamp at most 60 s ahead; once it has passed, the engine rejects the order."""
        deadline = _parse_time(text)
        if deadline > self.now() + 60:
            raise KrakenError("EGeneral:Invalid arguments:deadline")
        if self.now() > deadline:
            raise KrakenError("EService:Deadline elapsed")

    def _add_order(self, params: dict[str, str]) -> Json:
        info, side, qty = self._order_request(params)
        client_id = params.get("cl_ord_id", "")
        price = self.spot_prices[info["altname"]]
        cost = qty * price
        description = {"order": f"{side} {qty:.8f} {info['altname']} @ market"}
        if _true(params.get("validate")):
            return {"descr": description}  # validated only: no txid, nothing placed
        # docs (AddOrder oflags): fcib = fee in base currency, the default when selling; fciq = fee in quote
        # currency, the default when buying.
        flags = params.get("oflags", "").split(",")
        in_base = "fcib" in flags or ("fciq" not in flags and side == "sell")
        fee = (cost * self.taker_fee).quantize(D("0.00001"))
        base_fee = (qty * self.taker_fee).quantize(D("0.00000001")) if in_base else ZERO
        quote_fee = ZERO if in_base else fee
        base, quote = info["base"], info["quote"]
        if side == "buy":
            if self.balances.get(quote, ZERO) < cost + quote_fee:
                raise KrakenError("EOrder:Insufficient funds")
            self.balances[quote] = self.balances.get(quote, ZERO) - cost - quote_fee
            self.balances[base] = self.balances.get(base, ZERO) + qty - base_fee
        else:
            if self.balances.get(base, ZERO) < qty + base_fee:
                raise KrakenError("EOrder:Insufficient funds")
            self.balances[base] = self.balances.get(base, ZERO) - qty - base_fee
            self.balances[quote] = self.balances.get(quote, ZERO) + cost - quote_fee
        txid = self._txid("O")
        now = self.now()
        self.spot_orders[txid] = {
            "refid": None,
            "userref": 0,
            "cl_ord_id": client_id or None,
            "status": "closed",
            "opentm": now,
            "starttm": 0,
            "expiretm": 0,
            "descr": {
                "pair": info["altname"],
                "type": side,
                "ordertype": "market",
                "price": "0",
                "price2": "0",
                "leverage": "none",
                "order": description["order"],
                "close": "",
            },
            "vol": f"{qty:.8f}",
            "vol_exec": f"{qty:.8f}",
            "cost": f"{cost:.5f}",
            "fee": f"{base_fee:.8f}" if in_base else f"{fee:.5f}",
            "price": _plain(price),
            "stopprice": "0.00000",
            "limitprice": "0.00000",
            "misc": "",
            "oflags": ",".join(f for f in flags if f) or ("fcib" if in_base else "fciq"),
            "trades": [self._txid("T")],
            "reason": None,
            "closetm": now,
        }
        self.executions.append(Execution("spot", info["altname"], side, qty, client_id))
        return {"descr": description, "txid": [txid]}

    def _txid(self, prefix: str) -> str:
        n = next(self._ids)
        return f"{prefix}{n:05d}-A{n % 9973:04d}-{n * 7 % 999983:06d}"

    def _query_orders(self, params: dict[str, str]) -> Json:
        out = {}
        for txid in params.get("txid", "").split(","):
            if txid not in self.spot_orders:
                raise KrakenError("EOrder:Invalid order")
            out[txid] = copy.deepcopy(self.spot_orders[txid])
        return out

    def _matching(self, params: dict[str, str], open_ones: bool) -> dict[str, Json]:
        wanted = params.get("cl_ord_id")
        return {
            txid: copy.deepcopy(order)
            for txid, order in reversed(self.spot_orders.items())
            if (order["status"] in ("pending", "open")) == open_ones
            and (wanted is None or order["cl_ord_id"] == wanted)
        }

    def _open_orders(self, params: dict[str, str]) -> Json:
        return {"open": self._matching(params, True)}

    def _closed_orders(self, params: dict[str, str]) -> Json:
        closed = self._matching(params, False)
        return {"closed": dict(itertools.islice(closed.items(), 50)), "count": len(closed)}

    # --- Futures ----------------------------------------------------------------------------------------

    def _futures_routes(self) -> dict[tuple[str, str], tuple[Any, bool]]:
        v3 = "/derivatives/api/v3"
        return {
            ("GET", f"{v3}/instruments"): (lambda p: {"instruments": copy.deepcopy(self.instruments)}, False),
            ("GET", f"{v3}/tickers"): (self._tickers, False),
            ("GET", f"{v3}/accounts"): (self._accounts, True),
            ("GET", f"{v3}/openpositions"): (self._open_positions, True),
            ("POST", f"{v3}/sendorder"): (self._send_order, True),
            ("POST", f"{v3}/orders/status"): (self._orders_status, True),
            ("GET", "/api/history/v2/executions"): (self._executions, True),
        }

    def _futures_authenticate(self, path: str, query: str, body: str, headers: Any) -> None:
        key = self.futures_keys.get(headers.get("APIKey") or "")
        nonce = headers.get("Nonce") or ""
        if key is None or not nonce:
            raise KrakenError("authenticationError")
        expected = futures_sign(key.secret, path, nonce, query + body)
        if not hmac.compare_digest(expected, headers.get("Authent") or ""):
            raise KrakenError("authenticationError")
        with self.lock:
            if not nonce.isdigit() or int(nonce) < key.last_nonce:
                raise KrakenError("nonceBelowThreshold")
            if int(nonce) == key.last_nonce:
                raise KrakenError("nonceDuplicate")
            key.last_nonce = int(nonce)

    def _tickers(self, params: dict[str, str]) -> Json:
        return {
            "tickers": [
                {
                    "tag": "perpetual",
                    "pair": f"{symbol[3:-3]}:USD",
                    "symbol": symbol,
                    "markPrice": float(price),
                    "bid": float(price),
                    "ask": float(price),
                    "last": float(price),
                    "vol24h": 1000,
                    "suspended": False,
                    "postOnly": False,
                    "fundingRate": 0.0,
                }
                for symbol, price in sorted(self.futures_prices.items())
            ]
        }

    def _used_margin(self) -> Decimal:
        return sum((abs(q) * self.futures_prices[s] / self.leverage for s, q in self.futures_positions.items()), ZERO)

    def _accounts(self, params: dict[str, str]) -> Json:
        available = self.collateral - self._used_margin()
        return {
            "accounts": {
                "cash": {"type": "cashAccount", "balances": {"xbt": 0.0, "usd": 0.0}},
                "flex": {
                    "type": "multiCollateralMarginAccount",
                    "currencies": {
                        "USD": {
                            "quantity": float(self.collateral),
                            "value": float(self.collateral),
                            "collateral": float(self.collateral),
                            "available": float(available),
                        }
                    },
                    "initialMargin": float(self._used_margin()),
                    "availableMargin": float(available),
                    "balanceValue": float(self.collateral),
                    "portfolioValue": float(self.collateral),
                    "collateralValue": float(self.collateral),
                },
            }
        }

    def _open_positions(self, params: dict[str, str]) -> Json:
        return {
            "openPositions": [
                {
                    "side": "long" if size > 0 else "short",
                    "symbol": symbol,
                    "price": float(self.futures_prices[symbol]),
                    "fillTime": _iso(self.now()),
                    "size": float(abs(size)),
                    "unrealizedFunding": 0.0,
                }
                for symbol, size in sorted(self.futures_positions.items())
                if size != 0
            ]
        }

    def _send_order(self, params: dict[str, str]) -> Json:
        symbol = params.get("symbol", "").upper()
        info = next((i for i in self.instruments if i["symbol"] == symbol), None)
        if info is None:
            raise KrakenError("invalidArgument")
        side = params.get("side", "")
        if side not in ("buy", "sell") or params.get("orderType") != "mkt":
            raise SendRefused("invalidOrderType" if side in ("buy", "sell") else "invalidSide")
        client_id = params.get("cliOrdId", "")
        if len(client_id) > 100:
            raise SendRefused("clientOrderIdTooLong")
        if client_id and any(
            o["order"]["cliOrdId"] == client_id and o["status"] == "ENTERED_BOOK" for o in self.futures_orders
        ):
            raise SendRefused("clientOrderIdAlreadyExist")
        if "processBefore" in params and self.now() > _parse_time(params["processBefore"]):
            raise SendRefused("wouldProcessAfterSpecifiedTime")
        if not info["tradeable"]:
            raise SendRefused("marketSuspended")
        text = params.get("size", "")
        try:
            size = D(text)
        except InvalidOperation:
            raise SendRefused("invalidSize") from None
        if size <= 0 or _decimals(text) > info["contractValueTradePrecision"]:
            raise SendRefused("invalidSize")
        current = self.futures_positions.get(symbol, ZERO)
        delta = size if side == "buy" else -size
        reduce_only = _true(params.get("reduceOnly"))
        if reduce_only:
            if current == 0 or (current > 0) == (delta > 0):
                raise SendRefused("wouldNotReducePosition")
            size = min(size, abs(current))
            delta = size if side == "buy" else -size
        price = self.futures_prices[symbol]
        added = abs(current + delta) - abs(current)
        if added > 0 and added * price / self.leverage > self.collateral - self._used_margin():
            raise SendRefused("insufficientAvailableFunds")
        self.futures_positions[symbol] = current + delta
        now = self.now()
        order_id = f"{next(self._ids):08x}-7cf7-4dfc-8963-3b766d8150de"
        order = {
            "orderId": order_id,
            "cliOrdId": client_id or None,
            "type": "mkt",
            "symbol": symbol,
            "side": side,
            "quantity": float(size),
            "filled": float(size),
            "limitPrice": float(price),
            "reduceOnly": reduce_only,
            "timestamp": _iso(now),
            "lastUpdateTimestamp": _iso(now),
        }
        self.futures_orders.append({"order": order, "status": "FULLY_EXECUTED", "updated": now})
        execution_id = f"{next(self._ids):08x}-1b73-4467-8c3c-74539c7ae677"
        self.futures_history.append(
            {
                "uid": execution_id,
                "timestamp": int(now * 1000),
                "event": {
                    "execution": {
                        "execution": {
                            "uid": execution_id,
                            "takerOrder": {
                                "uid": order_id,
                                "accountUid": "f7d5571c-6d10-4cf1-944a-048d25682ed0",
                                "tradeable": symbol,
                                "direction": "Buy" if side == "buy" else "Sell",
                                "quantity": _plain(size),
                                "filled": _plain(size),
                                "timestamp": int(now * 1000),
                                "limitPrice": _plain(price),
                                "orderType": "IoC",
                                "clientId": client_id,
                                "reduceOnly": reduce_only,
                                "lastUpdateTimestamp": int(now * 1000),
                            },
                            "timestamp": int(now * 1000),
                            "quantity": _plain(size),
                            "price": _plain(price),
                            "markPrice": _plain(price),
                            "limitFilled": False,
                            "usdValue": _plain(size * price),
                        },
                        "takerReducedQuantity": "",
                    }
                },
            }
        )
        self.executions.append(Execution("futures", symbol, side, size, client_id, reduce_only))
        prior = {key: order[key] for key in ("orderId", "cliOrdId", "type", "symbol", "side", "quantity")}
        prior |= {"filled": 0, "limitPrice": float(price), "reduceOnly": reduce_only, "timestamp": _iso(now)}
        return {
            "sendStatus": {
                "order_id": order_id,
                "status": "placed",
                "receivedTime": _iso(now),
                "orderEvents": [
                    {
                        "executionId": execution_id,
                        "price": float(price),
                        "amount": float(size),
                        "orderPriorEdit": None,
                        "orderPriorExecution": prior | {"lastUpdateTimestamp": _iso(now)},
                        "takerReducedQuantity": None,
                        "type": "EXECUTION",
                    }
                ],
            }
        }

    def _orders_status(self, params: dict[str, str]) -> Json:
        wanted = set(params.get("cliOrdIds", "").split(",")) if params.get("cliOrdIds") else set()
        now = self.now()
        orders = [
            {"order": copy.deepcopy(o["order"]), "status": o["status"], "updateReason": None, "error": None}
            for o in self.futures_orders
            if o["order"]["cliOrdId"] in wanted and (o["status"] == "ENTERED_BOOK" or now - o["updated"] <= 5)
        ]
        return {"orders": orders}

    def _executions(self, params: dict[str, str]) -> Json:
        since = int(params["since"]) if params.get("since", "").isdigit() else 0
        before = int(params["before"]) if params.get("before", "").isdigit() else None
        tradeable = params.get("tradeable")
        elements = [
            copy.deepcopy(e)
            for e in self.futures_history
            if e["timestamp"] >= since
            and (before is None or e["timestamp"] < before)
            and (tradeable is None or e["event"]["execution"]["execution"]["takerOrder"]["tradeable"] == tradeable)
        ]
        if params.get("sort", "desc") == "desc":
            elements.reverse()
        return {"accountUid": "f7d5571c-6d10-4cf1-944a-048d25682ed0", "len": len(elements), "elements": elements}


def iter_lines(requests: list[LoggedRequest]) -> Iterator[str]:
    """The request log as text, for failure messages (it holds no secret: no signature, no otp)."""
    for r in requests:
        shown = {k: v for k, v in r.params.items() if k != "nonce"}
        yield f"{r.at:.3f} {r.method} {r.path} {shown} → {r.status} {r.error}"

