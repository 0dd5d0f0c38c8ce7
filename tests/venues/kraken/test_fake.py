"""The fake Kraken itself: its signers against Kraken's documented example, its key, nonce and two-factor
checks, and its order rules. An adapter test is only as good as the fake it passes against."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from kraken.base_api import FuturesClient, SpotClient

from tests.fakes.kraken import ApiKey, FakeKraken, futures_sign, spot_sign
from tests.venues.kraken.conftest import API_KEY, OTP, SECRET, futures_private, nonce, spot_private

D = Decimal

# Kraken's "Spot REST Authentication" guide, its worked example of API-Sign for an AddOrder request.
DOC_SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
DOC_PATH = "/0/private/AddOrder"
DOC_NONCE = "1616492376594"
DOC_BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
DOC_SIGNATURE = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="


def test_the_spot_signer_reproduces_krakens_documented_example() -> None:
    assert spot_sign(DOC_SECRET, DOC_PATH, DOC_NONCE, DOC_BODY) == DOC_SIGNATURE


def test_python_kraken_sdk_signs_the_documented_example_the_same_way() -> None:
    client = SpotClient(key="k", secret=DOC_SECRET)

    assert client._get_kraken_signature(url_path=DOC_PATH, data=DOC_BODY, nonce=int(DOC_NONCE)) == DOC_SIGNATURE


def test_the_futures_signer_follows_krakens_documented_steps() -> None:
    """Kraken Futures documents the Authent steps but publishes no worked example: the steps are done here one
    by one with the standard library, and python-kraken-sdk's own signer must agree."""
    post_data = "orderType=mkt&symbol=PF_XBTUSD&side=buy&size=0.001&cliOrdId=cs1"
    nonce_value = "1616492376594000"
    # 1. concatenate postData + Nonce + endpointPath (without "/derivatives"); 2. SHA-256 it;
    # 3. base64-decode the private key; 4. HMAC-SHA-512 the hash with it; 5. base64-encode the result.
    message = (post_data + nonce_value + "/api/v3/sendorder").encode()
    step_by_step = base64.b64encode(
        hmac.new(base64.b64decode(DOC_SECRET), hashlib.sha256(message).digest(), hashlib.sha512).digest()
    ).decode()
    sdk = FuturesClient(key="k", secret=DOC_SECRET)._get_kraken_futures_signature(
        "/derivatives/api/v3/sendorder", post_data, nonce_value
    )

    assert futures_sign(DOC_SECRET, "/derivatives/api/v3/sendorder", nonce_value, post_data) == step_by_step
    assert sdk == step_by_step


# --- Spot authentication over HTTP ---------------------------------------------------------------------


def test_a_correctly_signed_spot_request_is_answered(fake: FakeKraken) -> None:
    answer = spot_private(fake, "/0/private/Balance")

    assert answer.status_code == 200
    assert answer.json() == {"error": [], "result": {"ZUSD": "100000.0000"}}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"key": "someone-elses-key"}, "EAPI:Invalid key"),
        ({"secret": base64.b64encode(b"not the private key").decode()}, "EAPI:Invalid signature"),
        ({"nonce_value": "12"}, "EAPI:Invalid nonce"),  # below the one accepted just before
    ],
)
def test_bad_credentials_and_old_nonces_get_krakens_errors(
    fake: FakeKraken, kwargs: dict[str, str], error: str
) -> None:
    assert spot_private(fake, "/0/private/Balance").json()["error"] == []

    answer = spot_private(fake, "/0/private/Balance", **kwargs)

    assert answer.status_code == 200
    assert answer.json() == {"error": [error]}


def test_a_nonce_must_exceed_the_last_one_accepted_for_the_key(fake: FakeKraken) -> None:
    first = nonce()

    accepted = spot_private(fake, "/0/private/Balance", nonce_value=first)
    replayed = spot_private(fake, "/0/private/Balance", nonce_value=first)
    later = spot_private(fake, "/0/private/Balance", nonce_value=str(int(first) + 1))

    assert accepted.json()["error"] == []
    assert replayed.json() == {"error": ["EAPI:Invalid nonce"]}
    assert later.json()["error"] == []


def test_a_key_with_a_two_factor_password_needs_otp(fake: FakeKraken) -> None:
    fake.keys[API_KEY].otp = OTP

    missing = spot_private(fake, "/0/private/Balance")
    wrong = spot_private(fake, "/0/private/Balance", {"otp": "000000"})
    given = spot_private(fake, "/0/private/Balance", {"otp": OTP})

    assert missing.json() == {"error": ["EGeneral:Permission denied"]}
    assert wrong.json() == {"error": ["EAPI:Invalid signature"]}
    assert given.json()["error"] == []
    assert fake.requests[-1].otp_sent
    assert "otp" not in fake.requests[-1].params  # the log never holds the password


