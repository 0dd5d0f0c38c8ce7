"""install.sh (Linux with Wine) and install-macos.sh on fake prefix trees, as the release archives ship them.

The sidecar is installed offline from the wheels `make installer` downloaded (`--wheels`); everything else
is what a user runs. The tests of one module share one home directory and run in file order: install,
install again, a prefix without terminals, uninstall.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from sidecar import __version__
from tests.installer.conftest import ROOT, Built, assert_ea_absent, assert_ea_installed, mt5_data_folder


@dataclass(frozen=True)
class Home:
    path: Path
    env: dict[str, str]
    terminals: tuple[Path, ...]
    prefixes: tuple[Path, ...]

    @property
    def venv(self) -> Path:
        return self.path / ".local/share/CSMultiConnector/sidecar"

    @property
    def profile(self) -> Path:
        return self.path / ".config/CSMultiConnector/profiles/default.toml"


def install(built: Built, home: Home, *args: str, script: str = "install.sh") -> subprocess.CompletedProcess[str]:
    folder = built.macos if script == "install-macos.sh" else built.linux
    return subprocess.run(["bash", str(folder / script), "--wheels", str(built.wheels), *args], env=home.env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip


def tree(*roots: Path) -> dict[str, str]:
    """Every file under the roots with its content's hash: two installs that leave the same files agree."""
    found = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def launcher_prefix(launcher: Path) -> str:
    """The prefix a launcher hands the sidecar, as the shell reads the script."""
    line = next(x for x in launcher.read_text(encoding="utf-8").splitlines() if x.startswith("CSMC_WINEPREFIX="))
    shown = subprocess.run(["sh", "-c", f'{line}; printf %s "$CSMC_WINEPREFIX"'], capture_output=True, text=True,
                           timeout=30, check=True)  # fmt: skip
    return shown.stdout


def fake_prefix(prefix: Path, user: str, *terminal_ids: str) -> list[Path]:
    """A Wine prefix as wineboot and a first start of MetaTrader 5 leave it."""
    users = prefix / "drive_c/users" / user
    (prefix / "drive_c/windows").mkdir(parents=True)
    (users / "AppData/Roaming/MetaQuotes/Terminal/Common/Files").mkdir(parents=True)
    return [mt5_data_folder(users, tid, origin=f"C:\\Program Files\\MT5 {tid[:4]}\r\n") for tid in terminal_ids]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    path = tmp_path_factory.mktemp("home")
    wine = path / ".wine"
    mt5 = path / ".mt5"
    terminals = fake_prefix(wine, "trader", "AAAA0000AAAA0000AAAA0000AAAA0000", "BBBB1111BBBB1111BBBB1111BBBB1111")
    terminals += fake_prefix(mt5, "trader", "CCCC2222CCCC2222CCCC2222CCCC2222")
    portable = wine / "drive_c/Program Files/MetaTrader 5 Portable"
    (portable / "MQL5/Experts").mkdir(parents=True)
    (portable / "terminal64.exe").write_bytes(b"MZ")
    installed_only = wine / "drive_c/Program Files/MetaTrader 5"  # an installation, its data is elsewhere
    installed_only.mkdir(parents=True)
    (installed_only / "terminal64.exe").write_bytes(b"MZ")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WINE", "XDG_", "CSMC_"))}
    env["HOME"] = str(path)
    return Home(path, env, (*terminals, portable), (wine, mt5))


@pytest.fixture(scope="module")
def first_run(built: Built, home: Home) -> subprocess.CompletedProcess[str]:
    return install(built, home)


def test_the_ea_goes_into_every_data_folder_of_both_default_prefixes(
    home: Home, first_run: subprocess.CompletedProcess[str]
) -> None:
    assert first_run.returncode == 0, first_run.stdout + first_run.stderr
    for folder in home.terminals:
        assert_ea_installed(folder)
    for prefix in home.prefixes:
        assert not (prefix / "drive_c/users/trader/AppData/Roaming/MetaQuotes/Terminal/Common/MQL5").exists()
    assert not (home.prefixes[0] / "drive_c/Program Files/MetaTrader 5/MQL5").exists()
    assert "(terminal: C:\\Program Files\\MT5 AAAA)" in first_run.stdout


def test_the_sidecar_runs_from_its_own_venv(home: Home, first_run: subprocess.CompletedProcess[str]) -> None:
    for csmc in (home.venv / "bin/csmc", home.path / ".local/bin/csmc"):
        result = subprocess.run([str(csmc), "version"], capture_output=True, text=True, timeout=60, check=False)
        assert result.stdout.strip() == f"csmc {__version__}"
    assert not list(home.path.rglob("python.exe")), "no Windows Python goes into a prefix"


def test_each_prefix_gets_a_launcher_that_runs_the_linux_sidecar(
    home: Home, first_run: subprocess.CompletedProcess[str]
) -> None:
    for prefix in home.prefixes:
        launcher = prefix / "drive_c/windows/csmc.exe"
        assert launcher.stat().st_mode & stat.S_IXUSR
        text = launcher.read_text(encoding="utf-8")
        assert text.startswith("#!/bin/sh\n")
        assert launcher_prefix(launcher) == str(prefix)
        result = subprocess.run([str(launcher), "version"], capture_output=True, text=True, timeout=60, check=False)
        log = home.path / ".local/state/CSMultiConnector/log/launcher.log"
        assert f"csmc {__version__}" in log.read_text(encoding="utf-8"), result.stderr


