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


def api_error(
    status: int, code: int | None, msg: str = "", retry_after: str | None = None, *, body: str | None = None
) -> BinanceAPIException:
    """What python-binance raises for an error answer: `body` as sent, else {code, msg}, else an HTML page."""
    response = requests.Response()
    response.status_code = status
    if body is None:
        body = json.dumps({"code": code, "msg": msg}) if code is not None else "<html>busy</html>"
    response._content = body.encode()
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return BinanceAPIException(response, status, body)


def gateway_503(msg: str) -> BinanceAPIException:
    """A 503 as Binance's USDⓈ-M gateway sends it: no code, a timestamp and the path."""
    return api_error(503, None, body=json.dumps({"timestamp": 1609300986882, "path": "/fapi/v1/order", "msg": msg}))


def kind(error: Exception, placing: bool, futures: bool = False) -> type[VenueError]:
    return type(classify(error, action="the request", placing=placing, host="127.0.0.1:1", futures=futures))


UNKNOWN_503 = "Unknown error, please check your request or try again later."
THROTTLED = (
    "Request throttled by system-level protection. Reduce-only/close-position orders are exempt. Please try again."
)
SPOT_BUSY = "Server is currently overloaded with other requests. Please try again in a few minutes."
INTERNAL = "Internal error; unable to process your request. Please try again."


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


@pytest.mark.parametrize(
    ("error", "futures", "placing", "expected"),
    [
        # Spot: "HTTP 5XX … the execution status is UNKNOWN and could have been a success", whatever the code.
        (api_error(503, -1008, SPOT_BUSY), False, True, OutcomeUnknown),
        (gateway_503("Service Unavailable."), False, True, OutcomeUnknown),
        (api_error(500, -1001, INTERNAL), False, True, OutcomeUnknown),
        (api_error(408, -1007, "Timeout waiting for response from backend server."), False, True, OutcomeUnknown),
        (api_error(503, -1008, SPOT_BUSY), False, False, VenueUnavailable),  # a read did nothing
        # USDⓈ-M: the kinds of 503 of Binance's futures documentation.
        (gateway_503(UNKNOWN_503), True, True, OutcomeUnknown),
        (gateway_503("Service Unavailable."), True, True, VenueUnavailable),
        (api_error(503, -1001, INTERNAL), True, True, VenueUnavailable),
        (api_error(503, -1008, THROTTLED), True, True, VenueUnavailable),
        (api_error(408, -1007, "Timeout waiting for response from backend server."), True, True, OutcomeUnknown),
        (api_error(500, None, body='{"msg": "Request occur unknown error."}'), True, True, OutcomeUnknown),
        (api_error(502, None, body="<html><body>502 Bad Gateway</body></html>"), True, True, OutcomeUnknown),
        (gateway_503(UNKNOWN_503), True, False, VenueUnavailable),
    ],
)
def test_server_side_answers_spot_and_futures(
    error: BinanceAPIException, futures: bool, placing: bool, expected: type[VenueError]
) -> None:
    assert kind(error, placing, futures) is expected


def test_a_futures_throttle_says_nothing_was_executed() -> None:
    typed = classify(api_error(503, -1008, THROTTLED), action="order cs1", placing=True, host="h", futures=True)

    assert isinstance(typed, VenueUnavailable)
    assert "nothing was executed" in str(typed)


def test_the_firewalls_html_page_is_never_shown() -> None:
    page = "<!DOCTYPE HTML><HTML><TITLE>ERROR: The request could not be satisfied</TITLE></HTML>"
    typed = classify(api_error(403, None, body=page), action="order cs1", placing=True, host="h")

    assert isinstance(typed, VenueUnavailable)
    assert "firewall" in str(typed) and "nothing was executed" in str(typed)
    assert "<" not in str(typed) and "satisfied" not in str(typed)


def test_a_gateways_html_page_is_not_quoted_either() -> None:
    typed = classify(api_error(502, None, body="<html>502 Bad Gateway</html>"), action="order cs1", placing=True,
                     host="h", futures=True)  # fmt: skip

    assert isinstance(typed, OutcomeUnknown)
    assert "HTTP 502" in str(typed) and "<" not in str(typed)


@pytest.mark.parametrize(
    ("text", "expected", "says", "never"),
    [
        ("Account has insufficient balance for requested action.", OrderRejected, "balance is insufficient", ""),
        ("Market is closed.", OrderRejected, "not trading this symbol right now", "balance"),
        ("This account may not place or cancel orders.", AuthError, "contact Binance support", "balance"),
        ("This action is disabled on this account.", AuthError, "contact Binance support", "balance"),
        ("This symbol is not permitted for this account.", OrderRejected, "may not trade this symbol", "balance"),
        ("Duplicate order sent.", OutcomeUnknown, "already holds an order", ""),
        ("Something Binance says one day.", OrderRejected, "matching engine refused", "balance"),
    ],
)
def test_spot_2010_is_explained_by_its_text(text: str, expected: type[VenueError], says: str, never: str) -> None:
    typed = classify(api_error(400, -2010, text), action="order cs1", placing=True, host="h")

    assert type(typed) is expected
    assert says in str(typed)
    assert text in str(typed)
    assert not never or never not in str(typed)


def test_5028_is_not_executed_and_says_why() -> None:
    error = api_error(400, -5028, "Timestamp for this request is outside of the ME recvWindow.")
    typed = classify(error, action="order cs1", placing=True, host="h", futures=True)

    assert isinstance(typed, VenueUnavailable)
    assert "matching engine" in str(typed) and "not executed" in str(typed)
    assert "recv_window_ms" in str(typed)


def test_4131_names_the_price_protection() -> None:
    error = api_error(400, -4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit")
    typed = classify(error, action="order cs1", placing=True, host="h", futures=True)

    assert isinstance(typed, OrderRejected)
    assert "PERCENT_PRICE" in str(typed) and "thin or moving fast" in str(typed)
    assert "Check the order against" not in str(typed)  # not the generic advice


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
