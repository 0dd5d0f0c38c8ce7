"""Configuration: defaults < TOML profile < environment (CSMC_…, nested with __) < command line.

A profile is `<config dir>/profiles/<name>.toml` with one table per section below. Unknown keys are
errors, so a typo never silently falls back to a default. Secrets are SecretStr and are never printed.
"""

from __future__ import annotations

import difflib
import os
import stat
import sys
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from sidecar import paths, secret_store
from sidecar.errors import ConfigError

Connector = Literal["ib", "binance", "kucoin", "kraken", "paper"]
EMPTY = SecretStr("")


class Section(BaseModel):
    # Each field's docstring becomes its description: `csmc init` explains every setting with it.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class SymbolOverrideSettings(Section):
    symbol: str
    """Venue symbol the MT5 symbol is copied to."""
    multiplier: Decimal = Decimal(1)
    """Extra factor on the volume of this symbol."""


class MappingSettings(Section):
    symbol_prefixes: list[str] = []
    """Broker prefixes stripped from MT5 symbol names before mapping (e.g. "#")."""
    symbol_suffixes: list[str] = []
    """Broker suffixes stripped from MT5 symbol names (e.g. ".m", "_i"); lower-case tails go anyway."""
    multiplier: Decimal = Field(default=Decimal(1), gt=0)
    """Volume multiplier for every symbol: venue units = lots × contract size × multiplier."""
    overrides: dict[str, SymbolOverrideSettings] = {}
    """MT5 symbol (or its root) → venue symbol and multiplier."""


class VenueSection(Section):
    sync_at_startup: bool = False
    """On: make the venue equal to MT5 at start (mirror). Off: keep the venue's start-up offset (follow)."""
    position_sync_period_s: int = Field(default=180, ge=0)
    """Seconds between position syncs; 0 turns the periodic sync off."""
    quote_currency: str = ""
    """Venue currency that replaces the MT5 profit currency below (USD → USDT)."""
    mt_profit_currency: str = "USD"
    """MT5 profit currency replaced by the quote currency."""

    def secrets(self) -> list[SecretStr]:
        return [v for v in self.__dict__.values() if isinstance(v, SecretStr)]


class RestVenueSection(VenueSection):
    """What every REST venue window has: endpoint, API URL, keys, header logging."""

    endpoint: Literal["spot", "futures"] = "spot"
    """"spot" trades the Spot wallet; "futures" trades perpetual futures."""
    log_headers: bool = False
    """Log request and response headers, with keys and signatures redacted."""
    api_url: str = ""
    """Empty = the official URL of the endpoint."""
    api_key: SecretStr = EMPTY
    """The API key (public part). Never an EA input: keep it here, in the OS keyring or in CSMC_… variables."""
    secret_key: SecretStr = EMPTY
    """The API key's secret, shown once by the venue when the key is created."""
    quote_currency: str = "USDT"
    """Venue currency that replaces the MT5 profit currency below (USD → USDT)."""


class BinanceSettings(RestVenueSection):
    """Binance: Spot, or USDⓈ-M Futures (one-way or hedge Position Mode)."""

    endpoint: Literal["spot", "futures"] = "spot"
    """"spot" trades the Spot wallet (positions are balances); "futures" trades USDⓈ-M perpetuals."""
    api_url: str = ""
    """Empty = the official URL of the endpoint (https://api.binance.com/api, https://fapi.binance.com/fapi).
    Testnets: Spot https://testnet.binance.vision/api, USDⓈ-M https://testnet.binancefuture.com/fapi."""
    recv_window_ms: int = Field(default=5000, ge=1, le=60000)
    """How long after its timestamp Binance still accepts a signed request (Binance's recvWindow)."""
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Seconds to wait for Binance's answer; an order without an answer is looked up by its client id."""


class KuCoinSettings(RestVenueSection):
    """KuCoin: Spot (the trade account), or Futures (USDT-margined perpetuals, one-way or hedge position mode)."""

    endpoint: Literal["spot", "futures"] = "spot"
    """"spot" trades the Spot trade account (positions are balances); "futures" trades the linear perpetuals."""
    api_url: str = ""
    """Empty = KuCoin's own URL of the endpoint (https://api.kucoin.com, https://api-futures.kucoin.com)."""
    passphrase: SecretStr = EMPTY
    """The passphrase chosen when the API key was created."""
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Seconds to wait for KuCoin's answer; an order without an answer is looked up by its client id."""
    lost_order_grace_s: float = Field(default=30.0, ge=1, le=600)
    """Seconds an order whose answer was lost may still take inside KuCoin after its 5 s timestamp window has
    closed. Only when KuCoin shows no such order after that is it sent again; shorter is riskier."""
    isolated_leverage: int = Field(default=1, ge=1, le=125)
    """Futures: leverage of orders that open or add to an isolated-margin position (KuCoin needs one per order;
    cross-margin orders use the leverage set on KuCoin)."""


