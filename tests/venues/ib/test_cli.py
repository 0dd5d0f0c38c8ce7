"""`csmc check` and profile loading with connector ib, as a user runs them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.config import load_settings
from sidecar.errors import ConfigError
from tests.conftest import write_profile
from tests.e2e.test_cli import assert_one_paragraph, csmc
from tests.fakes.tws import DEFAULT_ACCOUNT, FakeTws, running_tws


@pytest.fixture
def tws() -> Iterator[FakeTws]:
    with running_tws() as fake:
        yield fake


def test_ib_defaults_are_the_manuals(csmc_home: Path) -> None:
    ib = load_settings("default")[0].ib

    assert (ib.host, ib.port, ib.client_id, ib.account, ib.exchange) == ("127.0.0.1", 7497, 1, "", "SMART")
    assert (ib.security_type, ib.max_order_resubmit_tries, ib.order_timeout_s) == ("CFD", 3, 30)
    assert (ib.reconnection_interval_s, ib.position_sync_period_s, ib.reset_cache) == (300, 180, False)
    assert ib.sync_at_startup is True


def test_ib_cannot_be_told_to_skip_the_startup_sync(csmc_home: Path) -> None:
    write_profile(csmc_home, "follow", 'connector = "ib"\n[ib]\nsync_at_startup = false\n')

    with pytest.raises(ConfigError, match=r"\[ib\] sync_at_startup: .*always syncs at startup"):
        load_settings("follow")


@pytest.mark.slow
def test_check_connects_shows_positions_and_resolves_symbols(csmc_home: Path, tws: FakeTws) -> None:
    tws.set_position("EUR.USD", "CASH", 2000)
    write_profile(csmc_home, "ibcheck", f'connector = "ib"\n[ib]\nport = {tws.port}\nsecurity_type = "CASH"\n')

    result = csmc(csmc_home, "check", "--profile", "ibcheck", "--symbol", "GBPUSD.m", "--symbol", "EURXYZ")

    out = result.stdout
    assert result.returncode == 1, result.stderr  # EURXYZ cannot be mapped: listed, and the check says so
    assert re.search(rf"^Account\s+{DEFAULT_ACCOUNT}, position mode one_way$", out, re.M)
    assert re.search(r"^\s+EUR\.USD\s+2000$", out, re.M)  # as TWS wrote it, not 2000.0
    assert re.search(r"^Mapping\s+GBPUSD\.m → GBP\.USD \(multiplier 1\)$", out, re.M)
    assert re.search(r"^Mapping\s+EURXYZ: NOT MAPPED", out, re.M)
    # what a maintainer compares with a paper account before a release (README)
    assert re.search(r"^TWS API\s+server version 178$", out, re.M)
    assert re.search(
        r"^TWS sizes\s+GBP\.USD CASH on IDEALPRO \(conId 12087797\): minSize 1, sizeIncrement 1, "
        r"suggestedSizeIncrement 1, minTick 0\.00005 → copied with lot step 1, min size 1$",
        out,
        re.M,
    )
    assert "Traceback" not in out + result.stderr


@pytest.mark.slow
def test_check_without_tws_says_what_to_do(csmc_home: Path, tws: FakeTws) -> None:
    tws.stop_listening()
    write_profile(csmc_home, "notws", f'connector = "ib"\n[ib]\nport = {tws.port}\n')

    result = csmc(csmc_home, "check", "--profile", "notws")

    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert f"nothing answers at 127.0.0.1:{tws.port}" in result.stderr
    assert "Start TWS or IB Gateway" in result.stderr
