"""The fake KuCoin itself: its signer against KuCoin's documented worked example, its gateway checks, its
order rules, and the shape of its answers against KuCoin's documented examples. An adapter test is only as
good as the fake it passes against."""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import importlib.resources
import json
import re
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.fakes.kucoin import FakeKuCoin, Fault, encrypted_passphrase, prehash, sign
from tests.venues.kucoin.conftest import SECRET, signed

D = Decimal

# KuCoin's API documentation, "Signing a Message": the worked example for POST /api/v1/deposit-addresses.
DOC_SECRET = "f03a5284-5c39-4aaa-9b20-dea10bdcf8e3"
DOC_TIMESTAMP = "1547015186532"
DOC_STRING_TO_SIGN = '1547015186532POST/api/v1/deposit-addresses{"currency":"BTC"}'
DOC_SIGN = "7QP/oM0ykidMdrfNEUmng8eZjg/ZvPafjIqmxiVfYu4="


def test_the_documented_example_is_base64_hmac_sha256() -> None:
    # Independent of the fake: the example is what the standard library computes.
    digest = hmac.new(DOC_SECRET.encode(), DOC_STRING_TO_SIGN.encode(), hashlib.sha256).digest()
    assert base64.b64encode(digest).decode() == DOC_SIGN


def test_the_fake_signs_the_documented_example_as_kucoin_does() -> None:
    assert prehash(DOC_TIMESTAMP, "post", "/api/v1/deposit-addresses", '{"currency":"BTC"}') == DOC_STRING_TO_SIGN
    assert sign(DOC_SECRET, DOC_STRING_TO_SIGN) == DOC_SIGN


def test_the_passphrase_of_key_versions_2_and_3_is_hmacd_with_the_secret() -> None:
    expected = base64.b64encode(hmac.new(b"s3cret", b"my passphrase", hashlib.sha256).digest()).decode()

    assert encrypted_passphrase("s3cret", "my passphrase") == expected


# --- the gateway ---------------------------------------------------------------------------------------


def test_a_signed_request_is_accepted_and_a_public_one_needs_no_signature(fake: FakeKuCoin) -> None:
    assert signed(fake, "GET", "/api/v1/accounts", {"type": "trade"}).json()["code"] == "200000"
    assert requests.get(f"{fake.spot_url}/api/v1/timestamp", timeout=5).json()["code"] == "200000"
    assert signed(fake, "GET", "/api/v1/positions", market="futures").json() == {"code": "200000", "data": []}


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"omit": "KC-API-SIGN"}, 401, "400001"),
        ({"key": "someone-elses-key"}, 401, "400003"),
        ({"passphrase": "not-the-passphrase"}, 401, "400004"),
        ({"secret": "not-the-secret"}, 401, "400005"),
        ({"version": "1"}, 401, "400004"),  # a version-1 key sends the passphrase in clear: not this key's
    ],
)
def test_bad_credentials_get_kucoins_codes(fake: FakeKuCoin, kwargs: dict[str, Any], status: int, code: str) -> None:
    answer = signed(fake, "GET", "/api/v1/accounts", {"type": "trade"}, **kwargs)

    assert (answer.status_code, answer.json()["code"]) == (status, code)


def test_the_timestamp_must_be_within_5_s_of_the_servers_clock(fake: FakeKuCoin) -> None:
    now = fake.server_ms()

    behind = signed(fake, "GET", "/api/v1/accounts", timestamp=now - 4000)
    ahead = signed(fake, "GET", "/api/v1/accounts", timestamp=now + 4000)
    too_old = signed(fake, "GET", "/api/v1/accounts", timestamp=now - 5500)
    too_new = signed(fake, "GET", "/api/v1/accounts", timestamp=fake.server_ms() + 5500)

    assert behind.status_code == ahead.status_code == 200
    for answer in (too_old, too_new):
        assert (answer.status_code, answer.json()) == (400, {"code": "400002", "msg": "Invalid KC-API-TIMESTAMP"})


def test_a_shifted_server_clock_refuses_a_correct_local_timestamp(fake: FakeKuCoin) -> None:
    fake.clock_offset_ms = 10_000

    answer = signed(fake, "GET", "/api/v1/accounts")

    assert answer.json()["code"] == "400002"
    server = requests.get(f"{fake.futures_url}/api/v1/timestamp", timeout=5).json()["data"]
    assert server - int(time.time() * 1000) >= 9_000


