"""The fake Binance itself: its signature check against Binance's documented worked example, its timing
rule and its order rules. An adapter test is only as good as the fake it passes against."""

from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import requests

from tests.fakes.binance import (
    FakeBinance,
    Fault,
    fault_408,
    fault_503_unavailable,
    fault_503_unknown,
    fault_spot_busy,
    fault_waf_403,
    sign,
    signature_valid,
    total_params,
)
from tests.venues.binance.conftest import API_KEY, SECRET, signed

# Binance's API documentation, "SIGNED endpoint examples for POST /api/v3/order - HMAC Keys".
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PARAMS = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
# Example 3 of the same page: part in the query string, part in the body, concatenated without "&".
DOC_QUERY_PART = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
DOC_BODY_PART = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
DOC_MIXED_SIGNATURE = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"


def test_the_documented_example_is_plain_hmac_sha256() -> None:
    # Independent of the fake: the example is what the standard library computes.
    assert hmac.new(DOC_SECRET.encode(), DOC_PARAMS.encode(), hashlib.sha256).hexdigest() == DOC_SIGNATURE


def test_the_fake_signs_the_documented_example_as_binance_does() -> None:
    assert sign(DOC_SECRET, DOC_PARAMS) == DOC_SIGNATURE


@pytest.mark.parametrize(
    ("query", "body"),
    [
        (f"{DOC_PARAMS}&signature={DOC_SIGNATURE}", ""),  # example 1: all in the query string
        ("", f"{DOC_PARAMS}&signature={DOC_SIGNATURE}"),  # example 2: all in the body
        (DOC_QUERY_PART, f"{DOC_BODY_PART}&signature={DOC_MIXED_SIGNATURE}"),  # example 3: mixed
    ],
)
def test_the_fake_accepts_each_documented_example(query: str, body: str) -> None:
    assert signature_valid(DOC_SECRET, query, body)


def test_total_params_concatenate_query_and_body_without_a_separator() -> None:
    total, signature = total_params(DOC_QUERY_PART, f"{DOC_BODY_PART}&signature={DOC_MIXED_SIGNATURE}")

    assert total == DOC_QUERY_PART + DOC_BODY_PART
    assert signature == DOC_MIXED_SIGNATURE


@pytest.mark.parametrize(
    ("query", "body"),
    [
        (f"{DOC_PARAMS.replace('quantity=1', 'quantity=2')}&signature={DOC_SIGNATURE}", ""),  # tampered
        (f"{DOC_PARAMS}&signature={DOC_SIGNATURE.upper()[:-1]}0", ""),  # wrong signature
        (DOC_PARAMS, ""),  # no signature
        (DOC_QUERY_PART, f"{DOC_BODY_PART}&signature={DOC_SIGNATURE}"),  # mixed, signed as if joined by "&"
    ],
)
def test_the_fake_refuses_what_binance_refuses(query: str, body: str) -> None:
    assert not signature_valid(DOC_SECRET, query, body)


# --- over HTTP --------------------------------------------------------------------------------------


def test_a_signed_request_in_the_query_or_the_body_is_accepted(fake: FakeBinance) -> None:
    assert signed(fake, "GET", "/api/v3/account", {}).status_code == 200
    answer = signed(
        fake, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"},
        in_body=True,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert fake.spot_balance("BTC") == Decimal("0.001")


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"secret": "not-the-secret"}, 400, -1022),
        ({"key": "someone-elses-key"}, 401, -2015),
        ({"key": ""}, 401, -2014),
    ],
)
def test_bad_credentials_get_binances_codes(fake: FakeBinance, kwargs: dict[str, str], status: int, code: int) -> None:
    answer = signed(fake, "GET", "/api/v3/account", {}, **kwargs)  # type: ignore[arg-type]

    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert fake.requests[-1].api_key_ok is (kwargs.get("key") is None)


