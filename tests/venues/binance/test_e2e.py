"""End to end: the bridge client (the EA's part) → a real `csmc run` → python-binance → the fake Binance.

One story per way of using Binance (Spot, USDⓈ-M one-way, USDⓈ-M hedge), in mirror mode with the periodic
sync off (so a repair can only come from the step under test), then follow mode with a 1 s periodic sync.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.messages import Status
from sidecar.model import Leg, LegKey
from tests.e2e.harness import csmc, running
from tests.fakes.binance import FakeBinance, Fault
from tests.secrets import find_secrets
from tests.venues.binance.story import (
    CASES,
    HEDGE,
    ONE_WAY,
    SPOT,
    Book,
    Case,
    Ea,
    expected,
    held,
    hold,
    leg,
    posts_since,
    until,
    write_case_profile,
)

D = Decimal
pytestmark = pytest.mark.slow


def start_venue(fake: FakeBinance, case: Case, btc: str, eth: str) -> None:
    """What the account holds before the copier starts: BTC long, ETH long (Spot) or short."""
    fake.dual_side = case.dual
    hold(fake, case, leg(case, "BTCUSD"), btc)
    hold(fake, case, leg(case, "ETHUSD", "buy" if case.spot else "sell"), eth)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_mirror(case: Case, csmc_home: Path, fake: FakeBinance) -> None:
    profile = write_case_profile(csmc_home, f"mirror-{case.id}", fake, case, mirror=True, period=0, log_headers=True)
    start_venue(fake, case, "0.05", "0.5")
    third = case.third
    with running(csmc_home, profile, connector="binance") as sidecar:
        sidecar.wait_listening()
        ea = Ea(sidecar, case, profile)
        try:
            await ea.start()

            # Startup sync: the venue is made equal to MT5, including what MT5 does not hold at all.
            book: Book = {"BTCUSD": ("0.03", "0.01")}
            await ea.send(book)
            await ea.in_sync(expected(case, book) | {leg(case, "ETHUSD", "sell"): D(0), leg(case, "ETHUSD"): D(0)})
            assert held(fake, case, leg(case, "ETHUSD", "sell")) == 0
            check_order_flags(fake, case, 0)
            if case is ONE_WAY:  # both startup orders only reduce a position
                assert [p.params.get("reduceOnly") for p in posts_since(fake, case, 0)] == ["true", "true"]

            # Mirror: changes are copied.
            book = {"BTCUSD": ("0.04", "0.01"), "ETHUSD": ("0.3", "0")}
            await ea.send(book)
            await ea.in_sync(expected(case, book))

            # MT5 goes short ETH: a one-way account flips, a hedge account opens the SHORT leg, Spot stays flat.
            book["ETHUSD"] = ("0", "0.1")
            mark = len(fake.requests)
            await ea.send(book)
            await ea.in_sync(expected(case, book))
            if case.spot:
                await ea.alert(lambda a: a.code == "spot_short" and "held at zero" in a.text, "the Spot short warning")
            if case is ONE_WAY:
                (flip,) = posts_since(fake, case, mark)
                assert "reduceOnly" not in flip.params  # a flip is not reduce-only
            check_order_flags(fake, case, mark)

            await accepted_but_timed_out(ea, fake, case, book)
            if case.spot:
                await unknown_then_absent_then_resent(ea, fake, case, book)
            await clock_skew(ea, fake, case, book)
            await rate_limit_and_sync_after_error(ea, fake, case, book)
            await lot_size_rejection(ea, fake, case, book, third)
            if case.wrong_margin:
                await mode_mismatch_refused(sidecar, fake, case, profile)
        finally:
            await ea.close()
    assert "Traceback" not in sidecar.output()
    logs = (csmc_home / "logs" / f"run-{profile}.log").read_text(encoding="utf-8")
    headers = [line for line in logs.splitlines() if "request headers:" in line]
    assert headers and all("X-MBX-APIKEY: ***" in line for line in headers if "/v3/account" in line)
    assert any("signature=***" in line for line in headers)
    assert find_secrets(logs) == []


def check_order_flags(fake: FakeBinance, case: Case, mark: int) -> None:
    """Hedge mode: a position side on every order, never reduceOnly. One-way: closing orders reduce-only."""
    for post in posts_since(fake, case, mark):
        if case is HEDGE:
            assert post.params.get("positionSide") in ("LONG", "SHORT"), post
            assert "reduceOnly" not in post.params, post
        elif case is ONE_WAY:
            assert "positionSide" not in post.params, post
        else:
            assert "reduceOnly" not in post.params and "positionSide" not in post.params, post


async def accepted_but_timed_out(ea: Ea, fake: FakeBinance, case: Case, book: Book) -> None:
    """Binance executes the order but the answer never comes: looked up by client id, executed once."""
    fake.inject("POST", case.order_path, Fault(execute=True, stall=4))
    mark = len(fake.requests)
    book["BTCUSD"] = ("0.05", "0.01")
    await ea.send(book)
    await ea.in_sync(expected(case, book))
    (lost,) = [p for p in posts_since(fake, case, mark) if p.status == -1]
    client_id = lost.params["newClientOrderId"]
    assert len(fake.executions_of(client_id)) == 1
    assert len(posts_since(fake, case, mark)) == 1  # never sent again
    lookups = [r for r in fake.requests[mark:] if r.method == "GET" and r.path == case.order_path]
    assert lookups and lookups[0].params["origClientOrderId"] == client_id


async def unknown_then_absent_then_resent(ea: Ea, fake: FakeBinance, case: Case, book: Book) -> None:
    """A 503 before execution: unknown → looked up → proven absent → sent again with the same client id."""
    fake.inject("POST", case.order_path, Fault(status=503, msg="Service Unavailable."))
    mark = len(fake.requests)
    book["BTCUSD"] = ("0.06", "0.01")
    await ea.send(book)
    await ea.in_sync(expected(case, book))
    first, again = posts_since(fake, case, mark)
    assert (first.status, again.status) == (503, 200)
    assert first.params["newClientOrderId"] == again.params["newClientOrderId"]
    assert len(fake.executions_of(first.params["newClientOrderId"])) == 1


async def clock_skew(ea: Ea, fake: FakeBinance, case: Case, book: Book) -> None:
    """Binance's clock moves 8 s ahead: -1021, the offset is re-read, the order goes through once."""
    fake.clock_offset_ms += 8000
    mark = len(fake.requests)
    book["BTCUSD"] = ("0.07", "0.01")
    await ea.send(book)
    await ea.in_sync(expected(case, book))
    refused, accepted = posts_since(fake, case, mark)
    assert (refused.code, accepted.status) == (-1021, 200)
    assert refused.params["newClientOrderId"] == accepted.params["newClientOrderId"]
    assert len(fake.executions_of(accepted.params["newClientOrderId"])) == 1
    assert any(r.path.endswith("/time") for r in fake.requests[mark:])


