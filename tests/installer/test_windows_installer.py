"""The Windows installer under real Wine (headless, 64-bit, a throwaway prefix with two terminal data folders).

Every assertion is on files and registry entries, never on the installer's exit code: under Wine a 32-bit
installer exits with 0 and installs nothing. The tests run in file order on one prefix: install, install
again, uninstall. Wine has no Windows Python and no PowerShell (its stand-in does nothing), so the sidecar's
Python cannot be set up here: that is checked to be reported, and the rest of the install to go on.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from sidecar import __version__
from tests.installer.conftest import (
    ROOT,
    Built,
    Wine,
    assert_ea_absent,
    assert_ea_installed,
    mt5_data_folder,
    need,
)

MAIN_ID = "D0E8209F77C8CF37AD8BF550E51FF075"
SECOND_ID = "0123456789ABCDEF0123456789ABCDEF"


@dataclass(frozen=True)
class Layout:
    wine: Wine
    terminals: tuple[Path, Path]
    install_dir: Path
    profile: Path

    def log(self) -> str:
        return (self.install_dir / "install.log").read_text(encoding="utf-16")

    def user_reg(self) -> str:
        self.wine.wait()  # wineserver writes the registry files when it goes idle
        return (self.wine.prefix / "user.reg").read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def layout(wine: Wine) -> Layout:
    users = wine.user_dir
    main = mt5_data_folder(users, MAIN_ID, origin="C:\\Program Files\\MetaTrader 5\r\n")
    second = mt5_data_folder(users, SECOND_ID)
    (main / "MQL5" / "Experts" / "MyOwnExpert.mq5").write_text("// the trader's own EA\n", encoding="utf-8")
    (users / "AppData" / "Roaming" / "MetaQuotes" / "Terminal" / "Common" / "Files").mkdir(parents=True)
    local = users / "AppData" / "Local"
    return Layout(wine, (main, second), local / "Programs" / "CSMultiConnector",
                  local / "CSMultiConnector" / "profiles" / "default.toml")  # fmt: skip


@pytest.fixture(scope="module")
def installed(built: Built, layout: Layout) -> Layout:
    layout.wine.run(str(built.setup_exe), "/S")
    return layout


def test_the_installer_is_a_64_bit_windows_program(built: Built) -> None:
    header = built.setup_exe.read_bytes()[:4096]
    pe = int.from_bytes(header[0x3C:0x40], "little")
    assert header[:2] == b"MZ" and header[pe : pe + 4] == b"PE\0\0"
    assert int.from_bytes(header[pe + 4 : pe + 6], "little") == 0x8664, "not built with Target amd64-unicode"


def test_silent_install_puts_the_ea_into_both_terminals(installed: Layout) -> None:
    for folder in installed.terminals:
        assert_ea_installed(folder)
    common = installed.terminals[0].parent / "Common"
    assert not (common / "MQL5").exists(), "Common is no terminal: nothing goes there"
    assert "terminals=2" in installed.log()
    listed = (installed.install_dir / "terminals.txt").read_text(encoding="utf-16").split()
    assert sorted(p.rsplit("\\", 1)[1] for p in listed) == sorted([MAIN_ID, SECOND_ID])


def test_silent_install_puts_the_launcher_in_place(installed: Layout) -> None:
    launcher = installed.install_dir / "bin" / "csmc.cmd"
    assert launcher.is_file()
    assert '"%~dp0..\\python\\Scripts\\csmc.exe" %*' in launcher.read_text(encoding="utf-8")
    assert (installed.install_dir / "uninstall.exe").is_file()
    registry = installed.user_reg()
    app_paths = registry.split("App Paths\\\\csmc.exe]", 1)
    assert len(app_paths) == 2, "csmc.exe is not registered under App Paths"
    assert "CSMultiConnector\\\\python\\\\Scripts\\\\csmc.exe" in app_paths[1].split("\n[", 1)[0]
    assert "CSMultiConnector\\\\bin" in registry.split("[Environment]", 1)[1].split("\n[", 1)[0]


def test_the_sidecar_wheels_cover_every_bundled_python(installed: Layout) -> None:
    wheels = {p.name for p in (installed.install_dir / "wheels").glob("*.whl")}
    assert f"csmulticonnector-{__version__}-py3-none-any.whl" in wheels
    for tag in ("cp311", "cp312", "cp313", "cp314"):
        assert any(w.startswith("pydantic_core-") and f"-{tag}-win_amd64" in w for w in wheels), tag
    assert any(w.startswith("pip-") for w in wheels)


def test_without_a_python_the_failure_is_reported_and_the_rest_installed(installed: Layout) -> None:
    log = installed.log()
    assert "sidecar=failed: CPython 3.12.10 from https://www.python.org/" in log
    assert "4acbed6dd1c744b0376e3b1cf57ce906f9dc9e95e68824584c8099a63025a3c3" in log
    assert "done" in log.splitlines()


def test_the_starter_profile_is_the_template(installed: Layout) -> None:
    template = (ROOT / "installer" / "profile-template.toml").read_bytes()
    assert installed.profile.read_bytes() == template


def test_a_portable_terminal_is_installed_into_by_folder(built: Built, installed: Layout) -> None:
    portable = installed.wine.prefix / "drive_c" / "MT5Portable"
    (portable / "MQL5" / "Experts").mkdir(parents=True)
    not_a_terminal = installed.wine.prefix / "drive_c" / "Empty"
    not_a_terminal.mkdir()
    installed.wine.run(str(built.setup_exe), "/S", "/TERMINAL=C:\\MT5Portable")
    assert_ea_installed(portable)
    installed.wine.run(str(built.setup_exe), "/S", "/TERMINAL=C:\\Empty")
    assert not (not_a_terminal / "MQL5").exists()
    assert "/TERMINAL=C:\\Empty skipped: that folder has no MQL5 folder" in installed.log()
    # the portable terminal stays listed for the uninstaller although the last run did not choose it
    assert "MT5Portable" in (installed.install_dir / "terminals.txt").read_text(encoding="utf-16")


def test_installing_again_keeps_the_profile_and_adds_nothing_twice(built: Built, installed: Layout) -> None:
    installed.profile.write_text('connector = "binance"\n', encoding="utf-8")
    installed.wine.run(str(built.setup_exe), "/S")
    assert installed.profile.read_text(encoding="utf-8") == 'connector = "binance"\n'
    assert "profile kept" in installed.log()
    listed = (installed.install_dir / "terminals.txt").read_text(encoding="utf-16").split("\n")
    listed = [line.strip() for line in listed if line.strip()]
    assert len(listed) == len(set(listed)) == 3
    environment = installed.user_reg().split("[Environment]", 1)[1].split("\n[", 1)[0]
    assert environment.count("CSMultiConnector\\\\bin") == 1


def test_silent_uninstall_removes_what_it_installed_and_keeps_the_profile(installed: Layout) -> None:
    portable = installed.wine.prefix / "drive_c" / "MT5Portable"
    installed.wine.run(str(installed.install_dir / "uninstall.exe"), "/S")
    for folder in (*installed.terminals, portable):
        assert_ea_absent(folder)
    assert (installed.terminals[0] / "MQL5" / "Experts" / "MyOwnExpert.mq5").is_file(), "the trader's EA is kept"
    assert (installed.terminals[0] / "origin.txt").is_file()
    assert not installed.install_dir.exists()
    assert installed.profile.read_text(encoding="utf-8") == 'connector = "binance"\n'
    registry = installed.user_reg()
    assert "App Paths\\\\csmc.exe]" not in registry
    assert "CSMultiConnector\\\\bin" not in registry
    assert "Uninstall\\\\CSMultiConnector]" not in registry


def test_uninstall_with_purge_also_removes_profiles_journal_and_logs(built: Built, installed: Layout) -> None:
    installed.wine.run(str(built.setup_exe), "/S")
    assert (installed.install_dir / "uninstall.exe").is_file()
    (installed.profile.parent.parent / "journal-default.sqlite3").write_bytes(b"")
    installed.wine.run(str(installed.install_dir / "uninstall.exe"), "/S", "/PURGE")
    assert not installed.profile.parent.parent.exists()
    for folder in installed.terminals:
        assert_ea_absent(folder)


def test_makensis_refuses_to_build_without_the_pins() -> None:
    need(shutil.which("makensis") is not None, "makensis is not installed")
    result = subprocess.run(["makensis", "-V1", str(ROOT / "installer/windows/csmulticonnector.nsi")],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode != 0
    assert "build with installer/build.sh" in result.stdout + result.stderr
