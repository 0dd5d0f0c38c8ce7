"""End to end: the bridge client (the EA's part) → a real `csmc run` → python-kraken-sdk → the fake Kraken.

One story per endpoint (Spot with a two-factor password on the key, Futures) in mirror mode with the
periodic sync off (so a repair can only come from the step under test), then follow mode with a 1 s
periodic sync, a restart that keeps the nonces increasing, and `csmc check`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.messages import Status
from sidecar.model import Leg, LegKey
from tests.e2e.harness import assert_one_paragraph, csmc, running
from tests.fakes.kraken import FakeKraken, Fault
from tests.secrets import find_secrets
from tests.venues.kraken.story import (
    CASES,
    FUTURES,
    PAUSE_S,
    SPOT,
    Book,
    Case,
    Ea,
    expected,
    held,
    hold,
    orders_since,
    until,
    write_case_profile,
)

D = Decimal
pytestmark = pytest.mark.slow


def side_of(case: Case, params: dict[str, str]) -> str:
    return params["type"] if case.spot else params["side"]


def size_of(case: Case, params: dict[str, str]) -> Decimal:
    return D(params["volume"] if case.spot else params["size"])


def symbol_of(case: Case, params: dict[str, str]) -> str:
    return params["pair"] if case.spot else params["symbol"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_mirror(case: Case, csmc_home: Path, fake: FakeKraken) -> None:
    profile = write_case_profile(csmc_home, f"mirror-{case.id}", fake, case, mirror=True, period=0, log_headers=True)
    # The manual's §9.1 example with quote USD: Kraken holds 0.01 BTC, 0 ETH and 100000 USD; MT5 holds 0 BTC
    # and 0.1 ETH. The start-up sync sells 0.01 BTC and buys 0.1 ETH, nothing else.
    hold(fake, case, "BTCUSD", "0.01")
    with running(csmc_home, profile, connector="kraken") as sidecar:
        sidecar.wait_listening()
        ea = Ea(sidecar, profile)
        try:
            await ea.start()
            book: Book = {"ETHUSD": "0.1"}
            await ea.send(book)
            await ea.in_sync({case.key("BTCUSD"): D(0), case.key("ETHUSD"): D("0.1")})
            placed = sorted((side_of(case, o.params), symbol_of(case, o.params), size_of(case, o.params))
                            for o in orders_since(fake, case, 0))  # fmt: skip
            assert placed == [("buy", case.symbol("ETHUSD"), D("0.1")), ("sell", case.symbol("BTCUSD"), D("0.01"))]
            if case is FUTURES:  # closing BTC only reduces the position: sent reduce-only, the ETH buy is not
                flags = {o.params["side"]: o.params.get("reduceOnly") for o in orders_since(fake, case, 0)}
                assert flags == {"sell": "true", "buy": None}
            else:  # the key has a two-factor password: every private request carried it
                private = [r for r in fake.requests if r.path.startswith("/0/private/")]
                assert private and all(r.otp_sent for r in private)
                assert fake.balance("ZUSD") == D(100_000) + D(600) - D("1.5") - D(300) - D("0.75")

            book = {"BTCUSD": "0.02", "ETHUSD": "0.3"}
            await ea.send(book)
            await ea.in_sync(expected(case, book))

            await accepted_but_timed_out(ea, fake, case, book)
            await rate_limit_and_sync_after_error(ea, fake, case, book)
            await size_rejection_reported_and_held(ea, fake, case, book)
        finally:
            await ea.close()
    assert "Traceback" not in sidecar.output()
    logs = (csmc_home / "logs" / f"run-{profile}.log").read_text(encoding="utf-8")
    headers = [line for line in logs.splitlines() if "request headers:" in line]
    signed = "API-Key: ***" if case.spot else "APIKey: ***"
    assert headers and all(signed in line for line in headers if "/private/" in line or "openpositions" in line)
    assert find_secrets(logs) == []


async def accepted_but_timed_out(ea: Ea, fake: FakeKraken, case: Case, book: Book) -> None:
    """Kraken executes the order but the answer never comes: looked up by client id, executed once."""
    fake.inject("POST", case.order_path, Fault(execute=True, stall=3))
    mark = len(fake.requests)
    book["BTCUSD"] = "0.03"
    await ea.send(book)
    await ea.in_sync(expected(case, book))
    (lost,) = [o for o in orders_since(fake, case, mark) if o.status == -1]
    client_id = lost.params[case.client_id_field]
    assert len(fake.executions_of(client_id)) == 1
    assert len(orders_since(fake, case, mark)) == 1  # never sent again
    lookup = "/0/private/ClosedOrders" if case.spot else "/derivatives/api/v3/orders/status"
    asked = [r for r in fake.requests[mark:] if r.path == lookup]
    assert asked and asked[0].params[case.client_id_field + ("s" if not case.spot else "")] == client_id


async def rate_limit_and_sync_after_error(ea: Ea, fake: FakeKraken, case: Case, book: Book) -> None:
    """Kraken says a rate limit was exceeded: nothing is sent for rate_limit_pause_s, not even for a new MT5
    change; then the sync after the error copies that change and repairs a position changed behind our back
    (no periodic sync runs)."""
    hold(fake, case, "ETHUSD", "0.5")
    limited = Fault(errors=["EAPI:Rate limit exceeded"]) if case.spot else Fault(futures_error="apiLimitExceeded")
    fake.inject("POST", case.order_path, limited)
    mark = len(fake.requests)
    book["BTCUSD"] = "0.04"
    await ea.send(book)
    await until(lambda: any(o.error for o in orders_since(fake, case, mark)), "the rate-limit refusal", fake)
    book["BTCUSD"] = "0.05"
    await ea.send(book)
    want = expected(case, book)
    await until(lambda: all(held(fake, case, m) == want[case.key(m)] for m in book), "the sync after it", fake)
    refused, *later = orders_since(fake, case, mark)
    assert refused.error and later
    assert later[0].at >= refused.answered_at + PAUSE_S
    await ea.alert(lambda a: a.code == "unavailable" and f"for {PAUSE_S} s" in a.text, "the rate-limit warning")
    await ea.send(book)  # a status to read the sidecar's view by
    await ea.in_sync(want)


async def size_rejection_reported_and_held(ea: Ea, fake: FakeKraken, case: Case, book: Book) -> None:
    """Kraken coarsens BTC's size step while the sidecar runs: the BTC order is rejected with a clear alert,
    the other symbol is still copied, the BTC target is kept, and the next MT5 change that fits is copied."""
    if case.spot:
        fake.set_pair("XXBTZUSD", lot_decimals=3)
    else:
        fake.set_instrument("PF_XBTUSD", contractValueTradePrecision=3)
    before = held(fake, case, "BTCUSD")
    book["BTCUSD"] = "0.0505"
    book["SOLUSD"] = "2"
    await ea.send(book)
    text = "EGeneral:Invalid arguments:volume" if case.spot else "invalidSize"
    alert = await ea.alert(lambda a: a.code == "rejected" and text in a.text, "the size rejection")
    assert alert.level == "error"
    assert case.symbol("BTCUSD") in alert.text
    assert "Restart the sidecar" in alert.text
    btc, sol = case.key("BTCUSD"), case.key("SOLUSD")

    def rejected_but_kept(status: Status) -> bool:
        rows = {LegKey(r.symbol, Leg(r.leg)): r for r in status.instruments}
        row, other = rows.get(btc), rows.get(sol)
        if row is None or other is None or row.target != D("0.0505") or row.venue != before:
            return False
        return row.note.startswith("rejected:") and other.venue == D(2)

    await ea.status(rejected_but_kept, "BTC rejected with its target kept, SOL copied")
    assert held(fake, case, "BTCUSD") == before
    assert held(fake, case, "SOLUSD") == D(2)
    book["BTCUSD"] = "0.051"  # a copy that fits the new step
    await ea.send(book)
    await ea.in_sync(expected(case, book))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_follow(case: Case, csmc_home: Path, fake: FakeKraken) -> None:
    """Follow mode keeps what the venue held at start and copies changes; the periodic sync repairs a
    position changed behind the copier's back."""
    profile = write_case_profile(csmc_home, f"follow-{case.id}", fake, case, mirror=False, period=1)
    hold(fake, case, "BTCUSD", "0.05")
    btc = case.key("BTCUSD")
    with running(csmc_home, profile, connector="kraken") as sidecar:
        sidecar.wait_listening()
        ea = Ea(sidecar, profile)
        try:
            await ea.start()
            book: Book = {"BTCUSD": "0.02"}
            await ea.send(book)
            kept = await ea.alert(lambda a: a.code == "offsets", "the follow-mode offsets")
            assert case.symbol("BTCUSD") in kept.text and "+0.03" in kept.text
            await ea.in_sync({btc: D("0.05")})  # MT5 0.02 + the 0.03 held at start
            assert orders_since(fake, case, 0) == []  # nothing was traded at start

            book["BTCUSD"] = "0.03"
            await ea.send(book)
            await ea.in_sync({btc: D("0.06")})
            (copied,) = orders_since(fake, case, 0)
            assert (side_of(case, copied.params), size_of(case, copied.params)) == ("buy", D("0.01"))

            hold(fake, case, "BTCUSD", "0.1")  # a manual trade on Kraken
            await until(lambda: held(fake, case, "BTCUSD") == D("0.06"), "the periodic sync's repair", fake)
            await ea.in_sync({btc: D("0.06")})
        finally:
            await ea.close()
    assert "Traceback" not in sidecar.output()


