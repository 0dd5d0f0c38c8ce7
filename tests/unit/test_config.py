"""Configuration: defaults, the order of the sources, validation messages, private profiles and secrets."""

from __future__ import annotations

import operator
import sys
from pathlib import Path
from typing import Any

import pytest

from sidecar import paths
from sidecar.config import Settings, load_settings
from sidecar.errors import ConfigError
from tests.conftest import write_profile
from tests.secrets import TEST_SECRETS, find_secrets

MANUAL_DEFAULTS: list[tuple[str, Any]] = [
    ("binance.endpoint", "spot"),
    ("binance.sync_at_startup", False),
    ("binance.log_headers", False),
    ("binance.api_url", ""),
    ("binance.position_sync_period_s", 180),
    ("ib.host", "127.0.0.1"),
    ("ib.port", 7497),
    ("ib.client_id", 1),
    ("ib.account", ""),
    ("ib.exchange", "SMART"),
    ("ib.security_type", "CFD"),
    ("ib.max_order_resubmit_tries", 3),
    ("ib.order_timeout_s", 30),
    ("ib.reconnection_interval_s", 300),
    ("ib.position_sync_period_s", 180),
    ("ib.reset_cache", False),
    ("ib.sync_at_startup", True),
    ("kucoin.endpoint", "spot"),
    ("kucoin.sync_at_startup", False),
    ("kucoin.position_sync_period_s", 180),
    ("kraken.endpoint", "spot"),
    ("kraken.sync_at_startup", False),
    ("kraken.position_sync_period_s", 180),
    ("log.max_log_file_mb", 20),
]

PERIOD_ENV = "CSMC_BINANCE__POSITION_SYNC_PERIOD_S"


@pytest.fixture
def defaults(csmc_home: Path) -> Settings:
    settings, _ = load_settings("default")
    return settings


@pytest.mark.parametrize(("setting", "expected"), MANUAL_DEFAULTS, ids=[s for s, _ in MANUAL_DEFAULTS])
def test_default_matches_the_product_manual(defaults: Settings, setting: str, expected: Any) -> None:
    value = operator.attrgetter(setting)(defaults)

    assert value == expected
    assert type(value) is type(expected)


# --- precedence: defaults < profile < environment < command line ----------------------------------


def test_profile_value_overrides_the_default(csmc_home: Path) -> None:
    write_profile(csmc_home, "p", "[binance]\nposition_sync_period_s = 60\n")

    settings, path = load_settings("p")

    assert path == paths.profile_path("p")
    assert settings.binance.position_sync_period_s == 60
    # A key the profile does not set keeps its default.
    assert settings.kraken.position_sync_period_s == 180


