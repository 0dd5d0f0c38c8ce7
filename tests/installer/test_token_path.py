"""`csmc run` handed a Windows token path, as the EA under Wine hands it: the file is read through the prefix.

No Wine here: a prefix laid out as wineboot leaves it (tests/installer/test_wine.py does the same under real
Wine, started by a Windows program).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.client import BridgeClient
from bridge.messages import Account
from sidecar.demo import free_port, write_profile
from tests.e2e.harness import assert_one_paragraph

DATA = r"C:\users\trader\AppData\Roaming\MetaQuotes\Terminal\0123456789ABCDEF0123456789ABCDEF"


def fake_prefix(root: Path, token: str) -> Path:
    files = root / "drive_c/users/trader/AppData/Roaming/MetaQuotes/Terminal/0123456789ABCDEF0123456789ABCDEF"
    (files / "MQL5/Files/CSMultiConnector").mkdir(parents=True)
    (files / "MQL5/Files/CSMultiConnector/sidecar-5555.token").write_text(token, encoding="ascii")
    (root / "dosdevices").mkdir()
    os.symlink("../drive_c", root / "dosdevices/c:")
    return root


def run_args(port: int, token_path: str) -> list[str]:
    return [sys.executable, "-m", "sidecar.cli", "run", "--port", str(port), "--connector", "paper",
            "--profile", "wine", "--token-file", token_path]  # fmt: skip


@pytest.mark.slow
async def test_the_sidecar_reads_the_token_the_ea_wrote_inside_the_prefix(csmc_home: Path, tmp_path: Path) -> None:
    token = secrets.token_hex(24)
    prefix = fake_prefix(tmp_path / "pfx", token)
    write_profile(csmc_home, "wine", 'connector = "paper"\n[bridge]\norphan_exit_s = 0\n')
    port = free_port()
    env = dict(os.environ, CSMC_HOME=str(csmc_home), CSMC_WINEPREFIX=str(prefix))
    windows_path = DATA + r"\MQL5\Files\CSMultiConnector\sidecar-5555.token"
    proc = subprocess.Popen(
        run_args(port, windows_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        assert proc.stdout is not None
        assert "listening" in proc.stdout.readline()
        account = Account(login=7, server="Demo", currency="USD", margin_mode="netting")
        client = BridgeClient(f"tcp://127.0.0.1:{port}", token, account=account, profile="wine")
        try:
            welcome = await client.hello()
        finally:
            await client.close("done")
        assert welcome.connector == "paper"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    log = (csmc_home / "logs" / "run-wine.log").read_text(encoding="utf-8")
    assert "is " + str((prefix / "drive_c").resolve()) in log
    assert token not in log


def test_a_token_path_outside_the_prefix_drives_fails_in_one_paragraph(csmc_home: Path, tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path / "pfx", "x" * 48)
    write_profile(csmc_home, "wine", 'connector = "paper"\n')
    env = dict(os.environ, CSMC_HOME=str(csmc_home), CSMC_WINEPREFIX=str(prefix))
    result = subprocess.run(run_args(free_port(), r"Q:\MQL5\Files\sidecar-5555.token"), capture_output=True,
                            text=True, env=env, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert "drive Q:" in result.stderr and str(prefix) in result.stderr and "WINEPREFIX" in result.stderr


def test_a_missing_token_file_names_both_paths(csmc_home: Path, tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path / "pfx", "x" * 48)
    write_profile(csmc_home, "wine", 'connector = "paper"\n')
    env = dict(os.environ, CSMC_HOME=str(csmc_home), CSMC_WINEPREFIX=str(prefix))
    windows_path = DATA + r"\MQL5\Files\CSMultiConnector\sidecar-5556.token"
    result = subprocess.run(run_args(free_port(), windows_path), capture_output=True, text=True, env=env,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2
    assert_one_paragraph(result.stderr)
    assert windows_path in result.stderr
    assert "under Wine: " + str((prefix / "drive_c").resolve()) in result.stderr