@pytest.mark.parametrize(
    ("setup", "status", "code"),
    [
        (lambda f: setattr(f, "ip_allowed", False), 401, "400006"),
        (lambda f: setattr(f, "frozen", True), 403, "411100"),
        (lambda f: f.permissions.discard("Spot"), 403, "400007"),
    ],
)
def test_ip_frozen_account_and_missing_permission(fake: FakeKuCoin, setup: Any, status: int, code: str) -> None:
    setup(fake)

    answer = signed(fake, "POST", "/api/v1/hf/orders/sync", spot_order("BTC-USDT", "buy", "0.001"))

    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert fake.executions == []


def test_unknown_paths_and_other_content_types_are_refused(fake: FakeKuCoin) -> None:
    assert signed(fake, "GET", "/api/v1/nowhere").json() == {"code": "404000", "msg": "Url Not Found"}
    # Futures' order path is not a Spot path: KuCoin's two hosts are two services.
    assert signed(fake, "GET", "/api/v1/contracts/active").status_code == 404


def test_the_request_log_never_holds_a_header_or_the_secret(fake: FakeKuCoin) -> None:
    signed(fake, "GET", "/api/v1/accounts", {"type": "trade"})

    logged = repr(fake.requests)
    assert SECRET not in logged
    assert "KC-API" not in logged
    assert fake.requests[-1].signed_ms > 0


# --- Spot orders -------------------------------------------------------------------------------------

SPOT_ORDER = "/api/v1/hf/orders/sync"


def spot_order(symbol: str, side: str, size: str, cid: str = "cs-1") -> dict[str, str]:
    return {"clientOid": cid, "symbol": symbol, "side": side, "type": "market", "size": size}


@pytest.mark.parametrize(
    ("symbol", "size", "code", "message"),
    [
        ("BTC-USDT", "0.000001", "400100", "Order size below the minimum requirement."),
        ("BTC-USDT", "0.000015", "400100", "Order size increment invalid."),
        ("KCS-USDT", "0.01", "600101", "The order funds should more then 0.1 USDT."),  # 0.1 USDT ≥ 0.1: see below
        ("DOGE-USDT", "1", "900001", "symbol not exists"),
        ("LUNA-USDT", "1", "200001", "Order creation for this pair suspended"),
    ],
)
def test_spot_rules_fail_with_kucoins_codes(fake: FakeKuCoin, symbol: str, size: str, code: str, message: str) -> None:
    fake.prices["KCS-USDT"] = D("9.99")  # 0.01 KCS is then 0.0999 USDT, below minFunds 0.1

    answer = signed(fake, "POST", SPOT_ORDER, spot_order(symbol, "buy", size))

    assert (answer.status_code, answer.json()) == (200, {"code": code, "msg": message})
    assert fake.executions == []


def test_spot_market_orders_move_both_balances_with_the_fee_in_the_quote(fake: FakeKuCoin) -> None:
    fake.prices["BTC-USDT"] = D(50000)

    bought = signed(fake, "POST", SPOT_ORDER, spot_order("BTC-USDT", "buy", "0.1", "cs-buy")).json()["data"]
    sold = signed(fake, "POST", SPOT_ORDER, spot_order("BTC-USDT", "sell", "0.04", "cs-sell")).json()["data"]

    assert (bought["status"], bought["dealSize"], bought["dealFunds"]) == ("done", "0.1", "5000")
    assert sold["dealSize"] == "0.04"
    assert fake.spot_balance("BTC") == D("0.06")
    # 0.1 % taker fee in USDT both ways: 5000 + 5 paid, 2000 − 2 received.
    assert fake.spot_balance("USDT") == D(100_000) - D(5005) + D(1998)


def test_spot_refuses_what_the_balance_cannot_pay(fake: FakeKuCoin) -> None:
    fake.set_spot_balance("USDT", "100")

    buy = signed(fake, "POST", SPOT_ORDER, spot_order("BTC-USDT", "buy", "0.01"))  # 600 USDT
    sell = signed(fake, "POST", SPOT_ORDER, spot_order("BTC-USDT", "sell", "0.01"))  # no BTC held

    for answer in (buy, sell):
        assert answer.json() == {"code": "230003", "msg": "Balance insufficient!"}
    assert fake.spot_balance("USDT") == D(100)


