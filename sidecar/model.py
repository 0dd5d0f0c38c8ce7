"""Plain domain types shared by the engine and the venue adapters. Quantities are Decimal end to end."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class MarginMode(StrEnum):
    """How the MT5 account keeps positions: one per symbol, or many per symbol."""

    NETTING = "netting"
    HEDGING = "hedging"


class PositionMode(StrEnum):
    """How the venue keeps positions."""

    ONE_WAY = "one_way"  # one signed position per instrument
    HEDGE = "hedge"  # separate LONG and SHORT legs per instrument
    SPOT = "spot"  # balances: long or flat, never short


class Leg(StrEnum):
    NET = "net"
    LONG = "long"
    SHORT = "short"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, order=True)
class LegKey:
    """One position the engine manages: a venue instrument, and on hedge-mode venues one of its legs."""

    symbol: str
    leg: Leg = Leg.NET

    def __str__(self) -> str:
        return self.symbol if self.leg is Leg.NET else f"{self.symbol}:{self.leg.value.upper()}"


@dataclass(frozen=True)
class Instrument:
    """Trading rules of one venue instrument. `multiplier` is base units per venue unit (lots on KuCoin)."""

    symbol: str
    base: str
    quote: str
    lot_step: Decimal
    min_qty: Decimal
    min_notional: Decimal = Decimal(0)
    multiplier: Decimal = Decimal(1)
    tick: Decimal = Decimal(0)
    #: The largest quantity one market order may carry (0: no limit). A larger change goes out in chunks,
    #: each an order of its own with its own client id.
    max_qty: Decimal = Decimal(0)
    #: False while the venue lists the instrument but does not trade it (a halt, a break, a settlement): the
    #: target is kept and nothing is sent until the venue's rules say it trades again.
    trading: bool = True
    #: The venue waives the minimum notional for orders that only reduce a position (Binance USDⓈ-M: "unless
    #: you choose reduce only"), so a small position can always be closed.
    reduce_only_waives_min_notional: bool = False


@dataclass(frozen=True)
class VenuePosition:
    """A position as the venue reports it: signed on a NET leg, a positive size on LONG/SHORT legs."""

    key: LegKey
    qty: Decimal


@dataclass(frozen=True)
class OrderRequest:
    client_id: str
    symbol: str
    side: Side
    qty: Decimal
    leg: Leg = Leg.NET
    reduce_only: bool = False


class OrderState(StrEnum):
    """Lifecycle of one client id, as recorded in the journal."""

    PENDING = "pending"  # recorded, about to be sent (or the sidecar died while sending)
    UNKNOWN = "unknown"  # sent; the venue's answer was lost
    FILLED = "filled"
    OPEN = "open"  # the venue holds it but it has not finished
    ABSENT = "absent"  # proven never executed
    REJECTED = "rejected"

    @property
    def is_resolved(self) -> bool:
        return self in (OrderState.FILLED, OrderState.ABSENT, OrderState.REJECTED)


@dataclass(frozen=True)
class OrderResult:
    """What the venue says about one client id: its state and how much of it executed."""

    client_id: str
    state: OrderState
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    #: Fees the venue reports for the fills, in `fee_asset` (None: the venue's answer does not say).
    fee: Decimal | None = None
    fee_asset: str = ""


@dataclass(frozen=True)
class AccountSummary:
    account_id: str
    position_mode: PositionMode
    balances: dict[str, Decimal] = field(default_factory=dict)


def signed_delta(leg: Leg, side: Side, qty: Decimal) -> Decimal:
    """How an order of `qty` on `side` changes the position of `leg`."""
    sign = 1 if side is Side.BUY else -1
    if leg is Leg.SHORT:
        sign = -sign
    return qty * sign


def order_side(leg: Leg, delta: Decimal) -> Side:
    """The side that moves `leg` by `delta` (a SHORT leg grows by selling)."""
    grows = delta > 0
    if leg is Leg.SHORT:
        return Side.SELL if grows else Side.BUY
    return Side.BUY if grows else Side.SELL
