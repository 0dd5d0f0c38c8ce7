"""The sync engine on the real Binance adapter, python-binance and the fake Binance, in this process.

What the engine does with Binance's own rules — the reduce-only waiver of the minimum notional, the largest
market order, a symbol that stops and resumes trading, an order that ends unfilled — and what a sync costs in
requests to Binance.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bridge.messages import Position
from sidecar.engine import Alert, CopyMode, SyncEngine
from sidecar.journal import Journal
from sidecar.mapping import SymbolMapper
from sidecar.model import LegKey, MarginMode
from sidecar.venues.binance import BinanceVenue
from tests.fakes.binance import FakeBinance, LoggedRequest
from tests.venues.binance.story import until
from tests.venues.binance.test_adapter import settings

D = Decimal
SESSION = "ea-session-1"
COPY_KEY = "51234567@Demo-Server/binance/test"
ORDER_PATHS = ("/api/v3/order", "/fapi/v1/order")
_ids = itertools.count(1)


def row(symbol: str, side: str, volume: str | Decimal) -> Position:
    """An MT5 position of `symbol` (e.g. "BTCUSD": base BTC, profit currency USD), in base units."""
    return Position(
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        volume=D(volume),
        position_id=next(_ids),
        magic=0,
        contract_size=D(1),
        base_currency=symbol.removesuffix("USD"),
        profit_currency="USD",
        volume_step=D("0.0001"),
        volume_min=D("0.0001"),
    )


@dataclass
class Copier:
    fake: FakeBinance
    venue: BinanceVenue
    engine: SyncEngine
    alerts: list[Alert] = field(default_factory=list)
    seq: int = 0

    async def table(self, *rows: Position) -> None:
        """MT5 sends its table; the engine reconciles what it changed."""
        self.seq += 1
        assert self.engine.accept_snapshot(SESSION, self.seq, list(rows))
        await self.engine.reconcile()

    def orders(self, since: int = 0) -> list[LoggedRequest]:
        return [r for r in self.fake.requests[since:] if r.method == "POST" and r.path in ORDER_PATHS]

    def note(self, key: LegKey) -> str:
        return next(s.note for s in self.engine.status() if s.key == key)


MakeCopier = Callable[..., Awaitable[Copier]]


@pytest.fixture
async def make_copier(tmp_path: Path) -> AsyncIterator[MakeCopier]:
    made: list[Copier] = []

    async def make(fake: FakeBinance, endpoint: str, margin: MarginMode = MarginMode.NETTING, **engine: Any) -> Copier:
        venue = BinanceVenue(settings(fake.spot_url if endpoint == "spot" else fake.futures_url, endpoint))
        await venue.connect()
        mapper = SymbolMapper(
            await venue.instruments(), venue.venue_symbol, mt_profit_currency="USD", quote_currency="USDT"
        )
        alerts: list[Alert] = []
        sync = SyncEngine(
            venue,
            Journal(tmp_path / f"journal-{len(made)}.sqlite3"),
            mapper,
            mode=CopyMode.MIRROR,
            on_alert=alerts.append,
            **engine,
        )
        copier = Copier(fake, venue, sync, alerts)
        made.append(copier)
        assert await sync.start(SESSION, COPY_KEY, margin)
        return copier

    yield make
    for copier in made:
        copier.engine.close()
        copier.engine.journal.close()
        await copier.venue.close()


# --- the minimum notional does not keep a position open -----------------------------------------------------


async def test_a_small_futures_position_is_closed_reduce_only(fake: FakeBinance, make_copier: MakeCopier) -> None:
    """0.001 BTC at 60,000 is 60 USDT, below BTCUSDT's minimum notional of 100: Binance still takes the closing
    order because it is reduce-only ("… (unless you choose reduce only)"), so the engine must send it."""
    fake.set_position("BTCUSDT", "0.001")
    copier = await make_copier(fake, "futures")
    await copier.table(row("BTCUSD", "buy", "0.001"))
    assert copier.orders() == []  # in sync

    await copier.table()  # MT5 closes the position

    (close,) = copier.orders()
    assert (close.params["side"], close.params["quantity"], close.params.get("reduceOnly")) == ("SELL", "0.001", "true")
    assert close.status == 200
    assert fake.position("BTCUSDT") == 0

    await copier.table(row("BTCUSD", "buy", "0.001"))  # opening that small is still below the minimum
    assert len(copier.orders()) == 1
    assert "minimum notional" in copier.note(LegKey("BTCUSDT"))


async def test_a_small_hedge_mode_leg_is_closed(fake: FakeBinance, make_copier: MakeCopier) -> None:
    """Hedge mode cannot send reduceOnly (-1106), but Binance counts LONG+SELL as a closing order."""
    fake.dual_side = True
    fake.set_position("BTCUSDT", "0.001", "LONG")
    fake.set_position("BTCUSDT", "-0.001", "SHORT")
    copier = await make_copier(fake, "futures", MarginMode.HEDGING)
    await copier.table(row("BTCUSD", "buy", "0.001"), row("BTCUSD", "sell", "0.001"))
    assert copier.orders() == []

    await copier.table()  # MT5 closes both

    closes = sorted((r.params["positionSide"], r.params["side"], r.params["quantity"]) for r in copier.orders())
    assert closes == [("LONG", "SELL", "0.001"), ("SHORT", "BUY", "0.001")]
    assert all("reduceOnly" not in r.params and r.status == 200 for r in copier.orders())
    assert (fake.position("BTCUSDT", "LONG"), fake.position("BTCUSDT", "SHORT")) == (0, 0)


# --- the largest market order ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "largest"), [("spot", "100"), ("futures", "120")])
async def test_a_change_above_maxqty_goes_out_in_chunks(
    fake: FakeBinance, make_copier: MakeCopier, endpoint: str, largest: str
) -> None:
    """MARKET_LOT_SIZE maxQty is 100 ETH (Spot) / 120 ETH (USDⓈ-M): 250 ETH is three orders, each its own id."""
    fake.set_spot_balance("USDT", "1000000")
    copier = await make_copier(fake, endpoint)

    await copier.table(row("ETHUSD", "buy", "250"))

    sent = copier.orders()
    rest = str(250 - 2 * int(largest))
    assert [D(r.params["quantity"]) for r in sent] == [D(largest), D(largest), D(rest)]
    assert len({r.params["newClientOrderId"] for r in sent}) == 3
    assert all(r.status == 200 for r in sent)
    assert (fake.spot_balance("ETH") if endpoint == "spot" else fake.position("ETHUSDT")) == D(250)


# --- a symbol that stops trading ------------------------------------------------------------------------------


async def test_a_symbol_in_break_keeps_its_target_and_is_copied_when_it_trades_again(
    fake: FakeBinance, make_copier: MakeCopier
) -> None:
    fake.set_status("spot", "BNBUSDT", "BREAK")
    copier = await make_copier(fake, "spot", rules_refresh_s=0.2)

    await copier.table(row("BNBUSD", "buy", "1"))

    bnb = LegKey("BNBUSDT")
    [leg] = [s for s in copier.engine.status() if s.key == bnb]
    assert leg.target == D(1) and "not trading" in leg.note
    assert not any(a.code == "unmapped" for a in copier.alerts)  # not "add an override": Binance lists it
    assert copier.orders() == []

    fake.set_status("spot", "BNBUSDT", "TRADING")  # the break ends; MT5 sends nothing new
    await until(lambda: fake.spot_balance("BNB") == 1, "the order once BNBUSDT trades again", fake)
    assert len(copier.orders()) == 1


async def test_a_futures_symbol_settling_is_not_traded(fake: FakeBinance, make_copier: MakeCopier) -> None:
    fake.set_status("futures", "XRPUSDT", "SETTLING")
    copier = await make_copier(fake, "futures")

    await copier.table(row("XRPUSD", "buy", "100"))

    assert copier.orders() == []
    assert "not trading" in copier.note(LegKey("XRPUSDT"))


# --- an order that ends unfilled ------------------------------------------------------------------------------


async def test_an_order_expired_unfilled_is_held_not_sent_at_every_table(
    fake: FakeBinance, make_copier: MakeCopier
) -> None:
    fake.spot_liquidity["BTCUSDT"] = D(0)  # nothing in the book: the market order expires unfilled
    copier = await make_copier(fake, "spot")

    await copier.table(row("BTCUSD", "buy", "0.01"))
    await copier.table(row("BTCUSD", "buy", "0.01"))  # the EA's timer sends the same table again

    (expired,) = copier.orders()
    assert fake.order("spot", expired.params["newClientOrderId"])["status"] == "EXPIRED"  # type: ignore[index]
    assert any(a.code == "unfilled" for a in copier.alerts)

    fake.spot_liquidity.clear()
    await copier.engine.sync("periodic")  # the next periodic sync tries again
    assert len(copier.orders()) == 2 and fake.spot_balance("BTC") == D("0.01")


# --- what a sync costs ----------------------------------------------------------------------------------------


async def requests_of_a_quiet_sync_and_of_one_change(make_copier: MakeCopier, endpoint: str, n: int) -> tuple[int, int]:
    with FakeBinance() as fake:
        bases = [f"C{i:02}" for i in range(n)]
        for base in bases:
            fake.add_symbol(endpoint, base, "10")
            if endpoint == "spot":
                fake.set_spot_balance(base, "1")
            else:
                fake.set_position(f"{base}USDT", "1")
        copier = await make_copier(fake, endpoint)
        table = [row(f"{base}USD", "buy", "1") for base in bases]
        await copier.table(*table)
        assert copier.orders() == []

        mark = len(fake.requests)
        copier.engine._prices.clear()  # as after a quiet minute
        await copier.engine.sync("periodic")
        quiet = fake.requests[mark:]

        mark = len(fake.requests)
        table[n // 2] = row(f"{bases[n // 2]}USD", "buy", "2")
        await copier.table(*table)
        changed = fake.requests[mark:]
        assert len(copier.orders(mark)) == 1
        assert all(r.status == 200 for r in quiet + changed)
        return len(quiet), len(changed)


@pytest.mark.parametrize("endpoint", ["spot", "futures"])
async def test_a_periodic_sync_costs_the_same_few_requests_whatever_the_number_of_instruments(
    make_copier: MakeCopier, endpoint: str
) -> None:
    counts = {n: await requests_of_a_quiet_sync_and_of_one_change(make_copier, endpoint, n) for n in (1, 10, 50)}

    assert len(set(counts.values())) == 1, counts  # flat in N
    quiet, one_change = counts[50]
    assert quiet <= 3, counts
    assert one_change <= 2, counts  # the order, and the prices it needs


async def test_prices_for_many_orders_come_in_one_request(fake: FakeBinance, make_copier: MakeCopier) -> None:
    bases = [f"C{i:02}" for i in range(10)]
    for base in bases:
        fake.add_symbol("futures", base, "10")
    copier = await make_copier(fake, "futures")

    await copier.table(*(row(f"{base}USD", "buy", "1") for base in bases))

    prices = [r for r in fake.requests if "ticker" in r.path]
    assert [(r.path, r.params) for r in prices] == [("/fapi/v2/ticker/price", {})]
    assert len(copier.orders()) == 10
    assert all(fake.position(f"{base}USDT") == 1 for base in bases)
