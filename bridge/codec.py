"""Bytes ↔ messages. One UTF-8 JSON object per ZMTP message, with the envelope of PROTOCOL.md §2."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from bridge import PROTOCOL_VERSION
from bridge.messages import EA_TO_SIDECAR, SIDECAR_TO_EA, Body, JsonNumber

MAX_FRAME = 256 * 1024
_SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


MAX_ERROR_TEXT = 512


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ProtocolError(Exception):
    """A message that cannot be accepted; `code` is the error reply's code (PROTOCOL.md §7).

    Text and reference are clipped: a peer cannot make the reply (or the log line) as large as its message.
    """

    def __init__(self, code: str, text: str, ref_type: str = "", ref_seq: int | None = None) -> None:
        text = clip(text, MAX_ERROR_TEXT)
        super().__init__(text)
        self.code = code
        self.text = text
        self.ref_type = clip(ref_type, 32)
        self.ref_seq = ref_seq


@dataclass(frozen=True)
class Message:
    type: str
    sid: str
    seq: int
    body: Body
    v: int = PROTOCOL_VERSION


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # plain notation: "0.0000001", never "1E-7"
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode(message: Message) -> bytes:
    envelope = {
        "v": message.v,
        "type": message.type,
        "sid": message.sid,
        "seq": message.seq,
        "body": message.body.model_dump(mode="python"),
    }
    return json.dumps(envelope, default=_default, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


#: No field of the protocol holds more than 20 digits (2^64 - 1); a longer integer is not a number we read.
MAX_INTEGER_DIGITS = 20
MAX_SEQ = 2**63 - 1
_LONE_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class _Unreadable(Exception):
    """Raised from inside the JSON parser: the text is JSON but not JSON this protocol reads (§2.2)."""


def _integer(text: str) -> int:
    if len(text) > MAX_INTEGER_DIGITS and len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _Unreadable(f"an integer of more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _constant(name: str) -> object:
    raise _Unreadable(f"{name} is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Unreadable("an object has the same member twice")
    return out


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_json(frame: bytes) -> Any:
    """The frame as JSON the way §2.2 allows it, or ProtocolError `malformed`."""
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProtocolError("malformed", f"message is not UTF-8 (byte {e.start})") from None
    try:
        raw = json.loads(
            text, parse_float=JsonNumber, parse_int=_integer, parse_constant=_constant, object_pairs_hook=_object
        )
    except json.JSONDecodeError as e:
        raise ProtocolError("malformed", f"message is not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except _Unreadable as e:
        raise ProtocolError("malformed", f"message is not JSON this protocol reads: {e}") from None
    except RecursionError:
        raise ProtocolError("malformed", "message is not JSON this protocol reads: nested too deeply") from None
    if _LONE_SURROGATE_ESCAPE.search(frame) and _has_lone_surrogate(raw):
        raise ProtocolError("malformed", "message has a \\u escape of an unpaired surrogate, which is not Unicode")
    return raw


@dataclass(frozen=True)
class Envelope:
    """A message whose frame, JSON and envelope passed the checks of §7.3 up to the body's schema."""

    kind: str  # the envelope's `type`
    sid: str
    seq: int
    v: int
    body: dict[str, Any]
    model: type[Body]

    def message(self) -> Message:
        """The body checked against its schema (`invalid` otherwise): the last of the checks."""
        try:
            parsed = self.model.model_validate(self.body)
        except ValidationError as e:
            raise ProtocolError("invalid", f"{self.kind}: {describe_validation(e)}", self.kind, self.seq) from None
        return Message(self.kind, self.sid, self.seq, parsed, self.v)


def decode(frame: bytes, *, from_ea: bool = True, max_frame: int = MAX_FRAME) -> Message:
    """Parse and validate one frame. Raises ProtocolError with the code to reply with."""
    return read_envelope(frame, from_ea=from_ea, max_frame=max_frame).message()


def read_envelope(frame: bytes, *, from_ea: bool = True, max_frame: int = MAX_FRAME) -> Envelope:
    """Every check of §7.3 but the body's schema, which is the costly one: a snapshot that a newer one
    supersedes before it is handled never needs it."""
    if len(frame) > max_frame:
        raise ProtocolError("too_large", f"message of {len(frame)} bytes exceeds the limit of {max_frame} bytes")
    raw = parse_json(frame)
    if not isinstance(raw, dict):
        raise ProtocolError("malformed", "message must be a JSON object")
    kind = raw.get("type")
    seq = raw.get("seq")
    ref_seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    ref_type = kind if isinstance(kind, str) else ""
    version = raw.get("v")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProtocolError("invalid", "envelope field 'v' (protocol version) must be an integer", ref_type, ref_seq)
    sid = raw.get("sid")
    if not isinstance(sid, str) or not _SID.fullmatch(sid):
        raise ProtocolError(
            "invalid", "envelope field 'sid' must be 1-64 characters of A-Z a-z 0-9 _ -", ref_type, ref_seq
        )
    if from_ea and sid == "none":
        raise ProtocolError(
            "invalid",
            "envelope field 'sid' may not be 'none', which marks replies without a session",
            ref_type,
            ref_seq,
        )
    if ref_seq is None or not 0 <= ref_seq <= MAX_SEQ:
        raise ProtocolError("invalid", "envelope field 'seq' must be an integer from 0 to 2^63-1", ref_type, ref_seq)
    models = EA_TO_SIDECAR if from_ea else SIDECAR_TO_EA
    model = models.get(ref_type)
    if model is None:
        known = ", ".join(sorted(models))
        raise ProtocolError(
            "unknown_type", f"unknown message type {clip(repr(kind), 40)}; expected one of: {known}", ref_type, ref_seq
        )
    if version != PROTOCOL_VERSION and ref_type != "hello":
        raise ProtocolError(
            "unsupported_version",
            f"protocol version {clip(str(version), 12)} is not spoken here (use {PROTOCOL_VERSION})",
            ref_type,
            ref_seq,
        )
    body = raw.get("body", {})
    if not isinstance(body, dict):
        raise ProtocolError("invalid", "envelope field 'body' must be a JSON object", ref_type, ref_seq)
    return Envelope(ref_type, sid, ref_seq, version, body, model)


def describe_validation(error: ValidationError, limit: int = 3) -> str:
    """Where and what, never the offending value: a hello's body carries the session token."""
    parts = []
    for item in error.errors()[:limit]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    more = error.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
