"""What the Kraken end-to-end tests share: an MT5 netting account in miniature, an EA played by the bridge
client, the fake Kraken seen as venue positions, and profiles that point a real `csmc run` at the fake."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bridge.client import BridgeClient
from bridge.messages import Account, AlertMsg, Position, Status
from sidecar.model import Leg, LegKey
from tests.conftest import write_profile
from tests.e2e.harness import RunningSidecar
from tests.fakes.kraken import FakeKraken, LoggedRequest, iter_lines
from tests.venues.kraken.conftest import API_KEY, OTP, SECRET

D = Decimal
WAIT = 20.0  # seconds any one awaited condition may take before the test fails
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
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            log = "\n".join(iter_lines(fake.requests[-30:])) if fake else ""
            raise AssertionError(f"timed out waiting for {what}\n{log}")
        await asyncio.sleep(0.02)


class Ea:
    """The EA's side of the bridge, as the bridge client plays it."""

    def __init__(self, sidecar: RunningSidecar, profile: str, login: int = 51234567) -> None:
        self.client = BridgeClient(
            f"tcp://127.0.0.1:{sidecar.port}",
            sidecar.token,
            connector="kraken",
            profile=profile,
            account=Account(login=login, server="Demo-Server", currency="USD", margin_mode="netting"),
        )

    async def start(self) -> None:
        await self.client.hello(timeout=WAIT)
        await self.client.wait_for(lambda m: m.type == "request_snapshot", WAIT)

    async def send(self, book: Book) -> None:
        seq = await self.client.snapshot(mt5_table(book))
        await self.client.wait_for(lambda m: m.type == "ack" and getattr(m.body, "seq", None) == seq, WAIT)

    async def status(self, predicate: Callable[[Status], bool], what: str) -> Status:
        deadline = time.monotonic() + WAIT
        last: Status | None = None
        while time.monotonic() < deadline:
            try:
                message = await self.client.wait_for(lambda m: m.type == "status", deadline - time.monotonic())
            except TimeoutError:
                break
            assert isinstance(message.body, Status)
            last = message.body
            if predicate(last):
                return last
        raise AssertionError(f"no status with {what}; last status: {last}\nalerts: {self.alerts()}")

    async def in_sync(self, want: dict[LegKey, Decimal]) -> Status:
        return await self.status(lambda s: in_sync(s, want), f"every position in sync at {want}")

    def alerts(self) -> list[AlertMsg]:
        return [m.body for m in self.client.received if isinstance(m.body, AlertMsg)]

    async def alert(self, predicate: Callable[[AlertMsg], bool], what: str) -> AlertMsg:
        """The first alert, already received or still to come, that matches."""
        for alert in self.alerts():
            if predicate(alert):
                return alert
        try:
            message = await self.client.wait_for(lambda m: isinstance(m.body, AlertMsg) and predicate(m.body), WAIT)
        except TimeoutError:
            raise AssertionError(f"no alert with {what}; alerts: {self.alerts()}") from None
        assert isinstance(message.body, AlertMsg)
        return message.body

    async def close(self) -> None:
        await self.client.close("test finished")


def in_sync(status: Status, want: dict[LegKey, Decimal]) -> bool:
    rows = {LegKey(r.symbol, Leg(r.leg)): r for r in status.instruments}
    for key, qty in want.items():
        row = rows.get(key)
        if qty == 0 and row is None:
            continue
        if row is None or row.target != qty or row.venue != qty:
            return False
    return status.copying and status.mismatches == 0


def orders_since(fake: FakeKraken, case: Case, mark: int) -> list[LoggedRequest]:
    return [r for r in fake.requests[mark:] if r.method == "POST" and r.path == case.order_path]
