"""Binance Spot and USDⓈ-M Futures through python-binance's synchronous `Client`.

Why the synchronous client: it is the one python-binance documents best, it keeps one `requests`
keep-alive session, and its failures separate "never sent" from "sent, no answer", which is what the
unknown-outcome rule needs. Its calls block, so they run in a worker thread; the client is not
thread-safe, so one lock serialises them (Binance's rate limits favour one request at a time anyway).

Binance quirks handled here (reference: venues.md, sections 3–5):
- python-binance never syncs the clock and sends recvWindow=10000: the offset is taken from the server's
  time at connect and again on -1021 (the refused request is then sent once more: a -1021 did nothing),
  and recvWindow is the profile's `recv_window_ms`.
- A client order id is unique only among open orders, so a filled market order does not make a resend
  idempotent: an order without an answer is looked up, and reported absent only once its recvWindow has
  passed, after which Binance can no longer accept it.
- Retry-After of a 429 or 418 is honoured for every request, not just the refused one: Binance bans IPs
  that keep sending. Before it comes to that, X-MBX-USED-WEIGHT-1M (the IP's request weight this minute, in
  every answer) is read: past 90% of the limit, routine reads wait for the next minute and the rest is kept
  for orders and their lookups.
- A USDⓈ-M market order may be answered NEW and fill a moment later: it is looked up a few times, briefly,
  before it is reported as still working.
- Prices for the minimum-notional check come from the all-symbols ticker, in one request.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests

from sidecar.config import BinanceSettings
from sidecar.decimals import ZERO, dec, plain, rule
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
from sidecar.venues.binance.errors import CLOCK, ORDER_ARCHIVED, ORDER_NOT_FOUND, classify
from sidecar.venues.binance.rules import (
    DEFAULT_WEIGHT_LIMIT,
    parse_exchange_info,
    request_weight_limit,
    symbol_statuses,
)
from sidecar.venues.binance.sdk import BinanceAPIException, Client
from sidecar.venues.transport import custom_api_url

log = logging.getLogger("csmc.binance")
T = TypeVar("T")

OFFICIAL_URLS = {"spot": "https://api.binance.com/api", "futures": "https://fapi.binance.com/fapi"}
DEFAULT_PATHS = {"spot": "/api", "futures": "/fapi"}
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
SECRET_HEADERS = frozenset({"x-mbx-apikey", "authorization", "cookie", "set-cookie"})
_SIGNATURE = re.compile(r"(?i)(signature=)[^&\s]+")
POSITION_MODE_HOWTO = (
    "Binance's Position Mode is set in the Futures trading screen: ⚙ (Preferences) → Position Mode → "
    "'One-way Mode' or 'Hedge Mode'. Binance allows the change only while the USDⓈ-M account has no open "
    "positions and no open orders."
)
# Order states after which nothing more will execute; the executed quantity is final.
FINISHED = frozenset({"CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"})
WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
# Share of the minute's request weight routine reads may use; the rest is kept for orders and their lookups.
ROUTINE_WEIGHT_SHARE = 0.9
TICKER_REUSE_S = 1.0  # an all-symbols price answer serves every price asked for within this time
FILL_WAIT_S = 2.0  # how long a market order answered NEW is watched before it is reported as still working


def endpoint_url(endpoint: str, api_url: str) -> str:
    """The base URL python-binance puts the API version after: ".../api" (Spot) or ".../fapi" (USDⓈ-M)."""
    text = api_url.strip()
    if not text:
        return OFFICIAL_URLS[endpoint]
    parts = custom_api_url(
        "binance",
        text,
        OFFICIAL_URLS[endpoint],
        "Leave it empty for Binance's own URL, or give a testnet URL (see the README).",
    )
    path = parts.path.rstrip("/") or DEFAULT_PATHS[endpoint]
    other = "futures" if endpoint == "spot" else "spot"
    if path.endswith(DEFAULT_PATHS[other]) and not path.endswith(DEFAULT_PATHS[endpoint]):
        raise ConfigError(
            f"[binance] api_url '{text}' is a {other} URL but [binance] endpoint is '{endpoint}'. Give the "
            f"{endpoint} URL (e.g. {OFFICIAL_URLS[endpoint]}) or change the endpoint."
        )
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class _ClockRefused(Exception):
    """Binance refused a request for its timestamp (-1021): nothing was done, and it may be sent again."""


def redact_url(url: str | None) -> str:
    return REDACT(_SIGNATURE.sub(lambda m: m.group(1) + MASK, url or ""))


def redact_headers(headers: Mapping[str, str | bytes]) -> str:
    shown = {
        k: (MASK if k.lower() in SECRET_HEADERS else v if isinstance(v, str) else v.decode("latin-1"))
        for k, v in headers.items()
    }
    return REDACT(", ".join(f"{k}: {v}" for k, v in shown.items()))


class BinanceVenue(VenueAdapter):
    def __init__(
        self,
        settings: BinanceSettings,
        *,
        position_symbols: Iterable[str] = (),
        fill_wait_s: float = FILL_WAIT_S,
    ) -> None:
        """`position_symbols`: venue symbols named by the profile's overrides (Spot: they carry their base
        currency's balance in place of <base><quote>). `fill_wait_s`: how long a market order Binance answers
        as NEW is looked up before it is reported as still working."""
        super().__init__()
        self.settings = settings
        self.futures = settings.endpoint == "futures"
        self.name = "Binance USDⓈ-M Futures" if self.futures else "Binance Spot"
        # MT5 hedging ↔ Binance hedge mode, netting ↔ one-way (DESIGN.md); Spot nets everything, long only.
        self.nets_hedging_accounts = not self.futures
        self.url = endpoint_url(settings.endpoint, settings.api_url)
        self.host = urlsplit(self.url).netloc
        self._override_symbols = tuple(position_symbols)
        self._client: Client | None = None
        self._lock = threading.Lock()
        self.fill_wait_s = fill_wait_s
        # One mapping for the adapter's whole life, updated in place: the symbol mapper and the engine hold it.
        self._instruments: dict[str, Instrument] = {}
        self._loaded = False
        self._statuses: dict[str, str] = {}
        self._asset_symbols: dict[str, str] = {}
        self._blocked_until = 0.0
        self._connected_at = time.monotonic()
        self._unknown_since: dict[str, float] = {}
        # The IP's request weight this minute, as Binance last reported it, and the server minute it counts for.
        self._weight_limit = DEFAULT_WEIGHT_LIMIT[settings.endpoint]
        self._weight_used = 0
        self._weight_minute = -1
        self._tickers: tuple[float, dict[str, Decimal]] | None = None  # (monotonic time read, symbol → price)
        self._tickers_read: asyncio.Future[dict[str, Decimal]] | None = None

    # --- client, threads, errors --------------------------------------------------------------------

    def _make_client(self) -> Client:
        key = self.settings.api_key.get_secret_value()
        secret = self.settings.secret_key.get_secret_value()
        if not key or not secret:
            raise ConfigError(
                "Binance needs an API key and its secret key: set api_key and secret_key in the [binance] "
                "section of the profile (or CSMC_BINANCE__API_KEY and CSMC_BINANCE__SECRET_KEY). The README, "
                "'Binance', says how to create the key."
            )
        # ping=False: the constructor would otherwise call the official URL before ours is set.
        client = Client(key, secret, requests_params={"timeout": self.settings.request_timeout_s}, ping=False)
        if self.futures:
            client.FUTURES_URL = self.url
        else:
            client.API_URL = self.url
        client.REQUEST_RECVWINDOW = self.settings.recv_window_ms
        if self.settings.log_headers:
            client.session.hooks["response"].append(self._log_exchange)
        return client

    @staticmethod
    def _log_exchange(response: requests.Response, *args: object, **kwargs: object) -> None:
        request = response.request
        log.info(
            "HTTP %s %s → %s | request headers: %s | response headers: %s",
            request.method,
            redact_url(request.url),
            response.status_code,
            redact_headers(request.headers),
            redact_headers(response.headers),
            extra={"to_ea": False},  # for the log file: the chart would drown in it
        )

    async def _in_thread(self, call: Callable[[Client], T]) -> T:
        client = self._client
        if client is None:
            raise VenueUnavailable(f"{self.name}: not connected")

        def work() -> T:
            # The lock is taken in the worker, so a cancelled await never lets two requests share the client.
            with self._lock:
                before = client.response
                try:
                    return call(client)
                finally:
                    # python-binance keeps the last answer, errors included; a request that got none leaves the
                    # previous one there, which says nothing new.
                    if client.response is not before:
                        self._note_weight(client.response)

        return await asyncio.to_thread(work)

    def _server_now(self) -> float:
        """Binance's clock in seconds, as far as the offset read at connect knows it."""
        offset = self._client.timestamp_offset if self._client is not None else 0
        return time.time() + offset / 1000

    def _note_weight(self, response: requests.Response | None) -> None:
        value = response.headers.get(WEIGHT_HEADER) if response is not None else None
        try:
            used = int(value) if value is not None else None
        except ValueError:
            used = None
        if used is not None:
            self._weight_used, self._weight_minute = used, int(self._server_now() // 60)

    def _check_gate(self, action: str, essential: bool) -> None:
        left = self._blocked_until - time.monotonic()
        if left > 0:
            raise VenueUnavailable(
                f"Binance asked for a pause ({left:.1f} s left), so {action} waits; nothing was sent", retry_after=left
            )
        # Binance counts an IP's request weight per minute and refuses (429), then bans (418), past the limit.
        # Routine reads stop short of it; orders and their lookups may use the rest, up to the limit itself.
        now = self._server_now()
        if self._weight_minute != int(now // 60):
            return  # a new minute: Binance counts afresh
        ceiling = self._weight_limit if essential else self._weight_limit * ROUTINE_WEIGHT_SHARE
        if self._weight_used < ceiling:
            return
        left = 60 - now % 60 + 0.5  # past the minute's end, so Binance's new minute has begun
        raise VenueUnavailable(
            f"Binance reports {self._weight_used} of this IP's {self._weight_limit} request weight used this minute, "
            f"so {action} waits {left:.0f} s for the next minute rather than be refused (HTTP 429); nothing was "
            f"sent. Another program using the same IP address shares this limit.",
            retry_after=left,
        )

    def _typed(self, error: Exception, action: str, placing: bool) -> VenueError:
        typed = classify(error, action=action, placing=placing, host=self.host, futures=self.futures)
        if isinstance(typed, VenueUnavailable) and typed.retry_after:
            self._blocked_until = max(self._blocked_until, time.monotonic() + typed.retry_after)
        log.debug("%s failed: %s → %s", action, type(error).__name__, type(typed).__name__)
        return typed

    async def _request(
        self,
        action: str,
        call: Callable[[Client], T],
        *,
        placing: bool = False,
        signed: bool = True,
        essential: bool = False,
        passthrough: frozenset[int] = frozenset(),
    ) -> T:
        """One REST call with Binance's error rules. Codes in `passthrough` reach the caller untranslated.
        `essential` (orders, their lookups) may use the request weight kept back from routine reads."""
        self._check_gate(action, essential or placing)
        try:
            return await self._attempt(action, call, placing, passthrough, clock_retry=signed)
        except _ClockRefused:
            pass
        # -1021: refused for its timestamp, so it did nothing. Re-read the clock and send it once more.
        log.info("Binance refused a timestamp while %s: re-reading the server's clock", action)
        await self._sync_clock()
        return await self._attempt(action, call, placing, passthrough, clock_retry=False)

    async def _attempt(
        self, action: str, call: Callable[[Client], T], placing: bool, passthrough: frozenset[int], clock_retry: bool
    ) -> T:
        try:
            return await self._in_thread(call)
        except BinanceAPIException as e:
            if e.code in passthrough:
                raise
            if clock_retry and e.code == CLOCK:
                raise _ClockRefused from None
            raise self._typed(e, action, placing) from None
        except Exception as e:  # transport errors, and anything else python-binance may raise
            raise self._typed(e, action, placing) from None

    def _server_millis(self, client: Client) -> int:
        return int((client.futures_time() if self.futures else client.get_server_time())["serverTime"])

    async def _sync_clock(self) -> None:
        def work(client: Client) -> int:
            # Against the time the answer arrived: our timestamps can then lag the server's clock (allowed,
            # within recvWindow) but never run ahead of it (refused beyond 1000 ms).
            offset = self._server_millis(client) - int(time.time() * 1000)
            client.timestamp_offset = offset
            return offset

        offset = await self._request("reading the server time", work, signed=False)
        log.debug("Binance clock offset %+d ms", offset)

    # --- VenueAdapter: connection and rules ---------------------------------------------------------

    async def connect(self) -> None:
        if self._client is None:
            self._client = self._make_client()
        await self._sync_clock()
        await self.instruments()
        # A signed read proves the key, its secret and its IP restriction now rather than at the first order.
        if self.futures:
            await self._dual_side()
        else:
            await self._spot_account()
        self._connected_at = time.monotonic()

    async def close(self) -> None:
        client = self._client
        if client is not None:
            client.close_connection()

    async def instruments(self) -> Mapping[str, Instrument]:
        if not self._loaded:
            await self._load_rules()
        return self._instruments

    async def refresh_instruments(self) -> Mapping[str, Instrument]:
        """exchangeInfo again: a symbol's status (BREAK, SETTLING → TRADING) or its filters changed."""
        await self._load_rules()
        return self._instruments

    async def _load_rules(self) -> None:
        futures = self.futures
        data = await self._request(
            "reading the exchange rules",
            lambda c: c.futures_exchange_info() if futures else c.get_exchange_info(),
            signed=False,
        )
        fresh = parse_exchange_info(data, futures=futures)
        if not fresh:
            raise VenueUnavailable(f"{self.name} answered with an empty list of symbols. Retrying.")
        if not futures:
            self._asset_symbols = self._spot_position_symbols(fresh)
        for gone in set(self._instruments) - set(fresh):
            del self._instruments[gone]
        self._instruments.update(fresh)
        self._statuses = symbol_statuses(data)
        self._weight_limit = request_weight_limit(data, futures=futures)
        self._loaded = True

    def _spot_position_symbols(self, instruments: Mapping[str, Instrument]) -> dict[str, str]:
        return spot.position_symbols(instruments, self.settings.quote_currency, self._override_symbols, "Binance")

    def venue_symbol(self, base: str, quote: str) -> str:
        return f"{base.upper()}{quote.upper()}"

    async def server_time(self) -> datetime:
        millis = await self._request("reading the server time", self._server_millis, signed=False)
        return datetime.fromtimestamp(millis / 1000, UTC)

    async def reference_price(self, symbol: str) -> Decimal | None:
        return (await self.reference_prices([symbol])).get(symbol)

    async def reference_prices(self, symbols: Collection[str]) -> dict[str, Decimal]:
        """Last traded prices from the all-symbols ticker (ticker/price without a symbol): one request, whatever
        the number of symbols, close enough for the minimum-notional check."""
        table = await self._ticker_table()
        return {symbol: table[symbol] for symbol in symbols if symbol in table}

    async def _ticker_table(self) -> dict[str, Decimal]:
        # One answer lists every symbol: legs that ask at the same moment share one request, and one answer
        # serves for a second.
        if self._tickers is not None and time.monotonic() - self._tickers[0] < TICKER_REUSE_S:
            return self._tickers[1]
        if self._tickers_read is None or self._tickers_read.done():
            self._tickers_read = asyncio.ensure_future(self._read_tickers())
        return await asyncio.shield(self._tickers_read)

    async def _read_tickers(self) -> dict[str, Decimal]:
        futures = self.futures
        try:
            rows = await self._request(
                "reading the prices",
                lambda c: c.futures_symbol_ticker() if futures else c.get_all_tickers(),
                signed=False,
            )
        except VenueError as e:
            # Without a price the order is sent and Binance itself enforces the minimum.
            log.debug("no reference prices: %s", e)
            return {}
        table: dict[str, Decimal] = {}
        for row in rows if isinstance(rows, list) else [rows]:
            price = dec(row.get("price")) if isinstance(row, Mapping) else ZERO
            if price > 0:
                table[str(row.get("symbol", ""))] = price
        self._tickers = (time.monotonic(), table)
        return table

    # --- VenueAdapter: account and positions --------------------------------------------------------

    async def _spot_account(self) -> Mapping[str, Any]:
        data: Mapping[str, Any] = await self._request(
            "reading the account", lambda c: c.get_account(omitZeroBalances="true")
        )
        if data.get("canTrade") is False:
            raise AuthError(
                "Binance says this Spot account cannot trade with this API key. In Binance → API Management tick "
                "'Enable Spot & Margin Trading' for the key, and check the account has no trading restriction."
            )
        return data

    @staticmethod
    def _spot_balances(data: Mapping[str, Any]) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for row in data.get("balances", []):
            total = dec(row.get("free")) + dec(row.get("locked"))
            if total != 0:
                out[str(row.get("asset"))] = Decimal(plain(total))  # without Binance's padding zeros
        return out

    async def _dual_side(self) -> bool:
        data = await self._request("reading the Position Mode", lambda c: c.futures_get_position_mode())
        value = data.get("dualSidePosition")
        return value is True or str(value).lower() == "true"

    async def account(self) -> AccountSummary:
        if not self.futures:
            data = await self._spot_account()
            uid = data.get("uid")
            account_id = f"Spot account {uid}" if uid else "Spot account"
            return AccountSummary(account_id, PositionMode.SPOT, self._spot_balances(data))
        mode = PositionMode.HEDGE if await self._dual_side() else PositionMode.ONE_WAY
        rows = await self._request("reading the futures balance", lambda c: c.futures_account_balance())
        balances = {str(r.get("asset")): rule(r.get("balance")) for r in rows if dec(r.get("balance")) != 0}
        return AccountSummary("USDⓈ-M Futures account", mode, balances)

    async def positions(self) -> list[VenuePosition]:
        if not self.futures:
            await self.instruments()
            balances = self._spot_balances(await self._spot_account())
            return [
                VenuePosition(LegKey(self._asset_symbols[asset]), qty)
                for asset, qty in sorted(balances.items())
                if asset in self._asset_symbols
            ]
        rows = await self._request("reading the positions", lambda c: c.futures_position_information())
        out = []
        for row in rows:
            amount = rule(row.get("positionAmt"))
            if amount == 0:
                continue
            side = str(row.get("positionSide", "BOTH")).upper()
            leg = {"LONG": Leg.LONG, "SHORT": Leg.SHORT}.get(side, Leg.NET)
            out.append(VenuePosition(LegKey(str(row.get("symbol")), leg), amount if leg is Leg.NET else abs(amount)))
        return out

    def check_account_mode(self, margin_mode: MarginMode, position_mode: PositionMode) -> None:
        if not self.futures:
            super().check_account_mode(margin_mode, position_mode)
            return
        check_futures_position_mode(
            margin_mode,
            position_mode,
            market="Binance USDⓈ-M Futures",
            venue="Binance",
            one_way="One-way Mode",
            howto=POSITION_MODE_HOWTO,
        )

    async def check_warnings(self, traded_symbols: Iterable[str]) -> list[str]:
        """Spot: balances the manual says the account should not hold (neither traded nor the quote)."""
        if self.futures:
            return []
        instruments = await self.instruments()
        traded = {instruments[s].base for s in traded_symbols if s in instruments}
        quote = self.settings.quote_currency.upper()
        warnings = []
        for asset, total in sorted(self._spot_balances(await self._spot_account()).items()):
            if asset in traded or asset == quote:
                continue
            symbol = self._asset_symbols.get(asset)
            if symbol is not None:
                warnings.append(
                    f"{plain(total)} {asset} is neither a traded currency nor the quote currency {quote}. It counts "
                    f"as a {symbol} position: with sync at startup on (mirror) it is sold, with it off (follow) it "
                    f"is kept. Move it out of the Spot wallet (e.g. to Funding) to keep the copier away from it."
                )
            else:
                warnings.append(
                    f"{plain(total)} {asset} is neither a traded currency nor the quote currency {quote}; the copier "
                    f"ignores it. The Spot account should hold only the traded currencies and {quote}."
                )
        return warnings

    async def check_details(self, traded_symbols: Iterable[str]) -> list[tuple[str, str]]:
        """The largest market order of each traded symbol, and any that Binance does not trade right now."""
        instruments = await self.instruments()
        lines = []
        for symbol in sorted(set(traded_symbols)):
            instrument = instruments.get(symbol)
            if instrument is None:
                continue
            largest = f"largest market order {plain(instrument.max_qty)}" if instrument.max_qty > 0 else "no maximum"
            state = "" if instrument.trading else f"; NOT TRADING NOW (Binance status {self._statuses.get(symbol)})"
            lines.append(("Binance rules", f"{symbol}: {largest}{state}"))
        return lines

    # --- VenueAdapter: orders -----------------------------------------------------------------------

    async def submit(self, order: OrderRequest) -> OrderResult:
        if not CLIENT_ID.match(order.client_id):
            raise OrderRejected(
                f"client order id '{order.client_id}' does not fit Binance's rules (1–36 of A-Z a-z 0-9 _ -)"
            )
        params: dict[str, str] = {
            "symbol": order.symbol,
            "side": order.side.value.upper(),
            "type": "MARKET",
            "quantity": plain(order.qty),
            "newClientOrderId": order.client_id,
            "newOrderRespType": "RESULT",
        }
        if self.futures:
            if order.leg is not Leg.NET:
                # Hedge mode: the position side says which leg; Binance refuses reduceOnly there (-1106). A
                # LONG+SELL or SHORT+BUY order is reduce-only for Binance all the same (its USDⓈ-M general info).
                params["positionSide"] = order.leg.value.upper()
            elif order.reduce_only:
                params["reduceOnly"] = "true"
        elif order.leg is not Leg.NET:
            raise OrderRejected(f"Binance Spot has no {order.leg.value} leg; order {order.client_id} not sent")
        futures = self.futures
        action = f"order {order.client_id}"
        try:
            data = await self._request(
                action,
                lambda c: c.futures_create_order(**params) if futures else c.create_order(**params),
                placing=True,
            )
        except OutcomeUnknown:
            self._unknown_since.setdefault(order.client_id, time.monotonic())
            raise
        result = self._result(order.client_id, data)
        if result.state is OrderState.OPEN:
            result = await self._watch_fill(order, result)
        return result

    async def _watch_fill(self, order: OrderRequest, result: OrderResult) -> OrderResult:
        """A market order answered NEW (USDⓈ-M accepts it before the match): look it up a few times, briefly."""
        deadline = time.monotonic() + self.fill_wait_s
        delay = 0.05
        while result.state is OrderState.OPEN:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(min(delay, left))
            delay *= 2
            try:
                found = await self._query_order(order.symbol, order.client_id)
            except VenueError as e:
                log.info("order %s is working at Binance; looking it up failed (%s)", order.client_id, e)
                break  # the engine looks it up again before anything else on this position
            if found is not None:
                result = found
        if result.state is OrderState.OPEN:
            log.info("order %s is still working at Binance after %.1f s", order.client_id, self.fill_wait_s)
        return result

    async def lookup(self, symbol: str, client_id: str, *, sent_at: datetime | None = None) -> OrderResult:
        found = await self._query_order(symbol, client_id)
        if found is None:
            # Not visible yet may still mean in flight: only once its recvWindow has passed can Binance no
            # longer accept it, and "absent" is proof.
            since = self._unknown_since.get(client_id, self._connected_at)
            wait = since + self.settings.recv_window_ms / 1000 + 1.0 - time.monotonic()
            if wait > 0:
                log.info("order %s not found at Binance yet; asking again in %.1f s", client_id, wait)
                await asyncio.sleep(wait)
                found = await self._query_order(symbol, client_id)
        if found is None:
            self._unknown_since.pop(client_id, None)
            return OrderResult(client_id, OrderState.ABSENT)
        self._unknown_since.pop(client_id, None)
        return found

    async def _query_order(self, symbol: str, client_id: str) -> OrderResult | None:
        futures = self.futures
        try:
            data = await self._request(
                f"looking up order {client_id}",
                lambda c: (c.futures_get_order if futures else c.get_order)(symbol=symbol, origClientOrderId=client_id),
                essential=True,
                passthrough=frozenset({ORDER_NOT_FOUND} if futures else {ORDER_NOT_FOUND, ORDER_ARCHIVED}),
            )
        except BinanceAPIException as e:
            if e.code == ORDER_ARCHIVED:
                # Spot -2026: "Order was canceled or expired with no executed qty over 90 days ago and has been
                # archived". It existed and ended with nothing executed: rejected, not absent.
                return OrderResult(client_id, OrderState.REJECTED)
            return None  # -2013: Binance has no order with this client id
        return self._result(client_id, data)

    def _result(self, client_id: str, data: Mapping[str, Any]) -> OrderResult:
        status = str(data.get("status", "")).upper()
        filled = dec(data.get("executedQty"))
        price = dec(data.get("avgPrice"))
        if price == 0 and filled > 0:
            price = dec(data.get("cummulativeQuoteQty")) / filled
        avg = price if price > 0 else None
        if status == "FILLED" or (status in FINISHED and filled > 0):
            return OrderResult(client_id, OrderState.FILLED, filled, avg)
        if status in FINISHED:
            # Finished with nothing executed (Spot EXPIRED: nothing in the book to match; EXPIRED_IN_MATCH: self-trade
            # prevention): the engine holds it like a rejection rather than send it again at every look.
            return OrderResult(client_id, OrderState.REJECTED)
        return OrderResult(client_id, OrderState.OPEN, filled, avg)
