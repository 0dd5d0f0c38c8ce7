"""Shared fixtures, and the suite-wide secret check.

Every test's captured stdout, stderr, log records and failure report is scanned for the test secrets
(tests/secrets.py); a test whose output holds one fails. At the end of the session every file the tests
wrote under the pytest temporary directory (logs, journals, state files) is scanned too.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from sidecar.paths import write_private
from tests.secret_scan import scan_paths
from tests.secrets import SECRET_PROFILE, TEST_SECRETS, find_secrets

pytest_plugins = ["pytester"]


_flagged: set[str] = set()


def _masked(text: str) -> str:
    for name, value in TEST_SECRETS.items():
        text = text.replace(value, f"<test secret {name}>")
    return text


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()
    captured = "\n".join(content for _, content in report.sections)
    original = str(report.longrepr) if report.longrepr is not None else ""
    leaked = find_secrets(captured + original)
    if not leaked:
        return
    # The output is shown with every secret masked, so a failure can still be read; the test fails either way.
    report.sections = [(title, _masked(content)) for title, content in report.sections]
    if item.nodeid in _flagged:
        report.longrepr = _masked(original) if original else None
        return
    _flagged.add(item.nodeid)
    report.outcome = "failed"
    head = f"test secret(s) {', '.join(leaked)} appeared in the output of {item.nodeid}"
    report.longrepr = head + ("\n\n" + _masked(original) if original else "")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    try:
        base = factory.getbasetemp()
    except (OSError, ValueError):
        return
    problems = scan_paths([base])
    if problems:
        print("\nSECRET LEAKS in files written by the tests:\n" + "\n".join(problems))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def write_profile(home: Path, name: str, text: str) -> Path:
    path = home / "config" / "profiles" / f"{name}.toml"
    write_private(path, text)
    return path


@pytest.fixture
def csmc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated CSMC_HOME holding the profile 'secret' with every test secret in it."""
    home = tmp_path / "home"
    monkeypatch.setenv("CSMC_HOME", str(home))
    for key in [k for k in os.environ if k.startswith("CSMC_") and k != "CSMC_HOME"]:
        monkeypatch.delenv(key)
    write_profile(home, "secret", SECRET_PROFILE)
    yield home


@pytest.fixture
def session_token() -> str:
    return TEST_SECRETS["session_token"]