class KrakenSettings(RestVenueSection):
    """Kraken: Spot, or Futures (PF_ linear perpetuals)."""

    endpoint: Literal["spot", "futures"] = "spot"
    """"spot" trades the Spot balances; "futures" trades Kraken Futures' PF_ linear perpetuals."""
    api_url: str = ""
    """Empty = Kraken's own URL of the endpoint (https://api.kraken.com, https://futures.kraken.com).
    Futures demo: https://demo-futures.kraken.com (with keys made there)."""
    one_time_password: SecretStr = EMPTY
    """The API key's two-factor password (Spot keys with 2FA), sent as `otp` with every private request."""
    quote_currency: str = "USD"
    """Venue currency that replaces the MT5 profit currency below."""
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Seconds to wait for Kraken's answer; an order without an answer is looked up by its client id."""
    order_deadline_s: float = Field(default=10.0, ge=5, le=60)
    """Seconds Kraken has to execute a market order (Spot `deadline`, Futures `processBefore`). An order whose
    answer was lost is declared absent only once this has passed by Kraken's clock."""
    rate_limit_pause_s: float = Field(default=15.0, gt=0, le=600)
    """Seconds nothing is sent after Kraken says a rate limit was exceeded (Kraken sends no Retry-After)."""


class IBSettings(VenueSection):
    sync_at_startup: bool = True
    """Interactive Brokers always syncs at startup."""
    host: str = "127.0.0.1"
    """Address of TWS or IB Gateway."""
    port: int = Field(default=7497, ge=1, le=65535)
    """API socket port: TWS 7497 paper / 7496 live, IB Gateway 4002 paper / 4001 live."""
    client_id: int = Field(default=1, ge=0)
    """API client id; unique among the applications connected to the same TWS."""
    account: str = ""
    """Empty = the only managed account."""
    exchange: str = "SMART"
    """Exchange of CFD contracts (forex CASH pairs always trade on IDEALPRO)."""
    security_type: Literal["CFD", "CASH"] = "CFD"
    """Contracts to copy to; positions of the other type are left alone."""
    max_order_resubmit_tries: int = Field(default=3, ge=0)
    """Resends of an order that TWS ended with a server-side error, once it is proven unfilled."""
    order_timeout_s: int = Field(default=30, ge=1)
    """Seconds to wait for a fill before the order's outcome is looked up."""
    reconnection_interval_s: int = Field(default=300, ge=1)
    """Seconds between reconnection attempts after the connection to TWS is lost."""
    reset_cache: bool = False
    """Clear the cache of resolved contracts at start."""
    mt_profit_currency: str = ""
    """MT5 profit currency replaced by the quote currency (empty: IB quotes in the MT5 currencies)."""

    @field_validator("sync_at_startup")
    @classmethod
    def _always_mirror(cls, value: bool) -> bool:
        if not value:
            raise ValueError("Interactive Brokers always syncs at startup; remove sync_at_startup from [ib]")
        return value


class PaperSettings(VenueSection):
    sync_at_startup: bool = True
    """On: make the venue equal to MT5 at start (mirror). Off: keep the venue's start-up offset (follow)."""
    position_mode: Literal["one_way", "hedge", "spot"] = "one_way"
    """How the simulated venue keeps positions: one net position, long and short legs, or spot balances."""
    prices: dict[str, Decimal] = {}
    """Fill prices by venue symbol, on top of the built-in ones."""
    state_file: Path | None = None
    """Keep paper positions in this file across runs; empty = in memory only."""


class BridgeSettings(Section):
    heartbeat_ms: int = Field(default=1000, ge=100)
    """Milliseconds between heartbeats to the EA."""
    timeout_ms: int = Field(default=10_000, ge=500)
    """An EA silent for this many milliseconds is gone."""
    orphan_exit_s: int = Field(default=120, ge=0)
    """Exit when no EA has been connected for this long (0 = never)."""


