"""The real EA (mql5/), compiled by the harness, in scripted terminals against the real sidecar.

Each test plays a scenario in real time: trades made in the scripted account reach the EA through
OnTradeTransaction, the EA sends its snapshots over its own ZMTP client, the sidecar it started copies
them to the Paper venue, and the test reads the venue's state file and what the EA showed the trader.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zmq

from bridge.codec import decode
from bridge.messages import Hello, Snapshot
from tests.ea.terminal import ROOT, Terminal, build, load_scenario

pytestmark = pytest.mark.slow

MQL5_ROOT = ROOT / "mql5"
HANDLER_LIMIT_MS = 50.0
INIT_PARAMETERS_INCORRECT = 32767


@pytest.fixture(scope="session")
def harness() -> Path:
    completed = build()
    if completed.returncode != 0:
        pytest.fail(f"the EA does not compile:\n{completed.stdout}{completed.stderr}", pytrace=False)
    binary = ROOT / "build" / "ea" / "ea-harness"
    assert binary.exists()
    return binary


@pytest.fixture
def terminal(harness: Path, tmp_path: Path) -> Terminal:
    return Terminal(harness, tmp_path / "home")


def quiet_scenario(**changes: Any) -> dict[str, Any]:
    """A netting account with one symbol and an idle timeline, for the set-up problems."""
    scenario = load_scenario("netting")
    scenario["timeline"] = [{"do": "wait", "seconds": 2.5}]
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(scenario.get(key), dict):
            scenario[key] = {**scenario[key], **value}
        else:
            scenario[key] = value
    return scenario


def assert_healthy(run: Any) -> None:
    assert run.failure is None, f"the EA failed: {run.failure}\n{run.everything()}"
    assert run.result["init_result"] == 0


# --- copying -----------------------------------------------------------------------------------------


def test_netting_account_open_add_partial_close_reverse_close(terminal: Terminal) -> None:
    run = terminal.run(load_scenario("netting"))

    assert_healthy(run)
    assert run.venue() == {}
    # +0.10, +0.05 EURUSD, +0.25 BTC, −0.05, −0.30 (reversal), +0.20, −0.25: one order each, XAUUSD never
    assert run.orders() == 7
    assert "in sync" in run.last_comment(), run.last_comment()


def test_hedging_account_keeps_long_and_short_legs_and_copies_close_by(terminal: Terminal) -> None:
    terminal.position_mode = "hedge"
    run = terminal.run(load_scenario("hedging"))

    assert_healthy(run)
    assert run.venue() == {}
    # long +10000, short +4000, long −3000, close-by (long −4000, short −4000), long −3000; the trade of
    # EA #4242 is outside the (empty = by hand) filter, so the venue never saw it
    assert run.orders() == 6


def test_the_ea_starts_the_sidecar_again_after_it_was_killed(terminal: Terminal) -> None:
    run = terminal.run(load_scenario("restart"))

    assert_healthy(run)
    assert run.venue() == {"BTCUSD": Decimal("-0.40")}
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
    assert f"run --port {terminal.port} --connector paper" in comment
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
