"""Kraken Spot and Futures through python-kraken-sdk's synchronous base clients.

Why `SpotClient` / `FuturesClient` with `use_custom_exceptions=False` rather than the SDK's Trade/User/Market
helpers: the SDK signs, encodes and sends, and this adapter reads every answer itself. The helpers would
get in the way of that (reference: kucoin-kraken.md §2, checked against the SDK's source):
- unknown Spot errors come back as a plain `{"error": [...]}` dict, Futures refusals as `result` /
  `sendStatus.status` values, non-200 answers as a bare `Exception("520 - <body>")`;
- `Trade.create_order` always sends `validate=False`, `reduce_only=False` and `stptype`, booleans as the
  strings "False"/"True" (Kraken has treated any `validate` value as validate-only); the Futures helper
  drops `extra_params` whenever it has parameters of its own;
- `Market.get_assets` / `get_asset_pairs` are `lru_cache`d, so rules could never be re-read (and a cached
  error dict would stick).
With raw answers the adapter sees the HTTP status and headers too (for `log_headers`).

The SDK's calls block, so they run in a worker thread; one lock serialises them, and Kraken's nonces must
arrive in order anyway. Nonces come from `NonceSource` (nonce.py), not from the SDK's clock.

Unknown outcomes: every Spot order carries a `deadline` and every Futures order a `processBefore`, both
`order_deadline_s` ahead by Kraken's clock. An order whose answer was lost is looked up by client id (Spot:
open and closed orders by `cl_ord_id`; Futures: order status by `cliOrdIds`, then the execution history,
because order status covers only orders open or finished in the last 5 seconds), and reported absent only
once Kraken's clock has passed its deadline, after which Kraken can no longer execute it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import requests
from kraken.base_api import FuturesClient, SpotClient

from sidecar import paths
from sidecar.config import KrakenSettings
from sidecar.decimals import ZERO, dec, plain
from sidecar.errors import ConfigError, OrderRejected, OutcomeUnknown, VenueError, VenueUnavailable
from sidecar.logs import MASK, REDACT
from sidecar.model import (
    AccountSummary,
    Instrument,
    Leg,
    LegKey,
    OrderRequest,
    OrderResult,
    OrderState,
    PositionMode,
    VenuePosition,
)
from sidecar.venues import spot
from sidecar.venues.base import VenueAdapter
from sidecar.venues.kraken.errors import (
    FUTURES_NONCE,
    NONCE,
    classify_futures,
    classify_http,
    classify_send_status,
    classify_spot,
    classify_transport,
    spot_errors,
)
from sidecar.venues.kraken.nonce import NonceSource, nonce_file
from sidecar.venues.kraken.rules import (
    FUTURES_PREFIX,
    KRAKEN_NAMES,
    AssetNames,
    SpotPair,
    parse_asset_pairs,
    parse_futures_instruments,
)
from sidecar.venues.transport import custom_api_url

log = logging.getLogger("csmc.kraken")
T = TypeVar("T")

OFFICIAL_URLS = {"spot": "https://api.kraken.com", "futures": "https://futures.kraken.com"}
#: Kraken's free-text client order id: at most 18 characters (docs.kraken.com, guides/spot-clordid).
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,18}$")
SECRET_HEADERS = frozenset({"api-key", "api-sign", "apikey", "authent", "authorization", "cookie", "set-cookie"})
#: The longest deadline Kraken accepts: a lost order from an earlier run is absent 60 s after this run began.
MAX_DEADLINE_S = 60.0
#: How long `submit` waits for a market order Kraken accepted to close before it reports it still working.
FILL_WAIT_S = 2.0
SPOT_OPEN = frozenset({"pending", "open"})


def endpoint_url(endpoint: str, api_url: str) -> str:
    """The base URL the SDK puts its paths after ("/0/private/…", "/derivatives/api/v3/…")."""
    text = api_url.strip()
    if not text:
        return OFFICIAL_URLS[endpoint]
    parts = custom_api_url(
        "kraken", text, OFFICIAL_URLS[endpoint], "Leave it empty for Kraken's own URL (see the README, 'Kraken')."
    )
    host = (parts.hostname or "").lower()
    other = "futures" if "futures" in host else "spot" if host == "api.kraken.com" else endpoint
    if other != endpoint:
        raise ConfigError(
            f"[kraken] api_url '{text}' is a {other} URL but [kraken] endpoint is '{endpoint}'. Give the {endpoint} "
            f"URL (e.g. {OFFICIAL_URLS[endpoint]}) or change the endpoint."
        )
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def redact_headers(headers: Mapping[str, str | bytes]) -> str:
    shown = {
        k: (MASK if k.lower() in SECRET_HEADERS else v if isinstance(v, str) else v.decode("latin-1"))
        for k, v in headers.items()
    }
    return REDACT(", ".join(f"{k}: {v}" for k, v in shown.items()))


def _iso_ms(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch * 1000) % 1000:03d}Z"


def _parse_server_time(text: object) -> float | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class _SpotClient(SpotClient):
    """The SDK's Spot client with the copier's nonces; answers come back raw (`requests.Response`)."""

    def __init__(self, key: str, secret: str, url: str, nonces: NonceSource) -> None:
        super().__init__(key=key, secret=secret, url=url, use_custom_exceptions=False)
        self._nonces = nonces

    def get_nonce(self) -> str:
        return self._nonces()


class _FuturesClient(FuturesClient):
    def __init__(self, key: str, secret: str, url: str, nonces: NonceSource) -> None:
        super().__init__(key=key, secret=secret, url=url, use_custom_exceptions=False)
        self._nonces = nonces

    def get_nonce(self) -> str:
        return self._nonces()


class _NonceRefused(Exception):
    """Kraken refused a request for its nonce: nothing was done, and it may be sent once more."""

    def __init__(self, typed: VenueError) -> None:
        super().__init__(str(typed))
        self.typed = typed


class KrakenVenue(VenueAdapter):
    def __init__(self, settings: KrakenSettings, *, position_symbols: Iterable[str] = ()) -> None:
        """`position_symbols`: venue symbols named by the profile's overrides (Spot: they carry their base
        currency's balance in place of <base><quote>)."""
        super().__init__()
        self.settings = settings
        self.futures = settings.endpoint == "futures"
        self.name = "Kraken Futures" if self.futures else "Kraken Spot"
        self.url = endpoint_url(settings.endpoint, settings.api_url)
        self.host = urlsplit(self.url).netloc
        self._override_symbols = tuple(position_symbols)
        self._spot: _SpotClient | None = None
        self._fut: _FuturesClient | None = None
        self._lock = threading.Lock()
        self._instruments: dict[str, Instrument] | None = None
        self._pair_keys: dict[str, str] = {}  # XXBTZUSD → XBTUSD
        self._names = AssetNames({})
        self._asset_symbols: dict[str, str] = {}  # BTC → XBTUSD: whose position a balance is
        self._blocked_until = 0.0
        self._clock_offset = 0.0  # Kraken's clock − ours, in seconds
        self._connected_server_time: float | None = None
        self._deadlines: dict[str, float] = {}  # client id → its deadline, Kraken's epoch seconds
        self._sent_at: dict[str, float] = {}  # client id → when it was sent, Kraken's epoch seconds

    # --- clients, threads, errors ----------------------------------------------------------------------

    def _make_clients(self) -> None:
        key = self.settings.api_key.get_secret_value()
        secret = self.settings.secret_key.get_secret_value()
        if not key or not secret:
            raise ConfigError(
                "Kraken needs an API key and its private key: set api_key and secret_key in the [kraken] section of "
                "the profile (or CSMC_KRAKEN__API_KEY and CSMC_KRAKEN__SECRET_KEY). The README, 'Kraken', says how "
                "to create the key."
            )
        try:
            base64.b64decode(secret)
        except (binascii.Error, ValueError):
            raise ConfigError(
                "[kraken] secret_key is not a Kraken private key (it must be the base64 text Kraken shows once when "
                "the key is created). Copy it again, or create a new key."
            ) from None
        nonces = NonceSource(nonce_file(paths.data_dir(), key, self.settings.endpoint))
        if self.futures:
            self._fut = _FuturesClient(key, secret, self.url, nonces)
        else:
            self._spot = _SpotClient(key, secret, self.url, nonces)

    def _log_exchange(self, response: requests.Response) -> None:
        if not self.settings.log_headers:
            return
        request = response.request
        log.info(
            "HTTP %s %s → %s | request headers: %s | response headers: %s",
            request.method,
            REDACT(urlsplit(response.url).path),
            response.status_code,
            redact_headers(request.headers),
            redact_headers(response.headers),
            extra={"to_ea": False},  # for the log file: the chart would drown in it
        )

    async def _in_thread(self, call: Callable[[], T]) -> T:
        def work() -> T:
            # The lock is taken in the worker, so a cancelled await never lets two requests interleave.
            with self._lock:
                return call()

        return await asyncio.to_thread(work)

    def _check_gate(self, action: str) -> None:
        left = self._blocked_until - time.monotonic()
        if left > 0:
            raise VenueUnavailable(
                f"Kraken asked for a pause ({left:.1f} s left), so {action} waits; nothing was sent", retry_after=left
            )

    def _typed(self, typed: VenueError) -> VenueError:
        if isinstance(typed, VenueUnavailable) and typed.retry_after:
            self._blocked_until = max(self._blocked_until, time.monotonic() + typed.retry_after)
        return typed

    def _with_otp(self, params: Mapping[str, str]) -> dict[str, str]:
        out = dict(params)
        otp = self.settings.one_time_password.get_secret_value()
        if otp:
            out["otp"] = otp  # signed with the body, as Kraken asks of keys with a two-factor password
        return out

    async def _spot_call(
        self, action: str, method: str, uri: str, params: Mapping[str, str] | None = None, *, placing: bool = False
    ) -> Any:
        """One Spot REST call; the `result` of a successful answer. A refused nonce is sent once more."""
        try:
            return await self._spot_once(action, method, uri, params, placing)
        except _NonceRefused:
            log.info("Kraken refused a nonce while %s: sending it once more with a new one", action)
        try:
            return await self._spot_once(action, method, uri, params, placing)
        except _NonceRefused as e:
            raise e.typed from None

    async def _spot_once(
        self, action: str, method: str, uri: str, params: Mapping[str, str] | None, placing: bool
    ) -> Any:
        client = self._spot
        if client is None:
            raise VenueUnavailable(f"{self.name}: not connected")
        self._check_gate(action)
        private = uri.startswith("/0/private/")
        fields = self._with_otp(params or {}) if private else dict(params or {})
        timeout = cast(int, self.settings.request_timeout_s)  # requests takes seconds as a float

        def call() -> requests.Response:
            answer = client.request(method, uri, params=dict(fields), timeout=timeout, auth=private)
            return cast(requests.Response, answer)

        try:
            response = await self._in_thread(call)
        except Exception as e:
            raise self._typed(classify_transport(e, action=action, placing=placing, host=self.host)) from None
        self._log_exchange(response)
        pause = self.settings.rate_limit_pause_s
        data = _json(response)
        errors = spot_errors(data.get("error") or []) if isinstance(data, Mapping) else []
        if errors:
            if errors[0].startswith(NONCE):
                raise _NonceRefused(classify_spot(errors, action=action, placing=placing, pause=pause))
            raise self._typed(classify_spot(errors, action=action, placing=placing, pause=pause))
        if response.status_code != 200:
            raise self._typed(classify_http(response.status_code, action=action, placing=placing, pause=pause))
        if not isinstance(data, Mapping) or "result" not in data:
            text = f"Kraken sent an unreadable answer to {action}"
            raise OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")
        return data["result"]

    async def _futures_call(
        self,
        action: str,
        method: str,
        uri: str,
        post: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        *,
        placing: bool = False,
        public: bool = False,
    ) -> Mapping[str, Any]:
        try:
            return await self._futures_once(action, method, uri, post, query, placing, public)
        except _NonceRefused:
            log.info("Kraken Futures refused a nonce while %s: sending it once more with a new one", action)
        try:
            return await self._futures_once(action, method, uri, post, query, placing, public)
        except _NonceRefused as e:
            raise e.typed from None

    async def _futures_once(
        self,
        action: str,
        method: str,
        uri: str,
        post: Mapping[str, str] | None,
        query: Mapping[str, str] | None,
        placing: bool,
        public: bool,
    ) -> Mapping[str, Any]:
        client = self._fut
        if client is None:
            raise VenueUnavailable(f"{self.name}: not connected")
        self._check_gate(action)
        timeout = cast(int, self.settings.request_timeout_s)

        def call() -> requests.Response:
            answer = client.request(
                method,
                uri,
                post_params=dict(post) if post is not None else None,
                query_params=dict(query) if query is not None else None,
                timeout=timeout,
                auth=not public,
            )
            return cast(requests.Response, answer)

        try:
            response = await self._in_thread(call)
        except Exception as e:
            raise self._typed(classify_transport(e, action=action, placing=placing, host=self.host)) from None
        self._log_exchange(response)
        pause = self.settings.rate_limit_pause_s
        data = _json(response)
        if isinstance(data, Mapping):
            self._note_server_time(data.get("serverTime"))
            code = _futures_error(data)
            if code is not None:
                typed = classify_futures(code, action=action, placing=placing, pause=pause)
                if code in FUTURES_NONCE:
                    raise _NonceRefused(typed)
                raise self._typed(typed)
        if response.status_code != 200:
            raise self._typed(classify_http(response.status_code, action=action, placing=placing, pause=pause))
        if not isinstance(data, Mapping):
            text = f"Kraken Futures sent an unreadable answer to {action}"
            raise OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")
        return data

    # --- clocks ------------------------------------------------------------------------------------------

    def _note_server_time(self, text: object) -> None:
        server = _parse_server_time(text) if text else None
        if server is not None:
            self._clock_offset = server - time.time()

    def _kraken_now(self) -> float:
        return time.time() + self._clock_offset

    async def _read_server_time(self) -> float:
        """Kraken's clock now, in epoch seconds (Spot: whole seconds; Futures: milliseconds)."""
        if self.futures:
            before = time.time()
            data = await self._futures_call(
                "reading the server time", "GET", "/derivatives/api/v3/tickers", public=True
            )
            server = _parse_server_time(data.get("serverTime"))
            return server if server is not None else before + self._clock_offset
        result = await self._spot_call("reading the server time", "GET", "/0/public/Time")
        unixtime = float(result.get("unixtime", 0)) if isinstance(result, Mapping) else 0.0
        if unixtime <= 0:
            raise VenueUnavailable("Kraken sent an unreadable server time. Retrying.")
        # The answer is truncated to the second: the middle of that second is the best estimate of its clock.
        self._clock_offset = unixtime + 0.5 - time.time()
        return unixtime

    # --- VenueAdapter: connection and rules ---------------------------------------------------------

    async def connect(self) -> None:
        if self._spot is None and self._fut is None:
            self._make_clients()
        self._connected_server_time = await self._read_server_time()
        await self.instruments()
        # A signed read proves the key, its private key and its two-factor password now, not at the first order.
        await self.account()

    async def close(self) -> None:
        for client in (self._spot, self._fut):
            session = getattr(client, "_SpotClient__session", None) or getattr(client, "_FuturesClient__session", None)
            if isinstance(session, requests.Session):
                session.close()

    async def instruments(self) -> Mapping[str, Instrument]:
        if self._instruments is None:
            self._instruments = await self._load_instruments()
        return self._instruments

    async def refresh_instruments(self) -> Mapping[str, Instrument]:
        self._instruments = await self._load_instruments()
        return self._instruments

    async def _load_instruments(self) -> dict[str, Instrument]:
        if self.futures:
            data = await self._futures_call(
                "reading the contracts", "GET", "/derivatives/api/v3/instruments", public=True
            )
            return parse_futures_instruments(data.get("instruments") or [])
        assets = await self._spot_call("reading the assets", "GET", "/0/public/Assets")
        pairs = await self._spot_call("reading the asset pairs", "GET", "/0/public/AssetPairs")
        self._names = AssetNames.parse(assets if isinstance(assets, Mapping) else {})
        parsed: list[SpotPair] = parse_asset_pairs(pairs if isinstance(pairs, Mapping) else {}, self._names)
        self._pair_keys = {p.key: p.instrument.symbol for p in parsed}
        instruments = {p.instrument.symbol: p.instrument for p in parsed}
        self._asset_symbols = self._spot_position_symbols(instruments)
        return instruments

    def _spot_position_symbols(self, instruments: Mapping[str, Instrument]) -> dict[str, str]:
        return spot.position_symbols(instruments, self.settings.quote_currency, self._override_symbols, "Kraken")

    def venue_symbol(self, base: str, quote: str) -> str:
        base, quote = base.upper(), quote.upper()
        for instrument in (self._instruments or {}).values():
            if instrument.base == base and instrument.quote == quote:
                return instrument.symbol
        name = KRAKEN_NAMES.get(base, base)
        return f"PF_{name}{quote}" if self.futures else f"{name}{quote}"

    async def server_time(self) -> datetime:
        return datetime.fromtimestamp(await self._read_server_time(), UTC)

    async def reference_prices(self, symbols: Collection[str]) -> dict[str, Decimal]:
        """Last traded prices of `symbols` in one request (Spot Ticker, Futures tickers)."""
        wanted = set(symbols)
        if not wanted:
            return {}
        prices: dict[str, Decimal] = {}
        try:
            if self.futures:
                data = await self._futures_call("reading prices", "GET", "/derivatives/api/v3/tickers", public=True)
                for row in data.get("tickers") or []:
                    symbol = str(row.get("symbol", "")).upper() if isinstance(row, Mapping) else ""
                    if symbol in wanted:
                        prices[symbol] = dec(row.get("last") or row.get("markPrice"))
            else:
                result = await self._spot_call(
                    "reading prices", "GET", "/0/public/Ticker", {"pair": ",".join(sorted(wanted))}
                )
                for key, row in (result if isinstance(result, Mapping) else {}).items():
                    symbol = self._pair_keys.get(str(key), str(key))
                    last = row.get("c") if isinstance(row, Mapping) else None
                    if symbol in wanted and isinstance(last, list) and last:
                        prices[symbol] = dec(last[0])
        except VenueError as e:
            # Without a price the order is sent and Kraken itself enforces the minimum.
            log.debug("no reference prices: %s", e)
            return {}
        return {s: p for s, p in prices.items() if p > 0}

    async def reference_price(self, symbol: str) -> Decimal | None:
        return (await self.reference_prices([symbol])).get(symbol)

    # --- VenueAdapter: account and positions --------------------------------------------------------

    async def _balances(self) -> dict[str, Decimal]:
        """BalanceEx by Kraken asset key (suffixed earn and staking balances included), zeros left out."""
        result = await self._spot_call("reading the balances", "POST", "/0/private/BalanceEx")
        out: dict[str, Decimal] = {}
        for key, row in (result if isinstance(result, Mapping) else {}).items():
            amount = dec(row.get("balance")) if isinstance(row, Mapping) else dec(row)
            if amount != 0:
                out[str(key)] = Decimal(plain(amount))
        return out

    def _tradable(self, balances: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """Balances by the copier's asset names, without the earn/staked ones."""
        out: dict[str, Decimal] = {}
        for key, amount in balances.items():
            if not AssetNames.is_suffixed(key):
                name = self._names.name(key)
                out[name] = out.get(name, ZERO) + amount
        return out

    def _two_factor(self) -> str:
        if self.settings.one_time_password.get_secret_value():
            return "two-factor password in use"
        return "no two-factor password"

    async def account(self) -> AccountSummary:
        if not self.futures:
            held = self._tradable(await self._balances())
            return AccountSummary(f"Kraken Spot account ({self._two_factor()})", PositionMode.SPOT, held)
        data = await self._futures_call("reading the account", "GET", "/derivatives/api/v3/accounts")
        accounts = data.get("accounts") or {}
        flex = accounts.get("flex") if isinstance(accounts, Mapping) else None
        balances: dict[str, Decimal] = {}
        currencies = flex.get("currencies") if isinstance(flex, Mapping) else None
        for currency, row in (currencies if isinstance(currencies, Mapping) else {}).items():
            amount = dec(row.get("quantity")) if isinstance(row, Mapping) else ZERO
            if amount != 0:
                balances[str(currency).upper()] = Decimal(plain(amount))
        return AccountSummary("Kraken Futures multi-collateral account", PositionMode.ONE_WAY, balances)

    async def positions(self) -> list[VenuePosition]:
        if not self.futures:
            await self.instruments()
            held = self._tradable(await self._balances())
            return [
                VenuePosition(LegKey(self._asset_symbols[asset]), qty)
                for asset, qty in sorted(held.items())
                if asset in self._asset_symbols
            ]
        data = await self._futures_call("reading the positions", "GET", "/derivatives/api/v3/openpositions")
        rows = data.get("openPositions")
        if not isinstance(rows, list):
            raise VenueUnavailable("Kraken Futures sent no position list. Retrying.")
        totals: dict[str, Decimal] = {}
        for row in rows:
            symbol = str(row.get("symbol", "")).upper()
            if not symbol.startswith(FUTURES_PREFIX):
                continue  # inverse and fixed-maturity contracts are not the copier's
            size = abs(dec(row.get("size")))
            totals[symbol] = totals.get(symbol, ZERO) + (size if row.get("side") == "long" else -size)
        return [VenuePosition(LegKey(s), Decimal(plain(q))) for s, q in sorted(totals.items()) if q != 0]

    async def check_warnings(self, traded_symbols: Iterable[str]) -> list[str]:
        """Spot: earn/staked balances left alone, and balances neither traded nor the quote currency."""
        if self.futures:
            return []
        instruments = await self.instruments()
        traded = {instruments[s].base for s in traded_symbols if s in instruments}
        quote = self.settings.quote_currency.upper()
        balances = await self._balances()
        warnings = []
        for key, amount in sorted(balances.items()):
            if AssetNames.is_suffixed(key):
                warnings.append(
                    f"{plain(amount)} {key} is an earn, staked or reward balance: it is not tradable and the copier "
                    f"leaves it alone (it is no position)."
                )
        for asset, total in sorted(self._tradable(balances).items()):
            if asset in traded or asset == quote:
                continue
            symbol = self._asset_symbols.get(asset)
            if symbol is not None:
                warnings.append(
                    f"{plain(total)} {asset} is neither a traded currency nor the quote currency {quote}. It counts as "
                    f"a {symbol} position: with sync at startup on (mirror) it is sold, with it off (follow) it is "
                    f"kept. Move it to another Kraken account to keep the copier away from it."
                )
            else:
                warnings.append(
                    f"{plain(total)} {asset} is neither a traded currency nor the quote currency {quote}; the copier "
                    f"ignores it."
                )
        return warnings

    # --- VenueAdapter: orders -----------------------------------------------------------------------

    def _deadline(self, client_id: str) -> float:
        """The latest moment, by Kraken's clock, at which the order `client_id` can still execute."""
        known = self._deadlines.get(client_id)
        if known is not None:
            return known
        # Sent by an earlier run: before this one began, with at most Kraken's longest deadline.
        start = self._connected_server_time if self._connected_server_time is not None else self._kraken_now()
        return start + MAX_DEADLINE_S

    async def submit(self, order: OrderRequest) -> OrderResult:
        if not CLIENT_ID.match(order.client_id):
            raise OrderRejected(
                f"client order id '{order.client_id}' does not fit Kraken's rules (1–18 of A-Z a-z 0-9 _ -)"
            )
        if order.leg is not Leg.NET:
            raise OrderRejected(f"{self.name} has no {order.leg.value} leg; order {order.client_id} not sent")
        sent = self._kraken_now()
        self._sent_at[order.client_id] = sent
        try:
            if self.futures:
                result = await self._submit_futures(order, sent)
            else:
                result = await self._submit_spot(order, sent)
        except OutcomeUnknown:
            raise  # its deadline is what `lookup` waits for
        except VenueError:
            self._forget(order.client_id)
            raise
        if result.state is not OrderState.OPEN:
            self._forget(order.client_id)
        return result

    async def _submit_spot(self, order: OrderRequest, sent: float) -> OrderResult:
        # Whole seconds, rounded up: Kraken's Time answers in whole seconds, so "passed" can be proven exactly.
        deadline = float(math.ceil(sent + self.settings.order_deadline_s))
        self._deadlines[order.client_id] = deadline
        params = {
            "ordertype": "market",
            "type": order.side.value,
            "pair": order.symbol,
            "volume": plain(order.qty),
            "cl_ord_id": order.client_id,
            # The fee in the quote currency on sells too (Kraken's default there is the base currency), so the
            # base balance, which is the position, lands exactly on the target.
            "oflags": "fciq",
            "deadline": datetime.fromtimestamp(deadline, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        action = f"order {order.client_id}"
        result = await self._spot_call(action, "POST", "/0/private/AddOrder", params, placing=True)
        txids = result.get("txid") if isinstance(result, Mapping) else None
        if not isinstance(txids, list) or not txids:
            raise OrderRejected(
                "Kraken answered the order without a transaction id, so it was not placed (an answer like that is "
                "what a validate-only request gets). Nothing was traded."
            )
        txid = str(txids[0])
        waited = time.monotonic() + FILL_WAIT_S
        while True:
            try:
                info = await self._spot_call(
                    f"reading order {order.client_id}", "POST", "/0/private/QueryOrders", {"txid": txid}
                )
            except VenueError as e:
                raise OutcomeUnknown(
                    f"Kraken placed order {order.client_id} but its fill could not be read: {e}"
                ) from None
            row = info.get(txid) if isinstance(info, Mapping) else None
            found = self._spot_result(order.client_id, row) if isinstance(row, Mapping) else None
            if found is not None and (found.state is not OrderState.OPEN or time.monotonic() > waited):
                return found
            if found is None and time.monotonic() > waited:
                return OrderResult(order.client_id, OrderState.OPEN)
            await asyncio.sleep(0.05)

    def _spot_result(self, client_id: str, row: Mapping[str, Any]) -> OrderResult:
        status = str(row.get("status", ""))
        filled = dec(row.get("vol_exec"))
        price = dec(row.get("price"))
        if price == 0 and filled > 0:
            price = dec(row.get("cost")) / filled
        avg = Decimal(plain(price)) if price > 0 else None
        fee = dec(row.get("fee"))
        instrument = (self._instruments or {}).get(str((row.get("descr") or {}).get("pair", "")))
        in_base = "fcib" in str(row.get("oflags", ""))
        fee_asset = (instrument.base if in_base else instrument.quote) if instrument else ""
        filled = Decimal(plain(filled))
        if status in SPOT_OPEN:
            return OrderResult(client_id, OrderState.OPEN, filled, avg)
        if filled > 0:  # closed, or canceled / expired after a partial fill: the executed part is final
            return OrderResult(client_id, OrderState.FILLED, filled, avg, Decimal(plain(fee)), fee_asset)
        return OrderResult(client_id, OrderState.REJECTED)

    async def _submit_futures(self, order: OrderRequest, sent: float) -> OrderResult:
        deadline = sent + self.settings.order_deadline_s
        self._deadlines[order.client_id] = deadline
        params = {
            "orderType": "mkt",
            "symbol": order.symbol,
            "side": order.side.value,
            "size": plain(order.qty),
            "cliOrdId": order.client_id,
            "processBefore": _iso_ms(deadline),
        }
        if order.reduce_only:
            params["reduceOnly"] = "true"
        action = f"order {order.client_id}"
        data = await self._futures_call(action, "POST", "/derivatives/api/v3/sendorder", params, placing=True)
        send = data.get("sendStatus")
        if not isinstance(send, Mapping):
            raise OutcomeUnknown(f"Kraken Futures answered {action} without a send status")
        status = str(send.get("status", ""))
        if status != "placed":
            if not status:
                raise OutcomeUnknown(f"Kraken Futures answered {action} without a send status")
            raise self._typed(classify_send_status(status, action=action))
        return self._futures_events(order, send.get("orderEvents") or [])

    @staticmethod
    def _futures_events(order: OrderRequest, events: Iterable[Any]) -> OrderResult:
        filled, cost, finished = ZERO, ZERO, False
        for event in events:
            kind = str(event.get("type", "")).upper() if isinstance(event, Mapping) else ""
            if kind == "EXECUTION":
                amount = dec(event.get("amount"))
                filled += amount
                cost += amount * dec(event.get("price"))
            elif kind in ("CANCEL", "REJECT"):
                finished = True
        avg = Decimal(plain(cost / filled)) if filled > 0 else None
        filled = Decimal(plain(filled)) if filled else ZERO
        if filled > 0 and (finished or filled >= order.qty):
            return OrderResult(order.client_id, OrderState.FILLED, filled, avg)
        if finished:
            return OrderResult(order.client_id, OrderState.REJECTED)
        return OrderResult(order.client_id, OrderState.OPEN, filled, avg)

    async def lookup(self, symbol: str, client_id: str, *, sent_at: datetime | None = None) -> OrderResult:
        """`sent_at` (the journal's send time, by this computer's clock) only widens the Futures history search:
        the proof of absence rests on Kraken's clock alone."""
        deadline = self._deadline(client_id)
        if sent_at is not None and client_id not in self._sent_at:
            self._sent_at[client_id] = sent_at.timestamp() + self._clock_offset
        while True:
            found, server_now = await self._find(symbol, client_id)
            if found is not None:
                self._forget(client_id)
                return found
            if server_now > deadline:
                # Kraken's clock has passed the deadline, and the order was not found after that: proven absent.
                log.info("order %s: no such order at Kraken, and its deadline has passed", client_id)
                self._forget(client_id)
                return OrderResult(client_id, OrderState.ABSENT)
            wait = deadline - server_now
            if wait > self.settings.order_deadline_s + 2:
                raise VenueUnavailable(
                    f"order {client_id} is not visible at Kraken yet, and it could still execute for {wait:.0f} s",
                    retry_after=wait,
                )
            log.info("order %s not found at Kraken yet; asking again once its deadline has passed", client_id)
            await asyncio.sleep(min(wait + 0.2, 1.0))

    def _forget(self, client_id: str) -> None:
        self._deadlines.pop(client_id, None)
        self._sent_at.pop(client_id, None)

    async def _find(self, symbol: str, client_id: str) -> tuple[OrderResult | None, float]:
        """What Kraken knows of `client_id`, and Kraken's time read BEFORE it looked (so "not found" counts)."""
        if self.futures:
            return await self._find_futures(symbol, client_id)
        server_now = await self._read_server_time()
        for uri, section in (("/0/private/OpenOrders", "open"), ("/0/private/ClosedOrders", "closed")):
            result = await self._spot_call(f"looking up order {client_id}", "POST", uri, {"cl_ord_id": client_id})
            orders = result.get(section) if isinstance(result, Mapping) else None
            for row in (orders if isinstance(orders, Mapping) else {}).values():
                if isinstance(row, Mapping) and str(row.get("cl_ord_id", "")) == client_id:
                    return self._spot_result(client_id, row), server_now
        return None, server_now

    async def _find_futures(self, symbol: str, client_id: str) -> tuple[OrderResult | None, float]:
        data = await self._futures_call(
            f"looking up order {client_id}", "POST", "/derivatives/api/v3/orders/status", {"cliOrdIds": client_id}
        )
        server_now = _parse_server_time(data.get("serverTime")) or self._kraken_now()
        for entry in data.get("orders") or []:
            row = entry.get("order") if isinstance(entry, Mapping) else None
            if isinstance(row, Mapping) and str(row.get("cliOrdId", "")) == client_id:
                return self._futures_status(client_id, str(entry.get("status", "")), row), server_now
        # Order status covers only the last 5 seconds: an older execution is in the execution history.
        return await self._futures_history(symbol, client_id), server_now

    @staticmethod
    def _futures_status(client_id: str, status: str, row: Mapping[str, Any]) -> OrderResult:
        filled = Decimal(plain(dec(row.get("filled"))))
        if status == "FULLY_EXECUTED":
            return OrderResult(client_id, OrderState.FILLED, filled)
        if status in ("CANCELLED", "REJECTED"):
            return (
                OrderResult(client_id, OrderState.FILLED, filled)
                if filled > 0
                else OrderResult(client_id, OrderState.REJECTED)
            )
        return OrderResult(client_id, OrderState.OPEN, filled)

    async def _futures_history(self, symbol: str, client_id: str) -> OrderResult | None:
        query = {"tradeable": symbol, "sort": "desc"}
        sent = self._sent_at.get(client_id)
        if sent is not None:
            query["since"] = str(int((sent - 60) * 1000))
        data = await self._futures_call(
            f"looking up the executions of order {client_id}", "GET", "/api/history/v2/executions", query=query
        )
        filled, cost = ZERO, ZERO
        for element in data.get("elements") or []:
            execution = _dig(element, "event", "execution", "execution")
            if execution is None:
                continue
            orders = [_dig(execution, "takerOrder"), _dig(execution, "makerOrder")]
            if any(o is not None and str(o.get("clientId", "")) == client_id for o in orders):
                amount = dec(execution.get("quantity"))
                filled += amount
                cost += amount * dec(execution.get("price"))
        if filled <= 0:
            return None
        return OrderResult(client_id, OrderState.FILLED, Decimal(plain(filled)), Decimal(plain(cost / filled)))


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _futures_error(data: Mapping[str, Any]) -> str | None:
    """The error code of a Futures answer, or None when it reports success."""
    if data.get("result") != "error" and not data.get("error"):
        return None
    code = data.get("error")
    if isinstance(code, str) and code:
        return code
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        return str(errors[0].get("message") or errors[0].get("code") or "error")
    return "unknownError"


def _dig(value: Any, *keys: str) -> Mapping[str, Any] | None:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value if isinstance(value, Mapping) else None


__all__ = ["KrakenVenue", "endpoint_url"]
