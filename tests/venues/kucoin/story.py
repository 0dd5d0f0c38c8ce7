"""What the end-to-end tests share: an MT5 terminal in miniature, an EA played by the bridge client, the
fake KuCoin seen as venue positions in base units, and profiles that point a real `csmc run` at the fake."""

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
from tests.fakes.kucoin import FakeKuCoin, LoggedRequest, iter_lines
from tests.venues.kucoin.conftest import API_KEY, PASSPHRASE, SECRET

D = Decimal
WAIT = 20.0  # seconds any one awaited condition may take before the test fails
FUTURES_SYMBOLS = {"BTC": "XBTUSDTM", "ETH": "ETHUSDTM", "XRP": "XRPUSDTM"}


@dataclass(frozen=True)
class Case:
    """One way of using KuCoin: the endpoint, the MT5 account type and KuCoin's Position Mode."""

    id: str
    endpoint: str
    margin_mode: str
    hedge: bool
    third: str  # an MT5 symbol copied while another one is rejected
    wrong_margin: str | None = None  # an MT5 account type this Position Mode must refuse
    refusal: str = ""

    @property
    def spot(self) -> bool:
        return self.endpoint == "spot"

    @property
    def order_path(self) -> str:
        return "/api/v1/hf/orders/sync" if self.spot else "/api/v1/orders"

    @property
    def lookup_path(self) -> str:
        return "/api/v1/hf/orders/client-order/*" if self.spot else "/api/v1/orders/byClientOid"


SPOT = Case("spot", "spot", "netting", False, "KCSUSD")
ONE_WAY = Case("futures-one-way", "futures", "netting", False, "XRPUSD", "hedging", "is in One-Way Mode")
HEDGE = Case("futures-hedge", "futures", "hedging", True, "XRPUSD", "netting", "is in Hedge Mode")
CASES = (SPOT, ONE_WAY, HEDGE)

# MT5 symbol → (volume bought, volume sold). A netting account holds the difference as one position; a
# hedging account holds a buy and a sell position.
Book = dict[str, tuple[str, str]]


def venue_symbol(case: Case, mt5: str) -> str:
    return f"{mt5[:3]}-USDT" if case.spot else FUTURES_SYMBOLS[mt5[:3]]


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
        name = venue_symbol(case, symbol)
        if case.hedge:
            out[LegKey(name, Leg.LONG)] = D(bought)
            out[LegKey(name, Leg.SHORT)] = D(sold)
        else:
            net = D(bought) - D(sold)
            out[LegKey(name)] = max(net, D(0)) if case.spot else net
    return out


def _lot(fake: FakeKuCoin, symbol: str) -> Decimal:
    return D(str(fake.contracts[symbol]["multiplier"]))


def held(fake: FakeKuCoin, case: Case, key: LegKey) -> Decimal:
    """What KuCoin holds on a leg, in base units (KuCoin Futures counts lots)."""
    if case.spot:
        return fake.spot_balance(key.symbol.split("-")[0])
    side = {Leg.LONG: "LONG", Leg.SHORT: "SHORT"}.get(key.leg, "BOTH")
    lots = D(fake.position(key.symbol, side))
    return abs(lots) * _lot(fake, key.symbol) if key.leg is Leg.SHORT else lots * _lot(fake, key.symbol)


def hold(fake: FakeKuCoin, case: Case, key: LegKey, qty: Decimal | str) -> None:
    """Change a venue position behind the copier's back."""
    qty = D(qty)
    if case.spot:
        fake.set_spot_balance(key.symbol.split("-")[0], qty)
        return
    lots = int(qty / _lot(fake, key.symbol))
    side = {Leg.LONG: "LONG", Leg.SHORT: "SHORT"}.get(key.leg, "BOTH")
    fake.set_position(key.symbol, -lots if key.leg is Leg.SHORT else lots, side)


def leg(case: Case, symbol: str, side: str = "buy") -> LegKey:
    """The venue position a buy (or sell) of MT5 `symbol` lands on."""
    if case.hedge:
        return LegKey(venue_symbol(case, symbol), Leg.LONG if side == "buy" else Leg.SHORT)
    return LegKey(venue_symbol(case, symbol))


def write_case_profile(
    home: Path, name: str, fake: FakeKuCoin, case: Case, *, mirror: bool, period: int, log_headers: bool = False
) -> str:
    write_profile(
        home,
        name,
        f"""connector = "kucoin"

[bridge]
timeout_ms = 60000

[kucoin]
endpoint = "{case.endpoint}"
api_url = "{fake.url(case.endpoint)}"
api_key = "{API_KEY}"
secret_key = "{SECRET}"
passphrase = "{PASSPHRASE}"
sync_at_startup = {str(mirror).lower()}
position_sync_period_s = {period}
log_headers = {str(log_headers).lower()}
request_timeout_s = 1.0
lost_order_grace_s = 1
""",
    )
    return name


async def until(condition: Callable[[], bool], what: str, fake: FakeKuCoin | None = None) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            log = "\n".join(iter_lines(fake.requests[-30:])) if fake else ""
            raise AssertionError(f"timed out waiting for {what}\n{log}")
        await asyncio.sleep(0.02)


class Ea:
    """The EA's side of the bridge, as the bridge client plays it."""

    def __init__(self, sidecar: RunningSidecar, case: Case, profile: str, margin_mode: str | None = None) -> None:
        self.case = case
        self.client = BridgeClient(
            f"tcp://127.0.0.1:{sidecar.port}",
            sidecar.token,
            connector="kucoin",
            profile=profile,
            account=Account(
                login=51234567,
                server="Demo-Server",
                currency="USD",
                margin_mode=margin_mode or case.margin_mode,  # type: ignore[arg-type]
            ),
        )

    async def start(self) -> None:
        await self.client.hello(timeout=WAIT)
        await self.client.wait_for(lambda m: m.type == "request_snapshot", WAIT)

    async def send(self, book: Book) -> None:
        seq = await self.client.snapshot(mt5_table(self.case, book))
        await self.client.wait_for(lambda m: m.type == "ack" and getattr(m.body, "seq", None) == seq, WAIT)

    async def status(self, predicate: Callable[[Status], bool], what: str, *, received: bool = False) -> Status:
        """The next status that matches; with `received`, one already received counts too."""
        earlier = [m.body for m in self.client.received if isinstance(m.body, Status)] if received else []
        for status in earlier:
            if predicate(status):
                return status
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


def posts_since(fake: FakeKuCoin, case: Case, mark: int) -> list[LoggedRequest]:
    return [r for r in fake.requests[mark:] if r.method == "POST" and r.path == case.order_path]
