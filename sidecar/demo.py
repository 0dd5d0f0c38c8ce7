"""`csmc demo`: the whole path with no MT5 and no account.

A scripted MT5 terminal (netting, then hedging) trades by hand and through EAs; the bridge client does what
the EA does (magic filter, full snapshots); a real `csmc run` process copies to the Paper venue. After each
step the demo prints the sidecar's own status: MT5 target against venue position per instrument.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

from bridge.client import BridgeClient
from bridge.magic import parse_magic_filter, passes
from bridge.messages import Account, Deal, Position, Status
from sidecar.decimals import plain
from sidecar.paths import write_private


@dataclass(frozen=True)
class SymbolSpec:
    contract_size: Decimal
    base: str
    profit: str
    step: Decimal = Decimal("0.01")
    min_volume: Decimal = Decimal("0.01")


DEMO_SYMBOLS = {
    "EURUSD.m": SymbolSpec(Decimal(100000), "EUR", "USD"),
    "BTCUSD": SymbolSpec(Decimal(1), "BTC", "USD"),
    "XAUUSD": SymbolSpec(Decimal(100), "XAU", "USD"),
}


@dataclass
class ScriptedTerminal:
    """An MT5 account in miniature: netting (one position per symbol) or hedging (many)."""

    margin_mode: str
    symbols: dict[str, SymbolSpec]
    positions: dict[int, Position] = field(default_factory=dict)
    _ticket: int = 1000

    def _next(self) -> int:
        self._ticket += 1
        return self._ticket

    def _position(self, pid: int, symbol: str, side: str, volume: Decimal, magic: int) -> Position:
        spec = self.symbols[symbol]
        return Position(
            symbol=symbol,
            side=side,  # type: ignore[arg-type]
            volume=volume,
            position_id=pid,
            magic=magic,
            contract_size=spec.contract_size,
            base_currency=spec.base,
            profit_currency=spec.profit,
            volume_step=spec.step,
            volume_min=spec.min_volume,
        )

    def deal(self, symbol: str, side: str, volume: str, magic: int = 0, close: int | None = None) -> Deal:
        """A market deal. Netting: nets into the symbol's position. Hedging: opens, or closes `close`."""
        lots = Decimal(volume)
        if self.margin_mode == "netting":
            return self._net(symbol, side, lots, magic)
        if close is None:
            pid = self._next()
            self.positions[pid] = self._position(pid, symbol, side, lots, magic)
            return Deal(ticket=self._next(), position_id=pid, symbol=symbol, entry="in", volume=lots, magic=magic)
        held = self.positions[close]
        left = held.volume - lots
        if left > 0:
            self.positions[close] = held.model_copy(update={"volume": left})
        else:
            del self.positions[close]
        return Deal(ticket=self._next(), position_id=close, symbol=symbol, entry="out", volume=lots, magic=magic)

    def _net(self, symbol: str, side: str, lots: Decimal, magic: int) -> Deal:
        current = next((p for p in self.positions.values() if p.symbol == symbol), None)
        signed = lots if side == "buy" else -lots
        if current is None:
            pid = self._next()
            self.positions[pid] = self._position(pid, symbol, side, lots, magic)
            return Deal(ticket=self._next(), position_id=pid, symbol=symbol, entry="in", volume=lots, magic=magic)
        held = current.volume if current.side == "buy" else -current.volume
        after = held + signed
        entry: Literal["in", "out", "inout"] = "out"
        if after * held < 0:
            entry = "inout"
        elif abs(after) > abs(held):
            entry = "in"
        pid = current.position_id
        if after == 0:
            del self.positions[pid]
        else:
            self.positions[pid] = current.model_copy(
                update={"volume": abs(after), "side": "buy" if after > 0 else "sell"}
            )
        return Deal(ticket=self._next(), position_id=pid, symbol=symbol, entry=entry, volume=lots, magic=magic)

    def close_by(self, pid: int, opposite: int) -> Deal:
        """Hedging only: close two opposite positions of one symbol against each other."""
        a, b = self.positions[pid], self.positions[opposite]
        common = min(a.volume, b.volume)
        for p in (a, b):
            if p.volume == common:
                del self.positions[p.position_id]
            else:
                self.positions[p.position_id] = p.model_copy(update={"volume": p.volume - common})
        return Deal(ticket=self._next(), position_id=pid, symbol=a.symbol, entry="out_by", volume=common, magic=a.magic)

    def table(self, magic_filter: frozenset[int]) -> list[Position]:
        return [p for p in self.positions.values() if passes(p.magic, magic_filter)]


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_FALLBACK_EPHEMERAL_START = 32768  # Linux's default; Windows and macOS start theirs at 49152