@pytest.mark.parametrize("style", ["error", "null"])
def test_a_spot_order_is_found_by_client_oid_and_a_missing_one_is_not(fake: FakeKuCoin, style: str) -> None:
    fake.not_found_style = style
    signed(fake, "POST", SPOT_ORDER, spot_order("BTC-USDT", "buy", "0.01", "cs-found"))

    found = signed(fake, "GET", "/api/v1/hf/orders/client-order/cs-found", {"symbol": "BTC-USDT"}).json()["data"]
    missing = signed(fake, "GET", "/api/v1/hf/orders/client-order/cs-missing", {"symbol": "BTC-USDT"}).json()

    assert (found["active"], found["dealSize"], found["feeCurrency"]) == (False, "0.01", "USDT")
    if style == "error":
        assert missing == {"code": "400100", "msg": "order not exist."}
    else:
        assert missing == {"code": "200000", "data": None}


def test_fills_list_the_executions_of_a_symbol_in_a_time_window(fake: FakeKuCoin) -> None:
    before = fake.server_ms()
    signed(fake, "POST", SPOT_ORDER, spot_order("BTC-USDT", "buy", "0.01", "cs-a"))
    signed(fake, "POST", SPOT_ORDER, spot_order("ETH-USDT", "buy", "0.1", "cs-b"))

    fills = signed(fake, "GET", "/api/v1/hf/fills", {"symbol": "BTC-USDT", "startAt": before}).json()["data"]
    later = signed(fake, "GET", "/api/v1/hf/fills", {"symbol": "BTC-USDT", "startAt": fake.server_ms() + 1000})

    (fill,) = fills["items"]
    order = signed(fake, "GET", f"/api/v1/hf/orders/{fill['orderId']}", {"symbol": "BTC-USDT"}).json()["data"]
    assert order["clientOid"] == "cs-a"
    assert later.json()["data"]["items"] == []


# --- Futures orders ----------------------------------------------------------------------------------

FUT = "/api/v1/orders"


def futures_order(fake: FakeKuCoin, side: str, size: Any, **extra: Any) -> requests.Response:
    body = {
        "clientOid": f"cf{time.monotonic_ns()}",
        "symbol": "XBTUSDTM",
        "side": side,
        "type": "market",
        "size": size,
        "marginMode": "ISOLATED",
        "leverage": 5,
        **extra,
    }
    return signed(fake, "POST", FUT, body, market="futures")


@pytest.mark.parametrize(("size", "code"), [(0, "400100"), ("2", "400100"), (1.5, "400100"), (1_000_001, "400100")])
def test_futures_sizes_are_whole_lots_within_the_maximum(fake: FakeKuCoin, size: Any, code: str) -> None:
    assert futures_order(fake, "buy", size).json()["code"] == code
    assert fake.executions == []


def test_futures_positions_are_kept_in_lots(fake: FakeKuCoin) -> None:
    futures_order(fake, "buy", 7)
    futures_order(fake, "sell", 2)

    (row,) = signed(fake, "GET", "/api/v1/positions", market="futures").json()["data"]
    assert (row["symbol"], row["currentQty"], row["positionSide"], row["marginMode"]) == (
        "XBTUSDTM",
        5,
        "BOTH",
        "ISOLATED",
    )


def test_the_margin_mode_must_be_the_contracts(fake: FakeKuCoin) -> None:
    fake.margin_modes["XBTUSDTM"] = "CROSS"

    isolated = futures_order(fake, "buy", 1)
    cross = futures_order(fake, "buy", 1, marginMode="CROSS")

    assert isolated.json()["code"] == "330005"
    assert cross.json()["code"] == "200000"


def test_an_isolated_opening_order_needs_a_leverage_and_margin(fake: FakeKuCoin) -> None:
    fake.futures_equity = D(100)

    no_leverage = futures_order(fake, "buy", 1, leverage=None)
    too_big = futures_order(fake, "buy", 10, leverage=1)  # 600 USDT at 1x
    fits = futures_order(fake, "buy", 10, leverage=10)

    assert no_leverage.json()["code"] == "400100"
    assert too_big.json() == {"code": "300003", "msg": "Balance insufficient. The order would cost 600."}
    assert fits.json()["code"] == "200000"


def test_the_open_value_limit_is_330008(fake: FakeKuCoin) -> None:
    fake.max_open_value["XBTUSDTM"] = D(100)

    assert futures_order(fake, "buy", 2).json()["code"] == "330008"  # 120 USDT


def test_reduce_only_is_clipped_to_the_position_and_needs_one(fake: FakeKuCoin) -> None:
    fake.set_position("XBTUSDTM", 3)

    growing = futures_order(fake, "buy", 1, reduceOnly=True)
    too_big = futures_order(fake, "sell", 5, reduceOnly=True)
    nothing_left = futures_order(fake, "sell", 1, reduceOnly=True)

    assert growing.json() == {"code": "300009", "msg": "No open positions to close."}
    assert too_big.json()["code"] == "200000"
    assert [e.size for e in fake.executions] == [D(3)]
    assert nothing_left.json()["code"] == "300009"
    assert fake.position("XBTUSDTM") == 0