class LogSettings(Section):
    max_log_file_mb: int = Field(default=20, ge=1)
    """The log file is rotated at this size (3 old files are kept)."""
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Lowest level written to the log file."""
    directory: Path | None = None
    """Empty = the per-user log directory."""


RELEASE_FEED = "https://github.com/csmulticonnector/csmulticonnector/releases/latest/download/release-feed.json"


class UpdateSettings(Section):
    check: bool = False
    """Read the project's release feed at start and once a day: a newer version becomes an info alert, a
    version marked unsafe a critical one. Off by default; nothing is ever downloaded or run by it."""
    feed_url: str = RELEASE_FEED
    """Where the release feed (a small JSON file) is read from."""
    timeout_s: float = Field(default=10.0, gt=0, le=60)
    """Seconds to wait for the feed; a feed that does not answer is logged and skipped until the next day."""

    @field_validator("feed_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("feed_url must be an https:// (or http://) address")
        return value


_profile_file: ContextVar[Path | None] = ContextVar("_profile_file", default=None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSMC_", env_nested_delimiter="__", extra="forbid", frozen=True)

    connector: Connector = "paper"
    mapping: MappingSettings = MappingSettings()
    log: LogSettings = LogSettings()
    bridge: BridgeSettings = BridgeSettings()
    ib: IBSettings = IBSettings()
    binance: BinanceSettings = BinanceSettings()
    kucoin: KuCoinSettings = KuCoinSettings()
    kraken: KrakenSettings = KrakenSettings()
    paper: PaperSettings = PaperSettings()
    update: UpdateSettings = UpdateSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: the command line, then the environment, then the profile file.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        profile = _profile_file.get()
        if profile is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=profile))
        return tuple(sources)

    def venue(self, connector: Connector | None = None) -> VenueSection:
        section: VenueSection = getattr(self, connector or self.connector)
        return section

    def secret_values(self) -> list[str]:
        return [
            s.get_secret_value()
            for name in ("ib", "binance", "kucoin", "kraken", "paper")
            for s in self.venue(name).secrets()
            if s.get_secret_value() and not secret_store.is_reference(s.get_secret_value())
        ]


def settings_without_profile() -> Settings:
    """The settings from the environment alone (or the defaults): for a sidecar whose profile cannot be used."""
    try:
        return Settings()
    except (ValidationError, ValueError):
        return Settings.model_construct()


def load_settings(profile: str, **cli: Any) -> tuple[Settings, Path]:
    """Load a profile. A missing default profile means defaults; any other missing profile is an error."""
    path = paths.profile_path(profile)
    if not path.exists():
        if profile != "default":
            raise ConfigError(
                f"Profile '{profile}' was not found: expected the file {path}. Create it (see the README, "
                f"'Configuration'), or start with the profile 'default'."
            )
        path_or_none = None
    else:
        path_or_none = path
        _check_private(path)
    token = _profile_file.set(path_or_none)
    try:
        settings = Settings(**cli)
    except ValidationError as e:
        raise ConfigError(f"Profile {path} is not valid: {describe_problems(e)}.") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"Profile {path} cannot be read: {_first_line(e)}") from None
    finally:
        _profile_file.reset(token)
    return _with_stored_secrets(settings, path), path


def _with_stored_secrets(settings: Settings, path: Path) -> Settings:
    """Replace the references to stored secrets of the chosen connector by the secrets themselves."""
    section = settings.venue()
    found: dict[str, SecretStr] = {}
    for name, value in section.__dict__.items():
        if isinstance(value, SecretStr) and secret_store.is_reference(value.get_secret_value()):
            reference = value.get_secret_value()
            try:
                found[name] = SecretStr(secret_store.resolve(reference))
            except secret_store.SecretStoreError as e:
                raise ConfigError(
                    f"Profile {path}: [{settings.connector}] {name} refers to the stored secret \"{reference}\", "
                    f"but {e}. Store the keys again with: csmc init --profile {path.stem} --connector "
                    f"{settings.connector}, or write the key in the profile or in "
                    f"CSMC_{settings.connector.upper()}__{name.upper()}."
                ) from None
    if not found:
        return settings
    return settings.model_copy(update={settings.connector: section.model_copy(update=found)})


def describe_problems(error: ValidationError, limit: int = 5) -> str:
    """Each problem as the profile spells it, `[section] key: problem`, never with the value (it may be a key)."""
    parts = []
    for item in error.errors()[:limit]:
        loc = [str(p) for p in item["loc"]]
        where = f"[{'.'.join(loc[:-1])}] {loc[-1]}" if len(loc) > 1 else (loc[0] if loc else "the profile")
        if item["type"] == "extra_forbidden":
            known = _setting_names(loc[:-1])
            close = difflib.get_close_matches(loc[-1], known, n=1) if loc else []
            parts.append(f"{where} is not a setting" + (f" (did you mean {close[0]}?)" if close else ""))
        else:
            parts.append(f"{where}: {item['msg']}")
    more = error.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _setting_names(section_path: list[str]) -> list[str]:
    model: type[BaseModel] = Settings
    for part in section_path:
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _check_private(path: Path) -> None:
    """A profile holds API keys: on POSIX systems it must not be readable by other users."""
    if sys.platform == "win32" or os.environ.get("WINEPREFIX"):
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"Profile {path} can be read by other users of this computer, and it may hold API keys. "
            f"Make it private with: chmod 600 '{path}'"
        )


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
