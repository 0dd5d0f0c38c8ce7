"""A sidecar that cannot copy, seen from the real EA: the reason on the chart, and no endless restarts.

The EA starts `csmc run` itself (through the harness's ShellExecuteW), as it does in MetaTrader.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from sidecar.paths import write_private
from tests.ea.terminal import ROOT, EaRun, Terminal, build, load_scenario

pytestmark = pytest.mark.slow

TYPO_PROFILE = 'connector = "paper"\n[paper]\npositon_mode = "hedge"\n'
TYPO_TEXT = "[paper] positon_mode is not a setting (did you mean position_mode?)"


@pytest.fixture(scope="session")
def harness() -> Path:
    completed = build()
    if completed.returncode != 0:
        pytest.fail(f"the EA does not compile:\n{completed.stdout}{completed.stderr}", pytrace=False)
    return ROOT / "build" / "ea" / "ea-harness"


class ProfileTerminal(Terminal):
    """A terminal whose sidecar profile is written as given, mistakes included."""

    profile_text: str = ""

    def write_profile(self) -> None:
        write_private(self.profile_file, self.profile_text)

    @property
    def profile_file(self) -> Path:
        return self.home / "config" / "profiles" / f"{self.profile}.toml"


def idle(seconds: float, **inputs: Any) -> dict[str, Any]:
    scenario = load_scenario("netting")
    scenario["inputs"] = {**scenario["inputs"], **inputs}
    scenario["timeline"] = [{"do": "wait", "seconds": seconds}]
    return scenario


def assert_healthy(run: EaRun) -> None:
    assert run.failure is None, f"the EA failed: {run.failure}\n{run.everything()}"
    assert run.result["init_result"] == 0


def test_a_profile_typo_reaches_the_chart_and_the_sidecar_is_started_once(harness: Path, tmp_path: Path) -> None:
    terminal = ProfileTerminal(harness, tmp_path / "home")
    terminal.profile_text = TYPO_PROFILE
    # Longer than the EA's first wait for a started sidecar (5 s): a second start would happen in this time.
    run = terminal.run(idle(8))

    assert_healthy(run)
    comment = run.last_comment()
    assert TYPO_TEXT in comment, comment
    assert str(terminal.profile_file) in comment
    assert "Venue: not connected — the profile cannot be used" in comment
    assert any(TYPO_TEXT in alert for alert in run.texts("alert"))  # MT5 writes alerts to the Experts log too
    assert "no sidecar is listening" not in comment
    assert len(run.texts("shell")) == 1, run.texts("shell")
    log_text = (terminal.home / "logs" / f"run-{terminal.profile}.log").read_text(encoding="utf-8")
    assert TYPO_TEXT in log_text


def test_a_profile_typo_removes_the_ea_when_critical_errors_stop_it(harness: Path, tmp_path: Path) -> None:
    terminal = ProfileTerminal(harness, tmp_path / "home")
    terminal.profile_text = TYPO_PROFILE
    run = terminal.run(idle(6, InpStopOnCriticalError="true"))

    assert run.failure is None
    assert run.result["removed_by_ea"] is True
    assert any(TYPO_TEXT in alert for alert in run.texts("alert"))


def test_a_sidecar_that_never_answers_is_started_three_times_and_then_not_again(
    harness: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken-csmc"
    broken.write_text("#!/bin/sh\necho 'csmc: cannot start' >&2\nexit 1\n", encoding="utf-8")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    terminal = ProfileTerminal(harness, tmp_path / "home")
    terminal.profile_text = 'connector = "paper"\n'
    # Starts at 0 s, 5 s and 15 s; the third has had its 20 s at 35 s.
    run = terminal.run(idle(38, InpSidecarCommand=os.fspath(broken)))

    assert_healthy(run)
    assert len(run.texts("shell")) == 3, run.texts("shell")
    # Each start again is a problem shown to the trader (an alert, or the Experts log without alerts).
    relaunches = [p for p in run.texts("alert") + run.texts("print") if "did not answer on port" in p]
    assert [("(2 of 3)" in p, "(3 of 3)" in p) for p in relaunches] == [(True, False), (False, True)], relaunches
    comment = run.last_comment()
    assert "started 3 times and never answered" in comment, comment
    assert f"run-{terminal.profile}.log" in comment
    assert f"--profile {terminal.profile}" in comment  # the command to see the reason by hand
    assert len([a for a in run.texts("alert") if "never answered" in a]) == 1
