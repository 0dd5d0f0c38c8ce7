"""Bytes ↔ messages. One UTF-8 JSON object per ZMTP message, with the envelope of PROTOCOL.md §2."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from bridge import PROTOCOL_VERSION
from bridge.messages import EA_TO_SIDECAR, SIDECAR_TO_EA, Body

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


def decode(frame: bytes, *, from_ea: bool = True, max_frame: int = MAX_FRAME) -> Message:
    """Parse and validate one frame. Raises ProtocolError with the code to reply with."""
    if len(frame) > max_frame:
        raise ProtocolError("too_large", f"message of {len(frame)} bytes exceeds the limit of {max_frame} bytes")
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProtocolError("malformed", f"message is not UTF-8 (byte {e.start})") from None
    try:
        raw = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as e:
        raise ProtocolError("malformed", f"message is not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
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
    if ref_seq is None or ref_seq < 0:
        raise ProtocolError("invalid", "envelope field 'seq' must be a non-negative integer", ref_type, ref_seq)
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
    try:
        parsed = model.model_validate(body)
    except ValidationError as e:
        raise ProtocolError("invalid", f"{ref_type}: {describe_validation(e)}", ref_type, ref_seq) from None
    return Message(ref_type, sid, ref_seq, parsed, version)


def describe_validation(error: ValidationError, limit: int = 3) -> str:
    """Where and what, never the offending value: a hello's body carries the session token."""
    parts = []
    for item in error.errors()[:limit]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    more = error.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
