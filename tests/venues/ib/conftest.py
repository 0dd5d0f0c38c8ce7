from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.config import IBSettings
from sidecar.venues.ib import IBVenue
from tests.fakes.tws import FakeTws, running_tws


@pytest.fixture
def tws() -> Iterator[FakeTws]:
    with running_tws() as fake:
        yield fake
        assert fake.violations == [], "a client sent what a v157 TWS would not accept"


def settings_for(tws: FakeTws, **overrides: Any) -> IBSettings:
    values: dict[str, Any] = {
        "port": tws.port,
        "security_type": "CASH",
        "order_timeout_s": 2,
        "reconnection_interval_s": 1,
    }
    values.update(overrides)
    return IBSettings(**values)


@pytest.fixture
def make_venue(tws: FakeTws, tmp_path: Path) -> Iterator[Callable[..., IBVenue]]:
    made: list[IBVenue] = []

    def make(**overrides: Any) -> IBVenue:
        venue = IBVenue(settings_for(tws, **overrides), cache_path=tmp_path / "ib-contracts.json")
        made.append(venue)
        return venue

    yield make


@pytest.fixture
async def venue(make_venue: Callable[..., IBVenue]) -> AsyncIterator[IBVenue]:
    v = make_venue()
    await v.connect()
    try:
        yield v
    finally:
        await v.close()


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.02)