def test_the_timing_rule_is_binances(fake: FakeBinance) -> None:
    now = fake.server_ms()

    behind_within = signed(fake, "GET", "/api/v3/account", {"recvWindow": "5000"}, timestamp=now - 4000)
    behind_beyond = signed(fake, "GET", "/api/v3/account", {"recvWindow": "5000"}, timestamp=now - 6000)
    wider_window = signed(fake, "GET", "/api/v3/account", {"recvWindow": "60000"}, timestamp=now - 59000)
    ahead_ok = signed(fake, "GET", "/api/v3/account", {}, timestamp=fake.server_ms() + 500)
    ahead_too_far = signed(fake, "GET", "/api/v3/account", {}, timestamp=fake.server_ms() + 1500)
    too_wide = signed(fake, "GET", "/api/v3/account", {"recvWindow": "60001"})

    assert behind_within.status_code == 200
    assert behind_beyond.json() == {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    assert wider_window.status_code == 200
    assert ahead_ok.status_code == 200
    assert ahead_too_far.json()["code"] == -1021
    assert "ahead" in ahead_too_far.json()["msg"]
    assert too_wide.json()["code"] == -1131


def test_a_shifted_server_clock_refuses_a_correct_local_timestamp(fake: FakeBinance) -> None:
    fake.clock_offset_ms = 10_000

    answer = signed(fake, "GET", "/api/v3/account", {})

    assert answer.json()["code"] == -1021
    server = requests.get(f"{fake.spot_url}/v3/time", timeout=5).json()["serverTime"]
    assert server - int(time.time() * 1000) >= 9_000


def test_the_request_log_never_holds_the_signature_or_the_secret(fake: FakeBinance) -> None:
    signed(fake, "GET", "/api/v3/account", {})

    logged = repr(fake.requests)
    assert "signature" not in logged
    assert SECRET not in logged


# --- Spot orders -------------------------------------------------------------------------------------

SPOT = "/api/v3/order"


def spot_order(fake: FakeBinance, side: str, qty: str, symbol: str = "BTCUSDT", cid: str = "") -> requests.Response:
    params = {"symbol": symbol, "side": side, "type": "MARKET", "quantity": qty}
    if cid:
        params["newClientOrderId"] = cid
    return signed(fake, "POST", SPOT, params, in_body=True)


@pytest.mark.parametrize(
    ("qty", "message"),
    [
        ("0.000001", "Filter failure: LOT_SIZE"),  # below minQty
        ("0.000015", "Filter failure: LOT_SIZE"),  # not on the step
        ("0.00005", "Filter failure: NOTIONAL"),  # 3 USDT < 5
        ("200", "Filter failure: MARKET_LOT_SIZE"),  # above the market maximum of 100
    ],
)
def test_spot_filters_fail_with_binances_messages(fake: FakeBinance, qty: str, message: str) -> None:
    fake.set_spot_balance("USDT", "100000000")

    answer = spot_order(fake, "BUY", qty)

    assert answer.json() == {"code": -1013, "msg": message}
    assert fake.executions == []


def test_spot_market_orders_move_both_balances_at_the_set_price(fake: FakeBinance) -> None:
    fake.prices["BTCUSDT"] = Decimal(50000)

    bought = spot_order(fake, "BUY", "0.1", cid="cs-one")
    sold = spot_order(fake, "SELL", "0.04")

    assert bought.json()["status"] == "FILLED"
    assert bought.json()["clientOrderId"] == "cs-one"
    assert sold.status_code == 200
    assert fake.spot_balance("BTC") == Decimal("0.06")
    assert fake.spot_balance("USDT") == Decimal(100_000) - Decimal(5000) + Decimal(2000)


def test_spot_refuses_what_the_balance_cannot_pay(fake: FakeBinance) -> None:
    fake.set_spot_balance("USDT", "100")

    buy = spot_order(fake, "BUY", "0.01")  # 600 USDT
    sell = spot_order(fake, "SELL", "0.01")  # no BTC held

    for answer in (buy, sell):
        assert answer.json() == {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    assert fake.spot_balance("USDT") == Decimal(100)


def test_an_order_is_found_by_its_client_id_and_a_missing_one_is_2013(fake: FakeBinance) -> None:
    spot_order(fake, "BUY", "0.01", cid="cs-found")

    found = signed(fake, "GET", SPOT, {"symbol": "BTCUSDT", "origClientOrderId": "cs-found"})
    missing = signed(fake, "GET", SPOT, {"symbol": "BTCUSDT", "origClientOrderId": "cs-missing"})

    assert found.json()["status"] == "FILLED"
    assert Decimal(found.json()["executedQty"]) == Decimal("0.01")
    assert missing.json() == {"code": -2013, "msg": "Order does not exist."}


# --- USDⓈ-M orders -----------------------------------------------------------------------------------

FUT = "/fapi/v1/order"


def futures_order(fake: FakeBinance, side: str, qty: str, **extra: str) -> requests.Response:
    params = {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty, **extra}
    return signed(fake, "POST", FUT, params, in_body=True)


@pytest.mark.parametrize(
    ("qty", "code"),
    [("0", -4003), ("0.0015", -1111), ("0.0001", -1111), ("121", -4005), ("0.001", -4164)],
)
def test_futures_quantity_rules(fake: FakeBinance, qty: str, code: int) -> None:
    assert futures_order(fake, "BUY", qty).json()["code"] == code


def test_futures_step_and_minimum_after_a_rule_change(fake: FakeBinance) -> None:
    fake.set_filter("futures", "BTCUSDT", "MARKET_LOT_SIZE", stepSize="0.01", minQty="0.01")

    off_step = futures_order(fake, "BUY", "0.015")
    below_min = futures_order(fake, "BUY", "0.005")

    assert off_step.json() == {"code": -4023, "msg": "Quantity not increased by step size."}
    assert below_min.json()["code"] == -4004


def test_futures_min_notional_spares_reduce_only_orders(fake: FakeBinance) -> None:
    fake.set_position("BTCUSDT", "0.01")

    small_open = futures_order(fake, "BUY", "0.001")
    small_close = futures_order(fake, "SELL", "0.001", reduceOnly="true")

    assert small_open.json()["msg"] == "Order's notional must be no smaller than 100 (unless you choose reduce only)."
    assert small_close.status_code == 200
    assert fake.position("BTCUSDT") == Decimal("0.009")


def test_futures_reduce_only_never_opens_or_flips(fake: FakeBinance) -> None:
    fake.set_position("BTCUSDT", "0.01")

    growing = futures_order(fake, "BUY", "0.01", reduceOnly="true")
    too_big = futures_order(fake, "SELL", "0.05", reduceOnly="true", newOrderRespType="RESULT")

    assert growing.json()["code"] == -2022
    assert Decimal(too_big.json()["executedQty"]) == Decimal("0.01")
    assert fake.position("BTCUSDT") == 0


def test_futures_margin_is_checked(fake: FakeBinance) -> None:
    fake.futures_wallet = Decimal(100)

    answer = futures_order(fake, "BUY", "0.1")  # 6000 USDT at 20x needs 300

    assert answer.json() == {"code": -2019, "msg": "Margin is insufficient."}


def test_hedge_mode_wants_a_position_side_and_refuses_reduce_only(fake: FakeBinance) -> None:
    fake.dual_side = True

    no_side = futures_order(fake, "BUY", "0.01")
    with_reduce = futures_order(fake, "SELL", "0.01", positionSide="LONG", reduceOnly="true")
    long_leg = futures_order(fake, "BUY", "0.01", positionSide="LONG")
    short_leg = futures_order(fake, "SELL", "0.02", positionSide="SHORT")
    over_close = futures_order(fake, "SELL", "0.02", positionSide="LONG")

    assert no_side.json() == {"code": -4061, "msg": "Order's position side does not match user's setting."}
    assert with_reduce.json()["code"] == -1106
    assert long_leg.status_code == short_leg.status_code == 200
    assert over_close.json()["code"] == -2022
    assert (fake.position("BTCUSDT", "LONG"), fake.position("BTCUSDT", "SHORT")) == (Decimal("0.01"), Decimal("-0.02"))


def test_one_way_mode_refuses_a_position_side(fake: FakeBinance) -> None:
    assert futures_order(fake, "BUY", "0.01", positionSide="LONG").json()["code"] == -4061


def test_the_position_mode_changes_only_when_flat(fake: FakeBinance) -> None:
    fake.set_position("ETHUSDT", "1")

    refused = signed(fake, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"}, in_body=True)
    fake.set_position("ETHUSDT", "0")
    changed = signed(fake, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"}, in_body=True)

    assert refused.json()["code"] == -4068
    assert changed.status_code == 200
    assert signed(fake, "GET", "/fapi/v1/positionSide/dual", {}).json() == {"dualSidePosition": True}


# --- faults ------------------------------------------------------------------------------------------


def test_a_429_carries_retry_after_and_does_nothing(fake: FakeBinance) -> None:
    fake.inject("POST", FUT, Fault(status=429, code=-1003, msg="Too many requests.", retry_after=7))

    answer = futures_order(fake, "BUY", "0.01")

    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert fake.executions == []
    assert futures_order(fake, "BUY", "0.01").status_code == 200  # the fault was for one request only


def test_accept_then_time_out_executes_and_never_answers(fake: FakeBinance) -> None:
    fake.inject("POST", FUT, Fault(execute=True, stall=5))
    text = urlencode({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01", "timestamp": _now()})
    body = f"{text}&signature={sign(SECRET, text)}"
    headers = {"X-MBX-APIKEY": API_KEY, "Content-Type": "application/x-www-form-urlencoded"}

    with pytest.raises(requests.ReadTimeout):
        requests.post(fake.root_url + FUT, data=body, headers=headers, timeout=0.5)

    assert [e.qty for e in fake.executions] == [Decimal("0.01")]
    assert fake.position("BTCUSDT") == Decimal("0.01")


def test_a_dropped_connection_before_handling_executes_nothing(fake: FakeBinance) -> None:
    fake.inject("POST", FUT, Fault(drop=True))

    with pytest.raises(requests.ConnectionError):
        futures_order(fake, "BUY", "0.01")

    assert fake.executions == []


def _now() -> str:
    return str(int(time.time() * 1000))


def test_a_delayed_answer_comes_late_and_still_executes(fake: FakeBinance) -> None:
    fake.inject("POST", FUT, Fault(delay=0.3))
    sent = time.monotonic()

    answer = futures_order(fake, "BUY", "0.01")

    assert answer.status_code == 200
    assert time.monotonic() - sent >= 0.3
    assert fake.position("BTCUSDT") == Decimal("0.01")


# --- request weight ------------------------------------------------------------------------------------


def weight(answer: requests.Response) -> int:
    return int(answer.headers["X-MBX-USED-WEIGHT-1M"])


def test_every_answer_reports_the_ips_weight_this_minute(fake: FakeBinance) -> None:
    first = requests.get(f"{fake.spot_url}/v3/exchangeInfo", timeout=5)  # weight 20
    second = signed(fake, "GET", "/api/v3/account", {})  # 20
    one_price = requests.get(f"{fake.spot_url}/v3/ticker/price", params={"symbol": "BTCUSDT"}, timeout=5)  # 2
    all_prices = requests.get(f"{fake.spot_url}/v3/ticker/price", timeout=5)  # 4
    futures = signed(fake, "GET", "/fapi/v3/positionRisk", {})  # 5, counted apart from Spot

    assert [weight(a) for a in (first, second, one_price, all_prices)] == [20, 40, 42, 46]
    assert weight(futures) == 5


def test_other_programs_on_the_ip_count_too_and_the_limit_comes_from_exchange_info(fake: FakeBinance) -> None:
    fake.set_foreign_weight("futures", 1000)

    info = requests.get(f"{fake.futures_url}/v1/exchangeInfo", timeout=5)

    limits = [r for r in info.json()["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT"]
    assert limits == [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400}]
    assert weight(info) == 1001


def test_past_the_limit_a_429_then_a_ban_for_not_backing_off(fake: FakeBinance) -> None:
    fake.set_foreign_weight("spot", 5990)

    refused = signed(fake, "GET", "/api/v3/account", {})  # 20 more than the 6000 allow
    again = requests.get(f"{fake.spot_url}/v3/time", timeout=5)
    futures = requests.get(f"{fake.futures_url}/v1/time", timeout=5)

    assert refused.status_code == 429 and refused.json()["code"] == -1003
    assert "current limit is 6000 request weight per 1 MINUTE" in refused.json()["msg"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert again.status_code == 418 and "IP banned" in again.json()["msg"]
    assert int(again.headers["Retry-After"]) >= 119
    assert futures.status_code == 200  # USDⓈ-M keeps its own count


def test_the_all_symbols_ticker_lists_every_price(fake: FakeBinance) -> None:
    spot = requests.get(f"{fake.spot_url}/v3/ticker/price", timeout=5).json()
    futures = requests.get(f"{fake.futures_url}/v2/ticker/price", timeout=5).json()

    assert {row["symbol"]: row["price"] for row in spot}["BTCUSDT"] == "60000"
    assert {row["symbol"] for row in futures} == {"BTCUSDT", "ETHUSDT", "XRPUSDT"}


# --- symbol status -------------------------------------------------------------------------------------


def test_a_spot_symbol_in_break_is_listed_and_refuses_orders(fake: FakeBinance) -> None:
    fake.set_status("spot", "BNBUSDT", "BREAK")

    listed = requests.get(f"{fake.spot_url}/v3/exchangeInfo", timeout=5).json()["symbols"]
    answer = spot_order(fake, "BUY", "1", symbol="BNBUSDT")

    assert {s["symbol"]: s["status"] for s in listed}["BNBUSDT"] == "BREAK"
    assert answer.json() == {"code": -2010, "msg": "Market is closed."}
    assert fake.executions == []


def test_a_futures_symbol_settling_refuses_orders(fake: FakeBinance) -> None:
    fake.set_status("futures", "ETHUSDT", "SETTLING")

    answer = signed(fake, "POST", FUT, {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"},
                    in_body=True)  # fmt: skip

    assert answer.json() == {"code": -4140, "msg": "Invalid symbol status for opening position."}


def test_an_account_that_may_not_trade_is_refused_by_the_matching_engine(fake: FakeBinance) -> None:
    fake.spot_can_trade = False

    answer = spot_order(fake, "BUY", "0.01")

    assert answer.json() == {"code": -2010, "msg": "This account may not place or cancel orders."}


# --- Spot orders that end unfilled ---------------------------------------------------------------------


def test_a_market_order_larger_than_the_book_expires_partly_filled(fake: FakeBinance) -> None:
    fake.spot_liquidity["BTCUSDT"] = Decimal("0.004")

    answer = spot_order(fake, "BUY", "0.01", cid="cs-part").json()

    assert (answer["status"], Decimal(answer["executedQty"]), Decimal(answer["origQty"])) == (
        "EXPIRED", Decimal("0.004"), Decimal("0.01"),
    )  # fmt: skip
    assert [f["qty"] for f in answer["fills"]] == ["0.00400000"]
    assert fake.spot_balance("BTC") == Decimal("0.004")


def test_an_empty_book_expires_the_order_with_nothing_executed(fake: FakeBinance) -> None:
    fake.spot_liquidity["BTCUSDT"] = Decimal(0)

    answer = spot_order(fake, "BUY", "0.01").json()

    assert (answer["status"], Decimal(answer["executedQty"]), answer["fills"]) == ("EXPIRED", 0, [])
    assert fake.spot_balance("BTC") == 0 and fake.executions == []


def test_self_trade_prevention_expires_the_order_in_match(fake: FakeBinance) -> None:
    fake.spot_self_trade.add("BTCUSDT")

    answer = spot_order(fake, "BUY", "0.01")

    assert (answer.json()["status"], Decimal(answer.json()["executedQty"])) == ("EXPIRED_IN_MATCH", 0)
    assert fake.executions == []


def test_an_unfilled_spot_order_is_archived_after_90_days(fake: FakeBinance) -> None:
    fake.spot_liquidity["BTCUSDT"] = Decimal(0)
    spot_order(fake, "BUY", "0.01", cid="cs-old-unfilled")
    fake.spot_liquidity.clear()
    spot_order(fake, "BUY", "0.01", cid="cs-old-filled")

    fake.age_orders("spot", 91)
    unfilled = signed(fake, "GET", SPOT, {"symbol": "BTCUSDT", "origClientOrderId": "cs-old-unfilled"})
    filled = signed(fake, "GET", SPOT, {"symbol": "BTCUSDT", "origClientOrderId": "cs-old-filled"})

    assert unfilled.json() == {
        "code": -2026,
        "msg": "Order was canceled or expired with no executed qty over 90 days ago and has been archived.",
    }
    assert filled.json()["status"] == "FILLED"


# --- USDⓈ-M orders: late fills, the matching engine, throttling ----------------------------------------


def test_a_futures_market_order_is_answered_new_and_fills_later(fake: FakeBinance) -> None:
    fake.futures_fill_delay_s = 0.3

    answer = futures_order(fake, "BUY", "0.01", newClientOrderId="cs-late", newOrderRespType="RESULT").json()
    at_once = signed(fake, "GET", FUT, {"symbol": "BTCUSDT", "origClientOrderId": "cs-late"}).json()
    held_at_once = fake.position("BTCUSDT")
    time.sleep(0.6)
    later = signed(fake, "GET", FUT, {"symbol": "BTCUSDT", "origClientOrderId": "cs-late"}).json()

    assert (answer["status"], answer["executedQty"], answer["avgPrice"]) == ("NEW", "0", "0.00")
    assert at_once["status"] == "NEW" and held_at_once == 0
    assert (later["status"], Decimal(later["executedQty"]), Decimal(later["avgPrice"])) == (
        "FILLED", Decimal("0.01"), Decimal(60000),
    )  # fmt: skip
    assert fake.position("BTCUSDT") == Decimal("0.01")


def test_an_order_reaching_the_matching_engine_after_its_recv_window_is_refused(fake: FakeBinance) -> None:
    fake.matching_delay_ms = 3000

    late = futures_order(fake, "BUY", "0.01", recvWindow="2000")
    in_time = futures_order(fake, "BUY", "0.01", recvWindow="5000")

    assert late.json() == {"code": -5028, "msg": "Timestamp for this request is outside of the ME recvWindow."}
    assert in_time.status_code == 200
    assert len(fake.executions) == 1


def test_a_thin_book_refuses_market_orders(fake: FakeBinance) -> None:
    fake.futures_thin_book.add("BTCUSDT")

    answer = futures_order(fake, "BUY", "0.01")

    assert answer.json()["code"] == -4131
    assert "PERCENT_PRICE" in answer.json()["msg"]
    assert fake.executions == []


def test_throttling_refuses_orders_that_add_exposure_only(fake: FakeBinance) -> None:
    fake.set_position("BTCUSDT", "0.01")
    fake.futures_throttled = True

    opening = futures_order(fake, "BUY", "0.01")
    reducing = futures_order(fake, "SELL", "0.005", reduceOnly="true")
    fake.set_position("BTCUSDT", "0")
    fake.dual_side = True
    fake.set_position("BTCUSDT", "0.01", "LONG")
    hedge_open = futures_order(fake, "BUY", "0.01", positionSide="LONG")
    hedge_close = futures_order(fake, "SELL", "0.01", positionSide="LONG")

    for refused in (opening, hedge_open):
        assert refused.status_code == 503
        assert (
            refused.json()["code"] == -1008 and "Reduce-only/close-position orders are exempt" in refused.json()["msg"]
        )
    assert reducing.status_code == hedge_close.status_code == 200
    assert len(fake.executions) == 2


def test_a_hedge_mode_closing_order_is_exempt_from_the_minimum_notional(fake: FakeBinance) -> None:
    fake.dual_side = True
    fake.set_position("BTCUSDT", "0.001", "LONG")  # 60 USDT, below the minimum of 100

    opening = futures_order(fake, "BUY", "0.001", positionSide="LONG")
    closing = futures_order(fake, "SELL", "0.001", positionSide="LONG")

    assert opening.json()["code"] == -4164
    assert closing.status_code == 200
    assert fake.position("BTCUSDT", "LONG") == 0


def test_futures_lookups_keep_a_filled_order_past_3_days_and_forget_it_after_90(fake: FakeBinance) -> None:
    futures_order(fake, "BUY", "0.01", newClientOrderId="cs-filled")
    fake.age_orders("futures", 4)
    found_after_4_days = signed(fake, "GET", FUT, {"symbol": "BTCUSDT", "origClientOrderId": "cs-filled"})
    fake.age_orders("futures", 87)
    gone_after_91 = signed(fake, "GET", FUT, {"symbol": "BTCUSDT", "origClientOrderId": "cs-filled"})

    assert found_after_4_days.json()["status"] == "FILLED"
    assert gone_after_91.json() == {"code": -2013, "msg": "Order does not exist."}


# --- Binance's error answers, as the fault presets produce them -----------------------------------------


def test_the_408_and_503_answers_carry_binances_bodies(fake: FakeBinance) -> None:
    fake.inject("POST", FUT, fault_408(execute=True))
    fake.inject("POST", FUT, fault_503_unknown(execute=False))
    fake.inject("POST", FUT, fault_503_unavailable())
    fake.inject("POST", SPOT, fault_spot_busy(execute=False))

    timeout = futures_order(fake, "BUY", "0.01")
    unknown = futures_order(fake, "BUY", "0.01")
    unavailable = futures_order(fake, "BUY", "0.01")
    busy = spot_order(fake, "BUY", "0.01")

    assert timeout.status_code == 408 and timeout.json()["code"] == -1007
    assert len(fake.executions) == 1  # the backend placed it; the answer was lost
    assert unknown.status_code == 503
    assert set(unknown.json()) == {"timestamp", "path", "msg"}  # no code, as Binance's gateway answers
    assert unknown.json()["msg"] == "Unknown error, please check your request or try again later."
    assert unavailable.json()["msg"] == "Service Unavailable."
    assert (busy.status_code, busy.json()["code"]) == (503, -1008)
    assert len(fake.executions) == 1


def test_the_firewall_answers_in_html(fake: FakeBinance) -> None:
    fake.inject("GET", "/api/v3/account", fault_waf_403())

    answer = signed(fake, "GET", "/api/v3/account", {})

    assert answer.status_code == 403
    assert answer.headers["Content-Type"] == "text/html"
    assert answer.text.startswith("<!DOCTYPE HTML") and "Request blocked." in answer.text
