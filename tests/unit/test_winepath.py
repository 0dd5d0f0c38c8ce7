"""Windows paths from an EA under Wine, mapped through the prefix's drive links as `winepath -u` does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sidecar import winepath

TOKEN = (
    r"C:\users\trader\AppData\Roaming\MetaQuotes\Terminal\D0E8209F77C8CF37AD8BF550E51FF075"
    r"\MQL5\Files\CSMultiConnector\sidecar-5555.token"
)


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    """A prefix laid out as wineboot leaves it: drive_c, and dosdevices links for C: and Z:."""
    root = tmp_path / "pfx"
    files = root / "drive_c/users/trader/AppData/Roaming/MetaQuotes/Terminal/D0E8209F77C8CF37AD8BF550E51FF075"
    (files / "MQL5/Files/CSMultiConnector").mkdir(parents=True)
    (files / "MQL5/Files/CSMultiConnector/sidecar-5555.token").write_text("t0ken\n", encoding="utf-8")
    (root / "dosdevices").mkdir()
    os.symlink("../drive_c", root / "dosdevices/c:")
    os.symlink(str(tmp_path / "elsewhere"), root / "dosdevices/d:")
    (tmp_path / "elsewhere").mkdir()
    return root


def test_the_eas_token_path_is_the_file_in_the_prefix(prefix: Path) -> None:
    path = winepath.to_unix(TOKEN, prefix)
    assert path.read_text(encoding="utf-8") == "t0ken\n"
    assert path == (prefix / "drive_c").resolve() / TOKEN[3:].replace("\\", "/")


def test_a_drive_follows_its_link(prefix: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere/Data").mkdir()
    assert winepath.to_unix(r"D:\Data\x.token", prefix) == (tmp_path / "elsewhere/Data/x.token").resolve()


def test_case_that_differs_from_the_disk_is_matched_as_wine_does(prefix: Path) -> None:
    path = winepath.to_unix(TOKEN.replace("AppData", "APPDATA").replace("sidecar-5555", "SIDECAR-5555"), prefix)
    assert path.read_text(encoding="utf-8") == "t0ken\n"


def test_a_missing_file_maps_to_where_it_was_looked_for(prefix: Path) -> None:
    path = winepath.to_unix(TOKEN.replace("5555", "5556"), prefix)
    assert not path.exists()
    assert path.name == "sidecar-5556.token"
    assert path.parent.is_dir()


def test_nt_and_long_path_forms_are_accepted(prefix: Path) -> None:
    assert winepath.to_unix("\\\\?\\" + TOKEN, prefix) == winepath.to_unix(TOKEN, prefix)
    assert winepath.to_unix("\\??\\" + TOKEN, prefix) == winepath.to_unix(TOKEN, prefix)


def test_a_drive_the_prefix_lacks_is_a_clear_error(prefix: Path) -> None:
    with pytest.raises(winepath.WinePathError, match=r"drive Q: .* not a drive of the Wine prefix .*WINEPREFIX"):
        winepath.to_unix(r"Q:\x.token", prefix)


def test_climbing_out_with_dot_dot_is_refused(prefix: Path) -> None:
    with pytest.raises(winepath.WinePathError, match=r"'\.\.'"):
        winepath.to_unix(r"C:\users\..\..\etc\passwd", prefix)


def test_only_drive_paths_count_as_windows_paths() -> None:
    assert winepath.is_windows_path(TOKEN)
    assert winepath.is_windows_path("c:/users/x.token")
    assert not winepath.is_windows_path("/home/trader/token.txt")
    assert not winepath.is_windows_path("token.txt")
    assert not winepath.is_windows_path(r"relative\token.txt")


def test_the_prefix_comes_from_the_launcher_then_wine_then_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CSMC_WINEPREFIX", str(tmp_path / "a"))
    monkeypatch.setenv("WINEPREFIX", str(tmp_path / "b"))
    assert winepath.wine_prefix() == tmp_path / "a"
    monkeypatch.delenv("CSMC_WINEPREFIX")
    assert winepath.wine_prefix() == tmp_path / "b"
    monkeypatch.delenv("WINEPREFIX")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert winepath.wine_prefix() == tmp_path / ".wine"
