"""`make demo`: the real EA, compiled by the harness, copies a scripted MT5 session to the Paper venue.

Two scripted terminals, one netting and one hedging account, trade by hand and through other EAs. The
EA starts the sidecar itself, sends its snapshots over its own ZMTP client, and shows the sidecar's
status on its chart; the narration prints every step, what the EA printed, and the chart at the end.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.ea.terminal import BUILD_DIR, EaRun, Terminal, build, load_scenario


def show(run: EaRun) -> None:
    shown = [c for c in run.texts("comment") if c]
    if shown:
        print("\n  The EA's chart showed at the end:")
        for line in shown[-1].splitlines():
            print(f"    {line}")
    venue = run.venue()
    print("  Paper venue now holds:", ", ".join(f"{k} {v}" for k, v in venue.items()) or "nothing", "\n")


def main() -> int:
    print("CSMultiConnector demo: the MQL5 EA in a scripted MT5 terminal, copying to the Paper venue\n")
    print("Compiling mql5/ with the test harness ...", flush=True)
    compiled = build()
    if compiled.returncode != 0:
        print(compiled.stdout + compiled.stderr, file=sys.stderr)
        return 1
    ok = True
    with tempfile.TemporaryDirectory(prefix="csmc-demo-") as tmp:
        for part, (name, mode) in enumerate((("netting", "one_way"), ("hedging", "hedge")), start=1):
            scenario = load_scenario(name)
            print(f"Part {part}: {scenario['name']}", flush=True)
            terminal = Terminal(BUILD_DIR / "ea-harness", Path(tmp) / name, profile=f"demo-{name}", position_mode=mode)
            run = terminal.run(scenario, name=name, narrate=True)
            show(run)
            if run.failure is not None or run.result["init_result"] != 0:
                print(f"Part {part} failed: {run.failure}", file=sys.stderr)
                ok = False
    print("Demo finished: " + ("the venue followed every step of both accounts." if ok else "FAILED."))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
