"""The `csmc` command as a user runs it: real processes, real files, real sockets on 127.0.0.1."""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.client import BridgeClient, BridgeRefused
from bridge.messages import Account, Position, Status
from sidecar import __version__
from sidecar.demo import free_port
from sidecar.venues.paper import DEFAULT_INSTRUMENTS
from tests.conftest import write_profile
from tests.e2e.harness import RunningSidecar, assert_one_paragraph, csmc, running, token_file
from tests.secrets import TEST_SECRETS, find_secrets

# --- one-shot commands -----------------------------------------------------------------------------


def test_version_prints_the_version(csmc_home: Path) -> None:
    result = csmc(csmc_home, "version")

    assert result.returncode == 0
    assert result.stdout.strip() == f"csmc {__version__}"


@pytest.mark.slow
def test_check_prints_what_the_venue_reports(csmc_home: Path) -> None:
    result = csmc(csmc_home, "check", "--profile", "secret", "--symbol", "EURUSD.m", "--symbol", "BTCUSD")

    out = result.stdout
    assert result.returncode == 0
    assert find_secrets(out + result.stderr) == []
    assert "Traceback" not in out + result.stderr
    assert re.search(r"^Account\s+\S+, position mode one_way$", out, re.M)
    assert re.search(r"^Clock skew\s+[+-]\d+\.\d{3} s", out, re.M)
    assert re.search(r"^Positions\s+\(none\)$", out, re.M)
    assert re.search(r"^Mapping\s+EURUSD\.m → EURUSD \(multiplier 1\)$", out, re.M)
    assert re.search(r"^Mapping\s+BTCUSD → BTCUSD ", out, re.M)
    rules = out.split("Instrument rules\n", 1)[1].splitlines()
    assert rules[0].split() == ["symbol", "lot", "step", "min", "size", "min", "notional", "multiplier"]
    rows = {cells[0]: cells[1:] for cells in (line.split() for line in rules[1:])}
    expected = {i.symbol: i for i in DEFAULT_INSTRUMENTS if i.symbol in ("EURUSD", "BTCUSD")}
    assert set(rows) == set(expected)
    for symbol, instrument in expected.items():
        step, min_size, min_notional, multiplier = map(Decimal, rows[symbol])
        assert (step, min_size, min_notional, multiplier) == (
            instrument.lot_step,
            instrument.min_qty,
            instrument.min_notional,
            instrument.multiplier,
        )


def test_check_with_a_missing_profile_fails_in_one_paragraph(csmc_home: Path) -> None:
    result = csmc(csmc_home, "check", "--profile", "nosuch")

    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert "nosuch.toml" in result.stderr
    assert result.stdout == ""


def test_check_with_an_unknown_profile_key_names_the_key(csmc_home: Path) -> None:
    secret = TEST_SECRETS["binance_secret_key"]
    write_profile(csmc_home, "typo", f'connector = "paper"\n[binance]\napi_secet = "{secret}"\n')

    result = csmc(csmc_home, "check", "--profile", "typo")

    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert "[binance] api_secet is not a setting" in result.stderr
    assert find_secrets(result.stdout + result.stderr) == []


def test_run_with_a_missing_token_file_fails_clearly(csmc_home: Path) -> None:
    missing = csmc_home / "absent.token"

    result = csmc(csmc_home, "run", "--port", str(free_port()), "--profile", "secret", "--token-file", str(missing))

    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert "token file" in result.stderr
    assert str(missing) in result.stderr
    assert "listening" not in result.stdout


def test_run_with_a_missing_token_file_reports_the_os_reason(csmc_home: Path) -> None:
    missing = csmc_home / "secret.token"

    result = csmc(csmc_home, "run", "--port", str(free_port()), "--profile", "secret", "--token-file", str(missing))

    assert result.returncode == 2
    assert f"{missing}: {os.strerror(errno.ENOENT)}." in result.stderr


@pytest.mark.slow
def test_second_run_on_the_same_port_says_the_port_is_in_use(csmc_home: Path) -> None:
    with running(csmc_home, "secret") as first:
        first.wait_listening()

        second = csmc(
            csmc_home,
            "run",
            "--port",
            str(first.port),
            "--profile",
            "secret",
            "--token-file",
            str(token_file(csmc_home, "second")),
            timeout=30,
        )

        assert second.returncode == 2
        assert_one_paragraph(second.stderr)
        assert f"127.0.0.1:{first.port}" in second.stderr
        assert "in use" in second.stderr.lower()
        assert "listening" not in second.stdout
        assert first.proc.poll() is None


def test_sync_dry_run_without_a_journal_says_so(csmc_home: Path) -> None:
    result = csmc(csmc_home, "sync", "--dry-run", "--profile", "secret")

    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert "No journal" in result.stderr


# --- sync --dry-run after a real session -----------------------------------------------------------

BTC = Position(
    symbol="BTCUSD",
    side="buy",
    volume=Decimal("0.25"),
    position_id=1,
    magic=0,
    contract_size=Decimal(1),
    base_currency="BTC",
    profit_currency="USD",
    volume_step=Decimal("0.01"),
    volume_min=Decimal("0.01"),
)


