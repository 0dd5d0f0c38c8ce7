"""What each way an order can end leaves behind: the journal's record, the alert the trader sees, the leg's
note and whether the leg waits. One table, every outcome the venue interface has."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.messages import Deal
from sidecar.engine import AlertLevel
from sidecar.errors import AuthError
from sidecar.journal import Journal
from sidecar.model import OrderRequest, OrderResult, OrderState
from sidecar.venues.paper import Fault, PaperVenue
from tests.unit.conftest import BTC, Rig, position

D = Decimal
DEAL = Deal(ticket=777001, position_id=1, symbol="BTCUSD", entry="in", volume=D("0.5"), magic=0, price=D("90010.5"))


class AuthFailingPaper(PaperVenue):
    async def submit(self, order: OrderRequest) -> OrderResult:
        self.submits += 1
        raise AuthError("Paper: the API key was refused (injected)")


@dataclass(frozen=True)
class Outcome:
    faults: tuple[Fault, ...]
    states: tuple[OrderState, ...]  # the journal's final state of each client id, in the order first sent
    detail: str  # in the first record's detail
    alert: tuple[AlertLevel, str, bool, tuple[str, ...]] | None  # level, code, critical, words in the text
    note: str  # in the leg's note after the first pass
    attempts: int = 1


OUTCOMES = {
    "filled": Outcome((), (OrderState.FILLED,), "", None, ""),
    "rejected": Outcome(
        (Fault.REJECT,), (OrderState.REJECTED,), "rejected (injected)",
        (AlertLevel.ERROR, "rejected", False, ("Paper rejected buy 0.50 BTCUSD", "rejected (injected)",
                                               "tried again at the next sync or when MT5 changes")),
        "rejected: Paper: order",
    ),
    "unavailable": Outcome(
        (Fault.UNAVAILABLE,), (OrderState.ABSENT,), "venue busy",
        (AlertLevel.WARNING, "unavailable", False, ("Paper unavailable: Paper: venue busy (injected)", "Will sync")),
        "venue unavailable: Paper: venue busy",
    ),
    "lost before the venue": Outcome(
        (Fault.UNKNOWN_NOT_ACCEPTED,), (OrderState.FILLED,), "",
        (AlertLevel.WARNING, "unknown", False, ("outcome unknown", "no answer for order", "checking")),
        "", attempts=2,
    ),
    "answer lost": Outcome(
        (Fault.UNKNOWN_ACCEPTED,), (OrderState.FILLED,), "",
        (AlertLevel.WARNING, "unknown", False, ("outcome unknown", "answer for order", "lost")), "",
    ),
    "still working": Outcome((Fault.ACCEPT_OPEN,), (OrderState.OPEN,), "", None, ""),
    "ended unfilled": Outcome(
        (Fault.EXPIRE,), (OrderState.REJECTED,), "ended unfilled at the venue",
        (AlertLevel.ERROR, "unfilled", False, ("Paper ended buy 0.50 BTCUSD with nothing executed", "Left as it is")),
        "ended at the venue with nothing executed",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(OUTCOMES))
async def test_each_outcome_leaves_its_record_alert_and_note(rig: Rig, name: str) -> None:
    case = OUTCOMES[name]
    engine = await rig.start()
    rig.venue.inject(*case.faults)
    await rig.snapshot(position("BTCUSD", "buy", "0.50"), deal=DEAL)
    sent = list(dict.fromkeys(o.client_id for o in rig.venue.submitted))
    [leg] = engine.status()
    note_after_first = leg.note
    sent_once = rig.venue.submits
    await rig.snapshot(position("BTCUSD", "buy", "0.50"))  # the timer's table: the same target
    await engine.journal.flush()
    records = [engine.journal.order(cid) for cid in sent]

    assert [r.state if r else None for r in records] == list(case.states)
    first = records[0]
    assert first is not None
    assert case.detail in first.detail
    assert first.attempts == case.attempts
    assert (first.deal_ticket, first.deal_price) == (777001, D("90010.5"))
    assert first.request.qty == D("0.50") and first.request.side.value == "buy" and not first.request.reduce_only
    told = [a for a in rig.alerts if a.code not in ("offsets",)]
    if case.alert is None:
        assert told == []
    else:
        level, code, critical, words = case.alert
        assert [(a.level, a.code, a.critical) for a in told] == [(level, code, critical)], told
        assert all(w in told[0].text for w in words), told[0].text
    assert case.note in note_after_first, note_after_first
    assert rig.venue.submits == sent_once, "the same table again sent another order"
    await engine.sync("periodic")  # and a periodic sync brings the venue to the table, whatever happened
    if case.states[-1] is not OrderState.OPEN:
        assert rig.venue.holdings[BTC] == D("0.50")


async def test_a_fill_is_recorded_with_its_price_and_shown_with_the_mt5_price(rig: Rig) -> None:
    engine = await rig.start()
    await rig.snapshot(position("BTCUSD", "buy", "0.50"), deal=DEAL)
    await engine.journal.flush()
    [record] = engine.journal.recent_orders()
    [leg] = engine.status()

    assert (record.state, record.filled_qty, record.avg_price) == (OrderState.FILLED, D("0.50"), D(90000))
    assert leg.last_fill is not None
    assert (leg.last_fill.qty, leg.last_fill.price, leg.last_fill.mt5_price) == (D("0.50"), D(90000), D("90010.5"))
    assert leg.mismatch == 0 and leg.mt5_symbols == ("BTCUSD",) and leg.target == D("0.50")


async def test_a_refused_key_is_a_critical_alert_and_the_leg_waits(tmp_path: Path) -> None:
    venue = AuthFailingPaper()
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    engine = await rig.start()
    await rig.snapshot(position("BTCUSD", "buy", "0.50"))
    await rig.snapshot(position("BTCUSD", "buy", "0.50"))
    await engine.journal.flush()
    [record] = engine.journal.recent_orders()
    engine.journal.close()
    rig.engine = None

    assert venue.submits == 1
    assert record.state is OrderState.ABSENT and "API key was refused" in record.detail
    [alert] = rig.alerts
    assert (alert.level, alert.code, alert.critical) == (AlertLevel.ERROR, "venue", True)
    assert alert.text == "Paper: Paper: the API key was refused (injected)"


async def test_an_order_the_journal_cannot_record_is_not_sent(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = await rig.start()

    async def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Journal, "record_order", full_disk)
    await rig.snapshot(position("BTCUSD", "buy", "0.50"))

    assert rig.venue.submits == 0 and BTC not in rig.venue.holdings
    [leg] = engine.status()
    assert leg.note.startswith("order not sent: the journal cannot be written") and "No space left" in leg.note
    [alert] = rig.alerts
    assert (alert.level, alert.code, alert.critical) == (AlertLevel.ERROR, "journal", False)
    assert "not sent: cannot write the journal" in alert.text and "No space left" in alert.text


async def test_every_order_is_logged_with_its_id_side_size_leg_and_reduce_only(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.start()
    caplog.set_level("INFO", logger="csmc.engine")
    await rig.snapshot(position("BTCUSD", "buy", "0.50"))
    await rig.snapshot(position("BTCUSD", "buy", "0.20"))
    first, second = rig.venue.submitted
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("order ")]

    assert lines == [
        f"order {first.client_id}: buy 0.50 BTCUSD",
        f"order {second.client_id}: sell 0.30 BTCUSD (reduce-only)",
    ]


async def test_a_periodic_sync_is_logged_for_the_file_only_and_others_for_the_chart_too(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    engine = await rig.start()
    caplog.set_level("INFO", logger="csmc.engine")
    await engine.sync("periodic")
    await engine.sync("after reconnect")
    syncs = [(r.getMessage(), r.__dict__.get("to_ea")) for r in caplog.records if "position sync" in r.getMessage()]

    assert syncs == [("position sync (periodic)", False), ("position sync (after reconnect)", True)]
