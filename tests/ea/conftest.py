"""Fixtures of the EA tests: the EA is compiled once per session and every scenario test reuses the binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ea.terminal import BUILD_DIR, Terminal, build


@pytest.fixture(scope="session")
def harness() -> Path:
    completed = build()
    if completed.returncode != 0:
        pytest.fail(f"the EA does not compile:\n{completed.stdout}{completed.stderr}", pytrace=False)
    binary = BUILD_DIR / "ea-harness"
    assert binary.exists()
    return binary


@pytest.fixture
def terminal(harness: Path, tmp_path: Path) -> Terminal:
    return Terminal(harness, tmp_path / "home")