def _in_sync(status: Status) -> bool:
    rows = [r for r in status.instruments if r.symbol == "BTCUSD"]
    return status.mismatches == 0 and len(rows) == 1 and rows[0].venue == Decimal("0.25")


async def _copy_one_position(sidecar: RunningSidecar, profile: str) -> None:
    client = BridgeClient(
        f"tcp://127.0.0.1:{sidecar.port}",
        sidecar.token,
        profile=profile,
        account=Account(login=51234567, server="Demo-Server", currency="USD", margin_mode="netting"),
    )
    try:
        await client.hello()
        await client.wait_for(lambda m: m.type == "request_snapshot", 10)
        seq = await client.snapshot([BTC], reason="connect")
        await client.wait_for(lambda m: m.type == "ack" and getattr(m.body, "seq", None) == seq, 10)
        await client.wait_for(lambda m: isinstance(m.body, Status) and _in_sync(m.body), 10)
    finally:
        await client.close("test finished")


@pytest.mark.slow
async def test_sync_dry_run_shows_the_order_and_places_nothing(csmc_home: Path, tmp_path: Path) -> None:
    state = tmp_path / "paper.json"
    write_profile(csmc_home, "dry", f'connector = "paper"\n[paper]\nstate_file = "{state.as_posix()}"\n')
    with running(csmc_home, "dry") as sidecar:
        sidecar.wait_listening()
        await _copy_one_position(sidecar, "dry")
    held = json.loads(state.read_text(encoding="utf-8"))
    assert held["positions"] == [["BTCUSD", "net", "0.25"]]
    held["positions"] = [["BTCUSD", "net", "0.1"]]
    state.write_text(json.dumps(held), encoding="utf-8")
    before = state.read_bytes()

    result = csmc(csmc_home, "sync", "--dry-run", "--profile", "dry")

    assert result.returncode == 0, result.stderr
    assert "Nothing is placed." in result.stdout
    btc_lines = [line for line in result.stdout.splitlines() if line.strip().startswith("BTCUSD")]
    assert len(btc_lines) == 1
    order = re.search(r"\b(BUY|SELL) (\d+(?:\.\d+)?)", btc_lines[0])
    assert order is not None, btc_lines[0]
    assert (order.group(1), Decimal(order.group(2))) == ("BUY", Decimal("0.15"))
    assert state.read_bytes() == before
    assert find_secrets(result.stdout + result.stderr) == []
    logs = "".join(f.read_text(encoding="utf-8") for f in (csmc_home / "logs").glob("*.log*"))
    assert "run-dry.log" in {f.name for f in (csmc_home / "logs").iterdir()}
    leaked = sidecar.token in logs
    assert not leaked, "the session token reached a log file"


# --- processes that run ----------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_ends_with_every_instrument_in_sync(csmc_home: Path) -> None:
    result = csmc(csmc_home, "demo", "--quiet")

    assert result.returncode == 0, result.stderr
    assert "every instrument in sync" in result.stdout


@pytest.mark.slow
def test_sidecar_exits_by_itself_when_no_ea_connects(csmc_home: Path) -> None:
    write_profile(csmc_home, "orphan", 'connector = "paper"\n[bridge]\norphan_exit_s = 1\n')

    with running(csmc_home, "orphan") as sidecar:
        sidecar.wait_listening()
        code = sidecar.proc.wait(timeout=15)

    assert code == 0
    assert "Traceback" not in sidecar.output()


@pytest.mark.slow
async def test_a_reloaded_ea_with_a_new_token_in_the_same_file_is_accepted(csmc_home: Path) -> None:
    """An EA reload writes a fresh token into its token file and reuses the sidecar still running."""
    account = Account(login=7, server="Demo", currency="USD", margin_mode="netting")
    write_profile(csmc_home, "reload", 'connector = "paper"\n')
    with running(csmc_home, "reload") as sidecar:
        sidecar.wait_listening()
        endpoint = f"tcp://127.0.0.1:{sidecar.port}"
        first = BridgeClient(endpoint, sidecar.token, account=account, profile="reload")
        await first.hello()
        await first.close("reloaded")

        new_token = secrets.token_urlsafe(24)
        (csmc_home / "reload.token").write_text(new_token, encoding="utf-8")
        stale = BridgeClient(endpoint, sidecar.token, account=account, profile="reload")
        fresh = BridgeClient(endpoint, new_token, account=account, profile="reload")
        stranger = BridgeClient(endpoint, secrets.token_urlsafe(24), account=account, profile="reload")
        try:
            welcome = await fresh.hello()
            assert welcome.connector == "paper"
            for refused in (stale, stranger):
                with pytest.raises(BridgeRefused) as error:
                    await refused.hello()
                assert error.value.error.code == "bad_token"
        finally:
            for client in (fresh, stale, stranger):
                await client.close("done")
    assert new_token not in sidecar.output()
