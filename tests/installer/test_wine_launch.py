"""Under real Wine, a Windows program doing what the EA's launcher does starts the Linux sidecar.

install.sh puts the sidecar into a Linux virtual environment and the launcher C:\\windows\\csmc.exe into the
prefix. launch_like_ea.exe (mingw-w64) writes the token where the EA writes it and calls ShellExecuteW with
the EA's default command "csmc" and the EA's command line, Windows token path included. The Linux sidecar
must read that token through the prefix and accept an EA client's hello.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from bridge.client import BridgeClient
from bridge.messages import Account
from sidecar.demo import free_port, write_profile
from tests.installer.conftest import ROOT, Built, Wine, mt5_data_folder, need

TERMINAL_ID = "5A4B3C2D1E0F5A4B3C2D1E0F5A4B3C2D"


@pytest.fixture(scope="module")
def launcher_exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("x86_64-w64-mingw32-gcc")
    need(compiler is not None, "mingw-w64 (x86_64-w64-mingw32-gcc) is not installed")
    assert compiler is not None
    exe = tmp_path_factory.mktemp("launcher") / "launch_like_ea.exe"
    subprocess.run([compiler, "-municode", "-O2", "-Wall", "-Werror", "-o", str(exe),
                    str(ROOT / "tests/installer/launch_like_ea.c"), "-lshell32"], check=True, timeout=120)  # fmt: skip
    return exe


@pytest.fixture(scope="module")
def linux_sidecar(built: Built, wine: Wine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """install.sh run for the session's Wine prefix; the environment the terminal (and so the sidecar) gets."""
    home = tmp_path_factory.mktemp("linux-home")
    mt5_data_folder(wine.user_dir, TERMINAL_ID, origin="C:\\Program Files\\MetaTrader 5\r\n")
    env = dict(wine.env, HOME=str(home), XDG_DATA_HOME="", XDG_CONFIG_HOME="", XDG_STATE_HOME="")
    result = subprocess.run(["bash", str(built.linux / "install.sh"), "--prefix", str(wine.prefix),
                             "--wheels", str(built.wheels)], env=env, capture_output=True, text=True,
                            timeout=600, check=False)  # fmt: skip
    assert (wine.prefix / "drive_c/windows/csmc.exe").is_file(), result.stdout + result.stderr
    csmc_home = tmp_path_factory.mktemp("csmc-home")
    # short orphan exit: the detached sidecar goes away by itself once the test's client has left
    write_profile(csmc_home, "wine", 'connector = "paper"\n[bridge]\norphan_exit_s = 2\n')
    return dict(env, CSMC_HOME=str(csmc_home))


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_the_eas_shellexecute_starts_the_linux_sidecar_which_reads_the_windows_token_path(
    wine: Wine, launcher_exe: Path, linux_sidecar: dict[str, str]
) -> None:
    port = free_port()
    token = secrets.token_hex(24)
    data_path = f"C:\\users\\{wine.user_dir.name}\\AppData\\Roaming\\MetaQuotes\\Terminal\\{TERMINAL_ID}"
    started = time.monotonic()
    launched = subprocess.run(["wine", str(launcher_exe), data_path, str(port), token, "csmc", "wine"],
                              env=linux_sidecar, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert '--token-file "C:\\users\\' in launched.stdout, launched.stdout + launched.stderr
    token_file = wine.user_dir / "AppData/Roaming/MetaQuotes/Terminal" / TERMINAL_ID / "MQL5/Files/CSMultiConnector"
    assert (token_file / f"sidecar-{port}.token").read_text(encoding="ascii") == token

    account = Account(login=7, server="Demo", currency="USD", margin_mode="netting")
    client = BridgeClient(f"tcp://127.0.0.1:{port}", token, account=account, profile="wine")
    try:
        welcome = await client.hello(timeout=60)
    finally:
        await client.close("test finished")
    print(f"ShellExecuteW to an accepted hello: {time.monotonic() - started:.1f} s")
    assert welcome.connector == "paper"

    csmc_home = Path(linux_sidecar["CSMC_HOME"])
    log = (csmc_home / "logs" / "run-wine.log").read_text(encoding="utf-8")
    assert f"sidecar-{port}.token is {(token_file / f'sidecar-{port}.token').resolve()} in the Wine prefix" in log
    assert token not in log
    deadline = time.monotonic() + 60
    while not port_is_free(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert port_is_free(port), "the sidecar did not exit after its EA left"
    launcher_log = Path(linux_sidecar["HOME"]) / ".local/state/CSMultiConnector/log/launcher.log"
    assert f"csmc: listening on 127.0.0.1:{port}" in launcher_log.read_text(encoding="utf-8")


def test_a_command_that_does_not_exist_is_reported_by_shellexecute(wine: Wine, launcher_exe: Path) -> None:
    """What the EA shows when its Sidecar command is wrong: ShellExecute's 'file not found'."""
    data_path = f"C:\\users\\{wine.user_dir.name}\\AppData\\Roaming\\MetaQuotes\\Terminal\\{TERMINAL_ID}"
    env = dict(wine.env)
    launched = subprocess.run(["wine", str(launcher_exe), data_path, "5599", "x" * 48, "csmc-missing"],
                              env=env, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert "-> 2" in launched.stdout, launched.stdout
    assert not os.path.exists(wine.prefix / "drive_c/windows/csmc-missing.exe")
