"""KuCoin's error codes → what the engine does next. Real money rides on this table: an answer that may hide
an executed order must never read as "not sent", and a refusal must never be resent blindly.

Each documented code is checked twice: as the classifier reads KuCoin's answer, and end to end, the answer
coming from the fake through the real SDK (which keeps the code only for HTTP 200 answers)."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from pydantic import SecretStr
from urllib3.exceptions import NewConnectionError, ProtocolError

from sidecar.config import KuCoinSettings
from sidecar.errors import AuthError, OrderRejected, OutcomeUnknown, VenueError, VenueUnavailable
from sidecar.model import OrderRequest, Side
from sidecar.venues.kucoin import KuCoinVenue
from sidecar.venues.kucoin.errors import Reply, classify, order_not_found
from sidecar.venues.transport import never_sent
from tests.fakes.kucoin import FakeKuCoin, Fault
from tests.secrets import find_secrets
from tests.venues.kucoin.conftest import API_KEY, PASSPHRASE, SECRET

R, U, K, A = OrderRejected, VenueUnavailable, OutcomeUnknown, AuthError

# code, HTTP status KuCoin sends it with, message, what an order gets, what a read gets.
CODES: list[tuple[str, int, str, type[VenueError], type[VenueError]]] = [
    ("400001", 401, "Please check the header of your request", A, A),
    ("400002", 400, "Invalid KC-API-TIMESTAMP", U, U),  # after the one resend with a re-read clock
    ("400003", 401, "KC-API-KEY not exists", A, A),
    ("400004", 401, "Invalid KC-API-PASSPHRASE", A, A),
    ("400005", 401, "Invalid KC-API-SIGN", A, A),
    ("400006", 401, "Invalid request ip, the current clientIp is:127.0.0.1", A, A),
    ("400007", 403, "Access denied, require more permission.", A, A),
    ("411100", 403, "User are frozen", A, A),
    ("400100", 200, "Order size increment invalid.", R, U),
    ("429000", 429, "Too Many Requests", U, U),
    ("500000", 500, "Internal Server Error", K, U),
    ("200004", 200, "Balance insufficient!", R, U),
    ("230003", 200, "Balance insufficient!", R, U),
    ("300000", 200, "Order invalid", R, U),
    ("300003", 200, "Balance insufficient. The order would cost 600.", R, U),
    ("330008", 200, "Your current margin and leverage have reached the maximum open limit.", R, U),
    ("330011", 200, "The order's position mode does not match your selected mode.", R, U),
    ("600101", 200, "The order funds should more then 0.1 USDT.", R, U),
    ("900001", 200, "symbol not exists", R, U),
    ("200001", 200, "Order creation for this pair suspended", R, U),
    ("200002", 200, "Too many requests", U, U),
    ("404000", 404, "Url Not Found", A, A),
    ("408000", 200, "Network timeout, please try again later", K, U),
]


def reply(status: int, code: str, msg: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, headers or {}, json.dumps({"code": code, "msg": msg}).encode())


def kind(answer: Reply, placing: bool) -> type[VenueError]:
    return type(classify(RuntimeError("x"), answer, action="order cs1", placing=placing, host="127.0.0.1:9"))


@pytest.mark.parametrize(("code", "status", "msg", "placing", "reading"), CODES, ids=[c[0] for c in CODES])
def test_each_code_whatever_the_http_status(
    code: str, status: int, msg: str, placing: type[VenueError], reading: type[VenueError]
) -> None:
    for http in {status, 200, 400}:  # the SDK loses the code on non-200: the classifier must not need the status
        assert issubclass(kind(reply(http, code, msg), placing=True), placing), (code, http)
        assert issubclass(kind(reply(http, code, msg), placing=False), reading), (code, http)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_without_a_code_leaves_an_order_unknown(status: int) -> None:
    assert kind(Reply(status, {}, b"<html>Bad Gateway</html>"), placing=True) is OutcomeUnknown
    assert kind(reply(status, "", "Service Unavailable"), placing=True) is OutcomeUnknown
    assert kind(reply(status, "", "Service Unavailable"), placing=False) is VenueUnavailable


def test_a_rate_limit_waits_for_kucoins_reset_header() -> None:
    typed = classify(
        RuntimeError(),
        reply(429, "429000", "Too Many Requests", {"gw-ratelimit-reset": "7250"}),
        action="x",
        placing=True,
        host="h",
    )

    assert isinstance(typed, VenueUnavailable)
    assert typed.retry_after == pytest.approx(7.25)
    assert "for 7 s" in str(typed)


def test_a_rate_limit_without_the_header_waits_kucoins_documented_block() -> None:
    typed = classify(RuntimeError(), reply(200, "200002", "Too many requests"), action="x", placing=False, host="h")

    assert isinstance(typed, VenueUnavailable) and typed.retry_after == 10.0


def test_a_duplicate_client_id_means_the_order_exists() -> None:
    answer = reply(200, "400100", "validation.createOrder.clientOidDuplicated")

    assert kind(answer, placing=True) is OutcomeUnknown


@pytest.mark.parametrize(
    ("code", "msg", "missing"),
    [
        ("100001", "error.getOrder.orderNotExist", True),
        ("400100", "order not exist.", True),
        ("400100", "order_not_exist", True),
        ("400100", "Parameter Error", False),
        ("400003", "KC-API-KEY not exists", False),
        ("900001", "symbol not exists", False),
        ("500000", "Internal Server Error", False),
    ],
)
def test_order_not_found_is_told_apart_from_other_refusals(code: str, msg: str, missing: bool) -> None:
    assert order_not_found(reply(200, code, msg)) is missing


def test_a_rejection_names_kucoins_text_and_the_remedy() -> None:
    typed = classify(RuntimeError(), reply(200, "230003", "Balance insufficient!"), action="x", placing=True, host="h")

    assert str(typed).startswith("Balance insufficient! (code 230003, HTTP 200) — the balance is insufficient.")
    assert "[mapping] multiplier" in str(typed)


def test_key_errors_say_which_setting_to_fix() -> None:
    for code, setting in (("400003", "api_key"), ("400004", "passphrase"), ("400005", "secret_key")):
        text = str(classify(RuntimeError(), reply(401, code, "x"), action="x", placing=False, host="h"))
        assert f"[kucoin] {setting}" in text, code


# --- transport failures ------------------------------------------------------------------------------


def wrapped(error: BaseException) -> Exception:
    """As the SDK raises it: RestError("Request failed: …") with the cause on __context__."""
    try:
        try:
            raise error
        except BaseException as inner:
            raise RuntimeError(f"Request failed: {inner}") from None
    except RuntimeError as outer:
        outer.__context__ = error
        return outer


@pytest.mark.parametrize(
    ("error", "placing", "expected"),
    [
        (requests.ConnectTimeout("connect timed out"), True, VenueUnavailable),
        (requests.ConnectionError(NewConnectionError(None, "refused")), True, VenueUnavailable),  # type: ignore[arg-type]
        (requests.ReadTimeout("read timed out"), True, OutcomeUnknown),
        (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError())), True, OutcomeUnknown),
        (requests.ReadTimeout("read timed out"), False, VenueUnavailable),
    ],
)
def test_transport_failures_before_and_after_sending(error: Exception, placing: bool, expected: type) -> None:
    typed = classify(wrapped(error), None, action="order cs1", placing=placing, host="127.0.0.1:9")

    assert type(typed) is expected
    assert never_sent(wrapped(error)) is (expected is VenueUnavailable and placing)


# --- through the SDK, from the fake -------------------------------------------------------------------


def settings(url: str, endpoint: str, **extra: Any) -> KuCoinSettings:
    values: dict[str, Any] = {
        "endpoint": endpoint,
        "api_url": url,
        "api_key": SecretStr(API_KEY),
        "secret_key": SecretStr(SECRET),
        "passphrase": SecretStr(PASSPHRASE),
        "request_timeout_s": 1.0,
    }
    return KuCoinSettings(**(values | extra))


@pytest.fixture
async def venue_of(fake: FakeKuCoin) -> AsyncIterator[Any]:
    """A connected venue of the market asked for."""
    opened: list[KuCoinVenue] = []

    async def connect(market: str, **extra: Any) -> KuCoinVenue:
        venue = KuCoinVenue(settings(fake.url(market), market, **extra))
        await venue.connect()
        opened.append(venue)
        return venue

    yield connect
    for venue in opened:
        await venue.close()


FUTURES_ONLY = {"300003", "330008", "330011"}


@pytest.mark.parametrize(("code", "status", "msg", "placing", "reading"), CODES, ids=[c[0] for c in CODES])
async def test_each_code_from_kucoin_through_the_sdk(
    fake: FakeKuCoin,
    venue_of: Any,
    code: str,
    status: int,
    msg: str,
    placing: type[VenueError],
    reading: type[VenueError],
) -> None:
    market = "futures" if code in FUTURES_ONLY else "spot"
    path = "/api/v1/orders" if market == "futures" else "/api/v1/hf/orders/sync"
    symbol = "XBTUSDTM" if market == "futures" else "BTC-USDT"
    for _ in range(2):  # a 400002 is answered by re-reading the clock and sending once more
        fake.inject("POST", path, Fault(status=status, code=code, msg=msg, reset_ms=3000), host=market)

    with pytest.raises(VenueError) as caught:
        await (await venue_of(market)).submit(OrderRequest(f"cs{code}", symbol, Side.BUY, Decimal("0.001")))

    assert isinstance(caught.value, placing), caught.value
    assert fake.executions == []
    assert find_secrets(str(caught.value)) == []
    if code == "429000":
        assert getattr(caught.value, "retry_after", None) == 3.0


@pytest.mark.parametrize(("code", "status", "msg", "placing", "reading"), CODES[:12], ids=[c[0] for c in CODES[:12]])
async def test_each_code_on_a_read_through_the_sdk(
    fake: FakeKuCoin,
    venue_of: Any,
    code: str,
    status: int,
    msg: str,
    placing: type[VenueError],
    reading: type[VenueError],
) -> None:
    for _ in range(2):
        fake.inject("GET", "/api/v1/accounts", Fault(status=status, code=code, msg=msg), host="spot")

    with pytest.raises(VenueError) as caught:
        await (await venue_of("spot")).positions()

    assert isinstance(caught.value, reading), caught.value


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_a_refused_connection_sent_nothing(closed_port: int) -> None:
    venue = KuCoinVenue(settings(f"http://127.0.0.1:{closed_port}", "spot"))

    with pytest.raises(VenueUnavailable, match="nothing was sent") as caught:
        await venue.connect()

    assert "KC-API" not in str(caught.value)


async def test_an_order_answered_with_a_bad_gateway_page_is_unknown(fake: FakeKuCoin, venue_of: Any) -> None:
    fake.inject("POST", "/api/v1/hf/orders/sync", Fault(status=502, raw=b"<html>502 Bad Gateway</html>"))

    with pytest.raises(OutcomeUnknown):
        await (await venue_of("spot")).submit(OrderRequest("cs502", "BTC-USDT", Side.BUY, Decimal("0.001")))


async def test_a_read_timeout_on_an_order_is_unknown_and_on_a_read_is_not(fake: FakeKuCoin, venue_of: Any) -> None:
    venue = await venue_of("futures", request_timeout_s=0.5)
    fake.inject("POST", "/api/v1/orders", Fault(execute=True, stall=3))
    fake.inject("GET", "/api/v1/positions", Fault(stall=3))

    with pytest.raises(OutcomeUnknown, match="timed out"):
        await venue.submit(OrderRequest("cstime", "XBTUSDTM", Side.BUY, Decimal("0.001")))
    with pytest.raises(VenueUnavailable, match="timed out"):
        await venue.positions()
