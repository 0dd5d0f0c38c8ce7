"""What the EA itself does, pinned down against a scripted sidecar (tests/ea/fake_sidecar.py).

The real sidecar filters, rounds and forgives a great deal, so copying through it would hide a broken EA.
Here the EA talks to a fake that records every frame it sends, decoded with the sidecar's own schema, and
sends it exactly the messages a test needs. Each test fails when the EA behaviour it names is changed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from bridge.messages import Bye, Hello, Snapshot
from tests.ea.fake_sidecar import FakeSidecar, Received
from tests.ea.terminal import EaRun, Terminal, assert_healthy, quiet_scenario

pytestmark = pytest.mark.slow

INIT_PARAMETERS_INCORRECT = 32767
Script = Callable[[FakeSidecar, Received], None]


def scenario(**changes: Any) -> dict[str, Any]:
    """No sidecar is started: the fake listens on the EA's port."""
    base = quiet_scenario(**changes)
    base["inputs"] = {**base["inputs"], "InpStartSidecar": "false", **changes.get("inputs", {})}
    return base


def run_against_fake(
    terminal: Terminal, spec: dict[str, Any], script: Script | None = None, **fake: Any
) -> tuple[EaRun, FakeSidecar]:
    sidecar = FakeSidecar(terminal.port, script, **fake)
    try:
        run = terminal.run(spec)
    finally:
        sidecar.close()
    return run, sidecar


def snapshots(sidecar: FakeSidecar) -> list[tuple[Received, Snapshot]]:
    found = []
    for received in sidecar.messages("snapshot"):
        assert isinstance(received.message.body, Snapshot)
        found.append((received, received.message.body))
    return found


def hello_of(sidecar: FakeSidecar) -> Hello:
    hellos = sidecar.messages("hello")
    assert hellos, "the EA never said hello"
    body = hellos[0].message.body
    assert isinstance(body, Hello)
    return body


# --- the table the EA sends ----------------------------------------------------------------------------


def test_the_snapshot_holds_exactly_the_positions_that_pass_the_magic_filter(terminal: Terminal) -> None:
    symbols = {
        "EURUSD.m": {"contract_size": 100000, "base": "EUR", "profit": "USD", "volume_step": 0.01, "volume_min": 0.01},
        "BTCUSD": {"contract_size": 1, "base": "BTC", "profit": "USD", "volume_step": 0.01, "volume_min": 0.01},
        "XAUUSD": {"contract_size": 100, "base": "XAU", "profit": "USD", "volume_step": 0.01, "volume_min": 0.01},
    }
    held = [("EURUSD.m", 0, "0.10"), ("EURUSD.m", 777, "0.20"), ("BTCUSD", 12345, "0.25"), ("XAUUSD", 777, "1.00"),
            ("BTCUSD", 0, "0.05"), ("XAUUSD", 123456, "0.30")]  # fmt: skip
    spec = scenario(
        account={"margin_mode": "hedging"},
        symbols=symbols,
        inputs={"InpMagicIds": " 0 , 12345,7 "},
        before_init=[{"do": "deal", "symbol": s, "side": "buy", "volume": v, "magic": m} for s, m, v in held],
        timeline=[{"do": "wait", "seconds": 1.5}],
    )
    run, sidecar = run_against_fake(terminal, spec)

    assert_healthy(run)
    assert hello_of(sidecar).magic_filter == [0, 12345, 7]
    (_, first), *_ = snapshots(sidecar)
    assert first.reason == "connect"
    sent = sorted((p.symbol, p.magic, p.volume) for p in first.positions)
    expected = [("BTCUSD", 0, Decimal("0.05")), ("BTCUSD", 12345, Decimal("0.25")), ("EURUSD.m", 0, Decimal("0.10"))]
    assert sent == expected


BAD_MAGIC_ENTRIES = ["x12", "12x", "-5", "+5", "1.5", "0x10", "12 34", "0,,5", "0;5", "9223372036854775808", "٣"]


@pytest.mark.parametrize("entry", BAD_MAGIC_ENTRIES)
def test_a_magic_entry_that_is_not_a_whole_number_stops_the_ea(terminal: Terminal, entry: str) -> None:
    run = terminal.run(scenario(inputs={"InpMagicIds": f"0,{entry}"}))

    assert run.result["init_result"] == INIT_PARAMETERS_INCORRECT, run.everything()
    assert any("is not a magic number" in text for text in run.texts("alert")), run.everything()
    assert "Source EA magic IDs" in run.last_comment()  # the reason stays on the chart of the failed EA


