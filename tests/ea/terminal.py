"""Runs the compiled EA in a scripted terminal against the real sidecar, and reads what came of it.

A run is one scenario (tests/ea/scenarios/*.json or a dict): the harness sets the EA's inputs, plays the
timeline in real time, and writes every Print, Alert and chart Comment of the EA, the handler timings and
any runtime error to a result file. The sidecar is started by the EA itself, through the harness's
ShellExecuteW, with a profile written here; the Paper venue keeps its positions in a state file, which
the timeline's `wait_venue` steps and the tests read.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sidecar.demo import free_port
from sidecar.paths import write_private

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCENARIOS = HERE / "scenarios"
BUILD_DIR = ROOT / "build" / "ea"
CSMC_COMMAND = Path(sys.executable).parent / "csmc"


def build(
    out: Path = BUILD_DIR, mql5_root: Path | None = None, syntax_only: bool = False
) -> subprocess.CompletedProcess[str]:
    """Translate and compile the EA: the same step `make test-ea` runs."""
    command = [sys.executable, str(HERE / "build.py"), "--out", str(out)]
    if mql5_root is not None:
        command += ["--mql5-root", str(mql5_root)]
    if syntax_only:
        command.append("--syntax-only")
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def load_scenario(name: str) -> dict[str, Any]:
    scenario: dict[str, Any] = json.loads((SCENARIOS / f"{name}.json").read_text(encoding="utf-8"))
    return scenario


@dataclass
class EaRun:
    result: dict[str, Any]
    paper_state: Path
    data_dir: Path
    stderr: str

    @property
    def failure(self) -> str | None:
        failure: str | None = self.result.get("failure")
        return failure

    def texts(self, kind: str) -> list[str]:
        return [e["text"] for e in self.result["events"] if e["kind"] == kind]

    def everything(self) -> str:
        return "\n".join(e["text"] for e in self.result["events"])

    def last_comment(self) -> str:
        """The chart comment as it was last shown; the EA clears it when it is removed."""
        comments = [c for c in self.texts("comment") if c]
        return comments[-1] if comments else ""

    def venue(self) -> dict[str, Decimal]:
        if not self.paper_state.exists():
            return {}
        state = json.loads(self.paper_state.read_text(encoding="utf-8"))
        table: dict[str, Decimal] = {}
        for symbol, leg, qty in state.get("positions", []):
            if Decimal(qty) != 0:
                table[symbol if leg == "net" else f"{symbol}:{leg}"] = Decimal(qty)
        return table

    def orders(self) -> int:
        return len(self.order_ids())

    def order_ids(self) -> list[str]:
        """The client ids of every order the Paper venue received."""
        if not self.paper_state.exists():
            return []
        return list(json.loads(self.paper_state.read_text(encoding="utf-8")).get("orders", {}))

    def chart_rows(self) -> dict[str, Decimal | str]:
        """The venue column of the last chart's instrument rows, keyed like venue(): SYMBOL or SYMBOL:leg."""
        return chart_rows(self.last_comment())

    def chart_matches_venue(self) -> bool:
        rows = self.chart_rows()
        shown = {key: value for key, value in rows.items() if value != 0}
        return shown == self.venue() and all(key in rows for key in self.venue())


ROW_RE = re.compile(r"^  (?P<symbol>\S+)(?: (?P<leg>long|short))? \S+ .*?: MT5 \S+, venue (?P<venue>[^,\s]+)")


def chart_rows(chart: str) -> dict[str, Decimal | str]:
    """Instrument rows as the EA writes them (Display.mqh): "  SYMBOL[ leg] <- SOURCES: MT5 T, venue V ..."."""
    rows: dict[str, Decimal | str] = {}
    for line in chart.splitlines():
        match = ROW_RE.match(line)
        if match is None:
            continue
        key = match["symbol"] + (f":{match['leg']}" if match["leg"] else "")
        try:
            rows[key] = Decimal(match["venue"])
        except ArithmeticError:
            rows[key] = match["venue"]
    return rows


def quiet_scenario(**changes: Any) -> dict[str, Any]:
    """A netting account with one symbol and an idle timeline, for the set-up problems; `changes` are merged."""
    scenario = load_scenario("netting")
    scenario["timeline"] = [{"do": "wait", "seconds": 2.5}]
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(scenario.get(key), dict):
            scenario[key] = {**scenario[key], **value}
        else:
            scenario[key] = value
    return scenario


def assert_healthy(run: EaRun) -> None:
    assert run.failure is None, f"the EA failed: {run.failure}\n{run.everything()}"
    assert run.result["init_result"] == 0


@dataclass
class Terminal:
    """One scripted MT5 terminal with its own sidecar home, profile and port."""

    harness: Path
    home: Path
    profile: str = "ea-test"
    position_mode: str = "one_way"
    port: int = field(default_factory=free_port)
    bridge: str = "heartbeat_ms = 500\ntimeout_ms = 3000\norphan_exit_s = 20\n"
    connector: str = "paper"
    venue_settings: str = ""
    """More TOML for the profile, e.g. a [binance] section for connector = "binance"."""

    @property
    def paper_state(self) -> Path:
        return self.home / "paper-state.json"

    def write_profile(self) -> None:
        write_private(
            self.profile_file,
            f'connector = "{self.connector}"\n[paper]\nposition_mode = "{self.position_mode}"\n'
            f'state_file = "{self.paper_state}"\n[bridge]\n{self.bridge}{self.venue_settings}',
        )

    @property
    def profile_file(self) -> Path:
        return self.home / "config" / "profiles" / f"{self.profile}.toml"

    @property
    def sidecar_log(self) -> Path:
        return self.home / "logs" / f"run-{self.profile}.log"

    def env(self) -> dict[str, str]:
        return dict(
            os.environ,
            CSMC_HOME=str(self.home),
            CSMC_PORT=str(self.port),
            CSMC_PROFILE=self.profile,
            CSMC_COMMAND=str(CSMC_COMMAND),
            PAPER_STATE=str(self.paper_state),
        )

    def run(self, scenario: dict[str, Any], name: str = "run", narrate: bool = False, timeout: float = 180) -> EaRun:
        self.write_profile()
        run_dir = self.home / "ea" / name
        run_dir.mkdir(parents=True, exist_ok=True)
        scenario_file = run_dir / "scenario.json"
        scenario_file.write_text(json.dumps(scenario), encoding="utf-8")
        result_file = run_dir / "result.json"
        data_dir = run_dir / "data"
        command = [str(self.harness), str(scenario_file), "--out", str(result_file), "--data-dir", str(data_dir)]
        if narrate:
            command.append("--narrate")
        completed = subprocess.run(
            command, env=self.env(), stdout=None if narrate else subprocess.PIPE,
            stderr=None if narrate else subprocess.PIPE, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if not result_file.exists():
            raise RuntimeError(f"the harness wrote no result (exit {completed.returncode}): {completed.stderr}")
        result = json.loads(result_file.read_text(encoding="utf-8"))
        return EaRun(result, self.paper_state, data_dir, completed.stderr or "")