def test_hedge_mode_wants_a_position_side_and_keeps_two_legs(fake: FakeKuCoin) -> None:
    fake.position_mode = 1

    no_side = futures_order(fake, "buy", 1)
    long_leg = futures_order(fake, "buy", 4, positionSide="LONG")
    short_leg = futures_order(fake, "sell", 2, positionSide="SHORT")
    close_long = futures_order(fake, "sell", 1, positionSide="LONG")
    mode = signed(fake, "GET", "/api/v2/position/getPositionMode", market="futures").json()["data"]

    assert no_side.json()["code"] == "330011"
    assert long_leg.json()["code"] == short_leg.json()["code"] == close_long.json()["code"] == "200000"
    assert (fake.position("XBTUSDTM", "LONG"), fake.position("XBTUSDTM", "SHORT")) == (3, -2)
    assert mode == {"positionMode": 1}
    rows = signed(fake, "GET", "/api/v1/positions", market="futures").json()["data"]
    assert sorted((r["positionSide"], r["currentQty"]) for r in rows) == [("LONG", 3), ("SHORT", -2)]


def test_one_way_mode_refuses_a_position_side(fake: FakeKuCoin) -> None:
    assert futures_order(fake, "buy", 1, positionSide="LONG").json()["code"] == "330011"


def test_the_position_mode_changes_only_without_positions(fake: FakeKuCoin) -> None:
    fake.set_position("ETHUSDTM", 1)

    refused = signed(fake, "POST", "/api/v2/position/switchPositionMode", {"positionMode": "1"}, market="futures")
    fake.set_position("ETHUSDTM", 0)
    changed = signed(fake, "POST", "/api/v2/position/switchPositionMode", {"positionMode": "1"}, market="futures")

    assert refused.json()["code"] != "200000"
    assert changed.json() == {"code": "200000", "data": {"positionMode": 1}}


def test_a_futures_order_is_found_by_client_oid_and_by_id(fake: FakeKuCoin) -> None:
    order_id = futures_order(fake, "buy", 2, clientOid="cf-found").json()["data"]["orderId"]

    by_oid = signed(fake, "GET", "/api/v1/orders/byClientOid", {"clientOid": "cf-found"}, market="futures").json()
    by_id = signed(fake, "GET", f"/api/v1/orders/{order_id}", market="futures").json()["data"]
    missing = signed(fake, "GET", "/api/v1/orders/byClientOid", {"clientOid": "cf-none"}, market="futures").json()

    assert (by_oid["data"]["status"], by_oid["data"]["filledSize"], by_oid["data"]["id"]) == ("done", 2, order_id)
    assert by_id["clientOid"] == "cf-found"
    assert missing == {"code": "100001", "msg": "error.getOrder.orderNotExist"}


# --- faults ------------------------------------------------------------------------------------------


def test_a_429_carries_the_reset_header_and_does_nothing(fake: FakeKuCoin) -> None:
    fake.inject("POST", SPOT_ORDER, Fault(status=429, code="429000", msg="Too Many Requests", reset_ms=7000))

    answer = signed(fake, "POST", SPOT_ORDER, spot_order("BTC-USDT", "buy", "0.01"))

    assert (answer.status_code, answer.json()) == (429, {"code": "429000", "msg": "Too Many Requests"})
    assert answer.headers["gw-ratelimit-reset"] == "7000"
    assert fake.executions == []
    assert signed(fake, "POST", SPOT_ORDER, spot_order("BTC-USDT", "buy", "0.01", "cs-2")).status_code == 200


def test_accept_then_time_out_executes_and_never_answers(fake: FakeKuCoin) -> None:
    fake.inject("POST", FUT, Fault(execute=True, stall=5))

    with pytest.raises(requests.ReadTimeout):
        body = {
            "clientOid": "cf-lost",
            "symbol": "XBTUSDTM",
            "side": "buy",
            "type": "market",
            "size": 1,
            "marginMode": "ISOLATED",
            "leverage": 5,
        }
        stamp = str(int(time.time() * 1000))
        text = json.dumps(body)
        headers = {
            "KC-API-KEY": fake._api_key,
            "KC-API-SIGN": sign(SECRET, prehash(stamp, "POST", FUT, text)),
            "KC-API-TIMESTAMP": stamp,
            "KC-API-PASSPHRASE": encrypted_passphrase(SECRET, fake._passphrase),
            "KC-API-KEY-VERSION": "3",
            "Content-Type": "application/json",
        }
        requests.post(fake.futures_url + FUT, data=text, headers=headers, timeout=0.5)

    assert [e.client_id for e in fake.executions] == ["cf-lost"]
    assert fake.position("XBTUSDTM") == 1


