"""The real EA (mql5/), compiled by the harness, in scripted terminals against the real sidecar.

Each test plays a scenario in real time: trades made in the scripted account reach the EA through
OnTradeTransaction, the EA sends its snapshots over its own ZMTP client, the sidecar it started copies
them to the Paper venue, and the test reads the venue's state file and what the EA showed the trader.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import zmq

from bridge.codec import decode
from bridge.messages import Hello, Snapshot
from tests.ea.demo import run_demo
from tests.ea.terminal import (
    ROOT,
    EaRun,
    Terminal,
    assert_healthy,
    build,
    chart_rows,
    load_scenario,
    quiet_scenario,
)

pytestmark = pytest.mark.slow

MQL5_ROOT = ROOT / "mql5"
HANDLER_LIMIT_MS = 50.0
INIT_PARAMETERS_INCORRECT = 32767


# --- copying -----------------------------------------------------------------------------------------


def test_netting_account_open_add_partial_close_reverse_close(terminal: Terminal) -> None:
    run = terminal.run(load_scenario("netting"))

    assert_healthy(run)
    assert run.venue() == {}
    # +0.10, +0.05 EURUSD, +0.25 BTC, −0.05, −0.30 (reversal), +0.20, −0.25: one order each, XAUUSD never
    assert run.orders() == 7
    assert_the_end_is_told_truly(run)


def assert_the_end_is_told_truly(run: EaRun, every_order: bool = True) -> None:
    """The last chart shows what the venue holds, and the EA's log names every order the venue received."""
    assert run.chart_matches_venue(), f"chart:\n{run.last_comment()}\nvenue: {run.venue()}"
    assert "in sync" in run.last_comment(), run.last_comment()
    if not every_order:
        return
    printed = "\n".join(run.texts("print"))
    missing = [order for order in run.order_ids() if f"order {order}:" not in printed]
    assert not missing, f"orders the EA never showed: {missing}"


def test_hedging_account_keeps_long_and_short_legs_and_copies_close_by(terminal: Terminal) -> None:
    terminal.position_mode = "hedge"
    run = terminal.run(load_scenario("hedging"))

    assert_healthy(run)
    assert run.venue() == {}
    # long +10000, short +4000, long −3000, close-by (long −4000, short −4000), long −3000; the trade of
    # EA #4242 is outside the (empty = by hand) filter, so the venue never saw it
    assert run.orders() == 6
    assert_the_end_is_told_truly(run)