def test_volumes_are_written_with_the_decimals_of_the_volume_step(terminal: Terminal) -> None:
    # steps that differ from the minimum: rounding to the minimum's decimals would send 0.12 for 0.123
    symbols = {
        "BTCUSD": {"contract_size": 1, "base": "BTC", "profit": "USD", "volume_step": 0.001, "volume_min": 0.01},
        "US500": {"contract_size": 1, "base": "USD", "profit": "USD", "volume_step": 0.1, "volume_min": 0.05},
    }
    spec = scenario(
        symbols=symbols,
        timeline=[
            {"do": "wait", "seconds": 1.2},
            {"do": "deal", "symbol": "BTCUSD", "side": "buy", "volume": "0.123"},
            {"do": "deal", "symbol": "US500", "side": "sell", "volume": "1.3"},
            {"do": "wait", "seconds": 0.5},
        ],
    )
    run, sidecar = run_against_fake(terminal, spec)

    assert_healthy(run)
    last = snapshots(sidecar)[-1][0]
    positions = {p["symbol"]: p for p in _json(last)["body"]["positions"]}
    assert (positions["BTCUSD"]["volume"], positions["BTCUSD"]["volume_step"]) == ("0.123", "0.001")
    assert positions["BTCUSD"]["volume_min"] == "0.010"
    assert (positions["US500"]["volume"], positions["US500"]["volume_step"], positions["US500"]["volume_min"]) == (
        "1.3", "0.1", "0.05")  # fmt: skip
    assert _json(last)["body"]["deal"]["volume"] == "1.3"
    deals = [_json(r)["body"]["deal"] for r, s in snapshots(sidecar) if s.reason == "deal"]
    assert [d["volume"] for d in deals][:1] == ["0.123"]


def _json(received: Received) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(received.raw)
    return value


# --- when the EA sends it --------------------------------------------------------------------------------


def test_a_deal_is_sent_at_once_and_not_left_to_the_timer_snapshot(terminal: Terminal) -> None:
    spec = scenario(timeline=[
        {"do": "wait", "seconds": 1.5},  # connected, the connect snapshot sent; the timer's is 5 s away
        {"do": "deal", "symbol": "EURUSD.m", "side": "buy", "volume": "0.10", "price": 1.08437},
        {"do": "wait", "seconds": 1.0},
    ])  # fmt: skip
    run, sidecar = run_against_fake(terminal, spec)

    assert_healthy(run)
    sent = snapshots(sidecar)
    carrying = [(r, s) for r, s in sent if s.positions]
    assert carrying, f"no snapshot carried the new position: {[s.reason for _, s in sent]}"
    snapshot = carrying[0][1]
    assert snapshot.reason == "deal", [s.reason for _, s in sent]  # a timer snapshot would have been first
    assert snapshot.deal is not None and snapshot.deal.ticket == 5002 and snapshot.deal.entry == "in"
    assert snapshot.deal.price == Decimal("1.08437")  # MT5's own fill, for the trader's slippage view
    assert [s.reason for _, s in sent][:2] == ["connect", "deal"]  # nothing in between: it went at once


def test_request_snapshot_is_answered_with_the_table(terminal: Terminal) -> None:
    def ask_later(sidecar: FakeSidecar, received: Received) -> None:
        if received.message.type == "hello":
            sidecar.later(1.0, lambda: sidecar.reply("request_snapshot", {"reason": "sidecar ready"}))

    spec = scenario(
        before_init=[{"do": "deal", "symbol": "EURUSD.m", "side": "sell", "volume": "0.30"}],
        timeline=[{"do": "wait", "seconds": 2.5}],
    )
    run, sidecar = run_against_fake(terminal, spec, ask_later)

    assert_healthy(run)
    asked = next(at for at, m in sidecar.sent if m["type"] == "request_snapshot")
    answers = [(r, s) for r, s in snapshots(sidecar) if r.at > asked]
    assert answers, "no snapshot after the request"
    assert answers[0][1].reason == "request"
    assert [(p.symbol, p.side, p.volume) for p in answers[0][1].positions] == [("EURUSD.m", "sell", Decimal("0.30"))]


