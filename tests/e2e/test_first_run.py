"""`csmc run` when it cannot copy, one sidecar per profile, and messages that say what is true.

Real `csmc` processes and real sockets; the bridge client plays the EA.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.client import BridgeClient
from bridge.messages import Account, AlertMsg, Status, Welcome
from sidecar import __version__
from sidecar.demo import free_port
from tests.conftest import write_profile
from tests.e2e.harness import RunningSidecar, assert_one_paragraph, csmc, running, token_file
from tests.fakes.binance import FakeBinance
from tests.secrets import TEST_SECRETS, find_secrets

ACCOUNT = Account(login=51234567, server="Demo-Server", currency="USD", margin_mode="netting")
EXIT_RETRY = 75


async def told(
    sidecar: RunningSidecar, profile: str, connector: str | None = "paper"
) -> tuple[Welcome, AlertMsg, Status]:
    """Say hello as the EA does; return the welcome, the first critical alert and a status (before or after it)."""
    client = BridgeClient(
        f"tcp://127.0.0.1:{sidecar.port}", sidecar.token, account=ACCOUNT, profile=profile, connector=connector
    )
    try:
        welcome = await client.hello()
        alert = await client.wait_for(lambda m: isinstance(m.body, AlertMsg) and m.body.critical, 30)
        statuses = [m.body for m in client.received if isinstance(m.body, Status)]
        if not statuses:
            statuses.append((await client.wait_for(lambda m: isinstance(m.body, Status), 10)).body)
    finally:
        await client.close("test finished")
    status = statuses[-1]
    assert isinstance(alert.body, AlertMsg) and isinstance(status, Status)
    return welcome, alert.body, status


def log_text(home: Path, profile: str) -> str:
    return (home / "logs" / f"run-{profile}.log").read_text(encoding="utf-8")


def stopped(sidecar: RunningSidecar, timeout: float = 15) -> int:
    return sidecar.proc.wait(timeout=timeout)


# --- a sidecar that cannot copy tells its EA why -----------------------------------------------------


@pytest.mark.slow
async def test_a_profile_typo_is_told_to_the_ea_logged_and_the_sidecar_exits_when_the_profile_is_saved(
    csmc_home: Path,
) -> None:
    profile = write_profile(csmc_home, "typo", 'connector = "paper"\n[paper]\npositon_mode = "hedge"\n')

    with running(csmc_home, "typo") as sidecar:
        assert "to tell the EA why nothing is copied" in sidecar.wait_listening()
        welcome, alert, status = await told(sidecar, "typo")
        write_profile(csmc_home, "typo", 'connector = "paper"\n[paper]\nposition_mode = "hedge"\n')
        code = stopped(sidecar)

    expected = f"Profile {profile} is not valid: [paper] positon_mode is not a setting (did you mean position_mode?)."
    assert welcome.connector == "paper"
    assert alert.text.startswith(expected), alert.text
    assert (alert.level, alert.code) == ("error", "config")
    assert (status.copying, status.venue_connected, status.detail) == (False, False, "the profile cannot be used")
    assert code == EXIT_RETRY
    assert expected in log_text(csmc_home, "typo")
    assert_one_paragraph(sidecar.output())
    assert expected in sidecar.output()


CANNOT_COPY = [
    pytest.param(
        'connector = "binance"\n[binance]\napi_key = "keyring:p/binance.api_key"\nsecret_key = "x1"\n',
        {},
        r"\[binance\] api_key refers to the stored secret .* finds none on this computer",
        id="a key in a keyring the computer lacks",
    ),
    pytest.param(
        'connector = "binance"\n', {}, r"Binance needs an API key and its secret key", id="a missing key"
    ),
    pytest.param(
        'connector = "ftx"\n', {}, r"connector: Input should be 'ib', 'binance'", id="unknown connector"
    ),
    pytest.param('connector = "paper"\n', {"mode": 0o644}, r"chmod 600", id="a profile others can read"),
    pytest.param('connector = "paper"\n', {"mode": 0o000}, r"cannot be read", id="a profile nobody can read"),
    pytest.param('connector = "paper"\n[paper\n', {}, r"cannot be read: .*line 2", id="a profile that is not TOML"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("text", "how", "reason"), CANNOT_COPY)
async def test_whatever_stops_copying_reaches_the_ea_as_a_critical_alert(
    csmc_home: Path, text: str, how: dict[str, int], reason: str
) -> None:
    if how.get("mode") == 0 and os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = write_profile(csmc_home, "p", text)
    if "mode" in how:
        path.chmod(how["mode"])
    with running(csmc_home, "p") as sidecar:  # as the EA starts it: the profile names the venue
        sidecar.wait_listening()
        _, alert, status = await told(sidecar, "p", None)

    assert re.search(reason, alert.text), alert.text
    assert not status.copying
    assert re.search(reason, log_text(csmc_home, "p"))
    assert "Traceback" not in sidecar.output()


@pytest.mark.slow
async def test_a_venue_refusing_the_keys_reaches_the_ea_as_a_critical_alert(csmc_home: Path) -> None:
    with FakeBinance(secret="bnSECRET-not-the-one-in-the-profile") as fake:
        write_profile(
            csmc_home,
            "wrongkey",
            f'connector = "binance"\n[binance]\napi_url = "{fake.spot_url}"\n'
            f'api_key = "{TEST_SECRETS["binance_api_key"]}"\nsecret_key = "{TEST_SECRETS["binance_secret_key"]}"\n',
        )
        with running(csmc_home, "wrongkey", connector="binance") as sidecar:
            sidecar.wait_listening()
            _, alert, status = await told(sidecar, "wrongkey", "binance")

    assert "[binance] secret_key does not belong to api_key" in alert.text, alert.text
    assert not status.copying
    assert "[binance] secret_key does not belong to api_key" in log_text(csmc_home, "wrongkey")
    assert find_secrets(alert.text + log_text(csmc_home, "wrongkey") + sidecar.output()) == []


# --- one sidecar per profile -----------------------------------------------------------------------


@pytest.mark.slow
async def test_a_second_sidecar_on_a_profile_names_the_first_and_runs_when_the_first_is_killed(
    csmc_home: Path,
) -> None:
    write_profile(csmc_home, "live", 'connector = "paper"\n')
    with running(csmc_home, "live") as first:
        first.wait_listening()
        ea = BridgeClient(f"tcp://127.0.0.1:{first.port}", first.token, account=ACCOUNT, profile="live")
        await ea.hello()
        await ea.wait_for(lambda m: m.type == "request_snapshot", 10)

        with running(csmc_home, "live") as second:
            assert "to tell the EA why nothing is copied" in second.wait_listening()
            _, alert, status = await told(second, "live")
            first.proc.send_signal(signal.SIGKILL)  # the lock must not outlive its process
            code = stopped(second)
            await ea.close("test finished")

        with running(csmc_home, "live") as third:
            assert "to tell the EA why" not in third.wait_listening()

    assert re.search(
        rf"^Profile 'live' is already used by the sidecar on 127\.0\.0\.1:{first.port} \(pid {first.proc.pid}, "
        rf"started [\d: -]+\), which serves the EA of account 51234567 on Demo-Server\.",
        alert.text,
    ), alert.text
    assert alert.code == "profile_in_use"
    assert status.detail == "profile 'live' is in use by another sidecar"
    assert code == EXIT_RETRY


def test_the_profile_lock_file_is_private(csmc_home: Path) -> None:
    from sidecar.instance import ProfileLock

    lock = ProfileLock("private")
    lock.acquire(5555)
    try:
        assert stat.S_IMODE(lock.path.stat().st_mode) == 0o600
        assert not lock.is_free()
    finally:
        lock.release()
    assert lock.is_free()


# --- messages that say what is true ----------------------------------------------------------------


@pytest.mark.parametrize("port", ["70000", "65536", "0", "-1", "55x"])
def test_a_port_outside_1_to_65535_is_refused_before_anything_listens(csmc_home: Path, port: str) -> None:
    result = csmc(csmc_home, "run", "--port", port, "--profile", "secret", "--token-file", "t.token")

    assert result.returncode == 2
    assert "use a number from 1 to 65535" in result.stderr
    assert "listening" not in result.stdout
    assert "another sidecar" not in result.stderr.lower()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\xff\xfe\x00\x81binary", "does not hold a token: its content is not text"),
        (b"\x00\x01\x02\x03\x04\x05", "does not hold a token: its content is not text"),
        (b"", "holds no token: it is empty"),
        (b"  \n", "holds no token: it is empty"),
    ],
    ids=["not UTF-8", "control bytes", "empty", "blank"],
)
def test_a_token_file_is_reported_as_it_is(csmc_home: Path, content: bytes, says: str) -> None:
    path = csmc_home / "bad.token"
    path.write_bytes(content)

    result = csmc(csmc_home, "run", "--port", str(free_port()), "--profile", "secret", "--token-file", str(path))

    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert says in result.stderr
    assert says in log_text(csmc_home, "secret")


@pytest.fixture
def taken_port() -> Iterator[int]:
    holder = socket.create_server(("127.0.0.1", 0))
    yield holder.getsockname()[1]
    holder.close()


def test_a_port_another_program_holds_is_not_blamed_on_a_sidecar(csmc_home: Path, taken_port: int) -> None:
    token = token_file(csmc_home, "t")

    result = csmc(csmc_home, "run", "--port", str(taken_port), "--profile", "secret", "--token-file", str(token))

    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert f"Cannot listen on 127.0.0.1:{taken_port}: the port is in use by another program." in result.stderr


@pytest.mark.slow
def test_a_port_a_sidecar_of_another_profile_holds_names_that_sidecar(csmc_home: Path) -> None:
    write_profile(csmc_home, "other", 'connector = "paper"\n')
    with running(csmc_home, "other") as other:
        other.wait_listening()

        result = csmc(
            csmc_home, "run", "--port", str(other.port), "--profile", "secret",
            "--token-file", str(token_file(csmc_home, "t")),
        )  # fmt: skip

    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert (
        f"the port is in use by the sidecar of profile 'other' on 127.0.0.1:{other.port} (pid {other.proc.pid}"
        in result.stderr
    )


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_flags_print_the_version(csmc_home: Path, flag: str) -> None:
    result = csmc(csmc_home, flag)

    assert result.returncode == 0
    assert result.stdout.strip() == f"csmc {__version__}"


# --- private files ---------------------------------------------------------------------------------


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems give a user: without care, files would be created readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.slow
@pytest.mark.usefixtures("usual_umask")
async def test_logs_journal_and_lock_are_readable_by_their_owner_only(csmc_home: Path) -> None:
    write_profile(csmc_home, "files", 'connector = "paper"\n')
    (csmc_home / "logs").mkdir(parents=True)
    older = csmc_home / "logs" / "run-files.log"
    older.write_text("written by an older version\n", encoding="utf-8")
    older.chmod(0o644)
    with running(csmc_home, "files") as sidecar:
        sidecar.wait_listening()
        ea = BridgeClient(f"tcp://127.0.0.1:{sidecar.port}", sidecar.token, account=ACCOUNT, profile="files")
        await ea.hello()
        await ea.wait_for(lambda m: m.type == "request_snapshot", 10)
        await ea.close("done")
        # Looked at while the sidecar runs: a clean stop removes the journal's -wal and -shm files.
        made = sorted(p for p in csmc_home.rglob("*") if p.is_file() and not p.name.endswith(".token"))
        modes = {p: stat.S_IMODE(p.stat().st_mode) for p in made}

    names = {p.name for p in made}
    assert {"run-files.log", "journal-files.sqlite3", "run-files.lock", "files.toml"} <= names, names
    assert {"journal-files.sqlite3-wal", "journal-files.sqlite3-shm"} & names, names
    for path, mode in modes.items():
        assert mode == 0o600, f"{path} is {oct(mode)}"
    assert stat.S_IMODE((csmc_home / "data").stat().st_mode) == 0o700  # made by the sidecar


def test_a_rotated_log_file_is_private_too(tmp_path: Path) -> None:
    import logging

    from sidecar.logs import setup_logging

    root = logging.getLogger("csmc")
    saved = list(root.handlers), root.level, root.propagate
    try:
        path = setup_logging(tmp_path / "logs", max_mb=1, name="rotate", console=False)
        for _ in range(1200):
            logging.getLogger("csmc.test").info("x" * 1000)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        root.propagate = saved[2]
    files = sorted(path.parent.iterdir())
    assert len(files) >= 2, files
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files), [oct(f.stat().st_mode) for f in files]



# --- check and sync --dry-run report every symbol ----------------------------------------------------


@pytest.mark.slow
def test_check_lists_every_symbol_with_its_outcome_and_a_hint_that_fixes_it(csmc_home: Path) -> None:
    write_profile(
        csmc_home,
        "symbols",
        'connector = "paper"\n[mapping]\nsymbol_suffixes = [".m"]\n[mapping.overrides]\n'
        '"US500" = { symbol = "XAUUSD" }\n"GER40" = { symbol = "DAX" }\n',
    )
    asked = ["EURUSD.m", "US30", "GER40", "US500", "AUDCAD", "SPX=USD", "BTCUSD"]

    result = csmc(csmc_home, "check", "--profile", "symbols", *[a for s in asked for a in ("--symbol", s)])

    assert result.returncode == 1, result.stderr
    lines = [line.split(None, 1)[1] for line in result.stdout.splitlines() if line.startswith("Mapping")]
    assert lines == [
        "EURUSD.m → EURUSD (multiplier 1)",
        'US30: NOT MAPPED — its name does not hold two currencies, and the profile has no override for it. Add one to '
        'the profile: [mapping.overrides] "US30" = { symbol = "<venue symbol>" }.',
        "GER40: NOT MAPPED — The override for MT5 symbol GER40 names venue symbol DAX, which the venue does not list. "
        "Correct [mapping.overrides] in the profile.",
        "US500 → XAUUSD (multiplier 1)",
        'AUDCAD: NOT MAPPED — MT5 symbol AUDCAD maps to AUDCAD (AUD/CAD), which the venue does not list. Add an '
        'override to the profile: [mapping.overrides] "AUDCAD" = { symbol = "<venue symbol>" }.',
        "SPX: NOT MAPPED — write its currencies as BASE/PROFIT, e.g. --symbol SPX=EUR/USD.",
        "BTCUSD → BTCUSD (multiplier 1)",
    ]
    assert result.stdout.rstrip().endswith("4 of 7 MT5 symbol(s) cannot be mapped: they would not be copied.")


@pytest.mark.slow
async def test_sync_dry_run_lists_the_symbols_it_cannot_map(csmc_home: Path) -> None:
    from decimal import Decimal

    from bridge.messages import Position

    def position(symbol: str, base: str, volume: str, ident: int) -> Position:
        return Position(
            symbol=symbol, side="buy", volume=Decimal(volume), position_id=ident, magic=0, contract_size=Decimal(1),
            base_currency=base, profit_currency="USD", volume_step=Decimal("0.01"), volume_min=Decimal("0.01"),
        )  # fmt: skip

    write_profile(csmc_home, "dry", 'connector = "paper"\n')
    with running(csmc_home, "dry") as sidecar:
        sidecar.wait_listening()
        ea = BridgeClient(f"tcp://127.0.0.1:{sidecar.port}", sidecar.token, account=ACCOUNT, profile="dry")
        try:
            await ea.hello()
            await ea.wait_for(lambda m: m.type == "request_snapshot", 10)
            table = [position("BTCUSD", "BTC", "0.25", 1), position("US500", "USD", "1", 2)]
            seq = await ea.snapshot([*table, position("NAS100", "USD", "2", 3)])
            await ea.wait_for(lambda m: m.type == "ack" and getattr(m.body, "seq", None) == seq, 10)
        finally:
            await ea.close("done")

    result = csmc(csmc_home, "sync", "--dry-run", "--profile", "dry")

    assert result.returncode == 1, result.stderr
    rows = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert rows[1].startswith("BTCUSD"), rows
    assert rows[2:] == [
        'NAS100             NOT MAPPED, not copied — MT5 symbol NAS100 (base USD, profit USD) is not a currency pair, '
        'so it cannot be mapped automatically. Add it to [mapping.overrides] in the profile, e.g. "NAS100" = '
        '{ symbol = "<venue symbol>" }.',
        'US500              NOT MAPPED, not copied — MT5 symbol US500 (base USD, profit USD) is not a currency pair, '
        'so it cannot be mapped automatically. Add it to [mapping.overrides] in the profile, e.g. "US500" = '
        '{ symbol = "<venue symbol>" }.',
    ]
    assert "2 MT5 symbol(s) of the snapshot cannot be mapped" in result.stdout


@pytest.mark.slow
async def test_making_a_readable_profile_private_ends_the_refusal(csmc_home: Path) -> None:
    path = write_profile(csmc_home, "open", 'connector = "paper"\n')
    path.chmod(0o644)

    with running(csmc_home, "open") as sidecar:
        sidecar.wait_listening()
        _, alert, _ = await told(sidecar, "open")
        path.chmod(0o600)
        code = stopped(sidecar)

    assert f"Make it private with: chmod 600 '{path}'. Nothing is copied: when the profile file changes" in alert.text
    assert code == EXIT_RETRY


@pytest.mark.slow
async def test_a_command_line_connector_that_disagrees_with_the_profile_is_refused_naming_both(
    csmc_home: Path,
) -> None:
    write_profile(csmc_home, "named", 'connector = "paper"\n')
    with running(csmc_home, "named", connector="binance") as sidecar:
        sidecar.wait_listening()
        _, alert, status = await told(sidecar, "named", "binance")

    assert "--connector binance" in alert.text and 'connector = "paper"' in alert.text, alert.text
    assert "named.toml" in alert.text
    assert not status.copying
