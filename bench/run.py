"""`python -m bench.run` (`make bench`): every figure beside its baseline measured in the same run, the ratio,
and the goal; the figures also go to build/bench.json.

Benchmarks measure, they do not judge: only a functional failure (no sidecar, no convergence) makes the exit
code non-zero. The machine's load is recorded before and after, since a shared two-core machine is noisy;
the ratios, taken in interleaved rounds, are what holds across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from bench.ack import AckResult, ack_latency
from bench.binance import BurstResult, OrderLatency, RequestCounts, bursts, order_latency, requests_per_sync
from bench.common import BenchFailure, Deadline, Summary
from bench.startup import StartupResult, cold_start

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "build" / "bench.json"
T = TypeVar("T")


class Runner:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.seconds: dict[str, float] = {}

    def phase(self, name: str, fn: Callable[[], T]) -> T | None:
        print(f"[bench] {name} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            return fn()
        except BenchFailure as e:
            self.failures.append(f"{name}: {e}")
        except Exception as e:
            traceback.print_exc()
            self.failures.append(f"{name}: unexpected {type(e).__name__}: {e}")
        finally:
            self.seconds[name] = time.perf_counter() - started
        return None


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def _filesystem(path: Path) -> str:
    """Filesystem type under `path`: an fsync costs microseconds on tmpfs and milliseconds on a disk."""
    target = str(path.resolve())
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return kind
    for line in mounts:
        parts = line.split()
        inside = len(parts) >= 3 and (target == parts[1] or target.startswith(parts[1].rstrip("/") + "/"))
        if inside and len(parts[1]) > len(best):
            best, kind = parts[1], parts[2]
    return kind


Row = tuple[str, str, str, str, str]


def _p50(values: list[float]) -> float:
    return Summary.of(values).median


def _p99(values: list[float]) -> float:
    return Summary.of(values).p99


def rows(
    ack: AckResult | None,
    order: OrderLatency | None,
    ram: OrderLatency | None,
    flood: BurstResult | None,
    counts: RequestCounts | None,
    start: StartupResult | None,
) -> list[Row]:
    out: list[Row] = []
    if ack is not None:
        out.append((
            f"EA → sidecar → ack, p50 ({ack.snapshot_bytes}-byte snapshot)", f"{_p50(ack.ack_ms):.2f} ms",
            f"pyzmq DEALER→ROUTER echo {_p50(ack.echo_ms):.2f} ms", f"{ack.ratio:.1f}×", "≤ 2×",
        ))  # fmt: skip
    if order is not None:
        sdk = f"python-binance {_p50(order.sdk_ms):.1f} / {_p99(order.sdk_ms):.1f} ms"
        if order.ccxt_ms:
            sdk += f"; ccxt {_p50(order.ccxt_ms):.1f} / {_p99(order.ccxt_ms):.1f} ms"
        elif order.ccxt_error:
            sdk += f"; ccxt not measured ({order.ccxt_error[:60]})"
        out.append((
            "snapshot sent → order at the fake Binance, p50 / p99",
            f"{_p50(order.copier_ms):.1f} / {_p99(order.copier_ms):.1f} ms", sdk,
            f"{_p50(order.copier_ms) / _p50(order.sdk_ms):.2f}× / {_p99(order.copier_ms) / _p99(order.sdk_ms):.2f}×",
            "≤ 1.2× p50, ≤ 1.5× p99",
        ))  # fmt: skip
    if ram is not None:
        out.append((
            "the same, the journal on a RAM disk (/dev/shm)",
            f"{_p50(ram.copier_ms):.1f} / {_p99(ram.copier_ms):.1f} ms",
            f"python-binance {_p50(ram.sdk_ms):.1f} / {_p99(ram.sdk_ms):.1f} ms",
            f"{_p50(ram.copier_ms) / _p50(ram.sdk_ms):.2f}× / {_p99(ram.copier_ms) / _p99(ram.sdk_ms):.2f}×", "—",
        ))  # fmt: skip
    if flood is not None:
        out.append((
            "1000 changes over 50 symbols → venue converged (median of 3)", f"{flood.converged_ms / 1000:.2f} s "
            f"(first order {flood.first_order_ms:.0f} ms, {flood.orders} orders)",
            f"echo of the same messages {flood.echo_ms / 1000:.2f} s", f"{flood.converged_ms / flood.echo_ms:.1f}×",
            "≤ 1 s; first order ≤ 50 ms",
        ))  # fmt: skip
    if counts is not None:
        sizes = sorted(counts.periodic_sync)
        out.append((
            f"REST requests per periodic sync, {' / '.join(map(str, sizes))} instruments",
            " / ".join(str(counts.periodic_sync[n]) for n in sizes), "—", "flat", "≤ 3, flat in N",
        ))  # fmt: skip
        out.append((
            "requests for one changed position among N", " / ".join(str(counts.one_change[n]) for n in sizes),
            "—", "flat", "≤ 2",
        ))  # fmt: skip
    if start is not None:
        zmq_ms = _p50(start.import_zmq_ms)
        cells = " / ".join(f"{c} {_p50(v):.0f}" for c, v in start.bound_ms.items())
        worst = max(start.ratio(c) for c in start.bound_ms)
        out.append((
            "cold start to socket bound, ms", cells, f"`python -c 'import zmq'` {zmq_ms:.0f} ms",
            f"≤ {worst:.2f}×", "≤ 1.5× `import zmq`, any connector",
        ))  # fmt: skip
    if flood is not None and flood.sidecar_peak_rss_kb:
        zmq_kb = flood.import_zmq_peak_rss_kb
        out.append((
            "peak RSS after the burst (Binance connector)", f"{flood.sidecar_peak_rss_kb / 1024:.0f} MB",
            f"`import zmq` {zmq_kb / 1024:.0f} MB" if zmq_kb else "—", "—", "≤ 60 MB",
        ))  # fmt: skip
    return out


def table(lines: list[Row]) -> str:
    head: Row = ("figure", "now", "baseline in the same run", "ratio", "goal")
    every = [head, *lines]
    widths = [max(len(r[i]) for r in every) for i in range(5)]
    text = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in every]
    text.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(text)


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"JSON output (default {OUTPUT})")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per timed phase (default 60)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    began = time.perf_counter()
    runner = Runner()
    load_before = _load()
    ack = runner.phase("ack latency", lambda: asyncio.run(ack_latency(Deadline(args.budget))))
    order = runner.phase("order latency", lambda: asyncio.run(order_latency(Deadline(args.budget))))
    ram = runner.phase(
        "order latency, journal on a RAM disk", lambda: asyncio.run(order_latency(Deadline(args.budget), ram_disk=True))
    )
    flood = runner.phase("burst", lambda: bursts(Deadline(args.budget)))
    counts = runner.phase("requests per sync", requests_per_sync)
    start = runner.phase("cold start", lambda: cold_start(Deadline(args.budget)))
    load_after = _load()
    temp = Path(tempfile.gettempdir())
    lines = [
        "CSMultiConnector benchmarks",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}",
        f"Load before: {load_before}; after: {load_after}",
        f"Journals and logs in {temp} on {_filesystem(temp)}",
        "",
        table(rows(ack, order, ram, flood, counts, start)),
        "",
        "Wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in runner.seconds.items()),
    ]
    lines += ["FAILURES:", *(f"  - {f}" for f in runner.failures)] if runner.failures else ["No functional failures."]
    figures = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ok": not runner.failures,
        "failures": runner.failures,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "load": {"before": load_before, "after": load_after},
        "ack_latency": ack.to_json() if ack else None,
        "order_latency": order.to_json() if order else None,
        "order_latency_ram_disk": ram.to_json() if ram else None,
        "burst": flood.to_json() if flood else None,
        "requests": counts.to_json() if counts else None,
        "cold_start": start.to_json() if start else None,
        "phase_seconds": {k: round(v, 2) for k, v in runner.seconds.items()},
        "total_seconds": round(time.perf_counter() - began, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    lines.append(f"Figures written to {args.output}")
    print("\n".join(lines), flush=True)
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main())
