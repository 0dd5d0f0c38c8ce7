"""The copier against a fake Binance USDⓈ-M Futures on 127.0.0.1, each figure beside its baseline in the same run.

- snapshot sent → the order's request arrives at Binance, against python-binance's own order call and ccxt's,
  in interleaved rounds (the fake stamps every request as it arrives, on the benchmark's own clock);
- a burst of 1000 table changes over 50 symbols: time to the first order and to a venue equal to the last
  table, against a bare pyzmq echo of the same 1000 messages; the sidecar's peak memory after it, against a
  process that only imports zmq;
- the requests one periodic sync costs for 1, 10 and 50 instruments, and one changed position among them.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import zmq

from bench.common import BenchFailure, Deadline, Summary
from bench.proc import PROFILE, EchoServer, Sidecar, bench_client, position, prepare_home
from bridge.codec import Message, encode
from bridge.messages import Position, Snapshot
from sidecar.config import BinanceSettings
from sidecar.engine import CopyMode, SyncEngine
from sidecar.journal import Journal
from sidecar.mapping import SymbolMapper
from sidecar.model import MarginMode
from sidecar.venues.binance import BinanceVenue
from tests.bridge.conftest import hello_frame
from tests.bridge.rawzmtp import BlockingEa, frame
from tests.fakes.binance import FakeBinance, futures_symbol
from tests.secrets import TEST_SECRETS

D = Decimal
KEY, SECRET = TEST_SECRETS["binance_api_key"], TEST_SECRETS["binance_secret_key"]
ORDER_PATH = "/fapi/v1/order"
LATENCY_ROUNDS = 8
PER_ROUND = 10
BURST = 1000
SYMBOLS = 50


def add_symbols(fake: FakeBinance, count: int) -> list[str]:
    """`count` more USDⓈ-M symbols (C00USDT, C01USDT, …) at a price of 100 USDT, 0.001 lot, 5 USDT minimum."""
    names = []
    for n in range(count):
        symbol = f"C{n:02d}USDT"
        fake.futures_symbols[symbol] = futures_symbol(symbol, f"C{n:02d}", "0.001", "0.001", "5", "0.01", 3)
        fake.prices[symbol] = D(100)
        names.append(symbol)
    return names


def profile(fake: FakeBinance) -> str:
    return (
        f'connector = "binance"\n[binance]\nendpoint = "futures"\napi_url = "{fake.futures_url}"\n'
        f'api_key = "{KEY}"\nsecret_key = "{SECRET}"\nsync_at_startup = true\nposition_sync_period_s = 0\n'
    )


def mt5_position(symbol: str, volume: Decimal, n: int) -> Position:
    base = symbol.removesuffix("USDT")
    return position(f"{base}USD", volume, base=base, position_id=n + 1)


def orders_after(fake: FakeBinance, since: float) -> list[float]:
    with fake.lock:
        return [r.at for r in fake.requests if r.method == "POST" and r.path == ORDER_PATH and r.at >= since]


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = Deadline(seconds)
    while not condition():
        if deadline.expired:
            raise BenchFailure(f"{what}: not within {seconds:.0f} s")
        time.sleep(0.001)


# --- snapshot → order, against the SDKs --------------------------------------------------------------


@dataclass
class OrderLatency:
    copier_ms: list[float] = field(default_factory=list)
    sdk_ms: list[float] = field(default_factory=list)
    ccxt_ms: list[float] = field(default_factory=list)
    ccxt_error: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "copier_ms": Summary.of(self.copier_ms).to_json(),
            "python_binance_ms": Summary.of(self.sdk_ms).to_json(),
            "ccxt_ms": Summary.of(self.ccxt_ms).to_json() if self.ccxt_ms else None,
            "ccxt_error": self.ccxt_error or None,
        }


def _ccxt_client(fake: FakeBinance) -> Any:
    import ccxt  # a bench-only extra: `pip install -e '.[bench]'`

    # Markets only: the currency list is a wallet endpoint (sapi) that a futures venue does not need.
    client = ccxt.binanceusdm(
        {"apiKey": KEY, "secret": SECRET, "enableRateLimit": False, "options": {"fetchCurrencies": False}}
    )
    for name in list(client.urls["api"]):
        if name.startswith("fapi"):
            version = client.urls["api"][name].rsplit("/", 1)[-1]
            client.urls["api"][name] = f"{fake.root_url}/fapi/{version}" if name != "fapiData" else fake.root_url
    client.load_markets()
    return client


async def order_latency(deadline: Deadline, rounds: int = LATENCY_ROUNDS, ram_disk: bool = False) -> OrderLatency:
    """`ram_disk`: the sidecar's journal (and its one sync per order) on /dev/shm, to show what the disk costs."""
    from binance.client import Client

    result = OrderLatency()
    # Only the parent: TemporaryDirectory makes a private directory of its own in it.
    shm = Path("/dev/shm")  # noqa: S108
    where = str(shm) if ram_disk and shm.is_dir() else None
    with FakeBinance() as fake, tempfile.TemporaryDirectory(prefix="csmc-bench-order-", dir=where) as tmp:
        home = Path(tmp)
        token_file, token = prepare_home(home, profile(fake))
        sdk = Client(KEY, SECRET, ping=False)
        sdk.FUTURES_URL = fake.futures_url
        try:
            ccxt_client = _ccxt_client(fake)
        except Exception as e:  # ccxt not installed, or it would not talk to the fake
            ccxt_client, result.ccxt_error = None, f"{type(e).__name__}: {e}"[:200]
        with Sidecar(home, token_file) as sidecar:
            sidecar.wait_listening()
            client = bench_client(sidecar.port, token)
            try:
                await client.hello()
                await client.wait_for(lambda m: m.type == "request_snapshot", 20)
                volume = D("0.010")
                for n in range(rounds + 1):  # round 0 warms every path up and is not counted
                    if deadline.expired and n > 1:
                        break
                    copier, bare, other = [], [], []
                    for turn in range(PER_ROUND):
                        volume = D("0.020") if volume == D("0.010") else D("0.010")
                        copier.append(await _copier_once(client, fake, volume))
                        # The SDKs trade another symbol, back and forth: the copier's venue position stays its own.
                        side = "BUY" if turn % 2 else "SELL"
                        bare.append(
                            _sdk_once(
                                fake,
                                partial(
                                    sdk.futures_create_order,
                                    symbol="ETHUSDT",
                                    side=side,
                                    type="MARKET",
                                    quantity="0.010",
                                ),
                            )
                        )
                        if ccxt_client is not None:
                            other.append(
                                _sdk_once(
                                    fake,
                                    partial(ccxt_client.create_order, "ETH/USDT:USDT", "market", side.lower(), 0.01),
                                )
                            )
                    if n:
                        result.copier_ms += copier
                        result.sdk_ms += bare
                        result.ccxt_ms += other
            finally:
                await client.close("bench finished")
    return result


