"""Interactive Brokers (TWS or IB Gateway) through ib_async."""

from sidecar.venues.ib.adapter import IBVenue

__all__ = ["IBVenue"]
