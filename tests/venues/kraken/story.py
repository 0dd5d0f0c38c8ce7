"""What the Kraken end-to-end tests share: an MT5 netting account in miniature, an EA played by the bridge
client, the fake Kraken seen as venue positions, and profiles that point a real `csmc run` at the fake."""

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
from tests.fakes.kraken import FakeKraken, LoggedRequest, iter_lines
from tests.venues import bridge_ea
from tests.venues.kraken.conftest import API_KEY, OTP, SECRET

D = Decimal
WAIT = bridge_ea.WAIT
PAUSE_S = 2  # the profiles' rate_limit_pause_s
SPOT_SYMBOLS = {"BTCUSD": "XBTUSD", "ETHUSD": "ETHUSD", "SOLUSD": "SOLUSD"}
ASSET_KEYS = {"XBTUSD": "XXBT", "ETHUSD": "XETH", "SOLUSD": "SOL"}


@dataclass(frozen=True)
class Case:
    """One way of using Kraken: Spot (with a two-factor password on the key) or Futures."""

    id: str
    endpoint: str

    @property
    def spot(self) -> bool:
        return self.endpoint == "spot"

    @property
    def order_path(self) -> str:
        return "/0/private/AddOrder" if self.spot else "/derivatives/api/v3/sendorder"

    @property
    def client_id_field(self) -> str:
        return "cl_ord_id" if self.spot else "cliOrdId"

    def symbol(self, mt5: str) -> str:
        return SPOT_SYMBOLS[mt5] if self.spot else f"PF_{SPOT_SYMBOLS[mt5]}"

    def key(self, mt5: str) -> LegKey:
        return LegKey(self.symbol(mt5), Leg.NET)


SPOT = Case("spot", "spot")
FUTURES = Case("futures", "futures")
CASES = (SPOT, FUTURES)

# MT5 symbol → net volume (negative: short), on a netting account.
Book = dict[str, str]


def mt5_table(book: Book) -> list[Position]:
    ids = itertools.count(1)
    positions = []
    for symbol, volume in book.items():
        net = D(volume)
        if net == 0:
            continue
        positions.append(
            Position(
                symbol=symbol,
                side="buy" if net > 0 else "sell",
                volume=abs(net),
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
    """What the venue must hold for `book`: never short on Spot."""
    return {case.key(s): (max(D(v), D(0)) if case.spot else D(v)) for s, v in book.items()}


def held(fake: FakeKraken, case: Case, mt5: str) -> Decimal:
    symbol = case.symbol(mt5)
    return fake.balance(ASSET_KEYS[symbol]) if case.spot else fake.position(symbol)


def hold(fake: FakeKraken, case: Case, mt5: str, qty: Decimal | str) -> None:
    """Change a venue position behind the copier's back."""
    symbol = case.symbol(mt5)
    if case.spot:
        fake.set_balance(ASSET_KEYS[symbol], qty)
    else:
        fake.set_position(symbol, qty)


def write_case_profile(
    home: Path,
    name: str,
    fake: FakeKraken,
    case: Case,
    *,
    mirror: bool,
    period: int,
    log_headers: bool = False,
    two_factor: bool = True,
) -> str:
    """A profile for `case`; Spot keys carry a two-factor password (the fake's key then requires it)."""
    otp = f'one_time_password = "{OTP}"\n' if case.spot and two_factor else ""
    if case.spot:
        fake.keys[API_KEY].otp = OTP
    write_profile(
        home,
        name,
        f"""connector = "kraken"

[bridge]
timeout_ms = 60000

[kraken]
endpoint = "{case.endpoint}"
api_url = "{fake.url}"
api_key = "{API_KEY}"
secret_key = "{SECRET}"
{otp}sync_at_startup = {str(mirror).lower()}
position_sync_period_s = {period}
log_headers = {str(log_headers).lower()}
request_timeout_s = 1.0
order_deadline_s = 5
rate_limit_pause_s = {PAUSE_S}
""",
    )
    return name


async def until(condition: Callable[[], bool], what: str, fake: FakeKraken | None = None) -> None:
    await bridge_ea.until(condition, what, (lambda: iter_lines(fake.requests[-30:])) if fake else None)


class Ea(bridge_ea.BridgeEa[Book]):
    """The EA's side of the bridge, as the bridge client plays it."""

    def __init__(self, sidecar: RunningSidecar, profile: str, login: int = 51234567) -> None:
        account = Account(login=login, server="Demo-Server", currency="USD", margin_mode="netting")
        super().__init__(sidecar, connector="kraken", profile=profile, account=account, table=mt5_table)


in_sync = bridge_ea.in_sync


def orders_since(fake: FakeKraken, case: Case, mark: int) -> list[LoggedRequest]:
    return [r for r in fake.requests[mark:] if r.method == "POST" and r.path == case.order_path]
