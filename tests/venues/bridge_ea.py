"""The EA's side of the bridge in the venues' end-to-end tests, played by the bridge client against a real
`csmc run`: what every venue's story shares."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Generic, TypeVar

from bridge.client import BridgeClient
from bridge.messages import Account, AlertMsg, Position, Status
from sidecar.model import Leg, LegKey
from tests.e2e.harness import RunningSidecar

WAIT = 20.0  # seconds any one awaited condition may take before the test fails

BookT = TypeVar("BookT")


async def until(condition: Callable[[], bool], what: str, log: Callable[[], Iterable[str]] | None = None) -> None:
    """Wait for `condition`; on failure, say what did not happen and show `log` (the fake's last requests)."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            shown = "\n".join(log()) if log else ""
            raise AssertionError(f"timed out waiting for {what}\n{shown}")
        await asyncio.sleep(0.02)


class BridgeEa(Generic[BookT]):
    """An EA that sends a venue's test book, turned into MT5 positions by `table`."""

    def __init__(
        self,
        sidecar: RunningSidecar,
        *,
        connector: str,
        profile: str,
        account: Account,
        table: Callable[[BookT], list[Position]],
    ) -> None:
        self._table = table
        self.client = BridgeClient(
            f"tcp://127.0.0.1:{sidecar.port}", sidecar.token, connector=connector, profile=profile, account=account
        )

    async def start(self) -> None:
        await self.client.hello(timeout=WAIT)
        await self.client.wait_for(lambda m: m.type == "request_snapshot", WAIT)

    async def send(self, book: BookT) -> None:
        seq = await self.client.snapshot(self._table(book))
        await self.client.wait_for(lambda m: m.type == "ack" and getattr(m.body, "seq", None) == seq, WAIT)

    async def status(self, predicate: Callable[[Status], bool], what: str, *, received: bool = False) -> Status:
        """The next status that matches; with `received`, one already received counts too."""
        earlier = [m.body for m in self.client.received if isinstance(m.body, Status)] if received else []
        for status in earlier:
            if predicate(status):
                return status
        deadline = time.monotonic() + WAIT
        last: Status | None = None
        while time.monotonic() < deadline:
            try:
                message = await self.client.wait_for(lambda m: m.type == "status", deadline - time.monotonic())
            except TimeoutError:
                break
            assert isinstance(message.body, Status)
            last = message.body
            if predicate(last):
                return last
        raise AssertionError(f"no status with {what}; last status: {last}\nalerts: {self.alerts()}")

    async def in_sync(self, want: dict[LegKey, Decimal]) -> Status:
        return await self.status(lambda s: in_sync(s, want), f"every position in sync at {want}")

    def alerts(self) -> list[AlertMsg]:
        return [m.body for m in self.client.received if isinstance(m.body, AlertMsg)]

    async def alert(self, predicate: Callable[[AlertMsg], bool], what: str) -> AlertMsg:
        """The first alert, already received or still to come, that matches."""
        for alert in self.alerts():
            if predicate(alert):
                return alert
        try:
            message = await self.client.wait_for(lambda m: isinstance(m.body, AlertMsg) and predicate(m.body), WAIT)
        except TimeoutError:
            raise AssertionError(f"no alert with {what}; alerts: {self.alerts()}") from None
        assert isinstance(message.body, AlertMsg)
        return message.body

    async def close(self) -> None:
        await self.client.close("test finished")


def in_sync(status: Status, want: dict[LegKey, Decimal]) -> bool:
    """Every wanted position is both the target and what the venue holds, and nothing is out of sync."""
    rows = {LegKey(r.symbol, Leg(r.leg)): r for r in status.instruments}
    for key, qty in want.items():
        row = rows.get(key)
        if qty == 0 and row is None:
            continue
        if row is None or row.target != qty or row.venue != qty:
            return False
    return status.copying and status.mismatches == 0