def test_the_reconnect_back_off_starts_again_after_a_good_session(terminal: Terminal) -> None:
    """Two refused connects grow the back-off to 4 s; after a welcome the next loss waits 1 s again."""

    def hang_up_after_the_table(sidecar: FakeSidecar, received: Received) -> None:
        if received.message.type == "snapshot":
            sidecar.hang_up()

    spec = scenario(timeline=[{"do": "wait", "seconds": 5.0}])
    run, sidecar = run_against_fake(terminal, spec, hang_up_after_the_table, bind_after_s=1.5)

    assert_healthy(run)
    assert len(sidecar.messages("hello")) == 1
    comments = run.texts("comment")
    failed = [c for c in comments if "next attempt in" in c and "closed the connection" not in c]
    assert any("next attempt in 2 s" in c for c in failed), failed  # it did back off before the session
    after_loss = [c for c in comments if "closed the connection" in c and "next attempt in" in c]
    assert after_loss, comments
    waits = [int(w) for w in re.findall(r"next attempt in (\d+) s", after_loss[0])]
    assert waits == [1], after_loss[0]


# --- the Logging and Common inputs (the manual, 6.2.2) ---------------------------------------------------------

ALERTS = [
    ("info", "info from the sidecar", False),
    ("warning", "warning from the sidecar", False),
    ("error", "error from the sidecar", False),
]
CRITICAL = "critical from the sidecar"
UNREADABLE = "an unreadable message from the sidecar was dropped"  # the EA's own problem
EA_INFO = "connected to sidecar fake"  # the EA's own information message


def send_alerts(sidecar: FakeSidecar, received: Received) -> None:
    if received.message.type != "hello":
        return
    for level, text, critical in ALERTS:
        sidecar.reply("alert", {"level": level, "text": text, "critical": critical, "code": ""})
    sidecar.send_raw(b"not json")
    sidecar.reply("alert", {"level": "error", "text": CRITICAL, "critical": True, "code": "refused"})


INPUT_CASES = {
    # show alerts, expert log, info messages, stop on critical, max log MB
    "all-on": (True, True, True, False, 1),
    "no-dialogs-no-info-stop": (False, True, False, True, 4096),
    "no-log": (True, False, True, False, 20),
}


@pytest.mark.parametrize("case", INPUT_CASES)
def test_the_logging_inputs_decide_what_is_printed_and_what_opens_a_dialog(terminal: Terminal, case: str) -> None:
    show_alerts, expert_log, info, stop, max_mb = INPUT_CASES[case]
    inputs = {"InpShowAlerts": show_alerts, "InpDuplicateToExpertLog": expert_log, "InpPrintInfoMessages": info,
              "InpStopOnCriticalError": stop, "InpMaxLogFileMb": max_mb}  # fmt: skip
    spec = scenario(inputs={k: str(v).lower() for k, v in inputs.items()}, timeline=[{"do": "wait", "seconds": 1.8}])
    run, sidecar = run_against_fake(terminal, spec, send_alerts)

    assert run.failure is None, run.everything()
    logging = hello_of(sidecar).logging
    assert (logging.show_alerts, logging.expert_log, logging.info_messages, logging.max_log_mb) == (
        show_alerts, expert_log, info, max_mb)  # fmt: skip
    assert hello_of(sidecar).stop_on_critical is stop
    prints, dialogs = "\n".join(run.texts("print")), "\n".join(run.texts("alert"))
    problems = ["warning from the sidecar", "error from the sidecar", UNREADABLE, CRITICAL]
    for text in problems:
        assert (text in dialogs) is show_alerts, (text, dialogs)
        assert (text in prints) is (expert_log and not show_alerts), (text, prints)
    for text in ("info from the sidecar", EA_INFO):
        assert text not in dialogs
        assert (text in prints) is (expert_log and info), (text, prints)
    if not expert_log:
        assert not run.texts("print")
    assert run.result["removed_by_ea"] is stop
    byes = [r.message.body for r in sidecar.messages("bye")]
    assert len(byes) == 1 and isinstance(byes[0], Bye) and byes[0].critical is stop
    if not stop:
        assert CRITICAL in run.last_comment()  # a critical alert stays on the chart while the EA goes on


# --- text in both directions -------------------------------------------------------------------------------

