"""Kraken's asset names and trading rules → the sidecar's names and Instruments.

Spot (AssetPairs, Assets): legacy assets carry an X (crypto) or Z (fiat) prefix in their key (`XXBT`,
`ZUSD`); the Assets endpoint gives each key's `altname` (`XBT`, `USD`), and Kraken's XBT and XDG are the
BTC and DOGE the MT5 side names. A pair is keyed by Kraken's pair key (`XXBTZUSD`) in answers and traded
under its `altname` (`XBTUSD`), which is the venue symbol here. Balances with a suffix (`XBT.F`, `DOT.S`,
`USD.M`, …) are earn, staked or reward balances, not tradable: they are never positions.

Rules per pair: `lot_decimals` gives the size step, `ordermin` the minimum size in base units, `costmin` the
minimum cost in the quote currency, `tick_size` the price step, `status` whether it trades ("online"; the
other states — cancel_only, post_only, limit_only, reduce_only, delisted — take no market order).

Futures (`/derivatives/api/v3/instruments`): only the `PF_` linear perpetuals (type flexible_futures) are
sized in base units; `contractValueTradePrecision` is the number of decimals a size may have (it may be
negative: 10^-p is the step), `tradeable` whether it trades now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sidecar.decimals import ZERO, dec, plain  # noqa: F401 (the venue modules import them from here)
from sidecar.model import Instrument

#: Kraken's own names for the currencies MT5 knows under another one.
COMMON_NAMES = {"XBT": "BTC", "XDG": "DOGE"}
KRAKEN_NAMES = {common: kraken for kraken, common in COMMON_NAMES.items()}
FUTURES_PREFIX = "PF_"


def step_of(decimals: int) -> Decimal:
    """The step a number with `decimals` decimals moves in: 8 → 0.00000001, -1 → 10."""
    return Decimal(1).scaleb(-decimals)


def common_name(altname: str) -> str:
    return COMMON_NAMES.get(altname.upper(), altname.upper())


@dataclass(frozen=True)
class AssetNames:
    """Kraken asset keys (`XXBT`) → the names the copier uses (`BTC`)."""

    by_key: Mapping[str, str]

    @classmethod
    def parse(cls, assets: Mapping[str, Any]) -> AssetNames:
        names = {}
        for key, info in assets.items():
            altname = info.get("altname", key) if isinstance(info, Mapping) else key
            names[str(key)] = common_name(str(altname))
        return cls(names)

    def name(self, key: str) -> str:
        """The copier's name of an asset key; an unlisted legacy key loses its X/Z prefix."""
        known = self.by_key.get(key)
        if known is not None:
            return known
        if len(key) == 4 and key[0] in "XZ":
            return common_name(key[1:])
        return common_name(key)

    @staticmethod
    def is_suffixed(key: str) -> bool:
        """An earn, staked, reward or tokenised balance (`XBT.F`, `DOT.S`, `USD.M`): not tradable."""
        return "." in key


@dataclass(frozen=True)
class SpotPair:
    key: str  # XXBTZUSD: how answers name the pair
    instrument: Instrument  # symbol = altname, XBTUSD: how orders name it


def parse_asset_pairs(pairs: Mapping[str, Any], names: AssetNames) -> list[SpotPair]:
    out = []
    for key, info in pairs.items():
        if not isinstance(info, Mapping) or "altname" not in info or "lot_decimals" not in info:
            continue
        if str(info.get("aclass_base", "currency")) != "currency":
            continue  # tokenised stocks and other classes take other order parameters
        instrument = Instrument(
            symbol=str(info["altname"]),
            base=names.name(str(info.get("base", ""))),
            quote=names.name(str(info.get("quote", ""))),
            lot_step=step_of(int(info["lot_decimals"])),
            min_qty=Decimal(plain(dec(info.get("ordermin")))),
            min_notional=Decimal(plain(dec(info.get("costmin")))),
            tick=Decimal(plain(dec(info.get("tick_size")))),
            trading=str(info.get("status", "online")) == "online",
        )
        out.append(SpotPair(str(key), instrument))
    return out


def futures_base(symbol: str) -> str:
    """PF_XBTUSD → BTC (every PF_ contract is quoted in USD)."""
    return common_name(symbol[len(FUTURES_PREFIX) : -3])


def parse_futures_instruments(rows: Iterable[Any]) -> dict[str, Instrument]:
    out: dict[str, Instrument] = {}
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        symbol = str(row.get("symbol", "")).upper()
        if not symbol.startswith(FUTURES_PREFIX) or not symbol.endswith("USD") or len(symbol) <= 6:
            continue  # inverse (PI_), fixed-maturity (FF_, FI_) contracts are not sized in base units
        if "contractValueTradePrecision" not in row:
            continue
        step = step_of(int(dec(row["contractValueTradePrecision"])))
        out[symbol] = Instrument(
            symbol=symbol,
            base=futures_base(symbol),
            quote="USD",
            lot_step=step,
            min_qty=step,
            tick=Decimal(plain(dec(row.get("tickSize")))),
            trading=bool(row.get("tradeable", True)),
        )
    return out
