"""Bodies of every bridge message, one model per message type (PROTOCOL.md §4).

Types are strict, as §2 writes them: an integer is a JSON integer (not `1.0`, `"1"` or `true`), a boolean a
JSON boolean, a string a JSON string. Unknown fields are ignored so that a newer peer can add fields without
a version bump. Decimal quantities travel as JSON strings ("0.10") or numbers in plain notation and are read
as exact Decimals, never through a float (§2.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_serializer,
)

Currency = Annotated[str, StringConstraints(min_length=1, max_length=16)]
Text = Annotated[str, StringConstraints(max_length=4096)]

UINT64_MAX = 2**64 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Ticket = Annotated[int, Field(ge=0, le=UINT64_MAX)]
Magic = Annotated[int, Field(ge=INT64_MIN, le=UINT64_MAX)]

# §2.3: an optional minus, ASCII digits, optionally a point and more digits. Nothing else: no exponent, no
# "+", no spaces, no "_" separators, no other scripts' digits.
_PLAIN = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
_MAX_DECIMAL_TEXT = 64
#: What a double carries, and so what an MT5 volume or contract size can mean (§2.3).
MAX_SIGNIFICANT_DIGITS = 15
MAX_LOTS = Decimal(10) ** 9


@dataclass(frozen=True, slots=True)
class JsonNumber:
    """A JSON number literal with a fraction or an exponent, kept as written (the codec's `parse_float`).

    It is neither an int nor a string, so a strict integer or string field refuses it; only a decimal field
    reads it, and only in plain notation.
    """

    text: str


def _plain_decimal(value: object) -> Decimal:
    if isinstance(value, JsonNumber):
        value = value.text
    if isinstance(value, bool):
        raise ValueError("a decimal must be a JSON string or number, not a boolean")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("a decimal must be a finite number")
        return value
    if not isinstance(value, str):
        raise ValueError("a decimal must be a JSON string or number")
    if len(value) > _MAX_DECIMAL_TEXT or not _PLAIN.fullmatch(value):
        raise ValueError('a decimal must be written in plain notation, e.g. "0.10" (digits, optional - and .)')
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
        raise ValueError("not a decimal") from None


def _carried_by_a_double(value: Decimal) -> Decimal:
    digits = len(value.normalize().as_tuple().digits) if value else 1
    if digits > MAX_SIGNIFICANT_DIGITS:
        raise ValueError(f"more than {MAX_SIGNIFICANT_DIGITS} significant digits, more than an MT5 double holds")
    if abs(value) >= Decimal(10) ** MAX_SIGNIFICANT_DIGITS:
        raise ValueError(f"beyond 10^{MAX_SIGNIFICANT_DIGITS}")
    return value


#: A decimal on the wire, exact (§2.3).
WireDecimal = Annotated[Decimal, BeforeValidator(_plain_decimal)]
#: A quantity from MT5: exact, and no more precise or larger than a double can mean.
Quantity = Annotated[Decimal, BeforeValidator(_plain_decimal), AfterValidator(_carried_by_a_double)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


# --- EA → sidecar --------------------------------------------------------------------------------


class Account(Body):
    login: Annotated[int, Field(ge=0, le=INT64_MAX)]
    server: Annotated[str, StringConstraints(max_length=128)]
    currency: Currency
    margin_mode: Literal["netting", "hedging"]


class LoggingPrefs(Body):
    show_alerts: bool = True
    expert_log: bool = True
    info_messages: bool = True
    max_log_mb: int = Field(default=20, ge=1, le=4096)


class Hello(Body):
    token: SecretStr = Field(max_length=256)
    """Shown as ****** in reprs and logs; written out in full only on the wire."""
    versions: list[int] = Field(min_length=1, max_length=16)
    ea_version: Annotated[str, StringConstraints(max_length=32)]
    account: Account
    connector: Literal["ib", "binance", "kucoin", "kraken", "paper"] | None = None
    """The venue the EA's Connector input names; None leaves it to the sidecar's profile (the source of truth)."""
    profile: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    magic_filter: list[Magic] = Field(default_factory=list, max_length=256)
    stop_on_critical: bool = False
    logging: LoggingPrefs = LoggingPrefs()

    @field_serializer("token", when_used="always")
    def _token_on_the_wire(self, token: SecretStr) -> str:
        return token.get_secret_value()


class Position(Body):
    symbol: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    side: Literal["buy", "sell"]
    volume: Quantity = Field(gt=0, le=MAX_LOTS)
    position_id: Ticket
    magic: Magic
    contract_size: Quantity = Field(gt=0)
    base_currency: Annotated[str, StringConstraints(max_length=16)]
    profit_currency: Annotated[str, StringConstraints(max_length=16)]
    volume_step: Quantity = Field(gt=0, le=MAX_LOTS)
    volume_min: Quantity = Field(ge=0, le=MAX_LOTS)


class Deal(Body):
    ticket: Ticket
    position_id: Ticket
    symbol: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    entry: Literal["in", "out", "inout", "out_by"]
    volume: Quantity = Field(ge=0, le=MAX_LOTS)
    magic: Magic
    price: Quantity | None = Field(default=None, ge=0)
    """DEAL_PRICE: what MT5 filled at, so the venue's fill can be compared with it (slippage)."""


class Snapshot(Body):
    reason: Literal["deal", "connect", "request", "timer"]
    positions: list[Position] = Field(max_length=10_000)
    deal: Deal | None = None


class Heartbeat(Body):
    pass


class Bye(Body):
    reason: Text = ""
    critical: bool = False


# --- sidecar → EA --------------------------------------------------------------------------------


class Welcome(Body):
    version: int
    sidecar_version: str
    connector: str
    mode: Literal["mirror", "follow"]
    heartbeat_ms: int
    timeout_ms: int
    max_frame: int


class Ack(Body):
    seq: int
    applied: bool
    superseded_by: int | None = None
    """The seq of a newer snapshot that arrived with this one and was applied instead (§5.2)."""


class InstrumentStatus(Body):
    symbol: str
    leg: Literal["net", "long", "short"]
    mt5_symbols: list[str]
    target: WireDecimal
    venue: WireDecimal | None
    mismatch: WireDecimal | None
    note: str = ""
    last_fill_qty: WireDecimal | None = None
    """The venue's last fill on this leg (its quantity, average price, time), and the MT5 deal price it followed."""
    last_fill_price: WireDecimal | None = None
    last_fill_ms: int | None = None
    last_fill_mt5_price: WireDecimal | None = None


class Status(Body):
    venue_connected: bool
    copying: bool
    last_sync_ms: int | None
    mismatches: int
    instruments: list[InstrumentStatus]
    detail: Text = ""


class AlertMsg(Body):
    level: Literal["info", "warning", "error"]
    text: Text
    critical: bool = False
    code: str = ""


class RequestSnapshot(Body):
    reason: Text = ""


class Error(Body):
    code: Literal[
        "malformed",
        "invalid",
        "unknown_type",
        "too_large",
        "multipart",
        "unsupported_version",
        "bad_token",
        "no_session",
        "internal",
    ]
    text: Text
    ref_type: str = ""
    ref_seq: int | None = None


EA_TO_SIDECAR: dict[str, type[Body]] = {
    "hello": Hello,
    "snapshot": Snapshot,
    "heartbeat": Heartbeat,
    "bye": Bye,
}
SIDECAR_TO_EA: dict[str, type[Body]] = {
    "welcome": Welcome,
    "ack": Ack,
    "status": Status,
    "alert": AlertMsg,
    "request_snapshot": RequestSnapshot,
    "heartbeat": Heartbeat,
    "error": Error,
}