ODD_SYMBOLS = {
    "ÄÖÜ.m": {"contract_size": 1, "base": "ÄÖÜ", "profit": "€", "volume_step": 0.01, "volume_min": 0.01},
    "ЕВРОДОЛЛАР": {"contract_size": 100000, "base": "EUR", "profit": "USD", "volume_step": 0.01, "volume_min": 0.01},
    'US"30\\x': {"contract_size": 1, "base": "US30", "profit": "USD", "volume_step": 0.1, "volume_min": 0.1},
    "𝄞\ttab": {"contract_size": 1, "base": "X", "profit": "Y", "volume_step": 1, "volume_min": 1},
}


def test_quotes_and_non_ascii_text_travel_as_escaped_utf8_both_ways(terminal: Terminal) -> None:
    shown_text = 'Ä → € "quoted" \\ 𝄞 Ж'

    def answer(sidecar: FakeSidecar, received: Received) -> None:
        if received.message.type == "hello":
            sidecar.reply("alert", {"level": "warning", "text": shown_text, "critical": False, "code": ""})
            row = {"symbol": "ÄÖÜ", "leg": "net", "mt5_symbols": ["ÄÖÜ.m"], "target": "0.5", "venue": "0.5",
                   "mismatch": "0", "note": ""}  # fmt: skip
            sidecar.reply("status", {"venue_connected": True, "copying": True, "last_sync_ms": None, "mismatches": 0,
                                     "instruments": [row], "detail": ""})  # fmt: skip

    deals = [{"do": "deal", "symbol": name, "side": "buy", "volume": "1"} for name in ODD_SYMBOLS]
    spec = scenario(
        account={"server": 'Брокер "Demo" Server\\1', "currency": "€"},
        symbols=ODD_SYMBOLS,
        before_init=deals[:2],
        timeline=[{"do": "wait", "seconds": 1.2}, *deals[2:], {"do": "wait", "seconds": 0.6}],
    )
    run, sidecar = run_against_fake(terminal, spec, answer)

    assert_healthy(run)
    hello = hello_of(sidecar)
    assert (hello.account.server, hello.account.currency) == ('Брокер "Demo" Server\\1', "€")
    last = snapshots(sidecar)[-1][1]
    assert sorted(p.symbol for p in last.positions) == sorted(ODD_SYMBOLS)
    by_symbol = {p.symbol: p for p in last.positions}
    assert (by_symbol["ÄÖÜ.m"].base_currency, by_symbol["ÄÖÜ.m"].profit_currency) == ("ÄÖÜ", "€")
    assert last.deal is not None and last.deal.symbol == "𝄞\ttab"
    assert all(received.raw.decode("utf-8") for received in sidecar.received)  # raw UTF-8, decodable
    assert any(shown_text in text for text in run.texts("alert")), run.texts("alert")
    assert "ÄÖÜ " in run.last_comment() and "ÄÖÜ.m: MT5 0.5, venue 0.5" in run.last_comment()


# --- the chart comment ------------------------------------------------------------------------------------------


def test_the_chart_status_fits_what_mt5_shows_with_many_instruments(terminal: Terminal) -> None:
    long_note = "residual below the minimum notional of the venue; " * 4
    critical = "The venue refused the keys. " + "Check the profile's keys and their permissions. " * 80

    def flood(sidecar: FakeSidecar, received: Received) -> None:
        if received.message.type != "hello":
            return
        rows = [{"symbol": f"SYM{i:03d}USDT", "leg": "net", "mt5_symbols": [f"SYM{i:03d}USD.pro"], "target": "1.5",
                 "venue": "1", "mismatch": "0.5", "note": long_note} for i in range(300)]  # fmt: skip
        sidecar.reply("status", {"venue_connected": True, "copying": True, "last_sync_ms": 1700000000000,
                                 "mismatches": 300, "instruments": rows, "detail": ""})  # fmt: skip
        sidecar.reply("alert", {"level": "error", "text": critical, "critical": True, "code": "venue_config"})

    run, _ = run_against_fake(terminal, scenario(timeline=[{"do": "wait", "seconds": 1.5}]), flood)

    assert_healthy(run)
    chart = run.last_comment()
    assert len(chart) <= 2045  # the harness cuts a longer comment there, as MT5 does
    lines = chart.splitlines()
    assert lines[0].startswith("CSMultiConnector 1.00")
    assert "300 mismatch(es)" in chart
    shown_rows = [line for line in lines if line.startswith("  SYM")]
    assert shown_rows, chart
    more = re.search(r"and (\d+) more instruments", chart)
    assert more is not None, chart
    assert len(shown_rows) + int(more[1]) == 300
    assert "The venue refused the keys." in chart  # the notice is not what gives way
