"""End to end: the bridge client (the EA's part) → a real `csmc run` → kucoin-universal-sdk → the fake KuCoin.

One story per way of using KuCoin (Spot, Futures one-way, Futures hedge), in mirror mode with the periodic
sync off (so a repair can only come from the step under test), then follow mode with a 1 s periodic sync.
On Futures, XBTUSDTM is in cross margin and the other contracts isolated, as a user may have set them.
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.messages import Status
from sidecar.model import Leg, LegKey
from tests.e2e.harness import csmc, running
from tests.fakes.kucoin import FakeKuCoin, Fault
from tests.secrets import find_secrets
from tests.venues.kucoin.story import (
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
    venue_symbol,
    write_case_profile,
)

D = Decimal
pytestmark = pytest.mark.slow
CROSS = "XBTUSDTM"


def start_venue(fake: FakeKuCoin, case: Case, btc: str, eth: str) -> None:
    """What the account holds before the copier starts: BTC long, ETH long (Spot) or short."""
    fake.position_mode = 1 if case.hedge else 0
    fake.margin_modes[CROSS] = "CROSS"
    hold(fake, case, leg(case, "BTCUSD"), btc)
    hold(fake, case, leg(case, "ETHUSD", "buy" if case.spot else "sell"), eth)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_mirror(case: Case, csmc_home: Path, fake: FakeKuCoin) -> None:
    profile = write_case_profile(csmc_home, f"mirror-{case.id}", fake, case, mirror=True, period=0, log_headers=True)
    # Spot starts as the manual's §9.1 example: KuCoin holds 0.01 BTC, 0 ETH and 100000 USDT.
    start_venue(fake, case, "0.01" if case.spot else "0.05", "0" if case.spot else "0.5")
    with running(csmc_home, profile, connector="kucoin") as sidecar:
        sidecar.wait_listening()
        ea = Ea(sidecar, case, profile)
        try:
            await ea.start()
            if case.spot:
                book = await manual_example(ea, fake)
            else:
                # Startup sync: the venue is made equal to MT5, including what MT5 does not hold at all.
                book = {"BTCUSD": ("0.03", "0.01")}
                await ea.send(book)
                await ea.in_sync(expected(case, book) | {leg(case, "ETHUSD", "sell"): D(0)})
                assert held(fake, case, leg(case, "ETHUSD", "sell")) == 0
                if case is ONE_WAY:  # both startup orders only reduce a position
                    assert [p.params.get("reduceOnly") for p in posts_since(fake, case, 0)] == [True, True]
            check_order_flags(fake, case, 0)

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
            await size_rejection(ea, fake, case, book, case.third)
            if case.wrong_margin:
                await mode_mismatch_refused(sidecar, case, profile)
        finally:
            await ea.close()
    assert "Traceback" not in sidecar.output()
    logs = (csmc_home / "logs" / f"run-{profile}.log").read_text(encoding="utf-8")
    headers = [line for line in logs.splitlines() if "request headers:" in line]
    assert headers and all(
        "KC-API-KEY: ***" in line and "KC-API-SIGN: ***" in line and "KC-API-PASSPHRASE: ***" in line
        for line in headers
        if "/api/v1/timestamp" not in line
    )
    assert find_secrets(logs) == []


async def manual_example(ea: Ea, fake: FakeKuCoin) -> Book:
    """Manual §9.1: quote USDT, MT profit currency USD; MT5 holds 0 BTC and 0.1 ETH, KuCoin Spot 0.01 BTC, 0 ETH
    and 100000 USDT: the sync sells 0.01 BTC and buys 0.1 ETH."""
    book: Book = {"ETHUSD": ("0.1", "0")}
    await ea.send(book)
    await ea.in_sync({LegKey("ETH-USDT"): D("0.1"), LegKey("BTC-USDT"): D(0)})
    orders = {(p.params["side"], p.params["symbol"], p.params["size"]) for p in posts_since(fake, SPOT, 0)}
    assert orders == {("sell", "BTC-USDT", "0.01"), ("buy", "ETH-USDT", "0.1")}
    assert (fake.spot_balance("BTC"), fake.spot_balance("ETH")) == (0, D("0.1"))
    return book


def check_order_flags(fake: FakeKuCoin, case: Case, mark: int) -> None:
    """Futures: every order carries the contract's margin mode, isolated openings a leverage; hedge orders a
    position side and never reduceOnly; one-way closing orders reduceOnly."""
    for post in posts_since(fake, case, mark):
        p = post.params
        if case.spot:
            assert set(p) == {"clientOid", "symbol", "side", "type", "size"}, post
            continue
        assert isinstance(p["size"], int)
        assert p["marginMode"] == ("CROSS" if p["symbol"] == CROSS else "ISOLATED"), post
        if p["marginMode"] == "CROSS" or p.get("reduceOnly"):
            assert "leverage" not in p, post
        if case is HEDGE:
            assert p.get("positionSide") in ("LONG", "SHORT"), post
            assert "reduceOnly" not in p, post
        else:
            assert "positionSide" not in p, post


async def accepted_but_timed_out(ea: Ea, fake: FakeKuCoin, case: Case, book: Book) -> None:
    """KuCoin executes the order but the answer never comes: looked up by client id, executed once."""
    fake.inject("POST", case.order_path, Fault(execute=True, stall=4))
    mark = len(fake.requests)
    book["BTCUSD"] = ("0.05", "0.01")
    await ea.send(book)
    await ea.in_sync(expected(case, book))
    (lost,) = [p for p in posts_since(fake, case, mark) if p.status == -1]
    client_id = lost.params["clientOid"]
    assert len(fake.executions_of(client_id)) == 1
    assert len(posts_since(fake, case, mark)) == 1  # never sent again
    lookups = fake.requests_to("GET", case.lookup_path)
    assert lookups and client_id in (lookups[-1].path + str(lookups[-1].params))


async def unknown_then_absent_then_resent(ea: Ea, fake: FakeKuCoin, case: Case, book: Book) -> None:
    """A 503 before execution: unknown → looked up → proven absent once KuCoin's clock is past the order's
    5 s window, the 1 s margin and the 1 s grace → sent again with the same client id, executed once.

    The wait is measured on KuCoin's clock, never the computer's: so rather than wait 7 s, the test moves
    the fake's clock 8 s ahead while the first lookup is on its way (that lookup is then refused for its
    timestamp, and the sidecar reads KuCoin's clock again)."""
    on_its_way = threading.Event()
    fake.inject("POST", case.order_path, Fault(status=503, msg="Service Unavailable"))
    fake.inject("GET", case.lookup_path, Fault(hold=on_its_way))
    mark = len(fake.requests)
    book["BTCUSD"] = ("0.06", "0.01")
    try:
        await ea.send(book)
        await until(
            lambda: any(r.path.startswith("/api/v1/hf/orders/client-order/") for r in fake.requests[mark:]),
            "the first lookup",
            fake,
        )
        fake.clock_offset_ms += 8000
    finally:
        on_its_way.set()
    await ea.in_sync(expected(case, book))
    first, again = posts_since(fake, case, mark)
    assert (first.status, again.status) == (503, 200)
    assert first.params["clientOid"] == again.params["clientOid"]
    assert again.server_ms >= first.signed_ms + 5000 + 1000 + 1000  # window + margin + lost_order_grace_s
    assert fake.requests_to("GET", "/api/v1/hf/fills")  # the fills were checked too
    assert len(fake.executions_of(first.params["clientOid"])) == 1


