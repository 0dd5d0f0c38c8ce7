"""CSMultiConnector sidecar: mirrors MetaTrader 5 positions onto a trading venue."""

__version__ = "0.1.0"