def test_a_key_without_the_permission_is_denied(fake: FakeKraken) -> None:
    fake.keys[API_KEY] = ApiKey(SECRET, permissions=frozenset({"funds"}))

    assert spot_private(fake, "/0/private/Balance").json()["error"] == []
    refused = spot_private(fake, "/0/private/AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "market",
                                                         "volume": "0.001"})  # fmt: skip

    assert refused.json() == {"error": ["EGeneral:Permission denied"]}
    assert fake.executions == []


# --- Spot data and orders ------------------------------------------------------------------------------


def test_assets_and_pairs_use_krakens_names(fake: FakeKraken) -> None:
    assets = requests.get(f"{fake.url}/0/public/Assets", timeout=5).json()["result"]
    pairs = requests.get(f"{fake.url}/0/public/AssetPairs", timeout=5).json()["result"]
    ticker = requests.get(f"{fake.url}/0/public/Ticker?pair=XBTUSD,ETHUSD", timeout=5).json()["result"]

    assert assets["XXBT"]["altname"] == "XBT"
    assert assets["ZUSD"]["altname"] == "USD"
    btc = pairs["XXBTZUSD"]
    assert (btc["altname"], btc["base"], btc["quote"], btc["lot_decimals"], btc["ordermin"], btc["status"]) == (
        "XBTUSD", "XXBT", "ZUSD", 8, "0.00005", "online",
    )  # fmt: skip
    assert set(ticker) == {"XXBTZUSD", "XETHZUSD"}  # answers name pairs by their key, whatever was asked
    assert ticker["XXBTZUSD"]["c"][0] == "60000"


def add_order(fake: FakeKraken, **params: str) -> requests.Response:
    fields = {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.001"} | params
    return spot_private(fake, "/0/private/AddOrder", fields)


def test_a_market_order_fills_at_the_price_and_charges_the_fee_in_the_quote(fake: FakeKraken) -> None:
    answer = add_order(fake, cl_ord_id="cs-one", volume="0.01")

    result = answer.json()["result"]
    assert result["descr"] == {"order": "buy 0.01000000 XBTUSD @ market"}
    (txid,) = result["txid"]
    assert fake.balance("XXBT") == D("0.01")
    assert fake.balance("ZUSD") == D(100_000) - D(600) - D("1.5")
    closed = spot_private(fake, "/0/private/ClosedOrders", {"cl_ord_id": "cs-one"}).json()["result"]["closed"]
    assert closed[txid]["status"] == "closed"
    assert closed[txid]["vol_exec"] == "0.01000000"
    assert closed[txid]["cl_ord_id"] == "cs-one"
    assert spot_private(fake, "/0/private/OpenOrders", {"cl_ord_id": "cs-one"}).json()["result"] == {"open": {}}


def test_a_sell_pays_the_fee_in_base_unless_fciq_asks_for_the_quote(fake: FakeKraken) -> None:
    fake.set_balance("XXBT", "1")

    add_order(fake, type="sell", volume="0.1")
    add_order(fake, type="sell", volume="0.1", oflags="fciq")

    assert fake.balance("XXBT") == D("1") - D("0.1") - D("0.00025") - D("0.1")
    assert fake.balance("ZUSD") == D(100_000) + D(6000) + D(6000) - D(15)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"volume": "0.00001"}, "EOrder:Order minimum not met"),
        ({"volume": "0.000050001"}, "EGeneral:Invalid arguments:volume"),  # more decimals than lot_decimals
        ({"pair": "XBTUSD", "volume": "5"}, "EOrder:Insufficient funds"),  # 300000 USD
        ({"pair": "DOGEUSD"}, "EQuery:Unknown asset pair"),
        ({"type": "sell"}, "EOrder:Insufficient funds"),  # no BTC held
    ],
)
def test_orders_breaking_the_rules_are_refused(fake: FakeKraken, params: dict[str, str], error: str) -> None:
    answer = add_order(fake, **params)

    assert answer.json() == {"error": [error]}
    assert fake.executions == []


def test_a_cost_below_costmin_is_refused(fake: FakeKraken) -> None:
    fake.set_pair("XXBTZUSD", costmin="5")

    assert add_order(fake, volume="0.00005").json() == {"error": ["EOrder:Cost minimum not met"]}  # 3 USD


