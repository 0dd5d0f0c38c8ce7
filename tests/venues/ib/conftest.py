from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.config import IBSettings
from sidecar.venues.ib import IBVenue
from tests.fakes.tws import FakeTws, running_tws


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def decoder_errors() -> Iterator[list[str]]:
    """Every message the fake sends must be one ib_async's decoder reads at the negotiated server version. A layout
    it cannot read is not raised to anyone: the decoder logs it and drops the message. Those log lines fail the
    test; a test that provokes them on purpose takes them out of this list."""
    collect = _Collect()
    decoder = logging.getLogger("ib_async.Decoder")
    decoder.addHandler(collect)
    try:
        yield collect.messages
    finally:
        decoder.removeHandler(collect)
    assert collect.messages == [], "ib_async could not decode what the fake TWS sent"


@pytest.fixture
def tws() -> Iterator[FakeTws]:
    with running_tws() as fake:
        yield fake
        assert fake.violations == [], "a client sent what TWS at the negotiated server version would not accept"


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