def test_a_dropped_connection_before_handling_executes_nothing(fake: FakeKuCoin) -> None:
    fake.inject("POST", SPOT_ORDER, Fault(drop=True))

    with pytest.raises(requests.ConnectionError):
        signed(fake, "POST", SPOT_ORDER, spot_order("BTC-USDT", "buy", "0.01"))

    assert fake.executions == []


def test_a_request_that_reaches_the_gateway_after_its_window_is_refused(fake: FakeKuCoin) -> None:
    fake.timestamp_window_ms = 300
    on_its_way = threading.Event()
    fake.inject("POST", SPOT_ORDER, Fault(hold=on_its_way))
    answer: list[requests.Response] = []
    sender = threading.Thread(
        target=lambda: answer.append(signed(fake, "POST", SPOT_ORDER, spot_order("BTC-USDT", "buy", "0.01")))
    )
    sender.start()
    time.sleep(0.5)
    on_its_way.set()
    sender.join(5)

    assert answer[0].json()["code"] == "400002"
    assert fake.executions == []


def test_a_request_admitted_in_time_executes_even_when_held_inside_past_its_window(fake: FakeKuCoin) -> None:
    fake.timestamp_window_ms = 300
    inside = threading.Event()
    fake.inject("POST", SPOT_ORDER, Fault(hold_admitted=inside))
    answer: list[requests.Response] = []
    sender = threading.Thread(
        target=lambda: answer.append(signed(fake, "POST", SPOT_ORDER, spot_order("BTC-USDT", "buy", "0.01")))
    )
    sender.start()
    time.sleep(0.5)
    inside.set()
    sender.join(5)

    assert answer[0].json()["code"] == "200000"
    assert len(fake.executions) == 1


# --- answers have the shape of KuCoin's documented examples ------------------------------------------


def documented(module: str, test: str) -> Any:
    """KuCoin's documented example answer, as kucoin-universal-sdk's generated test `test` in `module` holds
    it (generated from KuCoin's OpenAPI specification). Read from the pinned, installed SDK."""
    source = (importlib.resources.files("kucoin_universal_sdk") / module).read_text(encoding="utf-8")
    found = re.search(rf"def {test}\(self\):.*?\n\s+data = (\".*?\")\n", source, re.S)
    assert found, f"{test} not in {module}"
    return json.loads(ast.literal_eval(found.group(1)))["data"]


def keys_of(value: Any) -> set[str]:
    row = value[0] if isinstance(value, list) else value
    return set(row)


def fake_answers(fake: FakeKuCoin) -> dict[str, Any]:
    spot_id = signed(fake, "POST", SPOT_ORDER, spot_order("BTC-USDT", "buy", "0.01", "cs-shape")).json()["data"]
    futures_id = futures_order(fake, "buy", 1, clientOid="cf-shape").json()["data"]
    get_spot = lambda path, params=None: signed(fake, "GET", path, params).json()["data"]  # noqa: E731
    get_fut = lambda path, params=None: signed(fake, "GET", path, params, market="futures").json()["data"]  # noqa: E731
    return {
        "spot symbols": get_spot("/api/v2/symbols"),
        "spot tickers": get_spot("/api/v1/market/allTickers"),
        "spot ticker rows": get_spot("/api/v1/market/allTickers")["ticker"],
        "spot ticker": get_spot("/api/v1/market/orderbook/level1", {"symbol": "BTC-USDT"}),
        "spot accounts": get_spot("/api/v1/accounts", {"type": "trade"}),
        "api key": get_spot("/api/v1/user/api-key"),
        "spot order sync": spot_id,
        "spot order": get_spot("/api/v1/hf/orders/client-order/cs-shape", {"symbol": "BTC-USDT"}),
        "spot order by id": get_spot(f"/api/v1/hf/orders/{spot_id['orderId']}", {"symbol": "BTC-USDT"}),
        "spot fills": get_spot("/api/v1/hf/fills", {"symbol": "BTC-USDT"})["items"],
        "contracts": get_fut("/api/v1/contracts/active"),
        "futures tickers": get_fut("/api/v1/allTickers"),
        "futures ticker": get_fut("/api/v1/ticker", {"symbol": "XBTUSDTM"}),
        "futures account": get_fut("/api/v1/account-overview", {"currency": "USDT"}),
        "positions": get_fut("/api/v1/positions"),
        "margin mode": get_fut("/api/v2/position/getMarginMode", {"symbol": "XBTUSDTM"}),
        "futures order add": futures_id,
        "futures order": get_fut("/api/v1/orders/byClientOid", {"clientOid": "cf-shape"}),
        "futures order by id": get_fut(f"/api/v1/orders/{futures_id['orderId']}"),
        "futures fills": get_fut("/api/v1/fills", {"symbol": "XBTUSDTM"}),
        "futures fill rows": get_fut("/api/v1/fills", {"symbol": "XBTUSDTM"})["items"],
    }