def free_port() -> int:
    """A free port below the ephemeral range, where the kernel never picks the local end of an outgoing
    connection: an EA retrying its connect to a port nobody listens on yet can otherwise be handed that very
    port as its own local end (a TCP self-connection) and talk to itself."""
    try:
        start = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        start = _FALLBACK_EPHEMERAL_START
    low = max(1024, start - 12000)
    for _ in range(200):
        port = random.randrange(low, start)  # noqa: S311 - a port number, not a secret
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {low} and {start}")


def run_command(port: int, profile: str, token_file: Path, connector: str | None = None) -> list[str]:
    """The command line the EA uses to start the sidecar: the profile names the venue, so the EA passes no
    connector; `connector` adds one, as someone starting it by hand may."""
    return [
        sys.executable, "-m", "sidecar", "run", "--port", str(port), "--profile", profile,
        "--token-file", str(token_file), *(["--connector", connector] if connector else []),
    ]  # fmt: skip


@contextmanager
def sidecar_process(home: Path, profile: str, connector: str = "paper") -> Iterator[tuple[int, str]]:
    """Start `csmc run` as the EA would: a fresh token in a user-only file, then wait for the bound port."""
    token = secrets.token_urlsafe(24)
    token_file = home / f"{profile}.token"
    write_private(token_file, token)
    port = free_port()
    env = dict(os.environ, CSMC_HOME=str(home))
    proc = subprocess.Popen(
        run_command(port, profile, token_file, connector),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening" not in line:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"the sidecar did not start: {line}{err}")
        yield port, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def write_profile(home: Path, name: str, body: str) -> None:
    write_private(home / "config" / "profiles" / f"{name}.toml", body)


class Narrator:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.step = 0

    def say(self, text: str = "") -> None:
        if not self.quiet:
            print(text, flush=True)

    def table(self, status: Status) -> None:
        if self.quiet:
            return
        print(f"    {'venue instrument':<18} {'from MT5':<14} {'MT5 target':>12} {'venue':>12} {'mismatch':>10}")
        for row in status.instruments:
            leg = f"{row.symbol}" + ("" if row.leg == "net" else f" {row.leg.upper()}")
            venue = "unknown" if row.venue is None else plain(row.venue)
            mismatch = "?" if row.mismatch is None else plain(row.mismatch)
            sources = ",".join(row.mt5_symbols) or "-"
            print(f"    {leg:<18} {sources:<14} {plain(row.target):>12} {venue:>12} {mismatch:>10}")
        if not status.instruments:
            print("    (no positions on either side)")
        print()


async def settle(client: BridgeClient, seq: int, timeout: float = 10.0) -> Status:
    """Wait for the sidecar's ack of `seq`, then for a status with every instrument in sync."""
    await client.wait_for(lambda m: m.type == "ack" and getattr(m.body, "seq", None) == seq, timeout)
    deadline = time.monotonic() + timeout
    last: Status | None = None
    while time.monotonic() < deadline:
        message = await client.wait_for(lambda m: m.type == "status", deadline - time.monotonic())
        assert isinstance(message.body, Status)
        last = message.body
        if last.copying and last.mismatches == 0:
            return last
    raise RuntimeError(f"the venue did not converge: {last}")


async def play(
    narrator: Narrator, home: Path, profile: str, margin_mode: str, script: list[tuple[str, object]]
) -> bool:
    terminal = ScriptedTerminal(margin_mode, DEMO_SYMBOLS)
    magic_filter = parse_magic_filter("0,12345")
    with sidecar_process(home, profile) as (port, token):
        client = BridgeClient(
            f"tcp://127.0.0.1:{port}",
            token,
            profile=profile,
            magic_filter=sorted(magic_filter),
            account=Account(login=51234567, server="Demo-Server", currency="USD", margin_mode=margin_mode),  # type: ignore[arg-type]
        )
        try:
            welcome = await client.hello()
            narrator.say(
                f"  sidecar {welcome.sidecar_version} accepted the session ({welcome.mode} mode); "
                f"EA magic filter 0,12345 (0 = trades by hand)\n"
            )
            await client.wait_for(lambda m: m.type == "request_snapshot", 10)
            status = await settle(client, await client.snapshot(terminal.table(magic_filter), reason="connect"))
            for text, action in script:
                narrator.step += 1
                deal = action(terminal) if callable(action) else None
                narrator.say(f"  {narrator.step:>2}. {text}")
                status = await settle(client, await client.snapshot(terminal.table(magic_filter), deal=deal))
                narrator.table(status)
        finally:
            await client.close("demo finished")
    return status.mismatches == 0


NETTING_SCRIPT: list[tuple[str, object]] = [
    ("Buy 0.10 EURUSD.m by hand", lambda t: t.deal("EURUSD.m", "buy", "0.10")),
    ("Add 0.05 EURUSD.m by hand", lambda t: t.deal("EURUSD.m", "buy", "0.05")),
    ("EA #12345 buys 0.25 BTCUSD (in the magic filter: copied)", lambda t: t.deal("BTCUSD", "buy", "0.25", 12345)),
    ("EA #777 buys 1.00 XAUUSD (not in the magic filter: not copied)", lambda t: t.deal("XAUUSD", "buy", "1", 777)),
    ("Partial close: sell 0.05 EURUSD.m", lambda t: t.deal("EURUSD.m", "sell", "0.05")),
    ("Reverse: sell 0.30 EURUSD.m (long 0.10 → short 0.20)", lambda t: t.deal("EURUSD.m", "sell", "0.30")),
    ("Close: buy 0.20 EURUSD.m", lambda t: t.deal("EURUSD.m", "buy", "0.20")),
    ("EA #12345 closes BTCUSD", lambda t: t.deal("BTCUSD", "sell", "0.25", 12345)),
]

HEDGING_SCRIPT: list[tuple[str, object]] = [
    ("Open buy 0.10 EURUSD.m (position #1001) by hand", lambda t: t.deal("EURUSD.m", "buy", "0.10")),
    ("Open sell 0.04 EURUSD.m (position #1003) by hand", lambda t: t.deal("EURUSD.m", "sell", "0.04")),
    ("Partial close of #1001: 0.03", lambda t: t.deal("EURUSD.m", "sell", "0.03", close=1001)),
    ("Close #1001 by #1003 (close-by)", lambda t: t.close_by(1001, 1003)),
    ("Close what is left of #1001", lambda t: t.deal("EURUSD.m", "sell", "0.03", close=1001)),
]


def run_demo(quiet: bool = False) -> int:
    narrator = Narrator(quiet)
    with tempfile.TemporaryDirectory(prefix="csmc-demo-") as tmp:
        home = Path(tmp)
        write_profile(home, "demo-netting", 'connector = "paper"\n[paper]\nposition_mode = "one_way"\n')
        write_profile(home, "demo-hedging", 'connector = "paper"\n[paper]\nposition_mode = "hedge"\n')
        narrator.say("CSMultiConnector demo — a scripted MT5 session copied to the Paper venue\n")
        try:
            narrator.say("Part 1: a netting account → Paper in one-way position mode")
            netting = asyncio.run(play(narrator, home, "demo-netting", "netting", NETTING_SCRIPT))
            narrator.say("Part 2: a hedging account → Paper in hedge position mode (LONG and SHORT legs)")
            hedging = asyncio.run(play(narrator, home, "demo-hedging", "hedging", HEDGING_SCRIPT))
        except (RuntimeError, TimeoutError) as e:
            print(f"Demo failed: {e}", file=sys.stderr)
            for log_file in sorted((home / "logs").glob("*.log")):
                print(f"--- {log_file.name}\n{log_file.read_text(encoding='utf-8')[-4000:]}", file=sys.stderr)
            return 1
    ok = netting and hedging
    print(f"Demo finished: {narrator.step} steps; " + ("every instrument in sync." if ok else "NOT IN SYNC."))
    return 0 if ok else 1