def test_environment_overrides_the_profile(csmc_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_profile(csmc_home, "p", '[binance]\nendpoint = "futures"\nposition_sync_period_s = 60\n')
    monkeypatch.setenv(PERIOD_ENV, "90")

    settings, _ = load_settings("p")

    assert settings.binance.position_sync_period_s == 90
    # Only the one key comes from the environment: the rest of the profile's section still applies.
    assert settings.binance.endpoint == "futures"


def test_command_line_overrides_the_environment(csmc_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_profile(csmc_home, "p", 'connector = "binance"\n')
    monkeypatch.setenv("CSMC_CONNECTOR", "kraken")

    from_env, _ = load_settings("p")
    from_cli, _ = load_settings("p", connector="ib")

    assert from_env.connector == "kraken"
    assert from_cli.connector == "ib"


def test_command_line_overrides_a_nested_environment_value(csmc_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_profile(csmc_home, "p", "[binance]\nposition_sync_period_s = 60\n")
    monkeypatch.setenv(PERIOD_ENV, "90")

    settings, _ = load_settings("p", binance={"position_sync_period_s": 5})

    assert settings.binance.position_sync_period_s == 5


# --- validation ------------------------------------------------------------------------------------


def test_unknown_key_names_the_key_and_hides_its_value(csmc_home: Path) -> None:
    secret = TEST_SECRETS["binance_secret_key"]
    write_profile(csmc_home, "typo", f'[binance]\napi_secet = "{secret}"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings("typo")

    text = str(caught.value)
    assert "[binance] api_secet is not a setting" in text
    assert find_secrets(text) == []


def test_wrong_type_names_the_key(csmc_home: Path) -> None:
    path = write_profile(csmc_home, "badport", '[ib]\nport = "abc"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings("badport")

    text = str(caught.value).replace(str(path), "")
    assert "[ib] port" in text
    assert "integer" in text
    assert "abc" not in text


def test_invalid_toml_is_a_config_error_without_traceback_or_file_content(csmc_home: Path) -> None:
    secret = TEST_SECRETS["kraken_secret_key"]
    body = f'[kraken\napi_key = "{secret}" trailing\n'
    path = write_profile(csmc_home, "broken", body)

    with pytest.raises(ConfigError) as caught:
        load_settings("broken")

    text = str(caught.value)
    assert str(path) in text
    assert "Traceback" not in text
    assert find_secrets(text) == []
    assert all(line.strip() not in text for line in body.splitlines() if line.strip())


def test_missing_named_profile_is_an_error_naming_the_expected_path(csmc_home: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings("nosuch")

    assert str(paths.profile_path("nosuch")) in str(caught.value)
    assert str(csmc_home) in str(caught.value)


def test_missing_default_profile_means_defaults(csmc_home: Path) -> None:
    settings, path = load_settings("default")

    assert not path.exists()
    assert settings == Settings()


def test_existing_default_profile_is_read(csmc_home: Path) -> None:
    write_profile(csmc_home, "default", "[bridge]\norphan_exit_s = 7\n")

    settings, _ = load_settings("default")

    assert settings.bridge.orphan_exit_s == 7


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_profile_readable_by_others_is_refused(csmc_home: Path) -> None:
    path = write_profile(csmc_home, "open", "[bridge]\norphan_exit_s = 7\n")
    path.chmod(0o644)

    with pytest.raises(ConfigError) as caught:
        load_settings("open")

    text = str(caught.value)
    assert "chmod 600" in text
    assert str(path) in text


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_private_profile_is_accepted(csmc_home: Path) -> None:
    path = write_profile(csmc_home, "closed", "[bridge]\norphan_exit_s = 7\n")
    path.chmod(0o600)

    settings, _ = load_settings("closed")

    assert settings.bridge.orphan_exit_s == 7


# --- secrets ---------------------------------------------------------------------------------------


def test_repr_and_str_of_settings_hold_no_secret(csmc_home: Path) -> None:
    settings, _ = load_settings("secret")

    assert find_secrets(repr(settings)) == []
    assert find_secrets(str(settings)) == []
    assert find_secrets(repr(settings.kucoin)) == []


def test_secret_values_are_exactly_the_profiles_non_empty_secrets(csmc_home: Path) -> None:
    in_profile = {name: value for name, value in TEST_SECRETS.items() if name != "session_token"}

    settings, _ = load_settings("secret")
    values = settings.secret_values()

    # Compared by name, so a failure report never shows a secret.
    assert sorted(find_secrets("\n".join(values))) == sorted(in_profile)
    assert len(values) == len(in_profile)


def test_secret_values_skip_empty_secrets(csmc_home: Path) -> None:
    key = TEST_SECRETS["kraken_api_key"]
    write_profile(csmc_home, "one", f'[kraken]\napi_key = "{key}"\nsecret_key = ""\n')

    settings, _ = load_settings("one")
    values = settings.secret_values()

    assert find_secrets("\n".join(values)) == ["kraken_api_key"]
    assert len(values) == 1


# --- what csmc init and the error messages build on ------------------------------------------------


def test_a_misspelt_setting_is_named_with_its_section_and_the_setting_meant(csmc_home: Path) -> None:
    path = write_profile(csmc_home, "typo", '[paper]\npositon_mode = "hedge"\n[bridge]\nhartbeat_ms = 5\n')

    with pytest.raises(ConfigError) as error:
        load_settings("typo")

    assert str(error.value) == (
        f"Profile {path} is not valid: [bridge] hartbeat_ms is not a setting (did you mean heartbeat_ms?); "
        f"[paper] positon_mode is not a setting (did you mean position_mode?)."
    )


def test_a_value_out_of_range_is_named_by_section_and_key_without_the_value(csmc_home: Path) -> None:
    write_profile(csmc_home, "range", "[ib]\nport = 70000\n")

    with pytest.raises(ConfigError) as error:
        load_settings("range")

    assert "[ib] port: Input should be less than or equal to 65535" in str(error.value)
    assert "70000" not in str(error.value)


SECTIONS = ["ib", "binance", "kucoin", "kraken", "paper", "mapping", "log", "bridge"]


@pytest.mark.parametrize("section", SECTIONS)
def test_every_setting_has_an_explanation_for_the_wizard(section: str) -> None:
    model = Settings.model_fields[section].annotation
    assert isinstance(model, type)

    undocumented = [name for name, field in model.model_fields.items() if not field.description]  # type: ignore[attr-defined]

    assert undocumented == []


def test_a_stored_secret_of_another_connector_is_not_looked_up(csmc_home: Path) -> None:
    write_profile(csmc_home, "other", 'connector = "paper"\n[binance]\napi_key = "keyring:other/binance.api_key"\n')

    settings, _ = load_settings("other")

    assert settings.binance.api_key.get_secret_value() == "keyring:other/binance.api_key"
    assert settings.secret_values() == []  # a reference is not a secret: messages may name it


def test_a_stored_secret_that_is_missing_names_the_setting_the_store_and_the_fix(csmc_home: Path) -> None:
    path = write_profile(
        csmc_home, "gone", 'connector = "binance"\n[binance]\napi_key = "secrets-file:gone/binance.api_key"\n'
    )

    with pytest.raises(ConfigError) as error:
        load_settings("gone")

    assert str(error.value) == (
        f'Profile {path}: [binance] api_key refers to the stored secret "secrets-file:gone/binance.api_key", but the '
        f'secrets file {csmc_home / "config" / "secrets.toml"} has no entry "gone/binance.api_key". Store the keys '
        f"again with: csmc init --profile gone --connector binance, or write the key in the profile or in "
        f"CSMC_BINANCE__API_KEY."
    )
