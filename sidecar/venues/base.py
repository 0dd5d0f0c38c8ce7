"""The interface every venue adapter implements.

Adapters translate their venue's errors into the four typed errors of `sidecar.errors`, and the engine
decides from the type alone: OrderRejected (do not retry), VenueUnavailable (not sent; retry later),
OutcomeUnknown (resolve with `lookup` before anything else), AuthError/ConfigError (fatal, tell the user).
Blocking SDKs run in threads inside the adapter; every method here is safe to await on the event loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from sidecar.errors import ConfigError
from sidecar.model import AccountSummary, Instrument, MarginMode, OrderRequest, OrderResult, PositionMode, VenuePosition


class VenueAdapter(ABC):
    name: str = "venue"
    #: Whether positions of a hedging MT5 account may be netted onto a one-way venue.
    nets_hedging_accounts: bool = True

    def __init__(self) -> None:
        #: Called after the venue connection came back (and on recovery from a venue-side outage): sync now.
        self.on_reconnect: Callable[[], None] | None = None
        #: Called with the reason when an established venue connection is lost; `on_reconnect` follows.
        self.on_disconnect: Callable[[str], None] | None = None

    @abstractmethod
    async def connect(self) -> None:
        """Open the connection and check the credentials; raise AuthError/ConfigError/VenueUnavailable."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def instruments(self) -> Mapping[str, Instrument]:
        """Rules of every tradable instrument, keyed by venue symbol (cached by the adapter)."""

    @abstractmethod
    def venue_symbol(self, base: str, quote: str) -> str:
        """The venue's name for the pair base/quote, e.g. BTC, USDT → BTCUSDT."""

    async def resolve(self, symbols: Collection[str]) -> None:
        """Look up venue symbols that `instruments()` does not list yet and add those the venue has.

        For venues that cannot list every instrument up front (Interactive Brokers resolves contracts one by
        one). Symbols the venue does not have are left out; raise VenueUnavailable when it cannot answer now.
        """
        return None

    @abstractmethod
    async def account(self) -> AccountSummary: ...

    @abstractmethod
    async def positions(self) -> list[VenuePosition]:
        """Every non-zero position the venue holds. Raises rather than return a partial picture."""

    @abstractmethod
    async def submit(self, order: OrderRequest) -> OrderResult:
        """Send a market order carrying `order.client_id`, exactly once."""

    @abstractmethod
    async def lookup(self, symbol: str, client_id: str, *, sent_at: datetime | None = None) -> OrderResult:
        """What the venue knows of `client_id`: FILLED, OPEN, REJECTED, or ABSENT when it proves that the
        order was never executed and never will be.

        `sent_at` is when the journal first recorded the order (None when unknown): venues whose order and
        execution history is kept per day or per window look that far back.
        """

    @abstractmethod
    async def server_time(self) -> datetime: ...

    async def reference_price(self, symbol: str) -> Decimal | None:
        """A recent price for the minimum-notional check; None when the venue gives none cheaply."""
        return None

    async def reference_prices(self, symbols: Collection[str]) -> dict[str, Decimal]:
        """Recent prices of `symbols` for the minimum-notional check, in as few requests as the venue allows.

        Venues with an all-symbols ticker answer in one request; symbols without a price are left out. The
        engine caches the answer and asks only when an order is about to be sent.
        """
        prices = {}
        for symbol in symbols:
            price = await self.reference_price(symbol)
            if price is not None:
                prices[symbol] = price
        return prices

    async def refresh_instruments(self) -> Mapping[str, Instrument]:
        """Read the trading rules again: an instrument stopped or resumed trading, or its rules changed.

        The engine calls this for an instrument that is not trading, at most every few minutes. The default
        keeps the cached rules.
        """
        return await self.instruments()

    async def check_details(self, traded_symbols: Iterable[str]) -> list[tuple[str, str]]:
        """Venue-specific lines for `csmc check`, as (label, text): e.g. the margin mode of traded contracts."""
        return []

    async def check_warnings(self, traded_symbols: Iterable[str]) -> list[str]:
        """Account set-up the user should fix though copying works (shown by `csmc check`)."""
        return []

    def check_account_mode(self, margin_mode: MarginMode, position_mode: PositionMode) -> None:
        """Refuse combinations that cannot be mirrored faithfully (DESIGN.md, "Fail closed")."""
        if position_mode is PositionMode.HEDGE and margin_mode is MarginMode.NETTING:
            raise ConfigError(
                f"The MT5 account is a netting account but {self.name} is in hedge position mode. Switch the "
                f"venue to one-way position mode, or use a hedging MT5 account."
            )
        if (
            margin_mode is MarginMode.HEDGING
            and position_mode is not PositionMode.HEDGE
            and not self.nets_hedging_accounts
        ):
            raise ConfigError(
                f"The MT5 account is a hedging account, which {self.name} cannot copy in {position_mode.value} "
                f"position mode. Use a netting MT5 account, or switch the venue to hedge position mode."
            )


def check_futures_position_mode(
    margin_mode: MarginMode, position_mode: PositionMode, *, market: str, venue: str, one_way: str, howto: str
) -> None:
    """Refuse the MT5 account kind that a futures account's position mode cannot mirror: a netting account
    on Hedge Mode, a hedging account on one-way mode. `one_way` is the venue's own name for the mode."""
    if position_mode is PositionMode.HEDGE and margin_mode is MarginMode.NETTING:
        raise ConfigError(
            f"The MT5 account is a netting account but {market} is in Hedge Mode. Switch {venue} to {one_way}, "
            f"or copy a hedging MT5 account. {howto}"
        )
    if position_mode is PositionMode.ONE_WAY and margin_mode is MarginMode.HEDGING:
        raise ConfigError(
            f"The MT5 account is a hedging account but {market} is in {one_way}. Switch {venue} to Hedge Mode, "
            f"or copy a netting MT5 account. {howto}"
        )
