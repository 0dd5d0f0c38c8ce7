"""Kraken's error strings and statuses → what the engine does next. Real money rides on this table: an answer
that may hide an executed order must never read as "not sent", and a refusal must never be resent blindly."""

from __future__ import annotations

import pytest
import requests
from urllib3.exceptions import NewConnectionError, ProtocolError

from sidecar.errors import AuthError, OrderRejected, OutcomeUnknown, VenueError, VenueUnavailable
from sidecar.venues.kraken.errors import (
    classify_futures,
    classify_http,
    classify_send_status,
    classify_spot,
    classify_transport,
    spot_errors,
)

PAUSE = 12.0


def spot(error: str, placing: bool) -> VenueError:
    return classify_spot([error], action="order cs1", placing=placing, pause=PAUSE)


@pytest.mark.parametrize(
    ("error", "placing", "expected"),
    [
        # keys, signatures, permissions: fatal until the user acts
        ("EAPI:Invalid key", False, AuthError),
        ("EAPI:Invalid signature", True, AuthError),
        ("EGeneral:Permission denied", False, AuthError),
        ("EAccount:Invalid permissions", True, AuthError),
        ("EAuth:Account temporary disabled", False, AuthError),
        # nonces: the request did nothing; the user is told to give the copier its own key
        ("EAPI:Invalid nonce", True, VenueUnavailable),
        # rate limits: back off, nothing was done
        ("EAPI:Rate limit exceeded", True, VenueUnavailable),
        ("EGeneral:Too many requests", True, VenueUnavailable),
        ("EOrder:Rate limit exceeded", True, VenueUnavailable),
        ("EGeneral:Temporary lockout", False, VenueUnavailable),
        # the order may have executed
        ("EService:Unavailable", True, OutcomeUnknown),
        ("EService:Busy", True, OutcomeUnknown),
        ("EGeneral:Internal error", True, OutcomeUnknown),
        ("EGeneral:Internal error:120", True, OutcomeUnknown),
        ("EOrder:Something Kraken added later", True, OutcomeUnknown),
        # the same answers to a read did nothing
        ("EService:Unavailable", False, VenueUnavailable),
        ("EGeneral:Internal error", False, VenueUnavailable),
        # refused before the book: may be sent again later
        ("EService:Deadline elapsed", True, VenueUnavailable),
        ("EService:Market in cancel_only mode", True, VenueUnavailable),
        ("EService:Market in post_only mode", True, VenueUnavailable),
        # rejections
        ("EOrder:Insufficient funds", True, OrderRejected),
        ("EOrder:Order minimum not met", True, OrderRejected),
        ("EOrder:Cost minimum not met", True, OrderRejected),
        ("EOrder:Tick size check failed", True, OrderRejected),
        ("EGeneral:Invalid arguments:volume", True, OrderRejected),
        ("EQuery:Unknown asset pair", True, OrderRejected),
        ("EOrder:Orders limit exceeded", True, OrderRejected),
    ],
)
def test_spot_errors(error: str, placing: bool, expected: type[VenueError]) -> None:
    assert type(spot(error, placing)) is expected


@pytest.mark.parametrize("error", ["EAPI:Rate limit exceeded", "EGeneral:Too many requests"])
def test_a_rate_limit_pauses_for_the_configured_time(error: str) -> None:
    typed = spot(error, placing=True)

    assert isinstance(typed, VenueUnavailable)
    assert typed.retry_after == PAUSE
    assert f"for {PAUSE:.0f} s" in str(typed)


def test_a_lockout_pauses_at_least_a_minute() -> None:
    typed = spot("EGeneral:Temporary lockout", placing=False)

    assert isinstance(typed, VenueUnavailable)
    assert typed.retry_after == 60


def test_an_invalid_nonce_tells_the_user_to_give_the_copier_its_own_key() -> None:
    text = str(spot("EAPI:Invalid nonce", placing=True))

    assert "Another program" in text
    assert "key of its own" in text


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("EGeneral:Permission denied", "one_time_password"),
        ("EGeneral:Permission denied", "Create & Modify Orders"),
        ("EAPI:Invalid signature", "secret_key"),
        ("EAPI:Invalid key", "api_key"),
        ("EOrder:Order minimum not met", "csmc check"),
        ("EOrder:Insufficient funds", "[mapping] multiplier"),
    ],
)
def test_messages_say_what_to_change(error: str, says: str) -> None:
    assert says in str(spot(error, placing=True))


