"""Bodies of every bridge message, one model per message type (PROTOCOL.md §4).

Unknown fields are ignored so that a newer peer can add fields without a version bump; decimal quantities
travel as JSON strings ("0.10") and are read as Decimal, never float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_serializer

Currency = Annotated[str, StringConstraints(min_length=1, max_length=16)]
Text = Annotated[str, StringConstraints(max_length=4096)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- EA → sidecar --------------------------------------------------------------------------------


class Account(Body):
    login: int
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
    connector: Literal["ib", "binance", "kucoin", "kraken", "paper"]
    profile: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    magic_filter: list[int] = Field(default_factory=list, max_length=256)
    stop_on_critical: bool = False
    logging: LoggingPrefs = LoggingPrefs()

    @field_serializer("token", when_used="always")
    def _token_on_the_wire(self, token: SecretStr) -> str:
        return token.get_secret_value()


class Position(Body):
    symbol: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    side: Literal["buy", "sell"]
    volume: Decimal = Field(gt=0)
    position_id: int
    magic: int
    contract_size: Decimal = Field(gt=0)
    base_currency: Annotated[str, StringConstraints(max_length=16)]
    profit_currency: Annotated[str, StringConstraints(max_length=16)]
    volume_step: Decimal = Field(gt=0)
    volume_min: Decimal = Field(ge=0)


class Deal(Body):
    ticket: int
    position_id: int
    symbol: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    entry: Literal["in", "out", "inout", "out_by"]
    volume: Decimal = Field(ge=0)
    magic: int


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


class InstrumentStatus(Body):
    symbol: str
    leg: Literal["net", "long", "short"]
    mt5_symbols: list[str]
    target: Decimal
    venue: Decimal | None
    mismatch: Decimal | None
    note: str = ""


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
