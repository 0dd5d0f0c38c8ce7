"""`csmc init`: the profile wizard, interactive through a pseudo-terminal and non-interactive with flags.

The OS keyring is the test backend (tests/keyring_backend.py), selected by name as a user selects one; without
it this machine has no keyring, which is the case of the private secrets file.
"""

from __future__ import annotations

import os
import pty
import re
import select
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar import secret_store
from tests.conftest import write_profile
from tests.e2e.harness import assert_one_paragraph
from tests.fakes.binance import FakeBinance
from tests.keyring_backend import BACKEND, LOCKED_VARIABLE, STORE_VARIABLE, read_store
from tests.secrets import TEST_SECRETS, find_secrets

ROOT = Path(__file__).resolve().parents[2]
API_KEY = TEST_SECRETS["binance_api_key"]
SECRET = TEST_SECRETS["binance_secret_key"]
KEY_VARIABLES = {"CSMC_BINANCE__API_KEY": API_KEY, "CSMC_BINANCE__SECRET_KEY": SECRET}


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


@pytest.fixture
def keyring_store(tmp_path: Path) -> Path:
    return tmp_path / "keyring.toml"


def run(home: Path, *args: str, keyring: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CSMC_", "PYTHON_KEYRING"))}
    environment.update(CSMC_HOME=str(home), **env)
    if keyring is not None:
        environment.update({"PYTHON_KEYRING_BACKEND": BACKEND, STORE_VARIABLE: str(keyring)})
    return subprocess.run(
        [sys.executable, "-m", "sidecar.cli", *args], capture_output=True, text=True, timeout=60,
        env=environment, cwd=ROOT, check=False,
    )  # fmt: skip


def assert_signed_with_the_test_keys(fake: FakeBinance) -> None:
    """The venue saw signed account reads with the right key and a valid signature: the keys reached it."""
    reads = [r for r in fake.requests if r.path.endswith("/account")]
    assert reads, [r.path for r in fake.requests]
    assert all(r.api_key_ok and r.status == 200 for r in reads), [(r.api_key_ok, r.status, r.code) for r in reads]


def profile_of(home: Path, name: str) -> dict[str, object]:
    return tomllib.loads((home / "config" / "profiles" / f"{name}.toml").read_text(encoding="utf-8"))


# --- non-interactive: installers and scripts ---------------------------------------------------------


@pytest.mark.slow
def test_non_interactive_init_stores_the_keys_in_the_keyring_and_checks_the_venue(
    csmc_home: Path, fake: FakeBinance, keyring_store: Path
) -> None:
    result = run(
        csmc_home, "init", "--non-interactive", "--connector", "binance", "--profile", "live",
        "--set", f"binance.api_url={fake.spot_url}", "--set", "binance.position_sync_period_s=60",
        "--set", "mapping.symbol_suffixes=.m,.pro", "--symbol", "BTCUSD.m",
        keyring=keyring_store, **KEY_VARIABLES,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert find_secrets(result.stdout + result.stderr) == []
    profile = profile_of(csmc_home, "live")
    assert profile["binance"] == {
        "sync_at_startup": False, "position_sync_period_s": 60, "quote_currency": "USDT", "mt_profit_currency": "USD",
        "endpoint": "spot", "log_headers": False, "api_url": fake.spot_url,
        "api_key": "keyring:live/binance.api_key", "secret_key": "keyring:live/binance.secret_key",
        "recv_window_ms": 5000, "request_timeout_s": 10.0,
    }  # fmt: skip
    assert profile["mapping"] == {"symbol_prefixes": [], "symbol_suffixes": [".m", ".pro"], "multiplier": 1,
                                  "overrides": {}}  # fmt: skip
    assert read_store(keyring_store) == {
        f"{secret_store.SERVICE}/live/binance.api_key": API_KEY,
        f"{secret_store.SERVICE}/live/binance.secret_key": SECRET,
    }
    assert stat.S_IMODE((csmc_home / "config" / "profiles" / "live.toml").stat().st_mode) == 0o600
    assert "stored in the OS keyring" in result.stdout
    assert re.search(r"^Account\s+\S", result.stdout, re.M), result.stdout
    assert re.search(r"^Mapping\s+BTCUSD\.m → BTCUSDT ", result.stdout, re.M), result.stdout
    # Every setting is explained in the file.
    text = (csmc_home / "config" / "profiles" / "live.toml").read_text(encoding="utf-8")
    for line_no, line in enumerate(text.splitlines()):
        if re.match(r"^\w+ = ", line) and line_no > 5:
            assert text.splitlines()[line_no - 1].startswith("# "), line

    # Later runs read the keys from the keyring: no variable, no key in the profile.
    check = run(csmc_home, "check", "--profile", "live", keyring=keyring_store)
    assert check.returncode == 0, check.stderr
    assert_signed_with_the_test_keys(fake)


@pytest.mark.slow
def test_without_a_keyring_the_keys_go_to_a_private_secrets_file(csmc_home: Path, fake: FakeBinance) -> None:
    result = run(
        csmc_home, "init", "--non-interactive", "--connector", "binance", "--profile", "nokeyring",
        "--set", f"binance.api_url={fake.spot_url}", **KEY_VARIABLES,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    secrets_file = csmc_home / "config" / "secrets.toml"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert tomllib.loads(secrets_file.read_text(encoding="utf-8")) == {
        "nokeyring/binance.api_key": API_KEY,
        "nokeyring/binance.secret_key": SECRET,
    }
    assert profile_of(csmc_home, "nokeyring")["binance"]["api_key"] == (  # type: ignore[index]
        "secrets-file:nokeyring/binance.api_key"
    )
    assert f"stored in {secrets_file} (readable by you alone)" in result.stdout
    assert run(csmc_home, "check", "--profile", "nokeyring").returncode == 0

    secrets_file.chmod(0o644)
    refused = run(csmc_home, "check", "--profile", "nokeyring")
    assert refused.returncode == 2
    assert_one_paragraph(refused.stderr)
    assert f"chmod 600 '{secrets_file}'" in refused.stderr


def test_a_locked_keyring_is_reported_and_nothing_is_written(csmc_home: Path, keyring_store: Path) -> None:
    result = run(
        csmc_home, "init", "--non-interactive", "--connector", "binance", "--profile", "locked",
        keyring=keyring_store, **{LOCKED_VARIABLE: "1"}, **KEY_VARIABLES,
    )  # fmt: skip

    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert "The OS keyring refused to store locked/binance.api_key: the test keyring is locked" in result.stderr
    assert "--store file" in result.stderr
    assert not (csmc_home / "config" / "profiles" / "locked.toml").exists()


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--connector", "binance"], {}, "set CSMC_BINANCE__API_KEY and CSMC_BINANCE__SECRET_KEY for csmc init"),
        (["--connector", "binance", "--set", "binance.api_key=abc123"], KEY_VARIABLES,
         "keys are never given on the command line"),
        (["--connector", "paper", "--set", "paper.positon_mode=hedge"], {}, "[paper] has no setting positon_mode"),
        (["--connector", "paper", "--set", "paper.position_mode=sideways"], {}, "[paper] position_mode: choose one of"),
        (["--connector", "paper", "--set", "bridge.orphan_exit_s=-5"], {}, "[bridge] orphan_exit_s: Input should be"),
        (["--connector", "ib", "--set", "ib.sync_at_startup=no"], {}, "Interactive Brokers always syncs at startup"),
        (["--connector", "paper", "--set", "paper.prices=1"], {}, "[paper.prices] is a table"),
        ([], {}, "needs --connector"),
        (["--profile", "secret", "--connector", "paper"], {}, "exists already. Pass --force"),
    ],
    ids=["keys missing", "key on the command line", "unknown setting", "bad choice", "out of range",
         "IB without sync at startup", "a table", "no connector", "existing profile"],
)  # fmt: skip
def test_non_interactive_init_refuses_what_it_cannot_do(
    csmc_home: Path, args: list[str], env: dict[str, str], says: str
) -> None:
    before = sorted((csmc_home / "config" / "profiles").iterdir())

    result = run(csmc_home, "init", "--non-interactive", "--no-check", *args, **env)

    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert says in result.stderr
    assert sorted((csmc_home / "config" / "profiles").iterdir()) == before
    assert find_secrets(result.stdout + result.stderr) == []


def test_init_without_a_terminal_says_how_to_run_it(csmc_home: Path) -> None:
    result = run(csmc_home, "init", "--connector", "paper")

    assert result.returncode == 2
    assert "--non-interactive" in result.stderr


@pytest.mark.slow
def test_keys_in_the_profile_or_in_variables_keep_working(csmc_home: Path, fake: FakeBinance) -> None:
    write_profile(csmc_home, "inline", f'connector = "binance"\n[binance]\napi_url = "{fake.spot_url}"\n'
                  f'api_key = "{API_KEY}"\nsecret_key = "{SECRET}"\n')  # fmt: skip
    write_profile(csmc_home, "byenv", f'connector = "binance"\n[binance]\napi_url = "{fake.spot_url}"\n')

    assert run(csmc_home, "check", "--profile", "inline").returncode == 0
    assert run(csmc_home, "check", "--profile", "byenv", **KEY_VARIABLES).returncode == 0
    assert_signed_with_the_test_keys(fake)


# --- interactive, through a pseudo-terminal ----------------------------------------------------------


class Tty:
    """A child process on a pseudo-terminal of its own: what a trader sees, and what they type."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the terminal is its controlling terminal, as in a real shell
            os.chdir(ROOT)
            os.execve(argv[0], argv, env)  # noqa: S606 - a fixed test command, no shell involved
        self.pid, self.fd = pid, fd
        self.seen = ""
        self.cursor = 0  # what the last expect matched ends here; the next one looks after it

    def expect(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            match = re.compile(pattern).search(self.seen, self.cursor)
            if match:
                self.cursor = match.end()
                return match
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{pattern!r} did not appear; the screen ends with:\n{self.seen[-2000:]}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # the child has ended
                    chunk = b""
                if not chunk:
                    raise EOFError(f"the program ended before {pattern!r}:\n{self.seen[-2000:]}")
                self.seen += chunk.decode("utf-8", errors="replace").replace("\r\n", "\n")

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode() + b"\r")

    def finish(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.2)
                if ready:
                    chunk = os.read(self.fd, 4096)
                    if not chunk:
                        break
                    self.seen += chunk.decode("utf-8", errors="replace").replace("\r\n", "\n")
            except OSError:
                break
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)


@pytest.mark.slow
def test_interactive_init_explains_every_setting_asks_keys_without_echo_and_checks(
    csmc_home: Path, fake: FakeBinance, keyring_store: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSMC_", "PYTHON_KEYRING"))}
    env.update(CSMC_HOME=str(csmc_home), PYTHON_KEYRING_BACKEND=BACKEND, TERM="dumb")
    env[STORE_VARIABLE] = str(keyring_store)
    tty = Tty([sys.executable, "-m", "sidecar.cli", "init", "--profile", "asked", "--symbol", "ETHUSD"], env)

    tty.expect(r"Connector \[paper\]: ")
    tty.type("bitmex")
    tty.expect(r"Choose one of: ib, binance, kucoin, kraken, paper\.")
    tty.type("binance")
    answers = {"position_sync_period_s": "90", "endpoint": "margin", "api_url": fake.spot_url}
    explained = []
    for key in ("sync_at_startup", "position_sync_period_s", "quote_currency", "mt_profit_currency", "endpoint",
                "log_headers", "api_url", "recv_window_ms", "request_timeout_s"):  # fmt: skip
        match = tty.expect(rf"\[binance\] {key}\n((?:    .*\n)+)  {key}(?: \([^)]*\))? \[[^\]]*\]: ")
        explained.append(match.group(1).strip())
        tty.type(answers.get(key, ""))
        if key == "endpoint":
            tty.expect(r"\[binance\] endpoint: choose one of spot, futures")
            tty.type("spot")
    assert all(explained), explained
    tty.expect(r"  api_key \(not shown\): ")
    tty.type(API_KEY)
    tty.expect(r"  secret_key \(not shown\): ")
    tty.type("")
    tty.expect(r"binance needs its secret_key\.")
    tty.expect(r"  secret_key \(not shown\): ")
    tty.type(SECRET)
    code = tty.finish()

    assert code == 0, tty.seen[-3000:]
    assert find_secrets(tty.seen) == [], "a key was echoed or printed"
    assert re.search(r"^Mapping\s+ETHUSD → ETHUSDT ", tty.seen, re.M), tty.seen[-3000:]
    binance = profile_of(csmc_home, "asked")["binance"]
    assert binance["position_sync_period_s"] == 90  # type: ignore[index]
    assert binance["endpoint"] == "spot"  # type: ignore[index]
    assert binance["api_key"] == "keyring:asked/binance.api_key"  # type: ignore[index]
    assert read_store(keyring_store)[f"{secret_store.SERVICE}/asked/binance.secret_key"] == SECRET


def test_interactive_init_ended_with_ctrl_d_writes_nothing(csmc_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSMC_", "PYTHON_KEYRING"))}
    env.update(CSMC_HOME=str(csmc_home), TERM="dumb")
    tty = Tty([sys.executable, "-m", "sidecar.cli", "init", "--profile", "halfway"], env)

    tty.expect(r"Connector \[paper\]: ")
    os.write(tty.fd, b"\x04")  # end of input, as Ctrl+D on a terminal
    code = tty.finish()

    assert code == 2
    assert "csmc init ended before its questions were answered: nothing was written." in tty.seen
    assert "Traceback" not in tty.seen
    assert not (csmc_home / "config" / "profiles" / "halfway.toml").exists()
