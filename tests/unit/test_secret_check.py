"""The suite's own secret check: a test whose output holds a test secret fails, without showing it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.secret_scan import scan_paths
from tests.secrets import TEST_SECRETS, find_secrets

ROOT = Path(__file__).resolve().parents[2]

# The inner test builds the secret at run time, so no file written here contains it.
LEAKY_TEST = """
import logging
from tests.secrets import TEST_SECRETS

def test_prints_a_secret():
    print("key is", TEST_SECRETS["binance_secret_key"])

def test_logs_a_secret():
    logging.getLogger("csmc.x").warning("key %s", TEST_SECRETS["kraken_api_key"])

def test_clean():
    print("nothing to see")
"""


def test_a_test_that_prints_or_logs_a_secret_fails_and_the_secret_is_not_shown(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest("from tests.conftest import pytest_runtest_makereport  # noqa: F401\n")
    pytester.makepyfile(test_leaky=LEAKY_TEST)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, failed=2)
    output = "\n".join(result.outlines + result.errlines)
    assert "test secret(s) binance_secret_key appeared" in output
    assert "test secret(s) kraken_api_key appeared" in output
    assert find_secrets(output) == []


def test_the_file_scan_names_the_file_and_the_secret(tmp_path: Path) -> None:
    (tmp_path / "sidecar.log").write_text("ok\\n", encoding="utf-8")
    clean = scan_paths([tmp_path])
    name = "kucoin_passphrase"
    leaky = tmp_path / "leaky.log"
    leaky.write_text(f"x {TEST_SECRETS[name]} y", encoding="utf-8")
    problems = scan_paths([tmp_path])
    leaky.unlink()  # the session-end scan of the temporary directory must not trip over it

    assert clean == []
    assert problems == [f"{leaky}: contains the test secret '{name}'"]
