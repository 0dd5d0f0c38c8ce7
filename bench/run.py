"""`python -m bench.run`: every benchmark in turn, a readable report on stdout, the figures in build/bench.json.

Budgets keep the whole run under three minutes on a slow two-core machine: a loop that runs out of time
stops early and the report says how many samples it took. Only a functional failure (no sidecar, no
convergence, a demo that fails) makes the exit code non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
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

from bench.common import BenchFailure, Deadline, Summary
from bench.demo_memory import DemoMemory, demo_memory
from bench.engine import EngineResult, engine_throughput
from bench.latency import LatencyResult, snapshot_latency
from bench.startup import StartupResult, cold_start

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "build" / "bench.json"

# Seconds. The phase budgets bound the timed loops; the overall budget caps their sum and leaves room for
# the per-step timeouts (a sidecar start, a convergence) of whatever step is running when it runs out,
# so that even a very slow machine finishes within three minutes.
TOTAL_BUDGET = 140.0
MIN_PHASE = 5.0
COLD_START_BUDGET = 30.0
LATENCY_BUDGET = 30.0
ENGINE_BUDGET = 30.0
ENGINE_OFF_BUDGET = 10.0
COMMIT_COUNT_SNAPSHOTS = 60
DEMO_TIMEOUT = 40.0

T = TypeVar("T")


class Runner:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.skipped: list[str] = []
        self.seconds: dict[str, float] = {}
        self.deadline = Deadline(TOTAL_BUDGET)

    def budget(self, seconds: float) -> float:
        return max(1.0, min(seconds, self.deadline.left()))

    def phase(self, name: str, fn: Callable[[], T]) -> T | None:
        if self.deadline.left() < MIN_PHASE:
            # A machine this slow gets a partial report rather than a run that never ends; nothing broke.
            self.skipped.append(name)
            return None
        print(f"[bench] {name} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            return fn()
        except BenchFailure as e:
            self.failures.append(f"{name}: {e}")
        except Exception as e:
            # Still a failure of the code under test (or of the benchmark): reported, and the other phases run.
            traceback.print_exc()
            self.failures.append(f"{name}: unexpected {type(e).__name__}: {e}")
        finally:
            self.seconds[name] = time.perf_counter() - started
        return None


def _filesystem(path: Path) -> str:
    """Filesystem type under `path`: fsync costs microseconds on tmpfs and milliseconds on a disk."""
    target = str(path.resolve())
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return kind
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1]
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, parts[2]
    return kind


def machine() -> dict[str, object]:
    temp = Path(tempfile.gettempdir())
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "temp_dir": str(temp),
        "temp_filesystem": _filesystem(temp),
    }


# --- report -----------------------------------------------------------------------------------------


def _row(label: str, s: Summary, fields: Sequence[str]) -> str:
    cells = "".join(f"{getattr(s, f):>10.2f}" for f in fields)
    return f"    {label:<44}{cells}"


def _head(fields: Sequence[str]) -> str:
    return f"    {'':<44}" + "".join(f"{f:>10}" for f in fields)


def report_startup(r: StartupResult) -> list[str]:
    fields = ("min", "median", "max")
    lines = [
        f"1. Sidecar cold start, ms ({len(r.listening_ms)} of {r.planned} runs; fresh CSMC_HOME each run)",
        _head(fields),
        _row('Popen → "csmc: listening on" read', Summary.of(r.listening_ms), fields),
        _row("Popen → hello() welcome received", Summary.of(r.welcome_ms), fields),
    ]
    if r.bare_python_ms:
        lines.append(_row("for scale: bare `python -c pass`", Summary.of(r.bare_python_ms), fields))
    return lines


def report_latency(r: LatencyResult) -> list[str]:
    fields = ("median", "p95", "p99", "max")
    return [
        f"2. Snapshot → order → status through ZeroMQ and `csmc run` (Paper, mirror mode), ms "
        f"({r.done} of {r.planned} snapshots)",
        "    BTCUSD alternating 0.20 / 0.10 lots; one snapshot in flight at a time; each one is one order.",
        _head(fields),
        _row("send → status with mismatches == 0", Summary.of(r.status_ms), fields),
        _row("send → ack (snapshot journalled)", Summary.of(r.ack_ms), fields),
        f"    throughput: {r.per_second:.1f} snapshots/s ({r.done} in {r.elapsed_s:.2f} s)",
        f"    percentiles are nearest-rank: p99 of {r.done} samples is the {_from_top(r.done, 99)} largest value.",
    ]


def _from_top(n: int, p: float) -> str:
    place = n - max(1, math.ceil(p / 100 * n)) + 1
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(place if place < 20 else place % 10, "th")
    return f"{place}{suffix}"


def report_engine(full: EngineResult | None, off: EngineResult | None, commits: EngineResult | None) -> list[str]:
    lines = ["3. SyncEngine in process (Paper venue, SQLite journal; accept_snapshot + reconcile, no sockets)"]
    for r in (full, off):
        if r is None:
            continue
        tag = "as shipped" if r.synchronous == "FULL" else "for comparison only"
        lines.append(
            f"    journal synchronous={r.synchronous:<5} ({tag}): {r.snapshots} snapshots, {r.orders} orders in "
            f"{r.elapsed_s:.2f} s → {r.orders_per_s:,.0f} orders/s, {r.us_per_snapshot:,.0f} µs per snapshot"
        )
    per = commits.commits / commits.snapshots if commits and commits.commits is not None and commits.snapshots else None
    if per is not None:
        lines.append(f"    SQLite commits per snapshot: {per:.1f} (the snapshot, the order as PENDING, then as FILLED)")
    lines += [
        "    Note: each order is committed to SQLite with synchronous=FULL (an fsync of the WAL) before it is",
        "    sent and again when it fills, and each snapshot once: those fsyncs dominate the time per snapshot",
        "    on a real disk; the line below measures their share on this machine (noisy when others share it).",
    ]
    if full and off and full.us_per_snapshot:
        share = max(0.0, 1 - off.us_per_snapshot / full.us_per_snapshot)
        lines.append(f"    Estimated share of the fsyncs (FULL vs OFF): {share:.0%} of the time per snapshot.")
    return lines


def report_memory(latency: LatencyResult | None, demo: DemoMemory | None) -> list[str]:
    lines = ["4. Memory"]
    if latency is not None and latency.sidecar_memory_kb:
        kb = latency.sidecar_memory_kb
        hwm, rss = kb.get("VmHWM"), kb.get("VmRSS")
        lines.append(f"    `csmc run` after benchmark 2: peak RSS (VmHWM) {_mib(hwm)}, current RSS (VmRSS) {_mib(rss)}")
    elif latency is not None:
        lines.append("    `csmc run` after benchmark 2: /proc/<pid>/status unavailable (not Linux?)")
    if demo is not None:
        lines.append(f"    `csmc demo --quiet`: peak RSS {_mib(demo.max_rss_kb)} in {demo.elapsed_s:.2f} s")
        lines.append(f"      method: {demo.method}")
        lines.append("      the largest single process of the demo's tree (driver or a sidecar), not a sum")
        if demo.summary:
            lines.append(f"      demo said: {demo.summary}")
    return lines


def _mib(kb: int | None) -> str:
    return "?" if kb is None else f"{kb / 1024:.1f} MiB ({kb} kB)"


# --- main -------------------------------------------------------------------------------------------


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--cold-runs", type=int, default=10, help="sidecar cold starts (default 10)")
    parser.add_argument("--snapshots", type=int, default=200, help="snapshots through the real path (default 200)")
    parser.add_argument("--engine-snapshots", type=int, default=1000, help="in-process snapshots (default 1000)")
    parser.add_argument(
        "--rusage", action="store_true", help="measure the demo with getrusage even when /usr/bin/time exists"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"JSON output (default {OUTPUT})")
    args = parser.parse_args(argv)
    for name in ("cold_runs", "snapshots", "engine_snapshots"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    began = time.perf_counter()
    runner = Runner()
    info = machine()

    startup = runner.phase(
        "1 cold start", lambda: asyncio.run(cold_start(args.cold_runs, runner.budget(COLD_START_BUDGET)))
    )
    latency = runner.phase(
        "2 snapshot latency", lambda: asyncio.run(snapshot_latency(args.snapshots, runner.budget(LATENCY_BUDGET)))
    )
    full = runner.phase(
        "3 engine (synchronous=FULL)",
        lambda: asyncio.run(engine_throughput(args.engine_snapshots, runner.budget(ENGINE_BUDGET))),
    )
    off = runner.phase(
        "3 engine (synchronous=OFF)",
        lambda: asyncio.run(
            engine_throughput(args.engine_snapshots, runner.budget(ENGINE_OFF_BUDGET), synchronous="OFF")
        ),
    )
    commits = runner.phase(
        "3 engine (commit count)",
        lambda: asyncio.run(
            engine_throughput(COMMIT_COUNT_SNAPSHOTS, runner.budget(5.0), synchronous="OFF", count_commits=True)
        ),
    )
    demo = runner.phase("4 demo memory", lambda: demo_memory(args.rusage, runner.budget(DEMO_TIMEOUT)))
    total = time.perf_counter() - began

    lines = [
        "CSMultiConnector benchmarks",
        f"Machine: os.cpu_count()={info['cpu_count']} (usable {info['cpus_usable']}), Python {info['python']} "
        f"({info['implementation']}), {info['platform']}",
        f"Temporary files (journals, logs) in {info['temp_dir']} on {info['temp_filesystem']}",
        "",
    ]
    sections: list[list[str]] = []
    if startup is not None:
        sections.append(report_startup(startup))
    if latency is not None:
        sections.append(report_latency(latency))
    if full is not None or off is not None:
        sections.append(report_engine(full, off, commits))
    sections.append(report_memory(latency, demo))
    for section in sections:
        lines.extend([*section, ""])
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in runner.seconds.items())
    lines.append(f"Wall time: {total:.1f} s ({phases})")
    if runner.skipped:
        lines.append(f"Skipped, the overall budget of {TOTAL_BUDGET:.0f} s being spent: {', '.join(runner.skipped)}")
    if runner.failures:
        lines.append("FAILURES:")
        lines.extend(f"  - {f}" for f in runner.failures)
    else:
        lines.append("No functional failures.")

    engine_json: dict[str, object] = {
        "full": full.to_json() if full else None,
        "synchronous_off": off.to_json() if off else None,
        "commits_per_snapshot": (
            round(commits.commits / commits.snapshots, 2) if commits and commits.commits and commits.snapshots else None
        ),
    }
    if full and off and full.us_per_snapshot:
        engine_json["fsync_share_estimate"] = round(max(0.0, 1 - off.us_per_snapshot / full.us_per_snapshot), 3)
    figures = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ok": not runner.failures,
        "failures": runner.failures,
        "skipped": runner.skipped,
        "machine": info,
        "cold_start": startup.to_json() if startup else None,
        "snapshot_latency": latency.to_json() if latency else None,
        "engine": engine_json,
        "memory": {
            "sidecar_during_latency_kb": latency.sidecar_memory_kb if latency else None,
            "demo": demo.to_json() if demo else None,
        },
        "phase_seconds": {k: round(v, 2) for k, v in runner.seconds.items()},
        "total_seconds": round(total, 2),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    lines.append(f"Figures written to {args.output}")
    print("\n".join(lines), flush=True)
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main())
