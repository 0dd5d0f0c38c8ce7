"""Binance connector: Spot and USDⓈ-M Futures through python-binance (see adapter.py)."""

from sidecar.venues.binance.adapter import BinanceVenue

__all__ = ["BinanceVenue"]
