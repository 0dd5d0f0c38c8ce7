"""The codec reads exactly what PROTOCOL.md §2 allows: strict JSON types, plain decimals, bounded numbers."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bridge.codec import ProtocolError, decode
from bridge.messages import Bye, Hello, Snapshot

GOLDEN = Path(__file__).resolve().parents[2] / "bridge" / "golden"


def golden(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    return data


HELLO = golden("ea-hello.json")
SNAPSHOT = golden("ea-snapshot-netting.json")
BYE = golden("ea-bye.json")


def refused(raw: bytes | dict[str, Any]) -> ProtocolError:
    frame = raw if isinstance(raw, bytes) else json.dumps(raw, ensure_ascii=False).encode()
    with pytest.raises(ProtocolError) as error:
        decode(frame)
    return error.value


def changed(message: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    out = copy.deepcopy(message)
    *parents, last = path.split(".")
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    return out


# §7.1 / §2.1: a field of the wrong JSON type is `invalid`, never read leniently.
LAX_TYPES = [
    (HELLO, "body.versions", [1.0]),
    (HELLO, "body.versions", ["1"]),
    (HELLO, "body.versions", [True]),
    (HELLO, "body.account.login", "1"),
    (HELLO, "body.account.login", 1.0),
    (HELLO, "body.magic_filter", [True]),
    (HELLO, "body.magic_filter", ["0"]),
    (HELLO, "body.stop_on_critical", "yes"),
    (HELLO, "body.stop_on_critical", 1),
    (HELLO, "body.logging.show_alerts", "false"),
    (HELLO, "body.logging.max_log_mb", "20"),
    (HELLO, "body.logging.max_log_mb", 20.0),
    (HELLO, "body.ea_version", 5),
    (HELLO, "body.token", 12345678),
    (SNAPSHOT, "body.positions.0.position_id", "5"),
    (SNAPSHOT, "body.positions.0.magic", True),
    (SNAPSHOT, "body.positions.0.magic", "0"),
    (SNAPSHOT, "body.positions.0.symbol", 1.5),
    (SNAPSHOT, "body.deal.ticket", "7"),
    (BYE, "body.critical", "no"),
    (BYE, "body.critical", 0),
    (SNAPSHOT, "seq", 1.0),
    (SNAPSHOT, "seq", True),
    (SNAPSHOT, "v", "1"),
]


@pytest.mark.parametrize(("message", "path", "value"), LAX_TYPES, ids=lambda v: str(v) if isinstance(v, str) else "")
def test_a_value_of_the_wrong_json_type_is_invalid(message: dict[str, Any], path: str, value: object) -> None:
    error = refused(changed(message, path, value))
    assert error.code == "invalid", error.text


def test_a_bye_saying_critical_no_does_not_end_the_session_as_critical() -> None:
    # "no" used to be read as true: the EA's bye(critical) would stop the sidecar's copying for good.
    assert refused(changed(BYE, "body.critical", "no")).code == "invalid"
    message = decode(json.dumps(changed(BYE, "body.critical", False)).encode())
    assert isinstance(message.body, Bye) and message.body.critical is False


@pytest.mark.parametrize(
    "raw",
    [
        b'{"v":1,"type":"heartbeat","sid":"abc","seq":' + b"9" * 4301 + b"}",
        b'{"v":1,"type":"heartbeat","sid":"abc","seq":1,"body":{"x":' + b"[" * 1000 + b"]" * 1000 + b"}}",
        b'{"v":1,"type":"heartbeat","sid":"abc","seq":1,"body":{"x":NaN}}',
        b'{"v":1,"type":"heartbeat","sid":"abc","seq":1,"body":{"x":Infinity}}',
        b'{"v":1,"type":"heartbeat","sid":"abc","seq":1,"body":{"x":-Infinity}}',
        b'{"v":1,"type":"heartbeat","sid":"abc","sid":"def","seq":1}',
        b'{"v":1,"type":"heartbeat","sid":"abc","seq":1,"body":{"x":"\\ud800"}}',
        b'{"v":1,"type":"heartbeat","sid":"abc","seq":1,"body":{"x":"\\uDC00 tail"}}',
        b'{"v":1,"type":"heartbeat","sid":"abc","seq":123456789012345678901}',
    ],
    ids=["4301 digits", "nested 1000 deep", "NaN", "Infinity", "-Infinity", "duplicate key", "lone high", "lone low",
         "21 digits"],
)  # fmt: skip
def test_json_this_protocol_does_not_read_is_malformed(raw: bytes) -> None:
    error = refused(raw)
    assert error.code == "malformed", error.text
    assert len(error.text) <= 512


def test_a_paired_surrogate_escape_is_a_character() -> None:
    raw = changed(HELLO, "body.account.server", "x")
    frame = json.dumps(raw).encode().replace(b'"server": "x"', b'"server": "\\ud83d\\ude00"')
    message = decode(frame)
    assert isinstance(message.body, Hello) and message.body.account.server == "\U0001f600"


def test_the_reserved_sid_none_is_refused() -> None:
    assert refused(changed(SNAPSHOT, "sid", "none")).code == "invalid"


VOLUME = "body.positions.0.volume"


@pytest.mark.parametrize(
    "volume",
    [
        "1_0",  # Python's Decimal reads "1_0" as 10
        "\u0663",  # an Arabic-Indic 3, which Decimal reads as 3
        "1" * 39,  # more than a double holds
        "0.1234567890123456",  # 16 significant digits
        "1e400",
        "1E2",
        "+1",
        " 1",
        "1.",
        ".5",
        "0x10",
        "Infinity",
        "NaN",
        "",
        "-0.10",  # a volume is positive
        "1000000001",  # beyond 10^9 lots
    ],
)
def test_a_volume_outside_the_plain_decimal_notation_or_its_bounds_is_invalid(volume: str) -> None:
    error = refused(changed(SNAPSHOT, VOLUME, volume))
    assert error.code == "invalid", error.text
    assert "positions.0.volume" in error.text
    assert volume not in error.text or len(volume) < 2  # the value is never echoed


def test_a_json_number_volume_with_an_exponent_is_invalid() -> None:
    frame = json.dumps(changed(SNAPSHOT, VOLUME, "@")).encode().replace(b'"@"', b"1e400")
    assert refused(frame).code == "invalid"


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ('"0.10"', Decimal("0.10")),
        ("0.10", Decimal("0.10")),
        ('"100000"', Decimal(100000)),
        ("3", Decimal(3)),
        ('"0.000000000000001"', Decimal("1E-15")),
        ('"999999999.999999"', Decimal("999999999.999999")),
        ('"00.50"', Decimal("0.5")),
    ],
)
def test_a_plain_decimal_is_read_exactly(written: str, value: Decimal) -> None:
    frame = json.dumps(changed(SNAPSHOT, VOLUME, "@")).encode().replace(b'"@"', written.encode())
    message = decode(frame)
    assert isinstance(message.body, Snapshot)
    volume = message.body.positions[0].volume
    assert volume == value and volume.as_tuple() == Decimal(written.strip('"')).as_tuple()


def test_numbers_beyond_64_bits_are_invalid() -> None:
    assert refused(changed(SNAPSHOT, "body.positions.0.position_id", 2**64)).code == "invalid"
    assert refused(changed(SNAPSHOT, "body.positions.0.position_id", -1)).code == "invalid"
    assert refused(changed(HELLO, "body.account.login", 2**63)).code == "invalid"
    message = decode(json.dumps(changed(SNAPSHOT, "body.positions.0.position_id", 2**64 - 1)).encode())
    assert isinstance(message.body, Snapshot) and message.body.positions[0].position_id == 2**64 - 1
