"""`make demo`: the real EA, compiled by the harness, copies a scripted MT5 session to the Paper venue.

Two scripted terminals, one netting and one hedging account, trade by hand and through other EAs. The
EA starts the sidecar itself, sends its snapshots over its own ZMTP client, and shows the sidecar's
status on its chart; the narration prints every step, what the EA printed, and the chart at the end. Each
scenario ends only once the chart shows what the venue holds, so the last chart printed is the truth.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.ea.terminal import BUILD_DIR, EaRun, Terminal, build, load_scenario

PARTS = (("netting", "one_way"), ("hedging", "hedge"))


def show(run: EaRun) -> bool:
    """Prints the last chart and the venue; true when they agree and the EA showed every order."""
    shown = run.last_comment()
    if shown:
        print("\n  The EA's chart showed at the end:")
        for line in shown.splitlines():
            print(f"    {line}")
    venue = run.venue()
    print("  Paper venue now holds:", ", ".join(f"{k} {v}" for k, v in venue.items()) or "nothing")
    printed = "\n".join(run.texts("print"))
    missing = [order for order in run.order_ids() if f"order {order}:" not in printed]
    agrees = run.chart_matches_venue()
    if not agrees:
        print("  The chart does NOT show what the venue holds.")
    if missing:
        print(f"  Orders the EA never showed: {', '.join(missing)}")
    else:
        print(f"  The EA showed all {len(run.order_ids())} orders the venue received.")
    print()
    return agrees and not missing


def run_demo(harness: Path, home: Path) -> bool:
    ok = True
    for part, (name, mode) in enumerate(PARTS, start=1):
        scenario = load_scenario(name)
        print(f"Part {part}: {scenario['name']}", flush=True)
        terminal = Terminal(harness, home / name, profile=f"demo-{name}", position_mode=mode)
        run = terminal.run(scenario, name=name, narrate=True)
        truthful = show(run)
        if run.failure is not None or run.result["init_result"] != 0:
            print(f"Part {part} failed: {run.failure}", file=sys.stderr)
            ok = False
        ok = ok and truthful
    print("Demo finished: " + ("the venue followed every step of both accounts." if ok else "FAILED."), flush=True)
    return ok


def main() -> int:
    print("CSMultiConnector demo: the MQL5 EA in a scripted MT5 terminal, copying to the Paper venue\n")
    print("Compiling mql5/ with the test harness ...", flush=True)
    compiled = build()
    if compiled.returncode != 0:
        print(compiled.stdout + compiled.stderr, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="csmc-demo-") as tmp:
        return 0 if run_demo(BUILD_DIR / "ea-harness", Path(tmp)) else 1


if __name__ == "__main__":
    sys.exit(main())