async def rate_limit_and_sync_after_error(ea: Ea, fake: FakeBinance, case: Case, book: Book) -> None:
    """A 429 with Retry-After 2: nothing is sent for 2 s, not even for a new MT5 change; then the sync after
    the error copies that change and repairs a position changed behind our back (no periodic sync runs)."""
    eth = leg(case, "ETHUSD", "sell") if not case.spot else leg(case, "ETHUSD")
    hold(fake, case, eth, "0.3")
    fake.inject("POST", case.order_path, Fault(status=429, code=-1003, msg="Too many requests.", retry_after=2))
    mark = len(fake.requests)
    book["BTCUSD"] = ("0.08", "0.01")
    await ea.send(book)
    await until(lambda: any(p.status == 429 for p in posts_since(fake, case, mark)), "the 429", fake)
    book["BTCUSD"] = ("0.09", "0.01")
    await ea.send(book)
    want = expected(case, book)
    await until(lambda: all(held(fake, case, k) == q for k, q in want.items()), "the sync after the 429", fake)
    refused, *later = posts_since(fake, case, mark)
    assert refused.status == 429 and later
    assert later[0].at >= refused.answered_at + 2.0
    await ea.alert(lambda a: a.code == "unavailable" and "for 2 s" in a.text, "the rate-limit warning")
    await ea.send(book)  # a status to read the sidecar's view by
    await ea.in_sync(want)


