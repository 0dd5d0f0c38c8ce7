"""Ports for test and demo sidecars come from below the ephemeral range, where no outgoing connection (the
EA's own connect retries included) is ever given one as its local end."""

from __future__ import annotations

from pathlib import Path

from sidecar.demo import free_port

EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def test_free_ports_are_below_the_ephemeral_range() -> None:
    start = int(EPHEMERAL.read_text().split()[0]) if EPHEMERAL.exists() else 32768
    ports = {free_port() for _ in range(50)}
    assert all(1024 <= port < start for port in ports)
    assert len(ports) > 1  # spread out, so parallel tests do not race for one port
