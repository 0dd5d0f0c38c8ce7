"""KuCoin Spot and Futures through kucoin-universal-sdk's signed REST transport.

The SDK's transport (`DefaultTransport`: KuCoin's signer, one keep-alive `requests` session, an explicit
`TransportOption` with timeouts) carries every request; its calls block, so they run in a worker thread
behind one lock, as the Binance adapter does. The SDK's typed API is not used, for three reasons found in
its source (1.3.2) and checked against the fake:
- Its generated models parse KuCoin's numbers into floats and its strings into closed enums. An answer a
  model does not expect fails to parse, and the SDK swallows the failure (a `return` inside `finally` in
  `DefaultTransport.process_response`) and hands back an empty response: a hedge-mode position
  (positionSide LONG, while the model's enum knows only BOTH) reads as no position at all. Here every
  answer is read from the bytes KuCoin sent, fractions as Decimal, and a missing field is an error.
- Hedge mode (`positionSide` on orders, `getPositionMode`) is not in the SDK; its own permissive
  `UtaRequest`/`UtaResponse` models let the transport sign any body.
- `DefaultClient` imports every generated service of the SDK (about 1.3 s and 43 MB more on this
  project's machines) for the dozen endpoints a copier needs.

SDK behaviour worked around:
- It signs with the local clock (`KcSigner.headers`); KuCoin refuses a timestamp 5 s or more off its own
  clock (400002). The signer here stamps from KuCoin's clock, read at connect and after any 400002 (the
  refused request did nothing and is sent once more), carried forward on the monotonic clock, so a step of
  the computer's clock cannot move the stamps.
- It keeps KuCoin's error code only for HTTP 200 answers (non-200 become "Invalid status code: …" text)
  and drops the rate-limit headers of errors. An interceptor records every answer (status, headers, body)
  as the transport received it; errors.py reads codes and `gw-ratelimit-reset` from that.
- It wraps network errors (`RestError("Request failed: …")`, the cause on `__context__`): errors.py walks
  the chain to tell "never left this computer" from "sent, no answer".
- Its urllib3 retries are turned off (max_retries 0): the engine decides what is retried.

"Absent" — when an order whose answer was lost may be sent again (KuCoin has no recvWindow):
KuCoin admits a request only while its KC-API-TIMESTAMP is within 5 s of KuCoin's clock. The adapter
records the timestamp each order request was signed with. An order KuCoin does not show is declared
absent only when (1) KuCoin's own clock, read fresh, has passed that timestamp + 5 s + 1 s margin, so no
copy of the request can be admitted any more; (2) a further `lost_order_grace_s` has passed on KuCoin's
clock, for a request admitted just in time to work its way through KuCoin; and (3) after that, neither a
lookup by client id nor the symbol's fills from the timestamp − 5 s to that deadline show the order (a
fill of an order unknown here is looked up by its order id, in case the client-id index lags). An order
KuCoin acknowledged (an order id came back) is never absent. For an order of an earlier run, whose
timestamp is unknown, the deadline counts from this run's first reading of KuCoin's clock plus a second
5 s window: stamps come from KuCoin's clock, so the earlier run's could not be 5 s ahead of it without
being refused; its fills are looked for around the journal's send time. (An order older than KuCoin keeps
finished orders, three days for Spot, can neither arrive nor be read: it is absent, and the engine reads
the positions again before it sends anything for that leg.)
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from kucoin_universal_sdk.generate.uta.common import UtaRequest, UtaResponse
from kucoin_universal_sdk.generate.version import sdk_version
from kucoin_universal_sdk.internal.infra.default_signer import KcSigner
from kucoin_universal_sdk.internal.infra.default_transport import DefaultTransport
from kucoin_universal_sdk.model.client_option import ClientOptionBuilder
from kucoin_universal_sdk.model.constants import GLOBAL_API_ENDPOINT, GLOBAL_FUTURES_API_ENDPOINT
from kucoin_universal_sdk.model.transport_option import Interceptor, TransportOptionBuilder

from sidecar.config import KuCoinSettings
from sidecar.decimals import ZERO, dec, plain
from sidecar.errors import AuthError, ConfigError, OrderRejected, OutcomeUnknown, VenueError, VenueUnavailable
from sidecar.logs import MASK, REDACT
from sidecar.model import (
    AccountSummary,
    Instrument,
    Leg,
    LegKey,
    MarginMode,
    OrderRequest,
    OrderResult,
    OrderState,
    PositionMode,
    VenuePosition,
)
from sidecar.venues import spot
from sidecar.venues.base import VenueAdapter, check_futures_position_mode
from sidecar.venues.kucoin.errors import (
    CLOCK,
    MARGIN_MODE_MISMATCH,
    RULE_CODES,
    Refusal,
    Reply,
    classify,
    order_not_found,
)
from sidecar.venues.kucoin.rules import Contracts, common_name, futures_symbol, parse_contracts, parse_spot_symbols
from sidecar.venues.transport import custom_api_url

log = logging.getLogger("csmc.kucoin")
Json = Any

OFFICIAL_URLS: dict[str, str] = {"spot": str(GLOBAL_API_ENDPOINT), "futures": str(GLOBAL_FUTURES_API_ENDPOINT)}
#: KuCoin refuses a request whose timestamp is this far or further from its clock (docs, "Selecting a
#: Timestamp": "must be less than 5 seconds").
TIMESTAMP_WINDOW_MS = 5000
#: Allowance for KuCoin's gateways and its time endpoint not reading exactly the same clock.
CLOCK_MARGIN_MS = 1000
#: A symbol the instrument list lacks makes the list be read again at most this often.
RELOAD_INTERVAL_S = 60.0
#: KuCoin's largest page of fills; a fuller window cannot be checked in one read.
FILLS_PAGE = 100
#: How far the journal's send time of an earlier run's order (this computer's clock) may be off KuCoin's.
EARLIER_RUN_SLACK_MS = 60_000
#: Order ids of this run's orders, remembered so their fills need no lookup while proving another absent.
KNOWN_ORDERS = 1000
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")  # KuCoin: at most 40 of letters, digits, _ and -
SECRET_HEADERS = frozenset({"kc-api-key", "kc-api-sign", "kc-api-passphrase", "authorization", "cookie"})
POSITION_MODE_HOWTO = (
    "KuCoin's Position Mode is set on the Futures trading page: Settings (⚙) → Preferences → Position Mode → "
    "'One-Way Mode' or 'Hedge Mode'. KuCoin allows the change only while the Futures account has no open "
    "positions and no pending orders."
)


def endpoint_url(endpoint: str, api_url: str) -> str:
    """The base URL KuCoin's paths (/api/v1/…) go after: KuCoin's own for the endpoint, or the profile's."""
    text = api_url.strip()
    if not text:
        return OFFICIAL_URLS[endpoint]
    parts = custom_api_url("kucoin", text, OFFICIAL_URLS[endpoint], "Leave it empty for KuCoin's own URL.")
    host = parts.netloc.lower()
    if "sandbox" in host:
        raise ConfigError(
            f"[kucoin] api_url '{text}' is KuCoin's old sandbox, which KuCoin retired in 2023. Leave api_url empty, "
            f"try the profile with `csmc sync --dry-run`, and start with a small first trade."
        )
    other = "spot" if endpoint == "futures" else "futures"
    if host == urlsplit(OFFICIAL_URLS[other]).netloc:
        raise ConfigError(
            f"[kucoin] api_url '{text}' is KuCoin's {other} URL but [kucoin] endpoint is '{endpoint}'. Give the "
            f"{endpoint} URL ({OFFICIAL_URLS[endpoint]}), leave api_url empty, or change the endpoint."
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def redact_headers(headers: Mapping[str, str | bytes]) -> str:
    shown = {
        k: (MASK if k.lower() in SECRET_HEADERS else v if isinstance(v, str) else v.decode("latin-1"))
        for k, v in headers.items()
    }
    return REDACT(", ".join(f"{k}: {v}" for k, v in shown.items()))


# --- the SDK's transport, with KuCoin's clock and a record of every answer ---------------------------


class KuCoinClock:
    """KuCoin's time as last read, carried forward on the monotonic clock (the computer's clock may step)."""

    def __init__(self) -> None:
        self._server_ms: int | None = None
        self._at = 0.0

    def set(self, server_ms: int, read_at: float) -> None:
        self._server_ms, self._at = server_ms, read_at

    def now_ms(self) -> int:
        if self._server_ms is None:
            return int(time.time() * 1000)
        return self._server_ms + int((time.monotonic() - self._at) * 1000)


class _Signer(KcSigner):  # type: ignore[misc]  # the SDK ships no type information
    """KuCoin's key-version-3 signer with the timestamp taken from KuCoin's clock, not the local one."""

    def __init__(self, key: str, secret: str, passphrase: str, clock: KuCoinClock) -> None:
        super().__init__(key, secret, passphrase)
        self._clock = clock

    def headers(self, plain: str) -> dict[str, str]:
        timestamp = str(self._clock.now_ms())
        signature: str = self.sign((timestamp + plain).encode("utf-8"), self.api_secret.encode("utf-8"))
        return {
            "KC-API-KEY": self.api_key,
            "KC-API-PASSPHRASE": self.api_passphrase,
            "KC-API-TIMESTAMP": timestamp,
            "KC-API-SIGN": signature,
            "KC-API-KEY-VERSION": "3",
        }


class _Recorder(Interceptor):  # type: ignore[misc]
    """Keeps what the SDK drops: each answer's status, headers and body, and the timestamp sent."""

    def __init__(self, log_headers: bool) -> None:
        self.log_headers = log_headers
        self.reply: Reply | None = None
        self.signed_ms = 0

    def reset(self) -> None:
        self.reply, self.signed_ms = None, 0

    def before(self, req: requests.PreparedRequest) -> requests.PreparedRequest:
        stamp = str(req.headers.get("KC-API-TIMESTAMP", "0"))
        self.signed_ms = int(stamp) if stamp.isdigit() else 0
        return req

    def after(
        self, req: requests.PreparedRequest, resp: requests.Response | None, err: Exception | None
    ) -> requests.Response | None:
        if resp is not None:
            self.reply = Reply(resp.status_code, dict(resp.headers), resp.content)
            if self.log_headers:
                log.info(
                    "HTTP %s %s → %s | request headers: %s | response headers: %s",
                    req.method,
                    REDACT(req.url or ""),
                    resp.status_code,
                    redact_headers(req.headers),
                    redact_headers(resp.headers),
                    extra={"to_ea": False},  # for the log file: the chart would drown in it
                )
        return resp


@dataclass
class _Sent:
    """An order request as it left: the timestamp it was signed with, and KuCoin's order id once known."""

    signed_ms: int = 0
    order_id: str = ""


class _ClockRefused(Exception):
    """KuCoin refused a request for its timestamp (400002): nothing was done, and it may be sent again."""


class _Refused(Exception):
    """A refusal the caller asked to see itself (a code in `passthrough`)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.code)
        self.reply = reply


class KuCoinVenue(VenueAdapter):
    def __init__(
        self,
        settings: KuCoinSettings,
        *,
        position_symbols: Iterable[str] = (),
        timestamp_window_ms: int = TIMESTAMP_WINDOW_MS,
        clock_margin_ms: int = CLOCK_MARGIN_MS,
    ) -> None:
        """`position_symbols`: venue symbols named by the profile's overrides (Spot: they carry their base
        currency's balance in place of <base>-<quote>). `timestamp_window_ms` is KuCoin's and
        `clock_margin_ms` the allowance for its clocks; tests shorten both together with the fake's window."""
        super().__init__()
        self.settings = settings
        self.futures = settings.endpoint == "futures"
        self.name = "KuCoin Futures" if self.futures else "KuCoin Spot"
        # MT5 hedging ↔ KuCoin hedge mode, netting ↔ one-way (DESIGN.md); Spot nets everything, long only.
        self.nets_hedging_accounts = not self.futures
        self.domain = "futures" if self.futures else "spot"
        self.url = endpoint_url(settings.endpoint, settings.api_url)
        self.host = urlsplit(self.url).netloc
        # The key's permissions are read on the Spot host: known for Spot, and for Futures on KuCoin itself.
        self._key_info_readable = not self.futures or not settings.api_url.strip()
        self._window_ms = timestamp_window_ms
        self._margin_ms = clock_margin_ms
        self._override_symbols = tuple(position_symbols)
        self._transport: Any = None
        self._recorder = _Recorder(settings.log_headers)
        self._clock = KuCoinClock()
        self._lock = threading.Lock()
        self._blocked_until = 0.0
        self._first_server_ms: int | None = None
        self._instruments: dict[str, Instrument] = {}
        self._loaded = False
        self._loaded_at = 0.0
        self._contracts = Contracts()
        self._asset_symbols: dict[str, str] = {}
        self._key: Mapping[str, Any] = {}
        self._margin_modes: dict[str, str] = {}
        self._sent: dict[str, _Sent] = {}
        self._order_ids: dict[str, str] = {}  # KuCoin order id → client id, for orders seen here

    # --- transport, threads, errors -----------------------------------------------------------------

    def _make_transport(self) -> Any:
        s = self.settings
        key, secret, passphrase = (v.get_secret_value() for v in (s.api_key, s.secret_key, s.passphrase))
        if not (key and secret and passphrase):
            raise ConfigError(
                "KuCoin needs an API key, its secret key and its passphrase: set api_key, secret_key and passphrase "
                "in the [kucoin] section of the profile (or CSMC_KUCOIN__API_KEY, CSMC_KUCOIN__SECRET_KEY and "
                "CSMC_KUCOIN__PASSPHRASE). The README, 'KuCoin', says how to create the key."
            )
        transport_option = (
            TransportOptionBuilder()
            .set_connect_timeout(min(s.request_timeout_s, 5.0))
            .set_read_timeout(s.request_timeout_s)
            .set_max_retries(0)
            .add_interceptor(self._recorder)
            .build()
        )
        spot_url = self.url if not self.futures or not self._key_info_readable else OFFICIAL_URLS["spot"]
        option = (
            ClientOptionBuilder()
            .set_key(key)
            .set_secret(secret)
            .set_passphrase(passphrase)
            .set_spot_endpoint(spot_url)
            .set_futures_endpoint(self.url)
            .set_broker_endpoint(self.url)
            .set_transport_option(transport_option)
            .build()
        )
        transport = DefaultTransport(option, sdk_version)
        transport.signer = _Signer(key, secret, passphrase, self._clock)
        return transport

    def _check_gate(self, action: str) -> None:
        left = self._blocked_until - time.monotonic()
        if left > 0:
            raise VenueUnavailable(
                f"KuCoin asked for a pause ({left:.1f} s left), so {action} waits; nothing was sent", retry_after=left
            )

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        action: str,
        domain: str | None = None,
        placing: bool = False,
        passthrough: frozenset[str] = frozenset(),
        on_sent: Callable[[int], None] | None = None,
    ) -> Json:
        """One REST call with KuCoin's error rules; returns the answer's `data`. Codes in `passthrough` raise
        `_Refused` for the caller; `on_sent` gets the timestamp each attempt was signed with."""
        self._check_gate(action)
        try:
            return await self._attempt(method, path, params, action, domain, placing, passthrough, on_sent, True)
        except _ClockRefused:
            pass
        # 400002: refused for its timestamp, so it did nothing. Re-read KuCoin's clock and send it once more.
        log.info("KuCoin refused a timestamp while %s: re-reading KuCoin's clock", action)
        await self._sync_clock()
        return await self._attempt(method, path, params, action, domain, placing, passthrough, on_sent, False)

    async def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        action: str,
        domain: str | None,
        placing: bool,
        passthrough: frozenset[str],
        on_sent: Callable[[int], None] | None,
        clock_retry: bool,
    ) -> Json:
        transport = self._transport
        if transport is None:
            raise VenueUnavailable(f"{self.name}: not connected")
        request = UtaRequest(**params) if params else None

        def work() -> tuple[Exception | None, Reply | None, int]:
            # The lock is taken in the worker, so a cancelled await never lets two requests share the session.
            with self._lock:
                self._recorder.reset()
                try:
                    transport.call(domain or self.domain, False, method, path, request, UtaResponse(), False)
                    error: Exception | None = None
                except Exception as e:  # the SDK raises RestError for everything, transport failures included
                    error = e
                return error, self._recorder.reply, self._recorder.signed_ms

        error, reply, signed_ms = await asyncio.to_thread(work)
        if on_sent is not None and signed_ms:
            on_sent(signed_ms)
        body = reply.payload() if reply is not None else None
        if error is None and reply is not None and reply.ok and isinstance(body, Mapping):
            return body.get("data")
        if reply is not None and reply.code in passthrough:
            raise _Refused(reply)
        if clock_retry and reply is not None and reply.code == CLOCK:
            raise _ClockRefused
        typed = classify(error or RuntimeError("no answer"), reply, action=action, placing=placing, host=self.host)
        if isinstance(typed, VenueUnavailable) and typed.retry_after:
            self._blocked_until = max(self._blocked_until, time.monotonic() + typed.retry_after)
        log.debug("%s failed: HTTP %s code %s → %s", action, reply and reply.status, reply and reply.code, typed)
        raise typed

    async def _server_ms(self) -> int:
        data = await self._request("GET", "/api/v1/timestamp", action="reading KuCoin's clock")
        if not isinstance(data, int):
            raise VenueUnavailable("KuCoin's clock answered without a time. Retrying.")
        return data

    async def _sync_clock(self) -> None:
        millis = await self._server_ms()
        # Against the moment the answer arrived: stamps then lag KuCoin's clock by the round trip at most,
        # and never run ahead of it.
        self._clock.set(millis, time.monotonic())
        if self._first_server_ms is None:
            self._first_server_ms = millis
        log.debug("KuCoin clock offset %+d ms", millis - int(time.time() * 1000))

    # --- VenueAdapter: connection and rules ---------------------------------------------------------

    async def connect(self) -> None:
        if self._transport is None:
            self._transport = self._make_transport()
        await self._sync_clock()
        await self.instruments()
        # A signed read proves the key, its passphrase, its IP restriction and its permissions now rather
        # than at the first order.
        if self._key_info_readable:
            await self._check_key()
        if self.futures:
            await self._position_mode()
        else:
            await self._spot_balances()

    async def close(self) -> None:
        transport = self._transport
        if transport is not None:
            transport.close()

    async def _check_key(self) -> None:
        data = await self._request("GET", "/api/v1/user/api-key", action="reading the API key", domain="spot")
        self._key = data if isinstance(data, Mapping) else {}
        granted = {p.strip().lower() for p in str(self._key.get("permission", "")).split(",")}
        needed = "futures" if self.futures else "spot"
        if needed not in granted:
            raise AuthError(
                f"The KuCoin API key lacks the {needed.title()} permission, so it cannot trade the {self.domain} "
                f"endpoint. In KuCoin → API Management edit the key and tick General and {needed.title()} (never "
                f"Transfer or Withdrawal: the copier does not need them)."
            )

    async def _load_rules(self) -> None:
        if self.futures:
            rows = await self._request("GET", "/api/v1/contracts/active", action="reading the contract list")
            contracts = parse_contracts(rows if isinstance(rows, list) else [])
            self._contracts = contracts
            fresh = contracts.instruments
        else:
            rows = await self._request("GET", "/api/v2/symbols", action="reading the symbol list")
            fresh = parse_spot_symbols(rows if isinstance(rows, list) else [])
            self._asset_symbols = self._spot_position_symbols(fresh)
        if not fresh:
            raise VenueUnavailable(f"{self.name} answered with an empty instrument list. Retrying.")
        # In place: the symbol mapper holds this very mapping.
        for gone in set(self._instruments) - set(fresh):
            del self._instruments[gone]
        self._instruments.update(fresh)
        self._loaded, self._loaded_at = True, time.monotonic()

    async def instruments(self) -> Mapping[str, Instrument]:
        if not self._loaded:
            await self._load_rules()
        return self._instruments

    async def refresh_instruments(self) -> Mapping[str, Instrument]:
        await self._load_rules()
        return self._instruments

    async def resolve(self, symbols: Collection[str]) -> None:
        """KuCoin lists a new symbol: read the list again (at most once a minute, the list is large)."""
        if any(s not in self._instruments for s in symbols) and time.monotonic() - self._loaded_at > RELOAD_INTERVAL_S:
            await self._load_rules()

    def _spot_position_symbols(self, instruments: Mapping[str, Instrument]) -> dict[str, str]:
        return spot.position_symbols(instruments, self.settings.quote_currency, self._override_symbols, "KuCoin")

    def venue_symbol(self, base: str, quote: str) -> str:
        if not self.futures:
            return f"{base.upper()}-{quote.upper()}"
        return self._contracts.by_pair.get((common_name(base), quote.upper())) or futures_symbol(base, quote)

    async def server_time(self) -> datetime:
        return datetime.fromtimestamp(await self._server_ms() / 1000, UTC)

    async def reference_price(self, symbol: str) -> Decimal | None:
        """The last traded price of one symbol (a cheap request), for the minimum-notional check."""
        path, params = (
            ("/api/v1/ticker", {"symbol": symbol})
            if self.futures
            else ("/api/v1/market/orderbook/level1", {"symbol": symbol})
        )
        try:
            data = await self._request("GET", path, params, action=f"reading the price of {symbol}")
        except VenueError as e:
            # Without a price the order is sent and KuCoin itself enforces its minimum.
            log.debug("no reference price for %s: %s", symbol, e)
            return None
        price = dec(data.get("price")) if isinstance(data, Mapping) else ZERO
        return price if price > 0 else None

    async def reference_prices(self, symbols: Collection[str]) -> dict[str, Decimal]:
        """Every symbol's last price in one request (KuCoin's all-tickers list)."""
        path = "/api/v1/allTickers" if self.futures else "/api/v1/market/allTickers"
        try:
            data = await self._request("GET", path, action="reading the prices")
        except VenueError as e:
            log.debug("no reference prices: %s", e)
            return {}
        rows = data if self.futures else (data.get("ticker") if isinstance(data, Mapping) else None)
        wanted = set(symbols)
        prices: dict[str, Decimal] = {}
        for row in rows if isinstance(rows, list) else []:
            symbol = str(row.get("symbol", "")) if isinstance(row, Mapping) else ""
            price = dec(row.get("price" if self.futures else "last")) if symbol in wanted else ZERO
            if price > 0:
                prices[symbol] = price
        return prices

    # --- VenueAdapter: account and positions --------------------------------------------------------

    async def _spot_balances(self) -> dict[str, Decimal]:
        rows = await self._request("GET", "/api/v1/accounts", {"type": "trade"}, action="reading the balances")
        if not isinstance(rows, list):
            raise VenueUnavailable("KuCoin answered the balance request without a list. Retrying.")
        out: dict[str, Decimal] = {}
        for row in rows:
            if not isinstance(row, Mapping) or "balance" not in row:
                raise VenueUnavailable("KuCoin answered the balance request with an unreadable row. Retrying.")
            currency = str(row.get("currency", ""))
            out[currency] = out.get(currency, ZERO) + dec(row["balance"])  # available + holds
        return {c: Decimal(plain(v)) for c, v in out.items() if v != 0}

    async def _position_mode(self) -> bool:
        """True for hedge mode. `getPositionMode` is not in the SDK: asked through its transport."""
        data = await self._request("GET", "/api/v2/position/getPositionMode", action="reading the Position Mode")
        value = str(data.get("positionMode", "")) if isinstance(data, Mapping) else ""
        if value not in ("0", "1"):
            raise VenueUnavailable("KuCoin answered the Position Mode request without a mode. Retrying.")
        return value == "1"

    async def account(self) -> AccountSummary:
        uid = self._key.get("uid")
        if not self.futures:
            label = f"Spot trade account of user {uid}" if uid else "Spot trade account"
            return AccountSummary(label, PositionMode.SPOT, await self._spot_balances())
        mode = PositionMode.HEDGE if await self._position_mode() else PositionMode.ONE_WAY
        quote = self.settings.quote_currency.upper()
        data = await self._request(
            "GET", "/api/v1/account-overview", {"currency": quote}, action="reading the futures balance"
        )
        equity = dec(data.get("accountEquity")) if isinstance(data, Mapping) else ZERO
        balances = {quote: Decimal(plain(equity))} if equity else {}
        label = f"Futures account of user {uid}" if uid else "Futures account"
        return AccountSummary(label, mode, balances)

    async def positions(self) -> list[VenuePosition]:
        await self.instruments()
        if not self.futures:
            balances = await self._spot_balances()
            return [
                VenuePosition(LegKey(self._asset_symbols[asset]), qty)
                for asset, qty in sorted(balances.items())
                if asset in self._asset_symbols
            ]
        rows = await self._request("GET", "/api/v1/positions", action="reading the positions")
        if not isinstance(rows, list):
            raise VenueUnavailable("KuCoin answered the position request without a list. Retrying.")
        out = []
        for row in rows:
            if not isinstance(row, Mapping) or "currentQty" not in row or "symbol" not in row:
                raise VenueUnavailable("KuCoin answered the position request with an unreadable row. Retrying.")
            lots, symbol = dec(row["currentQty"]), str(row["symbol"])
            if lots == 0:
                continue
            lot = self._contracts.lot.get(symbol)
            if lot is None:
                log.debug("position in %s left alone: not a linear contract of this endpoint", symbol)
                continue
            side = str(row.get("positionSide") or "BOTH").upper()
            leg = {"LONG": Leg.LONG, "SHORT": Leg.SHORT}.get(side, Leg.NET)
            qty = Decimal(plain(lots * lot))
            out.append(VenuePosition(LegKey(symbol, leg), qty if leg is Leg.NET else abs(qty)))
        return out

    def check_account_mode(self, margin_mode: MarginMode, position_mode: PositionMode) -> None:
        if not self.futures:
            super().check_account_mode(margin_mode, position_mode)
            return
        check_futures_position_mode(
            margin_mode,
            position_mode,
            market="KuCoin Futures",
            venue="KuCoin",
            one_way="One-Way Mode",
            howto=POSITION_MODE_HOWTO,
        )

    async def _margin_mode(self, symbol: str, *, fresh: bool = False) -> str:
        """CROSS or ISOLATED, as set on KuCoin for this contract. Sent with every order: the order model
        otherwise means ISOLATED, which KuCoin refuses (330005) for a contract in cross margin."""
        if fresh or symbol not in self._margin_modes:
            data = await self._request(
                "GET", "/api/v2/position/getMarginMode", {"symbol": symbol}, action=f"reading {symbol}'s margin mode"
            )
            mode = str(data.get("marginMode", "")).upper() if isinstance(data, Mapping) else ""
            if mode not in ("CROSS", "ISOLATED"):
                raise VenueUnavailable(f"KuCoin answered without the margin mode of {symbol}. Retrying.")
            self._margin_modes[symbol] = mode
        return self._margin_modes[symbol]

    async def check_details(self, traded_symbols: Iterable[str]) -> list[tuple[str, str]]:
        """Futures: the margin mode of each traded contract (KuCoin sets it per contract)."""
        if not self.futures:
            return []
        modes = []
        for symbol in sorted(s for s in set(traded_symbols) if s in self._instruments):
            mode = (await self._margin_mode(symbol, fresh=True)).lower()
            note = f" (orders open at leverage {self.settings.isolated_leverage})" if mode == "isolated" else ""
            modes.append(f"{symbol} {mode}{note}")
        return [("Margin mode", ", ".join(modes))] if modes else []

    async def check_warnings(self, traded_symbols: Iterable[str]) -> list[str]:
        """Spot balances the manual says the account should not hold; a key without an IP restriction."""
        warnings = []
        if self._key and not str(self._key.get("ipWhitelist") or "").strip():
            warnings.append(
                "The API key has no IP restriction: anyone who copies it can trade this account. In KuCoin → API "
                "Management edit the key and restrict it to this computer's public IP address."
            )
        if self.futures:
            return warnings
        instruments = await self.instruments()
        traded = {instruments[s].base for s in traded_symbols if s in instruments}
        quote = self.settings.quote_currency.upper()
        for asset, total in sorted((await self._spot_balances()).items()):
            if asset in traded or asset == quote:
                continue
            symbol = self._asset_symbols.get(asset)
            if symbol is not None:
                warnings.append(
                    f"{plain(total)} {asset} is neither a traded currency nor the quote currency {quote}. It counts "
                    f"as a {symbol} position: with sync at startup on (mirror) it is sold, with it off (follow) it "
                    f"is kept. Move it to the Funding account to keep the copier away from it."
                )
            else:
                warnings.append(
                    f"{plain(total)} {asset} is neither a traded currency nor the quote currency {quote}; the copier "
                    f"ignores it. The trade account should hold only the traded currencies and {quote}."
                )
        return warnings

    # --- VenueAdapter: orders -----------------------------------------------------------------------

    def _note_signed(self, order: OrderRequest) -> Callable[[int], None]:
        sent = self._sent.setdefault(order.client_id, _Sent())

        def note(signed_ms: int) -> None:
            sent.signed_ms = max(sent.signed_ms, signed_ms)

        return note

    async def submit(self, order: OrderRequest) -> OrderResult:
        if not CLIENT_ID.match(order.client_id):
            raise OrderRejected(
                f"client order id '{order.client_id}' does not fit KuCoin's rules (1–40 of A-Z a-z 0-9 _ -)"
            )
        try:
            if self.futures:
                return await self._submit_futures(order)
            return await self._submit_spot(order)
        except (OrderRejected, VenueUnavailable, AuthError) as e:
            self._sent.pop(order.client_id, None)  # certainly not placed: nothing to look up
            if isinstance(e, Refusal) and e.code in RULE_CODES:
                await self._reload_rules_quietly()
            raise

    async def _reload_rules_quietly(self) -> None:
        """After a size refusal: the next plan is computed from KuCoin's current rules."""
        try:
            await self._load_rules()
        except VenueError as e:
            log.debug("rules not read again after a refusal: %s", e)

    async def _submit_spot(self, order: OrderRequest) -> OrderResult:
        if order.leg is not Leg.NET:
            raise OrderRejected(f"KuCoin Spot has no {order.leg.value} leg; order {order.client_id} not sent")
        body = {
            "clientOid": order.client_id,
            "symbol": order.symbol,
            "side": order.side.value,
            "type": "market",
            "size": plain(order.qty),
        }
        # The synchronous endpoint answers after matching, with the executed size: no lookup needed.
        data = await self._request(
            "POST",
            "/api/v1/hf/orders/sync",
            body,
            action=f"order {order.client_id}",
            placing=True,
            on_sent=self._note_signed(order),
        )
        order_id = str(data.get("orderId", "")) if isinstance(data, Mapping) else ""
        self._acknowledged(order.client_id, order_id)
        return self._settled(order.client_id, self._result(order.client_id, data, order.symbol))

    async def _submit_futures(self, order: OrderRequest) -> OrderResult:
        lot = self._contracts.lot.get(order.symbol)
        if lot is None:
            raise OrderRejected(f"KuCoin Futures does not list {order.symbol} as a linear contract")
        lots = order.qty / lot
        if lots != lots.to_integral_value() or lots <= 0:
            await self._reload_rules_quietly()
            raise OrderRejected(
                f"{plain(order.qty)} is not a whole number of {order.symbol} lots of {plain(lot)}; KuCoin's rules were "
                f"read again for the next try."
            )
        body: dict[str, Any] = {
            "clientOid": order.client_id,
            "symbol": order.symbol,
            "side": order.side.value,
            "type": "market",
            "size": int(lots),
        }
        if order.leg is not Leg.NET:
            # Hedge mode: the position side says which leg; closing is implied, so no reduceOnly.
            body["positionSide"] = order.leg.value.upper()
        elif order.reduce_only:
            body["reduceOnly"] = True
        data = None
        for fresh in (False, True):
            body["marginMode"] = await self._margin_mode(order.symbol, fresh=fresh)
            if body["marginMode"] == "ISOLATED" and not order.reduce_only:
                body["leverage"] = self.settings.isolated_leverage
            else:
                body.pop("leverage", None)
            try:
                data = await self._request(
                    "POST",
                    "/api/v1/orders",
                    body,
                    action=f"order {order.client_id}",
                    placing=True,
                    passthrough=frozenset({MARGIN_MODE_MISMATCH}) if not fresh else frozenset(),
                    on_sent=self._note_signed(order),
                )
                break
            except _Refused:
                # 330005: the contract's margin mode changed on KuCoin; refused, so read it and send once more.
                log.info("KuCoin refused order %s for its margin mode: reading the mode again", order.client_id)
        order_id = str(data.get("orderId", "")) if isinstance(data, Mapping) else ""
        self._acknowledged(order.client_id, order_id)
        # The answer carries only the order id; its fill is read back (a market order matches at once).
        try:
            detail = await self._order_by_id(order.symbol, order_id) if order_id else None
        except VenueError as e:
            log.info("order %s accepted by KuCoin; its fill is read later (%s)", order.client_id, e)
            detail = None
        if detail is None:
            return OrderResult(order.client_id, OrderState.OPEN)
        return self._settled(order.client_id, self._result(order.client_id, detail, order.symbol))

    def _acknowledged(self, client_id: str, order_id: str) -> None:
        if order_id:
            self._sent.setdefault(client_id, _Sent()).order_id = order_id
            self._order_ids[order_id] = client_id
            while len(self._order_ids) > KNOWN_ORDERS:
                del self._order_ids[next(iter(self._order_ids))]  # the oldest: its fills are long past any proof

    def _settled(self, client_id: str, result: OrderResult) -> OrderResult:
        if result.state.is_resolved:
            self._sent.pop(client_id, None)
        return result

    # --- lookups and the "absent" rule --------------------------------------------------------------

    async def lookup(self, symbol: str, client_id: str, *, sent_at: datetime | None = None) -> OrderResult:
        sent = self._sent.get(client_id)
        found = await self._find(symbol, client_id)
        if found is not None:
            return self._settled(client_id, found)
        if sent is not None and sent.order_id:
            raise VenueUnavailable(
                f"KuCoin accepted order {client_id} (order id {sent.order_id}) but does not show it yet; asking again"
            )
        grace_ms = self._margin_ms + int(self.settings.lost_order_grace_s * 1000)
        if sent is not None and sent.signed_ms:
            deadline = sent.signed_ms + self._window_ms + grace_ms
            fills = (sent.signed_ms - self._window_ms - self._margin_ms, deadline)
        else:
            # Sent by an earlier run: signed before this run first read KuCoin's clock, at most a window ahead.
            first = self._first_server_ms if self._first_server_ms is not None else await self._server_ms()
            deadline = first + 2 * self._window_ms + grace_ms
            fills = self._earlier_fills_window(first, deadline, sent_at)
        await self._wait_for_kucoin_clock(deadline, client_id)
        found = await self._find(symbol, client_id)
        if found is None:
            found = await self._find_in_fills(symbol, client_id, *fills)
        if found is not None:
            return self._settled(client_id, found)
        log.info(
            "order %s is not at KuCoin, and KuCoin's clock is past its timestamp window and the grace period: it was "
            "never placed",
            client_id,
        )
        return self._settled(client_id, OrderResult(client_id, OrderState.ABSENT))

    def _earlier_fills_window(self, first_ms: int, deadline_ms: int, sent_at: datetime | None) -> tuple[int, int]:
        """Where an earlier run's order can have filled: around the journal's send time, when there is one
        (read on this computer's clock, hence the slack), else from just before this run began."""
        if sent_at is None:
            return first_ms - 2 * self._window_ms - self._margin_ms, deadline_ms
        offset = self._clock.now_ms() - int(time.time() * 1000)  # KuCoin's clock − this computer's
        sent_ms = int(sent_at.timestamp() * 1000) + offset
        reach = 2 * self._window_ms + self._margin_ms + int(self.settings.lost_order_grace_s * 1000)
        return sent_ms - reach - EARLIER_RUN_SLACK_MS, min(deadline_ms, sent_ms + reach + EARLIER_RUN_SLACK_MS)

    async def _wait_for_kucoin_clock(self, deadline_ms: int, client_id: str) -> None:
        """Until KuCoin's own clock, read fresh, shows `deadline_ms`: never estimated from ours."""
        for _ in range(20):
            now = await self._server_ms()
            if now >= deadline_ms:
                return
            wait = (deadline_ms - now) / 1000
            log.info("order %s not at KuCoin yet; asking again in %.1f s, once it cannot arrive", client_id, wait)
            await asyncio.sleep(wait)
        raise VenueUnavailable(f"KuCoin's clock did not reach the deadline of order {client_id}; asking again later")

    async def _order_record(self, path: str, params: Mapping[str, Any] | None, action: str) -> Mapping[str, Any] | None:
        """One order as KuCoin records it, or None when KuCoin says it has no such order."""
        try:
            data = await self._request("GET", path, params, action=action, passthrough=_NOT_FOUND_CODES)
        except _Refused as refused:
            if order_not_found(refused.reply):
                return None
            raise classify(
                RuntimeError(refused.reply.code), refused.reply, action=action, placing=False, host=self.host
            ) from None
        if data is None:
            return None  # KuCoin answers some unknown ids with success and no data
        if not isinstance(data, Mapping):
            raise VenueUnavailable(f"KuCoin answered {action} with something other than an order. Retrying.")
        return data

    async def _find(self, symbol: str, client_id: str) -> OrderResult | None:
        """KuCoin's record of `client_id`, or None when KuCoin says it has no such order."""
        action = f"looking up order {client_id}"
        if self.futures:
            data = await self._order_record("/api/v1/orders/byClientOid", {"clientOid": client_id}, action)
        else:
            data = await self._order_record(f"/api/v1/hf/orders/client-order/{client_id}", {"symbol": symbol}, action)
        if data is None:
            return None
        if str(data.get("clientOid", client_id)) != client_id:
            raise VenueUnavailable(f"KuCoin answered the lookup of order {client_id} with another order. Retrying.")
        if data.get("id"):
            self._acknowledged(client_id, str(data["id"]))
        return self._result(client_id, data, symbol)

    async def _order_by_id(self, symbol: str, order_id: str) -> Mapping[str, Any] | None:
        action = f"reading order {order_id}"
        if self.futures:
            return await self._order_record(f"/api/v1/orders/{order_id}", None, action)
        return await self._order_record(f"/api/v1/hf/orders/{order_id}", {"symbol": symbol}, action)

    async def _find_in_fills(self, symbol: str, client_id: str, since_ms: int, until_ms: int) -> OrderResult | None:
        """The order behind any fill of `symbol` in the window that is not known here, by its order id."""
        if self.futures:
            params: dict[str, Any] = {"symbol": symbol, "startAt": since_ms, "endAt": until_ms, "pageSize": FILLS_PAGE}
            data = await self._request("GET", "/api/v1/fills", params, action=f"reading the fills of {symbol}")
        else:
            params = {"symbol": symbol, "startAt": since_ms, "endAt": until_ms, "limit": FILLS_PAGE}
            data = await self._request("GET", "/api/v1/hf/fills", params, action=f"reading the fills of {symbol}")
        items = data.get("items") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise VenueUnavailable(f"KuCoin answered the fills of {symbol} without a list. Retrying.")
        total = int(dec(data.get("totalNum", len(items)))) if isinstance(data, Mapping) else len(items)
        if len(items) >= FILLS_PAGE or total > len(items):
            raise VenueUnavailable(
                f"{symbol} had too many fills around order {client_id} to prove it was never placed; asking again "
                f"later. Check KuCoin's order history for client id {client_id}."
            )
        unknown = {str(f.get("orderId")) for f in items if isinstance(f, Mapping) and f.get("orderId")}
        for order_id in sorted(unknown - set(self._order_ids)):
            detail = await self._order_by_id(symbol, order_id)
            if detail is None or str(detail.get("clientOid", "")) != client_id:
                continue
            log.warning("order %s was found by its fill, not by its client id", client_id)
            self._acknowledged(client_id, order_id)
            return self._result(client_id, detail, symbol)
        return None

    # --- answers → OrderResult ----------------------------------------------------------------------

    def _result(self, client_id: str, data: Json, symbol: str) -> OrderResult:
        return self._futures_result(client_id, data) if self.futures else self._spot_result(client_id, data, symbol)

    @staticmethod
    def _spot_result(client_id: str, data: Json, symbol: str) -> OrderResult:
        """An HF order record (lookups) or the synchronous placement's answer, which has `status` instead of
        `active`. A finished market order that executed nothing (no liquidity, price protection) is REJECTED."""
        if not isinstance(data, Mapping) or "dealSize" not in data:
            raise OutcomeUnknown(f"KuCoin's answer about order {client_id} on {symbol} has no executed size")
        filled, funds = dec(data.get("dealSize")), dec(data.get("dealFunds"))
        avg = Decimal(plain(funds / filled)) if filled > 0 and funds > 0 else None
        fee = dec(data["fee"]) if data.get("fee") is not None else None
        active = data.get("active") if "active" in data else str(data.get("status", "")).lower() == "open"
        if active:
            return OrderResult(client_id, OrderState.OPEN, Decimal(plain(filled)), avg)
        if filled > 0:
            fee_asset = str(data.get("feeCurrency") or "")
            return OrderResult(client_id, OrderState.FILLED, Decimal(plain(filled)), avg, fee, fee_asset)
        return OrderResult(client_id, OrderState.REJECTED)

    def _futures_result(self, client_id: str, data: Mapping[str, Any]) -> OrderResult:
        """A futures order record: sizes in lots, converted to base units."""
        symbol = str(data.get("symbol", ""))
        lot = self._contracts.lot.get(symbol)
        if lot is None or "filledSize" not in data or "status" not in data:
            raise OutcomeUnknown(f"KuCoin's answer about order {client_id} has no executed size for a known contract")
        filled = Decimal(plain(dec(data["filledSize"]) * lot))
        price = dec(data.get("avgDealPrice"))
        avg = Decimal(plain(price)) if price > 0 else None
        if str(data["status"]).lower() == "open" or data.get("isActive") is True:
            return OrderResult(client_id, OrderState.OPEN, filled, avg)
        if filled > 0:
            return OrderResult(client_id, OrderState.FILLED, filled, avg)
        return OrderResult(client_id, OrderState.REJECTED)


# Lookups see these refusals themselves: futures 100001, spot's parameter error "order not exist".
_NOT_FOUND_CODES = frozenset({"100001", "400100", "404000"})
