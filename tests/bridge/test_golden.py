"""The golden messages of bridge/golden/ (PROTOCOL.md §9) are exactly what the codec reads and writes.

Each file holds one message, as `bridge.codec.encode` writes it, followed by one newline. The MQL5 side is
tested against the same files, so a change to the wire format shows up here first.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import bridge
from bridge.codec import decode, encode
from bridge.messages import EA_TO_SIDECAR, SIDECAR_TO_EA, Position, Snapshot, Status

GOLDEN = Path(bridge.__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*.json"))
DIRECTIONS = {"ea": EA_TO_SIDECAR, "sidecar": SIDECAR_TO_EA}


def split_name(path: Path) -> tuple[str, str, str]:
    """`<direction>-<type>[-<variant>].json` → (direction, type, variant)."""
    direction, kind, *variant = path.stem.split("-", 2)
    return direction, kind, variant[0] if variant else ""


def frame(path: Path) -> bytes:
    data = path.read_bytes()
    return data.removesuffix(b"\n")


def test_golden_files_exist() -> None:
    assert FILES, f"no golden messages in {GOLDEN}"
    assert not [p.name for p in GOLDEN.iterdir() if p.suffix != ".json"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_round_trip_is_byte_exact(path: Path) -> None:
    direction, kind, _ = split_name(path)
    assert direction in DIRECTIONS, f"{path.name}: the name must start with 'ea-' or 'sidecar-'"
    data = frame(path)
    assert b"\n" not in data and b"\r" not in data, f"{path.name}: one line, ending in a single newline"
    message = decode(data, from_ea=direction == "ea")
    assert message.type == kind, f"{path.name} holds a {message.type!r} message"
    assert isinstance(message.body, DIRECTIONS[direction][kind])
    assert encode(message) == data


def test_every_message_type_has_a_golden_file() -> None:
    have: dict[str, set[str]] = {direction: set() for direction in DIRECTIONS}
    for path in FILES:
        direction, kind, _ = split_name(path)
        have.setdefault(direction, set()).add(kind)
    for direction, models in DIRECTIONS.items():
        missing = sorted(set(models) - have[direction])
        assert not missing, f"message types without a golden {direction}-<type>.json: {', '.join(missing)}"


def test_golden_snapshots_cover_both_margin_modes_and_an_empty_table() -> None:
    variants = {split_name(p)[2] for p in FILES if split_name(p)[:2] == ("ea", "snapshot")}
    assert {"netting", "hedging", "empty"} <= variants


POSITION_DECIMALS = ("volume", "contract_size", "volume_step", "volume_min")


@pytest.mark.parametrize("path", [p for p in FILES if split_name(p)[:2] == ("ea", "snapshot")], ids=lambda p: p.name)
def test_snapshot_quantities_are_exact_decimals(path: Path) -> None:
    data = frame(path)
    raw = json.loads(data)["body"]  # strings stay strings: the digits exactly as written
    body = decode(data, from_ea=True).body
    assert isinstance(body, Snapshot)
    assert len(body.positions) == len(raw["positions"])
    for position, raw_position in zip(body.positions, raw["positions"], strict=True):
        assert isinstance(position, Position)
        for name in POSITION_DECIMALS:
            text = raw_position[name]
            assert isinstance(text, str), f"{path.name}: {name} must be a JSON string"
            value = getattr(position, name)
            assert isinstance(value, Decimal)
            assert str(value) == text
            assert value == Decimal(text)
    if raw["deal"] is not None:
        assert body.deal is not None
        assert isinstance(body.deal.volume, Decimal)
        assert str(body.deal.volume) == raw["deal"]["volume"]


def test_volumes_keep_their_trailing_zeros() -> None:
    data = frame(GOLDEN / "ea-snapshot-netting.json")
    body = decode(data, from_ea=True).body
    assert isinstance(body, Snapshot)
    volume = body.positions[0].volume
    assert volume == Decimal("0.20")
    assert volume.as_tuple().exponent == -2  # "0.20", not 0.2 and never a binary float
    assert b'"volume":"0.20"' in data


def test_status_quantities_are_decimals_or_null() -> None:
    data = frame(GOLDEN / "sidecar-status.json")
    raw = json.loads(data)["body"]
    body = decode(data, from_ea=False).body
    assert isinstance(body, Status)
    unknown = 0
    for row, raw_row in zip(body.instruments, raw["instruments"], strict=True):
        assert isinstance(row.target, Decimal) and str(row.target) == raw_row["target"]
        for name in ("venue", "mismatch"):
            value = getattr(row, name)
            if raw_row[name] is None:
                assert value is None
                unknown += 1
            else:
                assert isinstance(value, Decimal) and str(value) == raw_row[name]
    assert unknown, "the golden status shows a leg whose venue position is unknown"
    assert {row.leg for row in body.instruments} >= {"long", "short"}