def test_the_profile_is_private_and_the_two_terminal_settings_are_named(
    home: Home, first_run: subprocess.CompletedProcess[str]
) -> None:
    assert stat.S_IMODE(home.profile.stat().st_mode) == 0o600
    assert home.profile.read_bytes() == (ROOT / "installer/profile-template.toml").read_bytes()
    assert "Allow DLL imports" in first_run.stdout
    assert '127.0.0.1 to "Allow WebRequest for listed URL"' in first_run.stdout


def test_a_second_run_changes_nothing_and_keeps_the_profile(
    built: Built, home: Home, first_run: subprocess.CompletedProcess[str]
) -> None:
    home.profile.write_text('connector = "binance"\n', encoding="utf-8")
    manifest = home.path / ".local/share/CSMultiConnector/installed.txt"
    before = tree(*home.prefixes), manifest.read_text(encoding="utf-8")

    again = install(built, home)

    assert again.returncode == 0, again.stdout + again.stderr
    assert (tree(*home.prefixes), manifest.read_text(encoding="utf-8")) == before
    assert home.profile.read_text(encoding="utf-8") == 'connector = "binance"\n'
    assert "Profile kept" in again.stdout
    lines = manifest.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(set(lines)) == len(home.terminals) + len(home.prefixes)


def test_no_data_folder_is_a_clear_message(
    built: Built, home: Home, first_run: subprocess.CompletedProcess[str]
) -> None:
    empty = home.path / "empty-prefix"
    (empty / "drive_c/users/trader").mkdir(parents=True)
    result = install(built, home, "--prefix", str(empty))
    assert result.returncode == 3
    assert f"No MetaTrader 5 data folder was found in: {empty}." in result.stdout
    assert "Start MetaTrader 5 once in its Wine prefix" in result.stdout
    assert "install.sh --prefix" in result.stdout


def test_a_python_that_is_too_old_is_refused_clearly(built: Built, home: Home, tmp_path: Path) -> None:
    old = tmp_path / "python3"
    old.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    old.chmod(0o755)
    result = install(built, home, "--python", str(old))
    assert result.returncode == 2
    assert f"{old} is not a Python 3.11 or newer" in result.stderr


def test_uninstall_removes_what_it_installed_and_keeps_the_profile(
    built: Built, home: Home, first_run: subprocess.CompletedProcess[str]
) -> None:
    result = install(built, home, "--uninstall")
    assert result.returncode == 0, result.stdout + result.stderr
    for folder in home.terminals:
        assert_ea_absent(folder)
        assert (folder / "MQL5/Experts").is_dir()
    for prefix in home.prefixes:
        assert not (prefix / "drive_c/windows/csmc.exe").exists()
    assert not home.venv.exists()
    assert not (home.path / ".local/bin/csmc").exists()
    assert home.profile.read_text(encoding="utf-8") == 'connector = "binance"\n'


# --- macOS ------------------------------------------------------------------------------------------------


@pytest.fixture
def mac_home(tmp_path: Path) -> Home:
    support = tmp_path / "Library/Application Support"
    app = support / "net.metaquotes.wine.metatrader5"
    playonmac = tmp_path / "Library/PlayOnMac/wineprefix/MetaTrader5"
    crossover = support / "CrossOver/Bottles/MT5"
    terminals = fake_prefix(app, "trader", "DDDD3333DDDD3333DDDD3333DDDD3333")
    terminals += fake_prefix(playonmac, "trader", "EEEE4444EEEE4444EEEE4444EEEE4444")
    terminals += fake_prefix(crossover, "crossover", "FFFF5555FFFF5555FFFF5555FFFF5555")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WINE", "XDG_", "CSMC_"))}
    env["HOME"] = str(tmp_path)
    return Home(tmp_path, env, tuple(terminals), (app, playonmac, crossover))


def test_macos_finds_the_app_playonmac_and_crossover_bottles(built: Built, mac_home: Home) -> None:
    result = install(built, mac_home, script="install-macos.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    for folder in mac_home.terminals:
        assert_ea_installed(folder)
    for bottle in mac_home.prefixes:
        assert launcher_prefix(bottle / "drive_c/windows/csmc.exe") == str(bottle)
    support = mac_home.path / "Library/Application Support/CSMultiConnector"
    version = subprocess.run([str(support / "sidecar/bin/csmc"), "version"], capture_output=True, text=True,
                             timeout=60, check=False)  # fmt: skip
    assert version.stdout.strip() == f"csmc {__version__}"
    assert stat.S_IMODE((support / "profiles/default.toml").stat().st_mode) == 0o600
    assert not (mac_home.path / ".local").exists(), "macOS keeps everything under ~/Library"


def test_macos_without_a_bottle_says_where_it_looked(built: Built, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WINE", "XDG_", "CSMC_"))}
    env["HOME"] = str(tmp_path)
    result = subprocess.run(["bash", str(built.macos / "install-macos.sh")], env=env, capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 3
    assert "no Wine bottle was found" in result.stderr
    assert "net.metaquotes.wine.metatrader5" in result.stderr and "PlayOnMac" in result.stderr
    assert not (tmp_path / "Library/Application Support/CSMultiConnector").exists()
