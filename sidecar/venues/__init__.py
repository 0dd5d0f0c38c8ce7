"""Venue adapters: one module (or package) per venue behind the interface in `base`."""
