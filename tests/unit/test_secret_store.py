"""The secret store: the OS keyring (the test backend here) and the private secrets file."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from sidecar import secret_store
from sidecar.secret_store import SecretStoreError
from tests.keyring_backend import LOCKED_VARIABLE, STORE_VARIABLE, FileKeyring, read_store
from tests.secrets import TEST_SECRETS, find_secrets

SECRET = TEST_SECRETS["kucoin_passphrase"]


@pytest.fixture
def test_keyring(csmc_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    previous = keyring.get_keyring()  # chosen before the test backend can be viable
    store = tmp_path / "keyring.toml"
    monkeypatch.setenv(STORE_VARIABLE, str(store))
    keyring.set_keyring(FileKeyring())
    yield store
    keyring.set_keyring(previous)


def test_a_secret_saved_in_the_keyring_is_read_back_through_its_reference(test_keyring: Path, csmc_home: Path) -> None:
    reference = secret_store.save("p/kucoin.passphrase", SECRET, "keyring")

    assert reference == "keyring:p/kucoin.passphrase"
    assert secret_store.resolve(reference) == SECRET
    assert read_store(test_keyring) == {"CSMultiConnector/p/kucoin.passphrase": SECRET}
    assert not (csmc_home / "config" / "secrets.toml").exists()


def test_a_missing_keyring_entry_is_named_without_any_secret(test_keyring: Path, csmc_home: Path) -> None:
    with pytest.raises(SecretStoreError) as error:
        secret_store.resolve("keyring:p/kucoin.passphrase")

    assert 'has no entry "p/kucoin.passphrase" for the service CSMultiConnector' in str(error.value)


def test_a_locked_keyring_is_reported(test_keyring: Path, csmc_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCKED_VARIABLE, "1")

    with pytest.raises(SecretStoreError) as error:
        secret_store.save("p/kucoin.passphrase", SECRET, "keyring")

    assert "the test keyring is locked" in str(error.value)
    assert find_secrets(str(error.value)) == []


def test_without_a_keyring_backend_there_is_none_to_name(csmc_home: Path) -> None:
    assert secret_store.keyring_backend() is None  # this machine has no OS keyring


def test_the_secrets_file_is_private_from_the_first_byte_and_keeps_other_entries(csmc_home: Path) -> None:
    first = secret_store.save("a/binance.api_key", "value-one-123", "file")
    second = secret_store.save("b/binance.api_key", SECRET, "file")

    path = csmc_home / "config" / "secrets.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (secret_store.resolve(first), secret_store.resolve(second)) == ("value-one-123", SECRET)


def test_a_secrets_file_others_can_read_is_refused(csmc_home: Path) -> None:
    reference = secret_store.save("a/binance.api_key", SECRET, "file")
    path = csmc_home / "config" / "secrets.toml"
    path.chmod(0o640)

    with pytest.raises(SecretStoreError) as error:
        secret_store.resolve(reference)

    assert f"chmod 600 '{path}'" in str(error.value)


@pytest.mark.parametrize("text", ['a "quote" and a \\ backslash', "tab\there", "del\x7f", "ünïcödé €"])
def test_secrets_file_values_survive_toml_quoting(csmc_home: Path, text: str) -> None:
    reference = secret_store.save("q/kraken.secret_key", text, "file")

    assert secret_store.resolve(reference) == text
