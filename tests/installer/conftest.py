"""What the installer tests need: the built installers (`make installer`) and, for some, Wine and mingw-w64.

`make test-installer` builds and installs all of it and sets CSMC_INSTALLER_TESTS=1: there a missing piece
fails the test. In a plain `make test` those tests are skipped (it runs where there is no Wine).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sidecar import __version__

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "installer"
REQUIRED = os.environ.get("CSMC_INSTALLER_TESTS") == "1"


def need(present: bool, what: str) -> None:
    """Under `make test-installer` a missing piece fails the test; elsewhere these tests do not run at all,
    so that `make test` neither needs Wine nor repeats them with a stale build."""
    if not REQUIRED:
        pytest.skip("built installers and Wine: run by `make test-installer`")
    if not present:
        pytest.fail(f"{what}: `make test-installer` should have provided it")


@dataclass(frozen=True)
class Built:
    setup_exe: Path
    linux: Path
    macos: Path
    wheels: Path
    """This machine's wheels of the sidecar's dependencies: install.sh --wheels installs offline from them."""


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    setup = BUILD / f"CSMultiConnector-{__version__}-setup.exe"
    need(setup.is_file(), f"{setup} is missing")
    unpacked = tmp_path_factory.mktemp("archives")
    dirs = {}
    for platform in ("linux", "macos"):
        archive = BUILD / f"CSMultiConnector-{__version__}-{platform}.tar.gz"
        need(archive.is_file(), f"{archive} is missing")
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
        dirs[platform] = unpacked / f"CSMultiConnector-{__version__}-{platform}"
    return Built(setup, dirs["linux"], dirs["macos"], BUILD / "wheels-local")


@dataclass
class Wine:
    prefix: Path
    env: dict[str, str]

    @property
    def user_dir(self) -> Path:
        return self.prefix / "drive_c" / "users" / os.environ.get("USER", "root")

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A Windows program under Wine, waited for with all it started (an uninstaller restarts itself)."""
        result = subprocess.run(["wine", *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                                check=False)  # fmt: skip
        self.wait()
        return result

    def wait(self) -> None:
        subprocess.run(["wineserver", "-w"], env=self.env, timeout=120, check=False)


@pytest.fixture(scope="session")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wine]:
    """One throwaway 64-bit WINEPREFIX for the whole session: wineboot costs seconds, reuse is cheap."""
    need(shutil.which("wine") is not None and shutil.which("wineserver") is not None, "Wine is not installed")
    prefix = tmp_path_factory.mktemp("wine") / "prefix"
    env = dict(os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")
    env.pop("DISPLAY", None)
    started = time.monotonic()
    subprocess.run(["wineboot", "-i"], env=env, capture_output=True, timeout=300, check=False)
    wine = Wine(prefix, env)
    wine.wait()
    print(f"wineboot: {time.monotonic() - started:.1f} s")
    need((prefix / "drive_c" / "windows").is_dir(), f"wineboot did not create {prefix}")
    yield wine
    subprocess.run(["wineserver", "-k"], env=env, timeout=60, check=False)


def mt5_data_folder(users_dir: Path, terminal_id: str, origin: str | None = None) -> Path:
    """A terminal's data folder as MetaTrader 5 leaves it after its first start (origin.txt is UTF-16)."""
    folder = users_dir / "AppData" / "Roaming" / "MetaQuotes" / "Terminal" / terminal_id
    (folder / "MQL5" / "Experts").mkdir(parents=True, exist_ok=True)
    (folder / "MQL5" / "Files").mkdir(parents=True, exist_ok=True)
    if origin is not None:
        (folder / "origin.txt").write_bytes(origin.encode("utf-16"))
    return folder


EA_FILES = sorted(
    [Path("Experts") / "CSMultiConnector.mq5"]
    + [Path("Include") / "CSMultiConnector" / p.name for p in (ROOT / "mql5/Include/CSMultiConnector").glob("*.mqh")]
)


def assert_ea_installed(folder: Path) -> None:
    for relative in EA_FILES:
        installed = folder / "MQL5" / relative
        assert installed.is_file(), f"{installed} is missing"
        assert installed.read_bytes() == (ROOT / "mql5" / relative).read_bytes(), f"{installed} differs"


def assert_ea_absent(folder: Path) -> None:
    for relative in EA_FILES:
        assert not (folder / "MQL5" / relative).exists(), f"{folder / 'MQL5' / relative} is still there"
    assert not (folder / "MQL5" / "Include" / "CSMultiConnector").exists()