async def clock_skew(ea: Ea, fake: FakeKuCoin, case: Case, book: Book) -> None:
    """KuCoin's clock moves 8 s ahead: 400002, the clock is read again, the order goes through once."""
    fake.clock_offset_ms += 8000
    mark = len(fake.requests)
    book["BTCUSD"] = ("0.07", "0.01")
    await ea.send(book)
    await ea.in_sync(expected(case, book))
    refused, accepted = posts_since(fake, case, mark)
    assert (refused.code, accepted.status) == ("400002", 200)
    assert refused.params["clientOid"] == accepted.params["clientOid"]
    assert len(fake.executions_of(accepted.params["clientOid"])) == 1
    assert any(r.path == "/api/v1/timestamp" for r in fake.requests[mark:])


async def rate_limit_and_sync_after_error(ea: Ea, fake: FakeKuCoin, case: Case, book: Book) -> None:
    """A 429 with gw-ratelimit-reset 1000 ms: nothing is sent for 1 s, not even for a new MT5 change; then the
    sync after the error copies that change and repairs a position changed behind our back (no periodic
    sync runs)."""
    eth = leg(case, "ETHUSD", "sell") if not case.spot else leg(case, "ETHUSD")
    hold(fake, case, eth, "0.3")
    fault = Fault(status=429, code="429000", msg="Too Many Requests", reset_ms=1000)
    fake.inject("POST", case.order_path, fault)
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
    assert later[0].at >= refused.answered_at + 1.0
    await ea.alert(lambda a: a.code == "unavailable" and "for 1 s" in a.text, "the rate-limit warning")
    await ea.send(book)  # a status to read the sidecar's view by
    await ea.in_sync(want)