async def _copier_once(client: Any, fake: FakeBinance, volume: Decimal) -> float:
    started = time.monotonic()
    await client.snapshot([position("BTCUSD", volume)])
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, wait_for, lambda: bool(orders_after(fake, started)), 10.0, "the copier's order")
    arrived = orders_after(fake, started)[0]
    # The next round starts from a venue in sync with the table.
    await loop.run_in_executor(
        None, wait_for, lambda: fake.position("BTCUSDT") == volume, 10.0, "the venue to hold the table"
    )
    return (arrived - started) * 1000


def _sdk_once(fake: FakeBinance, call: Callable[[], object]) -> float:
    started = time.monotonic()
    call()
    arrived = orders_after(fake, started)
    if not arrived:
        raise BenchFailure("the SDK's order never reached the fake")
    return (arrived[0] - started) * 1000


# --- the burst ---------------------------------------------------------------------------------------


@dataclass
class BurstResult:
    first_order_ms: float
    converged_ms: float
    echo_ms: float
    sidecar_peak_rss_kb: int | None
    import_zmq_peak_rss_kb: int | None
    orders: int

    def to_json(self) -> dict[str, object]:
        return {
            "changes": BURST,
            "symbols": SYMBOLS,
            "first_order_ms": round(self.first_order_ms, 1),
            "converged_ms": round(self.converged_ms, 1),
            "echo_ms": round(self.echo_ms, 1),
            "orders": self.orders,
            "sidecar_peak_rss_kb": self.sidecar_peak_rss_kb,
            "import_zmq_peak_rss_kb": self.import_zmq_peak_rss_kb,
        }


def _tables(symbols: list[str], sid: str) -> tuple[list[bytes], dict[str, Decimal]]:
    rng = random.Random(11)  # a workload, the same in every run
    held = dict.fromkeys(symbols, D("1.000"))
    out = []
    for seq in range(3, BURST + 3):
        symbol = rng.choice(symbols)
        # Whole tenths: every change is worth at least 10 USDT, above the 5 USDT minimum notional.
        held[symbol] = D(rng.randint(5, 15)) / 10
        table = Snapshot(reason="deal", positions=[mt5_position(s, v, n) for n, (s, v) in enumerate(held.items())])
        out.append(frame(encode(Message("snapshot", sid, seq, table))))
    return out, held


def _echo_all(messages: list[bytes]) -> float:
    with EchoServer() as echo:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(f"tcp://127.0.0.1:{echo.port}")
        try:
            sock.send(b"warm-up")
            sock.recv()
            payloads = [m[9:] if m[0] & 0x02 else m[2:] for m in messages]  # the messages without their ZMTP header
            started = time.monotonic()
            for payload in payloads:
                sock.send(payload)
            for _ in payloads:
                sock.recv()
            return (time.monotonic() - started) * 1000
        finally:
            sock.close(0)
            ctx.term()


