"""Configuration: defaults < TOML profile < environment (CSMC_…, nested with __) < command line.

A profile is `<config dir>/profiles/<name>.toml` with one table per section below. Unknown keys are
errors, so a typo never silently falls back to a default. Secrets are SecretStr and are never printed.
"""

from __future__ import annotations

import os
import stat
import sys
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from bridge.codec import describe_validation
from sidecar import paths
from sidecar.errors import ConfigError

Connector = Literal["ib", "binance", "kucoin", "kraken", "paper"]
EMPTY = SecretStr("")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    log_headers: bool = False
    """Log request and response headers, with keys and signatures redacted."""
    api_url: str = ""
    """Empty = the official URL of the endpoint."""
    api_key: SecretStr = EMPTY
    secret_key: SecretStr = EMPTY
    quote_currency: str = "USDT"


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
    passphrase: SecretStr = EMPTY


class KrakenSettings(RestVenueSection):
    one_time_password: SecretStr = EMPTY
    """For keys with two-factor authentication."""
    quote_currency: str = "USD"


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

    @field_validator("sync_at_startup")
    @classmethod
    def _always_mirror(cls, value: bool) -> bool:
        if not value:
            raise ValueError("Interactive Brokers always syncs at startup; remove sync_at_startup from [ib]")
        return value


class PaperSettings(VenueSection):
    sync_at_startup: bool = True
    position_mode: Literal["one_way", "hedge", "spot"] = "one_way"
    prices: dict[str, Decimal] = {}
    """Fill prices by venue symbol, on top of the built-in ones."""
    state_file: Path | None = None
    """Keep paper positions in this file across runs; empty = in memory only."""


class BridgeSettings(Section):
    heartbeat_ms: int = Field(default=1000, ge=100)
    timeout_ms: int = Field(default=10_000, ge=500)
    orphan_exit_s: int = Field(default=120, ge=0)
    """Exit when no EA has been connected for this long (0 = never)."""


class LogSettings(Section):
    max_log_file_mb: int = Field(default=20, ge=1)
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
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
            if s.get_secret_value()
        ]


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
        raise ConfigError(f"Profile {path} is not valid: {describe_validation(e, limit=5)}.") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"Profile {path} cannot be read: {_first_line(e)}") from None
    finally:
        _profile_file.reset(token)
    return settings, path


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