async def lot_size_rejection(ea: Ea, fake: FakeBinance, case: Case, book: Book, third: str) -> None:
    """Binance tightens BTC's lot step while the sidecar runs: the BTC order is rejected with a clear alert,
    the other symbol is still copied, the BTC target is kept, and the next MT5 change that fits is copied."""
    if case.spot:
        fake.set_filter("spot", "BTCUSDT", "LOT_SIZE", stepSize="0.001", minQty="0.001")
    else:
        for name in ("LOT_SIZE", "MARKET_LOT_SIZE"):
            fake.set_filter("futures", "BTCUSDT", name, stepSize="0.01", minQty="0.01")
    before = held(fake, case, leg(case, "BTCUSD"))
    book["BTCUSD"] = ("0.1055", "0.01")
    book[third] = ("0.5", "0") if case.spot else ("100", "0")
    await ea.send(book)
    text = "Filter failure: LOT_SIZE" if case.spot else "code -4023"
    alert = await ea.alert(lambda a: a.code == "rejected" and text in a.text, "the lot-size rejection")
    assert alert.level == "error"
    assert "BTCUSDT" in alert.text
    assert "restart the sidecar" in alert.text.lower() or "csmc check" in alert.text
    want_third = {k: v for k, v in expected(case, book).items() if k.symbol == third[:3] + "USDT"}
    btc = leg(case, "BTCUSD")

    def rejected_but_kept(status: Status) -> bool:
        rows = {LegKey(r.symbol, Leg(r.leg)): r for r in status.instruments}
        row = rows.get(btc)
        if row is None or row.target != expected(case, book)[btc] or row.venue != before:
            return False
        return row.note.startswith("rejected:") and all(rows[k].venue == q for k, q in want_third.items() if k in rows)

    await ea.status(rejected_but_kept, "BTC rejected with its target kept, the other symbol copied")
    assert all(held(fake, case, k) == q for k, q in want_third.items())
    assert held(fake, case, btc) == before
    book["BTCUSD"] = ("0.11", "0.01")  # a copy that fits the new lot step
    await ea.send(book)
    await ea.in_sync(expected(case, book))


async def mode_mismatch_refused(sidecar: object, fake: FakeBinance, case: Case, profile: str) -> None:
    """An MT5 account of the other kind connects: copying is refused with how to change the Position Mode."""
    assert case.wrong_margin is not None
    other = Ea(sidecar, case, profile, margin_mode=case.wrong_margin)  # type: ignore[arg-type]
    try:
        await other.client.hello()
        alert = await other.alert(lambda a: a.code == "refused", "the refusal")
        assert alert.critical and alert.level == "error"
        assert case.refusal in alert.text
        assert "Position Mode" in alert.text and "no open positions and no open orders" in alert.text
        status = await other.status(lambda s: case.refusal in s.detail, "the refusal in the status", received=True)
        assert not status.copying
    finally:
        await other.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_follow(case: Case, csmc_home: Path, fake: FakeBinance) -> None:
    """Follow mode keeps what the venue held at start and copies changes; the periodic sync repairs a
    position changed behind the copier's back."""
    profile = write_case_profile(csmc_home, f"follow-{case.id}", fake, case, mirror=False, period=1)
    start_venue(fake, case, "0.05", "0")
    btc = leg(case, "BTCUSD")
    with running(csmc_home, profile, connector="binance") as sidecar:
        sidecar.wait_listening()
        ea = Ea(sidecar, case, profile)
        try:
            await ea.start()
            book: Book = {"BTCUSD": ("0.02", "0")}
            await ea.send(book)
            kept = await ea.alert(lambda a: a.code == "offsets", "the follow-mode offsets")
            assert "BTCUSDT" in kept.text and "+0.03" in kept.text
            await ea.in_sync({btc: D("0.05")})  # MT5 0.02 + the 0.03 held at start
            assert posts_since(fake, case, 0) == []  # nothing was traded at start

            book["BTCUSD"] = ("0.03", "0")
            await ea.send(book)
            await ea.in_sync({btc: D("0.06")})
            (copied,) = posts_since(fake, case, 0)
            assert (copied.params["side"], D(copied.params["quantity"])) == ("BUY", D("0.01"))

            hold(fake, case, btc, "0.1")  # a manual trade on Binance
            await until(lambda: held(fake, case, btc) == D("0.06"), "the periodic sync's repair", fake)
            await ea.in_sync({btc: D("0.06")})
        finally:
            await ea.close()
    assert "Traceback" not in sidecar.output()