def _import_zmq_rss_kb() -> int | None:
    code = "import zmq, pathlib; print([l for l in pathlib.Path('/proc/self/status').read_text().splitlines()"
    code += " if l.startswith('VmHWM')][0].split()[1])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    return int(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip().isdigit() else None


def bursts(deadline: Deadline, runs: int = 3) -> BurstResult:
    """The median run of `runs` bursts (by time to converge): how many orders a burst costs varies with timing."""
    results = [burst(deadline)]
    while len(results) < runs and not deadline.expired:
        results.append(burst(deadline))
    return sorted(results, key=lambda r: r.converged_ms)[len(results) // 2]


def burst(deadline: Deadline) -> BurstResult:
    with FakeBinance() as fake, tempfile.TemporaryDirectory(prefix="csmc-bench-burst-") as tmp:
        symbols = add_symbols(fake, SYMBOLS)
        home = Path(tmp)
        token_file, token = prepare_home(home, profile(fake))
        sid = "bench00000burst1"
        start_table = Snapshot(
            reason="connect", positions=[mt5_position(s, D("1.000"), n) for n, s in enumerate(symbols)]
        )
        tables, final = _tables(symbols, sid)
        with Sidecar(home, token_file) as sidecar:
            sidecar.wait_listening()
            ea = BlockingEa(sidecar.port, hello_frame(token, sid=sid, connector=None))
            try:
                while b'"type":"request_snapshot"' not in ea.message():
                    pass
                ea.sock.sendall(frame(encode(Message("snapshot", sid, 2, start_table))))
                wait_for(lambda: all(fake.position(s) == D(1) for s in symbols), 60, "the start table on the venue")
                drain = threading.Thread(target=_drain, args=(ea,), daemon=True)
                drain.start()
                started = time.monotonic()
                for at in range(0, len(tables), 50):
                    ea.sock.sendall(b"".join(tables[at : at + 50]))
                wait_for(lambda: bool(orders_after(fake, started)), 30, "the burst's first order")
                first = orders_after(fake, started)[0]
                wait_for(lambda: all(fake.position(s) == v for s, v in final.items()), 60, "the venue to converge")
                converged = time.monotonic()
                orders = len(orders_after(fake, started))
                rss = sidecar.peak_rss_kb()
            finally:
                ea.close()
    return BurstResult(
        (first - started) * 1000, (converged - started) * 1000, _echo_all(tables), rss, _import_zmq_rss_kb(), orders
    )


def _drain(ea: BlockingEa) -> None:
    # The EA reads what the sidecar sends (acks, statuses); a real one does on every timer tick.
    try:
        while True:
            ea.message()
    except OSError:
        return


# --- requests per sync -------------------------------------------------------------------------------


@dataclass
class RequestCounts:
    periodic_sync: dict[int, int]
    one_change: dict[int, int]

    def to_json(self) -> dict[str, object]:
        return {"periodic_sync": self.periodic_sync, "one_changed_position": self.one_change}


async def _engine(fake: FakeBinance, journal: Path) -> SyncEngine:
    settings = BinanceSettings(endpoint="futures", api_url=fake.futures_url, api_key=KEY, secret_key=SECRET)  # type: ignore[arg-type]
    venue = BinanceVenue(settings)
    await venue.connect()
    instruments = await venue.instruments()
    mapper = SymbolMapper(instruments, venue.venue_symbol, mt_profit_currency="USD", quote_currency="USDT")
    return SyncEngine(venue, Journal(journal), mapper, mode=CopyMode.MIRROR)


async def _count(fake: FakeBinance, work: Callable[[], Awaitable[object]]) -> int:
    with fake.lock:
        before = len(fake.requests)
    await work()
    with fake.lock:
        return len(fake.requests) - before


async def _requests(fake: FakeBinance, journal: Path, symbols: list[str]) -> tuple[int, int]:
    table = [mt5_position(s, D("1.000"), n) for n, s in enumerate(symbols)]
    engine = await _engine(fake, journal)
    try:
        await engine.start("bench", f"bench/{PROFILE}", MarginMode.NETTING)
        engine.accept_snapshot("bench", 1, table)
        await engine.reconcile()
        sync = await _count(fake, lambda: engine.sync("periodic"))
        changed = list(table)
        changed[0] = mt5_position(symbols[0], D("1.500"), 0)
        engine._prices.clear()  # the worst case: every cached price has gone stale

        async def one_change() -> None:
            engine.accept_snapshot("bench", 2, changed)
            await engine.reconcile()

        return sync, await _count(fake, one_change)
    finally:
        engine.journal.close()
        await engine.venue.close()


def requests_per_sync(sizes: tuple[int, ...] = (1, 10, 50)) -> RequestCounts:
    periodic, one = {}, {}
    for size in sizes:
        with FakeBinance() as fake, tempfile.TemporaryDirectory(prefix="csmc-bench-req-") as tmp:
            symbols = add_symbols(fake, size)
            periodic[size], one[size] = asyncio.run(_requests(fake, Path(tmp) / "journal.sqlite3", symbols))
    return RequestCounts(periodic, one)