def test_warnings_are_not_errors() -> None:
    assert spot_errors(["WGeneral:Danger", "EOrder:Insufficient funds"]) == ["EOrder:Insufficient funds"]
    assert spot_errors(["WGeneral:Danger"]) == []


@pytest.mark.parametrize(
    ("code", "placing", "expected"),
    [
        ("authenticationError", False, AuthError),
        ("authenticationError", True, AuthError),
        ("accountInactive", False, AuthError),
        ("apiLimitExceeded", True, VenueUnavailable),
        ("nonceBelowThreshold", True, VenueUnavailable),
        ("nonceDuplicate", False, VenueUnavailable),
        ("Server Error", True, OutcomeUnknown),
        ("unknownError", True, OutcomeUnknown),
        ("Unavailable", True, OutcomeUnknown),
        ("Server Error", False, VenueUnavailable),
        ("marketUnavailable", True, VenueUnavailable),
        ("insufficientFunds", True, OrderRejected),
        ("invalidArgument", True, OrderRejected),
        ("invalidArgument", False, VenueUnavailable),
    ],
)
def test_futures_errors(code: str, placing: bool, expected: type[VenueError]) -> None:
    assert type(classify_futures(code, action="order cs1", placing=placing, pause=PAUSE)) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("clientOrderIdAlreadyExist", OutcomeUnknown),  # it exists: look it up, never send it again blindly
        ("wouldProcessAfterSpecifiedTime", VenueUnavailable),  # processBefore passed: not placed
        ("marketSuspended", VenueUnavailable),
        ("insufficientAvailableFunds", OrderRejected),
        ("wouldCauseLiquidation", OrderRejected),
        ("invalidSize", OrderRejected),
        ("tooSmall", OrderRejected),
        ("wouldNotReducePosition", OrderRejected),
        ("reduceOnlyWouldIncreasePosition", OrderRejected),
        ("iocWouldNotExecute", OrderRejected),
        ("maxPositionViolation", OrderRejected),
        ("somethingNew", OutcomeUnknown),
    ],
)
def test_send_statuses(status: str, expected: type[VenueError]) -> None:
    typed = classify_send_status(status, action="order cs1")

    assert type(typed) is expected
    assert status in str(typed)


@pytest.mark.parametrize(
    ("status", "placing", "expected"),
    [
        (520, True, OutcomeUnknown),
        (502, True, OutcomeUnknown),
        (504, True, OutcomeUnknown),
        (520, False, VenueUnavailable),
        (429, True, VenueUnavailable),
        (403, True, VenueUnavailable),
    ],
)
def test_http_statuses(status: int, placing: bool, expected: type[VenueError]) -> None:
    assert type(classify_http(status, action="order cs1", placing=placing, pause=PAUSE)) is expected


def connection_error(cause: Exception) -> Exception:
    wrapped = requests.ConnectionError(cause)
    wrapped.__context__ = cause
    return wrapped


@pytest.mark.parametrize(
    ("error", "placing", "expected"),
    [
        (requests.ConnectTimeout("connect timeout"), True, VenueUnavailable),
        (connection_error(NewConnectionError(None, "refused")), True, VenueUnavailable),  # type: ignore[arg-type]
        (requests.ReadTimeout("read timed out"), True, OutcomeUnknown),
        (connection_error(ProtocolError("Connection aborted.", ConnectionResetError())), True, OutcomeUnknown),
        (requests.ReadTimeout("read timed out"), False, VenueUnavailable),
        (ValueError("the SDK's own failure"), True, OutcomeUnknown),
        (ValueError("the SDK's own failure"), False, VenueUnavailable),
    ],
)
def test_transport_failures_before_and_after_sending(error: Exception, placing: bool, expected: type) -> None:
    typed = classify_transport(error, action="order cs1", placing=placing, host="127.0.0.1:9")

    assert type(typed) is expected
