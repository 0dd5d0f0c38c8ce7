"""Kraken connector: Spot and Futures (PF_ linear perpetuals) through python-kraken-sdk (see adapter.py)."""

from sidecar.venues.kraken.adapter import KrakenVenue

__all__ = ["KrakenVenue"]