def test_make_demo_ends_with_the_chart_showing_what_the_venue_holds(
    harness: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_demo(harness, tmp_path)

    out = capsys.readouterr().out
    ends = out.split("The EA's chart showed at the end:\n")[1:]
    assert len(ends) == 2, out
    for end in ends:
        lines = end.splitlines()
        chart = "\n".join(line[4:] for line in itertools.takewhile(lambda line: line.startswith("    "), lines))
        venue_line = next(line for line in lines if line.startswith("  Paper venue now holds: "))
        held = venue_line.removeprefix("  Paper venue now holds: ")
        venue = {} if held == "nothing" else {k: Decimal(v) for k, v in (p.split(" ") for p in held.split(", "))}
        assert {k: v for k, v in chart_rows(chart).items() if v != 0} == venue, end
        assert "in sync" in chart
        assert re.search(r"The EA showed all \d+ orders the venue received", end), end


def test_the_ea_starts_the_sidecar_again_after_it_was_killed(terminal: Terminal) -> None:
    run = terminal.run(load_scenario("restart"))

    assert_healthy(run)
    assert run.venue() == {"BTCUSD": Decimal("-0.40")}
    # the killed sidecar may have placed an order it could not report any more
    assert_the_end_is_told_truly(run, every_order=False)
    launches = run.texts("shell")
    assert len(launches) >= 2, launches
    assert all("--token-file" in line and f"--port {terminal.port}" in line for line in launches)


def test_no_handler_waits_while_the_sidecar_stops_answering(terminal: Terminal) -> None:
    run = terminal.run(load_scenario("stall"))

    assert_healthy(run)
    timing = run.result["timing_ms"]
    assert timing["OnTimer"] < HANDLER_LIMIT_MS, timing
    assert timing["OnTradeTransaction"] < HANDLER_LIMIT_MS, timing
    assert run.result["calls"]["OnTimer"] > 20
    assert run.venue() == {"EURUSD": Decimal("25000")}


# --- set-up problems the trader must solve -----------------------------------------------------------


def test_no_sidecar_and_none_startable_is_explained_on_the_chart(terminal: Terminal) -> None:
    run = terminal.run(quiet_scenario(inputs={"InpSidecarCommand": "/nonexistent/csmc"}))

    assert_healthy(run)
    comment = run.last_comment()
    assert "could not be started" in comment
    assert f"run --port {terminal.port} --profile {terminal.profile} --token-file" in comment
    # a retry loop shows the same problem once, not every few seconds
    assert len([a for a in run.texts("alert") if "could not be started" in a]) == 1


def test_without_dll_imports_the_chart_gives_the_command_to_start_by_hand(terminal: Terminal) -> None:
    run = terminal.run(quiet_scenario(terminal={"dlls_allowed": False}))

    assert_healthy(run)  # the EA checked before calling a DLL: the terminal did not stop it
    comment = run.last_comment()
    assert "Allow DLL imports" in comment
    assert "--token-file" in comment
    assert not run.texts("shell")


def test_a_missing_allowed_url_says_exactly_what_to_add(terminal: Terminal) -> None:
    run = terminal.run(quiet_scenario(terminal={"allowed_urls": []}))

    assert_healthy(run)
    assert "Add 127.0.0.1 to Tools → Options → Expert Advisors" in run.last_comment()
    assert "listening" not in run.last_comment()  # 4014 has one cause only
    assert not run.texts("shell")  # a sidecar would not be reachable either


def test_any_other_connect_error_names_both_causes(terminal: Terminal) -> None:
    """MT5 may refuse an address missing from its list with another code than 4014."""
    blocked = {"allowed_urls": [], "not_allowed_error": 5272}
    run = terminal.run(quiet_scenario(terminal=blocked, inputs={"InpStartSidecar": "false"}))

    assert_healthy(run)
    comment = run.last_comment()
    assert (
        f"no sidecar is listening on 127.0.0.1:{terminal.port}, or MetaTrader does not allow the EA to connect there "
        "(error 5272)" in comment
    )
    hint = "add 127.0.0.1 to Tools → Options → Expert Advisors → 'Allow WebRequest for listed URL'"
    assert any(hint in line and "Start the sidecar: " in line for line in run.texts("print")), run.texts("print")


def test_a_started_sidecar_that_never_answers_is_reported_with_both_causes(terminal: Terminal) -> None:
    blocked = {"allowed_urls": [], "not_allowed_error": 5272}
    # attempts at 0 s (start), 0.5, 1.5, 3.5 and 7.5 s (start again: the first start had 5 s to answer)
    run = terminal.run(quiet_scenario(terminal=blocked, timeline=[{"do": "wait", "seconds": 8.5}]))

    assert_healthy(run)
    assert len(run.texts("shell")) == 2, run.texts("shell")
    told = [a for a in run.texts("alert") if "does not accept connections" in a]
    assert len(told) == 1, run.texts("alert")
    assert "may have stopped" in told[0] and "may not allow the EA to connect to 127.0.0.1" in told[0]


@pytest.mark.parametrize("mode", ["tester", "optimization", "visual"])
def test_in_the_strategy_tester_the_ea_starts_nothing_and_connects_nowhere(terminal: Terminal, mode: str) -> None:
    listener = socket.create_server(("127.0.0.1", terminal.port))
    listener.settimeout(0.1)
    spec = quiet_scenario(terminal={"mode": mode})
    spec["timeline"] = [{"do": "deal", "symbol": "EURUSD.m", "side": "buy", "volume": "0.10"},
                        {"do": "wait", "seconds": 1.5}]  # fmt: skip
    try:
        run = terminal.run(spec)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()

    assert_healthy(run)
    assert not run.texts("shell")
    assert not (run.data_dir / "MQL5" / "Files" / "CSMultiConnector").exists()  # no token file either
    told = [p for p in run.texts("print") if "only on a live chart" in p]
    assert len(told) == 1, run.texts("print")
    assert not run.texts("alert")
    if mode == "visual":
        assert "only on a live chart" in run.last_comment()


def test_a_bad_magic_filter_stops_the_ea_from_starting(terminal: Terminal) -> None:
    run = terminal.run(quiet_scenario(inputs={"InpMagicIds": "0, 12x45"}))

    assert run.result["init_result"] == INIT_PARAMETERS_INCORRECT
    assert any("'12x45' is not a magic number" in a for a in run.texts("alert"))
    assert not run.texts("shell")


def test_a_critical_refusal_removes_the_ea_when_asked_to(terminal: Terminal) -> None:
    terminal.position_mode = "hedge"  # a netting account cannot be copied to hedge legs
    scenario = quiet_scenario(inputs={"InpStopOnCriticalError": "true"})
    scenario["timeline"] = [{"do": "wait", "seconds": 8}]
    run = terminal.run(scenario)

    assert run.failure is None
    assert run.result["removed_by_ea"] is True
    assert any("hedge position mode" in a for a in run.texts("alert"))


# --- which venue: the profile decides -----------------------------------------------------------------


def test_the_profile_names_the_venue_when_the_ea_leaves_it_to_the_profile(terminal: Terminal) -> None:
    """A trader whose profile says binance copies to Binance, never to Paper because of an EA default."""
    terminal.connector = "binance"
    terminal.venue_settings = f'[binance]\napi_url = "http://127.0.0.1:{terminal.port + 1}/api"\n'
    spec = quiet_scenario(timeline=[{"do": "deal", "symbol": "EURUSD.m", "side": "buy", "volume": "0.10"},
                                    {"do": "wait", "seconds": 3}])  # fmt: skip
    run = terminal.run(spec)

    assert_healthy(run)
    launched = run.texts("shell")
    assert launched and all("--connector" not in line for line in launched)
    assert run.last_comment().startswith("CSMultiConnector 1.00 → binance (profile ea-test"), run.last_comment()
    assert any("Binance" in a for a in run.texts("alert"))  # it tried Binance: no keys in this profile
    assert not terminal.paper_state.exists()


def test_an_ea_input_that_names_another_venue_than_the_profile_is_refused(terminal: Terminal) -> None:
    spec = quiet_scenario(inputs={"InpConnector": "CONNECTOR_BINANCE"},
                          timeline=[{"do": "deal", "symbol": "EURUSD.m", "side": "buy", "volume": "0.10"},
                                    {"do": "wait", "seconds": 3}])  # fmt: skip
    run = terminal.run(spec)

    assert_healthy(run)
    told = [a for a in run.texts("alert") if "Connector input" in a]
    assert len(told) == 1, run.texts("alert")  # told once, although the EA keeps trying
    for shown in (told[0], run.last_comment()):
        assert "the EA's Connector input is binance, but this sidecar copies to paper with profile 'ea-test'" in shown
        assert str(terminal.profile_file) in shown
    assert run.orders() == 0


@pytest.mark.parametrize("max_mb", [1, 7])
def test_the_max_log_file_size_input_sets_the_sidecar_rotation(terminal: Terminal, max_mb: int) -> None:
    run = terminal.run(quiet_scenario(inputs={"InpMaxLogFileMb": str(max_mb)}))

    assert_healthy(run)
    log = terminal.sidecar_log.read_text(encoding="utf-8")
    assert f"{terminal.sidecar_log} is now rotated at {max_mb} MB (the EA's 'Max log file size' input)" in log


# --- peers that are not a sidecar --------------------------------------------------------------------


@pytest.fixture
def raw_garbage_server(terminal: Terminal) -> Iterator[list[int]]:
    """Something on the EA's port that answers every connection with text that is not ZMTP."""
    connections: list[int] = []
    listener = socket.create_server(("127.0.0.1", terminal.port))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(1)
            with conn:
                # Like a web server: read what the client says, answer, and hang up a little later (closing
                # with unread input would reset the connection and discard the answer).
                conn.settimeout(2.0)
                try:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" + bytes(range(256)))
                    stop.wait(0.5)
                except OSError:
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield connections
    stop.set()
    thread.join()
    listener.close()


def test_a_peer_that_is_not_zmtp_is_reported_and_survived(terminal: Terminal, raw_garbage_server: list[int]) -> None:
    scenario = quiet_scenario(inputs={"InpStartSidecar": "false"})
    scenario["timeline"] = [{"do": "wait", "seconds": 4}]
    run = terminal.run(scenario)

    assert_healthy(run)
    assert "does not speak ZMTP" in run.everything()
    assert len(raw_garbage_server) >= 2  # it kept trying, with back-off


class FakeSidecar:
    """A ZeroMQ ROUTER that answers the EA's hello with garbage first, then with a real welcome."""

    def __init__(self, port: int) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(f"tcp://127.0.0.1:{port}")
        self.received: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stop.is_set():
            if not self.sock.poll(100):
                continue
            identity, payload = self.sock.recv_multipart()
            self.received.append(payload)
            message = json.loads(payload)
            if message["type"] != "hello":
                continue
            sid = message["sid"]
            for junk in (b"not json at all", b"\xff\xfe\x00", b'{"type": 5}', b"[1,2,3]", b"{" * 5000,
                         json.dumps({"v": 1, "type": "status", "sid": "someone-else", "seq": 1, "body": {}}).encode(),
                         json.dumps({"v": 1, "type": "surprise", "sid": sid, "seq": 2, "body": {}}).encode(),
                         b" " * (5 << 20)):  # larger than the EA keeps (PROTOCOL.md 2.6: log and drop)
                self.sock.send_multipart([identity, junk])
            welcome = {"v": 1, "type": "welcome", "sid": sid, "seq": 3, "body": {
                "version": 1, "sidecar_version": "test", "connector": "paper", "mode": "mirror",
                "heartbeat_ms": 1000, "timeout_ms": 10000, "max_frame": 262144}}  # fmt: skip
            self.sock.send_multipart([identity, json.dumps(welcome).encode()])

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close(0)
        self.ctx.term()


def test_garbage_from_a_zmtp_peer_is_reported_and_the_session_goes_on(terminal: Terminal) -> None:
    fake = FakeSidecar(terminal.port)
    try:
        scenario = quiet_scenario(inputs={"InpStartSidecar": "false", "InpMagicIds": "0,12345"})
        scenario["timeline"] = [
            {"do": "deal", "symbol": "EURUSD.m", "side": "buy", "volume": "0.10", "magic": 12345},
            {"do": "wait", "seconds": 3.5},  # the 5 MiB frame takes a few timer ticks to skip
        ]
        run = terminal.run(scenario)
    finally:
        fake.close()

    assert_healthy(run)
    assert "unreadable message from the sidecar was dropped" in run.everything()
    assert "larger than 4 MiB were dropped" in run.everything()
    # What the EA sent passes the sidecar's own schema: the hello, and snapshots with the position.
    messages = [decode(frame, from_ea=True) for frame in fake.received]
    hello = messages[0].body
    assert isinstance(hello, Hello)
    assert hello.magic_filter == [0, 12345]
    assert hello.account.margin_mode == "netting"
    token_file = next((run.data_dir / "MQL5" / "Files" / "CSMultiConnector").glob("sidecar-*.token"))
    assert hello.token.get_secret_value() == token_file.read_text(encoding="utf-8").strip()
    assert token_file.stat().st_mode & 0o077 == 0
    snapshots = [m.body for m in messages if isinstance(m.body, Snapshot)]
    assert snapshots[0].reason == "connect"
    last = snapshots[-1]
    assert [(p.symbol, p.side, p.volume, p.magic, p.contract_size) for p in last.positions] == [
        ("EURUSD.m", "buy", Decimal("0.10"), 12345, Decimal(100000))
    ]
    seqs = [m.seq for m in messages]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # heartbeats at the welcome's 1000 ms while nothing else is sent, and a bye when the EA is removed
    assert [m.type for m in messages].count("heartbeat") >= 1
    assert messages[-1].type == "bye"


# --- the harness compiles exactly the files in mql5/ -------------------------------------------------


MQL5_FILES = sorted(p.relative_to(MQL5_ROOT) for p in MQL5_ROOT.rglob("*") if p.suffix in (".mq5", ".mqh"))


def test_an_unchanged_copy_of_mql5_compiles(tmp_path: Path) -> None:
    shutil.copytree(MQL5_ROOT, tmp_path / "mql5")
    completed = build(tmp_path / "out", tmp_path / "mql5", syntax_only=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize("relative", MQL5_FILES, ids=str)
def test_a_syntax_error_in_any_mql5_file_fails_the_build(tmp_path: Path, relative: Path) -> None:
    root = tmp_path / "mql5"
    shutil.copytree(MQL5_ROOT, root)
    broken = root / relative
    broken.write_text(broken.read_text(encoding="utf-8") + "\nint csmc_broken = ;\n", encoding="utf-8")

    completed = build(tmp_path / "out", root, syntax_only=True)

    assert completed.returncode != 0
    assert str(relative.name) in completed.stdout + completed.stderr


@pytest.mark.parametrize("relative", MQL5_FILES, ids=str)
def test_a_non_ascii_character_in_any_mql5_file_fails_the_build(tmp_path: Path, relative: Path) -> None:
    """Every MetaEditor must read the sources alike: plain ASCII, or a byte-order mark (see the mql5 README)."""
    root = tmp_path / "mql5"
    shutil.copytree(MQL5_ROOT, root)
    changed = root / relative
    lines = changed.read_text(encoding="utf-8").count("\n")
    changed.write_text(changed.read_text(encoding="utf-8") + "// caf\u00e9\n", encoding="utf-8")

    completed = build(tmp_path / "out", root, syntax_only=True)

    assert completed.returncode != 0
    assert f"{relative.name}:{lines + 1}: error: non-ASCII character 'é'" in completed.stdout + completed.stderr


def test_every_mql5_file_is_part_of_the_build() -> None:
    assert MQL5_FILES, "no MQL5 sources found"
    expert = (MQL5_ROOT / "Experts" / "CSMultiConnector.mq5").read_text(encoding="utf-8")
    included = {p.name for p in MQL5_FILES if p.suffix == ".mqh"}
    reachable = set()
    pending = [expert]
    while pending:
        text = pending.pop()
        for name in included - reachable:
            if f"{name}>" in text or f'{name}"' in text:
                reachable.add(name)
                pending.append(next(MQL5_ROOT.rglob(name)).read_text(encoding="utf-8"))
    assert reachable == included, f"not included by the EA: {sorted(included - reachable)}"


def test_the_chart_shows_each_legs_last_fill_beside_the_mt5_price_it_followed(terminal: Terminal) -> None:
    spec = quiet_scenario(timeline=[
        {"do": "deal", "symbol": "BTCUSD", "side": "buy", "volume": "0.25", "magic": 0, "price": 90012.5},
        {"do": "wait_venue", "file": "${PAPER_STATE}", "positions": {"BTCUSD": "0.25"}, "timeout_s": 15},
        {"do": "wait_chart", "file": "${PAPER_STATE}", "timeout_s": 10},
    ])  # fmt: skip
    run = terminal.run(spec)

    assert_healthy(run)
    row = next(line for line in run.last_comment().splitlines() if line.strip().startswith("BTCUSD"))
    # The Paper venue fills at its own price (90000); MT5 filled at 90012.50: the trader sees both.
    assert "last fill 0.25 @ 90000 (MT5 90012.50)" in row, row