async def size_rejection(ea: Ea, fake: FakeKuCoin, case: Case, book: Book, third: str) -> None:
    """KuCoin tightens BTC's rule while the sidecar runs (Spot: the size step; Futures: the largest order):
    the BTC order is rejected with a clear alert, the other symbol is still copied, the BTC target is kept,
    and the next MT5 change that fits is copied."""
    if case.spot:
        fake.set_spot_rule("BTC-USDT", baseIncrement="0.001", baseMinSize="0.001")
        book["BTCUSD"] = ("0.1055", "0.01")
        book[third] = ("5", "0")
    else:
        fake.set_contract(CROSS, maxOrderQty=20)  # 0.02 BTC
        book["BTCUSD"] = ("0.13", "0.01")
        book[third] = ("100", "0")
    btc = leg(case, "BTCUSD")
    before = held(fake, case, btc)
    await ea.send(book)
    text = "Order size increment invalid." if case.spot else "exceeds the maximum of 20 lots"
    alert = await ea.alert(lambda a: a.code == "rejected" and text in a.text, "the size rejection")
    assert alert.level == "error"
    assert venue_symbol(case, "BTCUSD") in alert.text
    assert "code 400100" in alert.text and "read again" in alert.text
    want_third = {k: v for k, v in expected(case, book).items() if k.symbol == venue_symbol(case, third)}

    def rejected_but_kept(status: Status) -> bool:
        rows = {LegKey(r.symbol, Leg(r.leg)): r for r in status.instruments}
        row = rows.get(btc)
        if row is None or row.target != expected(case, book)[btc] or row.venue != before:
            return False
        return row.note.startswith("rejected:") and all(rows[k].venue == q for k, q in want_third.items() if k in rows)

    await ea.status(rejected_but_kept, "BTC rejected with its target kept, the other symbol copied")
    assert all(held(fake, case, k) == q for k, q in want_third.items())
    assert held(fake, case, btc) == before
    book["BTCUSD"] = ("0.11", "0.01") if case.spot else ("0.1", "0.01")  # a copy that fits the new rule
    await ea.send(book)
    await ea.in_sync(expected(case, book))