def test_the_deadline_is_honoured(fake: FakeKraken) -> None:
    now = datetime.now(UTC)
    passed = (now - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    too_far = (now + timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fine = (now + timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert add_order(fake, deadline=passed).json() == {"error": ["EService:Deadline elapsed"]}
    assert add_order(fake, deadline=too_far).json() == {"error": ["EGeneral:Invalid arguments:deadline"]}
    assert fake.executions == []
    assert add_order(fake, deadline=fine).json()["error"] == []


def test_validate_only_places_nothing_and_has_no_txid(fake: FakeKraken) -> None:
    answer = add_order(fake, validate="true")

    assert answer.json() == {"error": [], "result": {"descr": {"order": "buy 0.00100000 XBTUSD @ market"}}}
    assert fake.executions == []


def test_a_pair_in_cancel_only_mode_takes_no_order(fake: FakeKraken) -> None:
    fake.set_pair("XXBTZUSD", status="cancel_only")

    assert add_order(fake).json() == {"error": ["EService:Market in cancel_only mode"]}


# --- Futures -------------------------------------------------------------------------------------------

V3 = "/derivatives/api/v3"


def send_order(fake: FakeKraken, **params: str) -> requests.Response:
    fields = {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.01"} | params
    return futures_private(fake, "POST", f"{V3}/sendorder", fields)


def test_futures_authentication_and_nonces(fake: FakeKraken) -> None:
    first = nonce()

    accepted = futures_private(fake, "GET", f"{V3}/openpositions", nonce_value=first)
    duplicate = futures_private(fake, "GET", f"{V3}/openpositions", nonce_value=first)
    below = futures_private(fake, "GET", f"{V3}/openpositions", nonce_value=str(int(first) - 5))
    bad_key = futures_private(fake, "GET", f"{V3}/openpositions", key="someone-elses")
    bad_secret = futures_private(fake, "GET", f"{V3}/openpositions", secret=base64.b64encode(b"x").decode())

    assert accepted.json()["result"] == "success"
    assert duplicate.json()["error"] == "nonceDuplicate"
    assert below.json()["error"] == "nonceBelowThreshold"
    assert bad_key.json()["error"] == bad_secret.json()["error"] == "authenticationError"
    assert bad_key.json()["result"] == "error"


def test_a_futures_query_string_is_signed_as_post_data(fake: FakeKraken) -> None:
    answer = futures_private(fake, "GET", "/api/history/v2/executions", {"sort": "desc", "tradeable": "PF_XBTUSD"})

    assert answer.status_code == 200
    assert answer.json()["elements"] == []


def test_a_futures_market_order_executes_and_reports_its_execution(fake: FakeKraken) -> None:
    answer = send_order(fake, cliOrdId="cs-fut").json()

    assert answer["result"] == "success"
    send = answer["sendStatus"]
    assert send["status"] == "placed"
    (event,) = send["orderEvents"]
    assert (event["type"], event["amount"], event["price"]) == ("EXECUTION", 0.01, 60000.0)
    assert event["orderPriorExecution"]["cliOrdId"] == "cs-fut"
    assert fake.position("PF_XBTUSD") == D("0.01")
    positions = futures_private(fake, "GET", f"{V3}/openpositions").json()["openPositions"]
    assert [(p["symbol"], p["side"], p["size"]) for p in positions] == [("PF_XBTUSD", "long", 0.01)]


@pytest.mark.parametrize(
    ("prepare", "params", "status"),
    [
        (lambda f: None, {"size": "0.00001"}, "invalidSize"),  # PF_XBTUSD takes 4 decimals
        (lambda f: setattr(f, "collateral", D(10)), {}, "insufficientAvailableFunds"),
        (lambda f: None, {"reduceOnly": "true"}, "wouldNotReducePosition"),  # nothing to reduce
        (lambda f: f.set_instrument("PF_XBTUSD", tradeable=False), {}, "marketSuspended"),
    ],
)
def test_futures_refusals_are_send_statuses(
    fake: FakeKraken, prepare: Callable[[FakeKraken], None], params: dict[str, str], status: str
) -> None:
    prepare(fake)

    answer = send_order(fake, **params).json()

    assert answer["result"] == "success"
    assert answer["sendStatus"]["status"] == status
    assert fake.executions == []


def test_process_before_is_honoured(fake: FakeKraken) -> None:
    passed = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")

    assert send_order(fake, processBefore=passed).json()["sendStatus"]["status"] == "wouldProcessAfterSpecifiedTime"
    assert fake.executions == []


def test_order_status_forgets_an_order_after_5_s_but_the_history_keeps_it(fake: FakeKraken) -> None:
    send_order(fake, cliOrdId="cs-old")

    fresh = futures_private(fake, "POST", f"{V3}/orders/status", {"cliOrdIds": "cs-old"}).json()["orders"]
    fake.clock_offset += 6
    later = futures_private(fake, "POST", f"{V3}/orders/status", {"cliOrdIds": "cs-old"}).json()["orders"]
    history = futures_private(fake, "GET", "/api/history/v2/executions", {"sort": "desc"}).json()["elements"]

    assert [(o["status"], o["order"]["filled"]) for o in fresh] == [("FULLY_EXECUTED", 0.01)]
    assert later == []
    (element,) = history
    assert element["event"]["execution"]["execution"]["takerOrder"]["clientId"] == "cs-old"


def test_the_request_log_holds_no_signature_and_no_secret(fake: FakeKraken) -> None:
    fake.keys[API_KEY].otp = OTP
    spot_private(fake, "/0/private/Balance", {"otp": OTP})
    futures_private(fake, "GET", f"{V3}/accounts")

    logged = repr(fake.requests)
    assert SECRET not in logged
    assert OTP not in logged
    assert "Sign" not in logged and "Authent" not in logged