async def test_a_restart_keeps_the_nonces_increasing(csmc_home: Path, fake: FakeKraken) -> None:
    """Two runs of the sidecar with one key, back to back: Kraken accepts every request of both, in order."""
    profile = write_case_profile(csmc_home, "restart", fake, SPOT, mirror=True, period=0)
    for run, eth in enumerate(("0.1", "0.2")):
        with running(csmc_home, profile, connector="kraken") as sidecar:
            sidecar.wait_listening()
            ea = Ea(sidecar, profile)
            try:
                await ea.start()
                await ea.send({"ETHUSD": eth})
                await ea.in_sync({SPOT.key("ETHUSD"): D(eth)})
            finally:
                await ea.close()
        assert "Traceback" not in sidecar.output(), run
    nonces = fake.nonces()
    assert nonces == sorted(nonces) and len(set(nonces)) == len(nonces)
    assert [r.error for r in fake.requests if r.error] == []
    (kept,) = (csmc_home / "data").glob("kraken-nonce-spot-*.txt")
    assert int(kept.read_text()) == max(nonces)  # the next run starts above it, whatever the clock says


def test_check_prints_account_positions_mapping_rules_and_the_two_factor_password(
    csmc_home: Path, fake: FakeKraken
) -> None:
    profile = write_case_profile(csmc_home, "check-spot", fake, SPOT, mirror=True, period=0)
    fake.set_balance("XXBT", "0.05")
    fake.set_balance("XBT.F", "1.5")  # auto-earning: left alone

    result = csmc(csmc_home, "check", "--profile", profile, "--symbol", "BTCUSD", "--symbol", "ETHUSD.pro=ETH/USD")

    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert find_secrets(out + result.stderr) == []
    assert "Traceback" not in out + result.stderr
    assert re.search(r"^Account\s+Kraken Spot account \(two-factor password in use\), position mode spot$", out, re.M)
    assert re.search(r"^Clock skew\s+[+-]\d+\.\d{3} s", out, re.M)
    assert re.search(r"^Balances\s+BTC 0\.05, USD 100000$", out, re.M), out
    assert re.search(r"^  XBTUSD\s+0\.05$", out, re.M), out
    assert re.search(r"^Mapping\s+BTCUSD → XBTUSD \(multiplier 1\)$", out, re.M)
    assert re.search(r"^Mapping\s+ETHUSD\.pro → ETHUSD \(multiplier 1\)$", out, re.M)
    rules = out.split("Instrument rules\n", 1)[1].splitlines()
    rows = {cells[0]: cells[1:] for cells in (line.split() for line in rules[1:]) if len(cells) == 5}
    assert {s: tuple(map(D, r[:3])) for s, r in rows.items()} == {
        "XBTUSD": (D("0.00000001"), D("0.00005"), D("0.5")),
        "ETHUSD": (D("0.00000001"), D("0.002"), D("0.5")),
    }
    assert "0.00000001" in rules[1] + rules[2]  # written out, not as 1E-8
    warnings = [line for line in out.splitlines() if line.startswith("Warning")]
    assert any("1.5 XBT.F is an earn, staked or reward balance" in w and "leaves it alone" in w for w in warnings)


def test_check_without_the_two_factor_password_says_which_setting_is_missing(
    csmc_home: Path, fake: FakeKraken
) -> None:
    profile = write_case_profile(csmc_home, "no-otp", fake, SPOT, mirror=True, period=0, two_factor=False)

    result = csmc(csmc_home, "check", "--profile", profile)

    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert "one_time_password" in result.stderr
    assert find_secrets(result.stdout + result.stderr) == []


def test_check_futures(csmc_home: Path, fake: FakeKraken) -> None:
    profile = write_case_profile(csmc_home, "check-futures", fake, FUTURES, mirror=True, period=0)
    fake.set_position("PF_XBTUSD", "-0.25")

    result = csmc(csmc_home, "check", "--profile", profile, "--symbol", "BTCUSD")

    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert re.search(r"^Account\s+Kraken Futures multi-collateral account, position mode one_way$", out, re.M)
    assert re.search(r"^  PF_XBTUSD\s+-0\.25$", out, re.M), out
    assert re.search(r"^Mapping\s+BTCUSD → PF_XBTUSD \(multiplier 1\)$", out, re.M)
    assert find_secrets(out + result.stderr) == []