async def mode_mismatch_refused(sidecar: object, case: Case, profile: str) -> None:
    """An MT5 account of the other kind connects: copying is refused with how to change the Position Mode."""
    assert case.wrong_margin is not None
    other = Ea(sidecar, case, profile, margin_mode=case.wrong_margin)  # type: ignore[arg-type]
    try:
        await other.client.hello()
        alert = await other.alert(lambda a: a.code == "refused", "the refusal")
        assert alert.critical and alert.level == "error"
        assert case.refusal in alert.text
        assert "Position Mode" in alert.text and "no open positions and no pending orders" in alert.text
        status = await other.status(lambda s: case.refusal in s.detail, "the refusal in the status", received=True)
        assert not status.copying
    finally:
        await other.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_follow(case: Case, csmc_home: Path, fake: FakeKuCoin) -> None:
    """Follow mode keeps what the venue held at start and copies changes; the periodic sync repairs a
    position changed behind the copier's back."""
    profile = write_case_profile(csmc_home, f"follow-{case.id}", fake, case, mirror=False, period=1)
    start_venue(fake, case, "0.05", "0")
    btc = leg(case, "BTCUSD")
    with running(csmc_home, profile, connector="kucoin") as sidecar:
        sidecar.wait_listening()
        ea = Ea(sidecar, case, profile)
        try:
            await ea.start()
            book: Book = {"BTCUSD": ("0.02", "0")}
            await ea.send(book)
            kept = await ea.alert(lambda a: a.code == "offsets", "the follow-mode offsets")
            assert venue_symbol(case, "BTCUSD") in kept.text and "+0.03" in kept.text
            await ea.in_sync({btc: D("0.05")})  # MT5 0.02 + the 0.03 held at start
            assert posts_since(fake, case, 0) == []  # nothing was traded at start

            book["BTCUSD"] = ("0.03", "0")
            await ea.send(book)
            await ea.in_sync({btc: D("0.06")})
            (copied,) = posts_since(fake, case, 0)
            assert (copied.params["side"], str(copied.params["size"])) == ("buy", "0.01" if case.spot else "10")

            hold(fake, case, btc, "0.1")  # a manual trade on KuCoin
            await until(lambda: held(fake, case, btc) == D("0.06"), "the periodic sync's repair", fake)
            await ea.in_sync({btc: D("0.06")})
        finally:
            await ea.close()
    assert "Traceback" not in sidecar.output()


@pytest.mark.parametrize("case", [SPOT, HEDGE], ids=lambda c: c.id)
def test_check_prints_account_modes_positions_mapping_and_rules(case: Case, csmc_home: Path, fake: FakeKuCoin) -> None:
    profile = write_case_profile(csmc_home, f"check-{case.id}", fake, case, mirror=True, period=0)
    start_venue(fake, case, "0.05", "0.25")
    if case.spot:
        fake.set_spot_balance("KCS", "1.5")  # neither traded nor the quote currency

    result = csmc(csmc_home, "check", "--profile", profile, "--symbol", "BTCUSD", "--symbol", "ETHUSD.pro=ETH/USD")

    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert find_secrets(out + result.stderr) == []
    assert "Traceback" not in out + result.stderr
    mode = "spot" if case.spot else "hedge"
    assert re.search(rf"^Account\s+\S.*, position mode {mode}$", out, re.M), out
    assert re.search(r"^Clock skew\s+[+-]\d+\.\d{3} s", out, re.M)
    assert re.search(r"^Balances\s+.*USDT 100000", out, re.M), out
    btc, eth = venue_symbol(case, "BTCUSD"), venue_symbol(case, "ETHUSD")
    if case.spot:
        assert re.search(rf"^  {btc}\s+0\.05$", out, re.M), out
        assert re.search(rf"^  {eth}\s+0\.25$", out, re.M), out
    else:
        assert re.search(rf"^  {btc}:LONG\s+0\.05$", out, re.M), out
        assert re.search(rf"^  {eth}:SHORT\s+0\.25$", out, re.M), out
        assert re.search(rf"^Margin mode\s+{eth} isolated \(orders open at leverage 1\), {btc} cross$", out, re.M), out
    assert re.search(rf"^Mapping\s+BTCUSD → {btc} \(multiplier 1\)$", out, re.M), out
    assert re.search(rf"^Mapping\s+ETHUSD\.pro → {eth} \(multiplier 1\)$", out, re.M)
    rules = out.split("Instrument rules\n", 1)[1].splitlines()
    rows = {cells[0]: cells[1:] for cells in (line.split() for line in rules[1:]) if len(cells) == 5}
    want = {btc: ("0.00001", "0.00001", "0.1"), eth: ("0.0001", "0.0001", "0.1")}
    if not case.spot:
        want = {btc: ("0.001", "0.001", "0"), eth: ("0.01", "0.01", "0")}  # lots of 0.001 BTC, 0.01 ETH
    assert {s: tuple(map(D, r[:3])) for s, r in rows.items()} == {s: tuple(map(D, w)) for s, w in want.items()}
    warnings = [line for line in out.splitlines() if line.startswith("Warning")]
    if case.spot:
        assert len(warnings) == 2, warnings
        assert "The API key has no IP restriction" in warnings[0]
        assert "1.5 KCS is neither a traded currency nor the quote currency USDT" in warnings[1]
    else:
        assert warnings == []