@pytest.mark.parametrize("case", [SPOT, HEDGE], ids=lambda c: c.id)
def test_check_prints_account_positions_mapping_and_rules(case: Case, csmc_home: Path, fake: FakeBinance) -> None:
    profile = write_case_profile(csmc_home, f"check-{case.id}", fake, case, mirror=True, period=0)
    start_venue(fake, case, "0.05", "0.25")
    if case.spot:
        fake.set_spot_balance("BNB", "1.5")  # neither traded nor the quote currency

    result = csmc(csmc_home, "check", "--profile", profile, "--symbol", "BTCUSD", "--symbol", "ETHUSD.pro=ETH/USD")

    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert find_secrets(out + result.stderr) == []
    assert "Traceback" not in out + result.stderr
    mode = "spot" if case.spot else "hedge"
    assert re.search(rf"^Account\s+\S.*, position mode {mode}$", out, re.M), out
    assert re.search(r"^Clock skew\s+[+-]\d+\.\d{3} s", out, re.M)
    assert re.search(r"^Balances\s+.*USDT 100000", out, re.M)
    if case.spot:
        assert re.search(r"^  BTCUSDT\s+0\.05$", out, re.M), out
        assert re.search(r"^  ETHUSDT\s+0\.25$", out, re.M), out
    else:
        assert re.search(r"^  BTCUSDT:LONG\s+0\.05$", out, re.M), out
        assert re.search(r"^  ETHUSDT:SHORT\s+0\.25$", out, re.M), out
    assert re.search(r"^Mapping\s+BTCUSD → BTCUSDT \(multiplier 1\)$", out, re.M)
    assert re.search(r"^Mapping\s+ETHUSD\.pro → ETHUSDT \(multiplier 1\)$", out, re.M)
    rules = out.split("Instrument rules\n", 1)[1].splitlines()
    rows = {cells[0]: cells[1:] for cells in (line.split() for line in rules[1:]) if len(cells) == 5}
    want = {"BTCUSDT": ("0.00001", "0.00001", "5"), "ETHUSDT": ("0.0001", "0.0001", "5")}
    if not case.spot:
        want = {"BTCUSDT": ("0.001", "0.001", "100"), "ETHUSDT": ("0.001", "0.001", "20")}
    assert {s: tuple(map(D, r[:3])) for s, r in rows.items()} == {s: tuple(map(D, w)) for s, w in want.items()}
    largest = "100" if case.spot else "120"
    assert re.search(rf"^Binance rules\s+BTCUSDT: largest market order {largest}$", out, re.M), out
    warnings = [line for line in out.splitlines() if line.startswith("Warning")]
    if case.spot:
        assert len(warnings) == 1 and "1.5 BNB is neither a traded currency nor the quote currency USDT" in warnings[0]
    else:
        assert warnings == []