DOCUMENTED = [
    ("spot symbols", "generate/spot/market/api_market_test.py", "test_get_all_symbols_resp_model"),
    ("spot tickers", "generate/spot/market/api_market_test.py", "test_get_all_tickers_resp_model"),
    ("spot ticker", "generate/spot/market/api_market_test.py", "test_get_ticker_resp_model"),
    ("spot accounts", "generate/account/account/api_account_test.py", "test_get_spot_account_list_resp_model"),
    ("api key", "generate/account/account/api_account_test.py", "test_get_apikey_info_resp_model"),
    ("spot order sync", "generate/spot/order/api_order_test.py", "test_add_order_sync_resp_model"),
    ("spot order", "generate/spot/order/api_order_test.py", "test_get_order_by_client_oid_resp_model"),
    ("spot order by id", "generate/spot/order/api_order_test.py", "test_get_order_by_order_id_resp_model"),
    ("contracts", "generate/futures/market/api_market_test.py", "test_get_all_symbols_resp_model"),
    ("futures tickers", "generate/futures/market/api_market_test.py", "test_get_all_tickers_resp_model"),
    ("futures ticker", "generate/futures/market/api_market_test.py", "test_get_ticker_resp_model"),
    ("futures account", "generate/account/account/api_account_test.py", "test_get_futures_account_resp_model"),
    ("positions", "generate/futures/positions/api_positions_test.py", "test_get_position_list_resp_model"),
    ("margin mode", "generate/futures/positions/api_positions_test.py", "test_get_margin_mode_resp_model"),
    ("futures order add", "generate/futures/order/api_order_test.py", "test_add_order_resp_model"),
    ("futures order", "generate/futures/order/api_order_test.py", "test_get_order_by_client_oid_resp_model"),
    ("futures order by id", "generate/futures/order/api_order_test.py", "test_get_order_by_order_id_resp_model"),
    ("futures fills", "generate/futures/order/api_order_test.py", "test_get_trade_history_resp_model"),
]


def test_every_answer_has_the_fields_of_kucoins_documented_example(fake: FakeKuCoin) -> None:
    answers = fake_answers(fake)
    missing = {}
    for name, module, test in DOCUMENTED:
        lacking = keys_of(documented(module, test)) - keys_of(answers[name])
        if lacking:
            missing[name] = sorted(lacking)
    rows = {
        "spot ticker rows": documented(DOCUMENTED[1][1], DOCUMENTED[1][2])["ticker"],
        "spot fills": documented("generate/spot/order/api_order_test.py", "test_get_trade_history_resp_model")["items"],
        "futures fill rows": documented(DOCUMENTED[-1][1], DOCUMENTED[-1][2])["items"],
    }
    for name, example in rows.items():
        lacking = keys_of(example) - keys_of(answers[name])
        if lacking:
            missing[name] = sorted(lacking)

    assert missing == {}


def test_numbers_are_strings_or_json_numbers_where_kucoin_documents_them(fake: FakeKuCoin) -> None:
    """The adapter must read both: spot sizes come as strings, futures rules and positions as numbers."""
    answers = fake_answers(fake)
    example = documented(DOCUMENTED[8][1], DOCUMENTED[8][2])[0]

    contract = next(c for c in answers["contracts"] if c["symbol"] == "XBTUSDTM")
    for name in ("multiplier", "lotSize", "maxOrderQty", "tickSize"):
        assert type(contract[name]) is type(example[name]), name
    assert isinstance(answers["spot symbols"][0]["baseIncrement"], str)
    assert isinstance(answers["positions"][0]["currentQty"], int)
