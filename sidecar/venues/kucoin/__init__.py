"""KuCoin connector: Spot and Futures through kucoin-universal-sdk (see adapter.py)."""

from sidecar.venues.kucoin.adapter import KuCoinVenue

__all__ = ["KuCoinVenue"]
