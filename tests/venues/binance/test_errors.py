"""Binance's error codes → what the engine does next. Real money rides on this table: an answer that may
hide an executed order must never read as "not sent", and a refusal must never be resent blindly."""

from __future__ import annotations

import json

import pytest
import requests
from binance.exceptions import BinanceAPIException, BinanceRequestException
from urllib3.exceptions import NewConnectionError, ProtocolError

from sidecar.errors import AuthError, OrderRejected, OutcomeUnknown, VenueError, VenueUnavailable
from sidecar.venues.binance.errors import classify


def api_error(status: int, code: int | None, msg: str = "", retry_after: str | None = None) -> BinanceAPIException:
    response = requests.Response()
    response.status_code = status
    body = json.dumps({"code": code, "msg": msg}) if code is not None else "<html>busy</html>"
    response._content = body.encode()
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return BinanceAPIException(response, status, body)


def kind(error: Exception, placing: bool) -> type[VenueError]:
    return type(classify(error, action="the request", placing=placing, host="127.0.0.1:1"))


@pytest.mark.parametrize(
    ("status", "code", "placing", "expected"),
    [
        # unknown outcome: an order may have executed
        (500, -1006, True, OutcomeUnknown),
        (408, -1007, True, OutcomeUnknown),
        (503, None, True, OutcomeUnknown),
        (502, None, True, OutcomeUnknown),
        (400, -4116, True, OutcomeUnknown),  # duplicate client id: the order exists, look it up
        # the same answers to a read did nothing
        (500, -1006, False, VenueUnavailable),
        (503, None, False, VenueUnavailable),
        # rate limits and bans
        (429, -1003, True, VenueUnavailable),
        (418, -1003, True, VenueUnavailable),
        (400, -1015, True, VenueUnavailable),
        # rejections
        (400, -2010, True, OrderRejected),
        (400, -2019, True, OrderRejected),
        (400, -1013, True, OrderRejected),
        (400, -4164, True, OrderRejected),
        (400, -1121, True, OrderRejected),
        (400, -1111, True, OrderRejected),
        (400, -4003, True, OrderRejected),
        (400, -4004, True, OrderRejected),
        (400, -4005, True, OrderRejected),
        (400, -4023, True, OrderRejected),
        (400, -4061, True, OrderRejected),
        (400, -1106, True, OrderRejected),
        # keys
        (401, -2015, True, AuthError),
        (400, -1022, False, AuthError),
        (401, -2014, False, AuthError),
        # a clock still refused after the resync
        (400, -1021, True, VenueUnavailable),
    ],
)
def test_binance_codes(status: int, code: int | None, placing: bool, expected: type[VenueError]) -> None:
    assert kind(api_error(status, code, "text"), placing) is expected


def test_retry_after_is_read_from_the_header() -> None:
    typed = classify(api_error(429, -1003, "Too many requests.", "17"), action="x", placing=True, host="h")

    assert isinstance(typed, VenueUnavailable)
    assert typed.retry_after == 17


def test_a_rejection_names_binances_text_and_the_remedy() -> None:
    typed = classify(api_error(400, -1013, "Filter failure: LOT_SIZE"), action="x", placing=True, host="h")

    assert str(typed).startswith("Filter failure: LOT_SIZE (code -1013, HTTP 400) — the quantity breaks")
    assert "csmc check --symbol" in str(typed)


def test_an_unreadable_answer_to_an_order_is_unknown() -> None:
    assert kind(BinanceRequestException("Invalid Response: <html>"), placing=True) is OutcomeUnknown


SIGNED_URL = "/api/v3/order?timestamp=1&signature=deadbeefcafe"


def transport(error: Exception) -> Exception:
    wrapped = requests.ConnectionError(error)
    wrapped.__context__ = error
    return wrapped


@pytest.mark.parametrize(
    ("error", "placing", "expected"),
    [
        (requests.ConnectTimeout(f"timeout {SIGNED_URL}"), True, VenueUnavailable),
        (transport(NewConnectionError(None, f"refused {SIGNED_URL}")), True, VenueUnavailable),  # type: ignore[arg-type]
        (requests.ReadTimeout(f"read timed out {SIGNED_URL}"), True, OutcomeUnknown),
        (transport(ProtocolError("Connection aborted.", ConnectionResetError())), True, OutcomeUnknown),
        (requests.ReadTimeout("read timed out"), False, VenueUnavailable),
    ],
)
def test_transport_failures_before_and_after_sending(error: Exception, placing: bool, expected: type) -> None:
    typed = classify(error, action="order cs1", placing=placing, host="127.0.0.1:9")

    assert type(typed) is expected
    assert "signature" not in str(typed)
    assert "deadbeef" not in str(typed)


@pytest.mark.parametrize(("placing", "expected"), [(True, OutcomeUnknown), (False, VenueUnavailable)])
def test_an_unexpected_failure_counts_as_possibly_sent_for_orders(placing: bool, expected: type) -> None:
    assert kind(KeyError("serverTime"), placing) is expected
