"""The engine tests' rig: a SyncEngine on a real journal file against the in-process Paper venue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.messages import Deal, Position
from sidecar.engine import Alert, CopyMode, SyncEngine
from sidecar.journal import Journal
from sidecar.mapping import SymbolMapper
from sidecar.model import LegKey, MarginMode
from sidecar.venues.paper import PaperVenue

BTC = LegKey("BTCUSD")
SESSION = "ea-session-1"
COPY_KEY = "7001@Demo/paper/test"


def position(
    symbol: str, side: str, volume: str, contract: str = "1", base: str = "BTC", profit: str = "USD"
) -> Position:
    return Position(
        symbol=symbol, side=side, volume=Decimal(volume), position_id=1, magic=0,  # type: ignore[arg-type]
        contract_size=Decimal(contract), base_currency=base, profit_currency=profit,
        volume_step=Decimal("0.01"), volume_min=Decimal("0.01"),
    )  # fmt: skip


@dataclass
class Rig:
    venue: PaperVenue
    journal_path: Path
    mode: CopyMode = CopyMode.MIRROR
    alerts: list[Alert] = field(default_factory=list)
    seq: int = 0
    engine: SyncEngine | None = None

    async def start(self, margin: MarginMode = MarginMode.NETTING, **kwargs: object) -> SyncEngine:
        if self.engine is not None:
            self.engine.journal.close()
        mapper = SymbolMapper(dict(await self.venue.instruments()), self.venue.venue_symbol)
        self.engine = SyncEngine(
            self.venue,
            Journal(self.journal_path),
            mapper,
            mode=self.mode,
            on_alert=self.alerts.append,
            **kwargs,  # type: ignore[arg-type]
        )
        await self.engine.start(SESSION, COPY_KEY, margin)
        return self.engine

    async def snapshot(self, *positions: Position, deal: Deal | None = None) -> bool:
        assert self.engine is not None
        self.seq += 1
        applied = self.engine.accept_snapshot(SESSION, self.seq, list(positions), deal)
        await self.engine.reconcile()
        return applied


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    venue = PaperVenue()
    await venue.connect()
    rig = Rig(venue, tmp_path / "journal.sqlite3")
    yield rig
    if rig.engine is not None:
        rig.engine.journal.close()


