"""What the end-to-end tests share: an MT5 terminal in miniature, an EA played by the bridge client, the
fake Binance seen as venue positions, and profiles that point a real `csmc run` at the fake."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bridge.messages import Account, Position
from sidecar.model import Leg, LegKey
from tests.conftest import write_profile
from tests.e2e.harness import RunningSidecar
from tests.fakes.binance import FakeBinance, LoggedRequest, iter_lines
from tests.venues import bridge_ea
from tests.venues.binance.conftest import API_KEY, SECRET

D = Decimal
WAIT = bridge_ea.WAIT


@dataclass(frozen=True)
class Case:
    """One way of using Binance: the endpoint, the MT5 account type and Binance's Position Mode."""

    id: str
    endpoint: str
    margin_mode: str
    dual: bool
    third: str  # an MT5 symbol copied while another one is rejected
    wrong_margin: str | None = None  # an MT5 account type this Position Mode must refuse
    refusal: str = ""

    @property
    def spot(self) -> bool:
        return self.endpoint == "spot"

    @property
    def order_path(self) -> str:
        return "/api/v3/order" if self.spot else "/fapi/v1/order"

    def url(self, fake: FakeBinance) -> str:
        return fake.spot_url if self.spot else fake.futures_url


SPOT = Case("spot", "spot", "netting", False, "BNBUSD")
ONE_WAY = Case("futures-one-way", "futures", "netting", False, "XRPUSD", "hedging", "is in One-way Mode")
HEDGE = Case("futures-hedge", "futures", "hedging", True, "XRPUSD", "netting", "is in Hedge Mode")
CASES = (SPOT, ONE_WAY, HEDGE)

# MT5 symbol → (volume bought, volume sold). A netting account holds the difference as one position; a
# hedging account holds a buy and a sell position.
Book = dict[str, tuple[str, str]]


def venue_symbol(mt5: str) -> str:
    return mt5[:3] + "USDT"


def mt5_table(case: Case, book: Book) -> list[Position]:
    ids = itertools.count(1)
    positions = []
    for symbol, (bought, sold) in book.items():
        parts = [D(bought), -D(sold)] if case.margin_mode == "hedging" else [D(bought) - D(sold)]
        for volume in parts:
            if volume == 0:
                continue
            positions.append(
                Position(
                    symbol=symbol,
                    side="buy" if volume > 0 else "sell",
                    volume=abs(volume),
                    position_id=next(ids),
                    magic=0,
                    contract_size=D(1),
                    base_currency=symbol[:3],
                    profit_currency="USD",
                    volume_step=D("0.0001"),
                    volume_min=D("0.0001"),
                )
            )
    return positions


def expected(case: Case, book: Book) -> dict[LegKey, Decimal]:
    """What the venue must hold for `book`: legs in hedge mode, the net elsewhere, never short on Spot."""
    out: dict[LegKey, Decimal] = {}
    for symbol, (bought, sold) in book.items():
        name = venue_symbol(symbol)
        if case.dual:
            out[LegKey(name, Leg.LONG)] = D(bought)
            out[LegKey(name, Leg.SHORT)] = D(sold)
        else:
            net = D(bought) - D(sold)
            out[LegKey(name)] = max(net, D(0)) if case.spot else net
    return out


def held(fake: FakeBinance, case: Case, key: LegKey) -> Decimal:
    if case.spot:
        return fake.spot_balance(key.symbol.removesuffix("USDT"))
    if key.leg is Leg.SHORT:
        return -fake.position(key.symbol, "SHORT")
    return fake.position(key.symbol, "LONG" if key.leg is Leg.LONG else "BOTH")


def hold(fake: FakeBinance, case: Case, key: LegKey, qty: Decimal | str) -> None:
    """Change a venue position behind the copier's back."""
    qty = D(qty)
    if case.spot:
        fake.set_spot_balance(key.symbol.removesuffix("USDT"), qty)
    elif key.leg is Leg.SHORT:
        fake.set_position(key.symbol, -qty, "SHORT")
    else:
        fake.set_position(key.symbol, qty, "LONG" if key.leg is Leg.LONG else "BOTH")


def leg(case: Case, symbol: str, side: str = "buy") -> LegKey:
    """The venue position a buy (or sell) of MT5 `symbol` lands on."""
    if case.dual:
        return LegKey(venue_symbol(symbol), Leg.LONG if side == "buy" else Leg.SHORT)
    return LegKey(venue_symbol(symbol))


def write_case_profile(
    home: Path, name: str, fake: FakeBinance, case: Case, *, mirror: bool, period: int, log_headers: bool = False
) -> str:
    write_profile(
        home,
        name,
        f"""connector = "binance"

[bridge]
timeout_ms = 60000

[binance]
endpoint = "{case.endpoint}"
api_url = "{case.url(fake)}"
api_key = "{API_KEY}"
secret_key = "{SECRET}"
sync_at_startup = {str(mirror).lower()}
position_sync_period_s = {period}
log_headers = {str(log_headers).lower()}
recv_window_ms = 2000
request_timeout_s = 1.0
""",
    )
    return name


async def until(condition: Callable[[], bool], what: str, fake: FakeBinance | None = None) -> None:
    await bridge_ea.until(condition, what, (lambda: iter_lines(fake.requests[-30:])) if fake else None)


class Ea(bridge_ea.BridgeEa[Book]):
    """The EA's side of the bridge, as the bridge client plays it."""

    def __init__(self, sidecar: RunningSidecar, case: Case, profile: str, margin_mode: str | None = None) -> None:
        account = Account(
            login=51234567,
            server="Demo-Server",
            currency="USD",
            margin_mode=margin_mode or case.margin_mode,  # type: ignore[arg-type]
        )
        table: Callable[[Book], list[Position]] = lambda book: mt5_table(case, book)  # noqa: E731
        super().__init__(sidecar, connector="binance", profile=profile, account=account, table=table)
        self.case = case


in_sync = bridge_ea.in_sync


def posts_since(fake: FakeBinance, case: Case, mark: int) -> list[LoggedRequest]:
    return [r for r in fake.requests[mark:] if r.method == "POST" and r.path == case.order_path]
