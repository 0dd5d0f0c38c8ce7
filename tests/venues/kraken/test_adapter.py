"""The Kraken adapter through the real python-kraken-sdk clients against the fake Kraken, in this process.

These tests pin what the engine relies on: the rules and positions it reads, what exactly goes out with an
order, and the classification of every failure — what is a rejection, what did nothing and may be retried
(and after how long), what may have executed and must be looked up by client id, and when "absent" is
proven.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from sidecar.errors import AuthError, ConfigError, OrderRejected, OutcomeUnknown, VenueUnavailable
from sidecar.model import LegKey, OrderRequest, OrderState, PositionMode, Side, VenuePosition
from sidecar.venues.kraken import KrakenVenue
from sidecar.venues.kraken.adapter import endpoint_url
from sidecar.venues.kraken.nonce import NonceSource, nonce_file
from tests.fakes.kraken import ApiKey, FakeKraken, Fault
from tests.secrets import find_secrets
from tests.venues.kraken.conftest import API_KEY, OTP, SECRET, settings

D = Decimal
ADD = "/0/private/AddOrder"
SEND = "/derivatives/api/v3/sendorder"
BALANCE = "/0/private/BalanceEx"
POSITIONS = "/derivatives/api/v3/openpositions"


@pytest.fixture
async def spot(fake: FakeKraken) -> AsyncIterator[KrakenVenue]:
    venue = KrakenVenue(settings(fake))
    await venue.connect()
    yield venue
    await venue.close()


@pytest.fixture
async def futures(fake: FakeKraken) -> AsyncIterator[KrakenVenue]:
    venue = KrakenVenue(settings(fake, "futures"))
    await venue.connect()
    yield venue
    await venue.close()


def buy(cid: str, qty: str, symbol: str = "XBTUSD") -> OrderRequest:
    return OrderRequest(cid, symbol, Side.BUY, D(qty))


def sell(cid: str, qty: str, symbol: str = "XBTUSD", reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(cid, symbol, Side.SELL, D(qty), reduce_only=reduce_only)


# --- settings and rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "given", "used"),
    [
        ("spot", "", "https://api.kraken.com"),
        ("futures", "", "https://futures.kraken.com"),
        ("futures", "https://demo-futures.kraken.com/derivatives/api/v3", "https://demo-futures.kraken.com"),
        ("spot", "http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ],
)
def test_the_api_url_defaults_to_krakens_own(endpoint: str, given: str, used: str) -> None:
    assert endpoint_url(endpoint, given) == used


@pytest.mark.parametrize(
    ("endpoint", "given", "says"),
    [
        ("spot", "api.kraken.com", "is not a URL"),
        ("spot", "https://futures.kraken.com", "is a futures URL"),
        ("futures", "https://api.kraken.com", "is a spot URL"),
    ],
)
def test_a_wrong_api_url_says_what_to_write(endpoint: str, given: str, says: str) -> None:
    with pytest.raises(ConfigError, match=r"\[kraken\] api_url") as caught:
        endpoint_url(endpoint, given)

    assert says in str(caught.value)


async def test_connect_without_keys_says_where_to_put_them(fake: FakeKraken) -> None:
    venue = KrakenVenue(settings(fake, api_key=SecretStr("")))

    with pytest.raises(ConfigError, match=r"api_key and secret_key in the \[kraken\] section"):
        await venue.connect()


async def test_spot_rules_come_from_asset_pairs_with_common_names(fake: FakeKraken) -> None:
    fake.set_pair("SOLUSD", status="cancel_only")
    venue = KrakenVenue(settings(fake))
    await venue.connect()

    rules = await venue.instruments()

    btc = rules["XBTUSD"]
    assert (btc.base, btc.quote, btc.lot_step, btc.min_qty, btc.min_notional, btc.tick, btc.trading) == (
        "BTC", "USD", D("0.00000001"), D("0.00005"), D("0.5"), D("0.1"), True,
    )  # fmt: skip
    assert rules["SOLUSD"].trading is False  # listed but not trading now: kept, not dropped
    assert venue.venue_symbol("BTC", "USD") == "XBTUSD"
    assert venue.venue_symbol("ETH", "BTC") == "ETHXBT"
    await venue.close()


async def test_futures_rules_are_the_pf_perpetuals_in_base_units(fake: FakeKraken) -> None:
    fake.set_instrument("PF_SOLUSD", tradeable=False)
    venue = KrakenVenue(settings(fake, "futures"))
    await venue.connect()

    rules = await venue.instruments()

    assert set(rules) == {"PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD"}  # PI_XBTUSD is sized in USD: not ours
    btc = rules["PF_XBTUSD"]
    assert (btc.base, btc.quote, btc.lot_step, btc.min_qty, btc.multiplier) == ("BTC", "USD", D("0.0001"),
                                                                                 D("0.0001"), D(1))  # fmt: skip
    assert rules["PF_SOLUSD"].trading is False
    assert venue.venue_symbol("BTC", "USD") == "PF_XBTUSD"
    await venue.close()


async def test_refresh_reads_the_rules_again(fake: FakeKraken, spot: KrakenVenue) -> None:
    fake.set_pair("XXBTZUSD", ordermin="0.001")

    assert (await spot.instruments())["XBTUSD"].min_qty == D("0.00005")
    assert (await spot.refresh_instruments())["XBTUSD"].min_qty == D("0.001")


# --- account and positions ---------------------------------------------------------------------------


async def test_spot_positions_are_base_balances_under_common_names(fake: FakeKraken, spot: KrakenVenue) -> None:
    fake.set_balance("XXBT", "0.25")
    fake.set_balance("XETH", "2")
    fake.set_balance("XBT.F", "1")  # auto-earning: not tradable, never a position
    fake.set_balance("ETH.S", "3")  # staked
    fake.set_balance("ZEUR", "100")  # no EUR/USD pair: not a position
    before = len(fake.requests)

    positions = await spot.positions()
    summary = await spot.account()

    assert positions == [VenuePosition(LegKey("XBTUSD"), D("0.25")), VenuePosition(LegKey("ETHUSD"), D(2))]
    assert len(fake.requests_to("POST", BALANCE)) >= 1 and len(fake.requests) - before == 2  # one per call
    assert summary.position_mode is PositionMode.SPOT
    assert summary.balances == {"BTC": D("0.25"), "ETH": D(2), "EUR": D(100), "USD": D(100_000)}


async def test_an_override_decides_which_instrument_a_balance_belongs_to(fake: FakeKraken) -> None:
    fake.set_balance("XETH", "3")
    venue = KrakenVenue(settings(fake), position_symbols=["ETHXBT"])
    await venue.connect()

    assert await venue.positions() == [VenuePosition(LegKey("ETHXBT"), D(3))]
    await venue.close()


async def test_futures_positions_are_signed_from_size_and_side(fake: FakeKraken, futures: KrakenVenue) -> None:
    fake.set_position("PF_XBTUSD", "-0.25")
    fake.set_position("PF_ETHUSD", "1.5")
    fake.set_position("PI_XBTUSD", "1000")  # an inverse contract: not the copier's

    assert (await futures.account()).position_mode is PositionMode.ONE_WAY
    assert await futures.positions() == [
        VenuePosition(LegKey("PF_ETHUSD"), D("1.5")),
        VenuePosition(LegKey("PF_XBTUSD"), D("-0.25")),
    ]


async def test_check_leaves_earn_and_staked_balances_alone_and_warns_about_others(
    fake: FakeKraken, spot: KrakenVenue
) -> None:
    fake.set_balance("XXBT", "0.1")
    fake.set_balance("XBT.F", "1")
    fake.set_balance("SOL", "4")

    warnings = await spot.check_warnings(["XBTUSD"])

    assert warnings[0].startswith("1 XBT.F is an earn, staked or reward balance")
    assert "leaves it alone" in warnings[0]
    assert warnings[1].startswith("4 SOL is neither a traded currency nor the quote currency USD")
    assert len(warnings) == 2


async def test_reference_prices_come_in_one_request(fake: FakeKraken, spot: KrakenVenue) -> None:
    fake.spot_prices["ETHUSD"] = D("3210.5")
    before = len(fake.requests)

    prices = await spot.reference_prices(["XBTUSD", "ETHUSD", "SOLUSD"])

    assert prices == {"XBTUSD": D(60000), "ETHUSD": D("3210.5"), "SOLUSD": D(150)}
    assert len(fake.requests) - before == 1


# --- orders ------------------------------------------------------------------------------------------


async def test_a_spot_order_carries_the_client_id_and_a_deadline_and_no_validate(
    fake: FakeKraken, spot: KrakenVenue
) -> None:
    result = await spot.submit(buy("cs0a1b2c3d4e5f6789", "0.0100"))

    assert (result.state, result.filled_qty, result.avg_price) == (OrderState.FILLED, D("0.01"), D(60000))
    assert (result.fee, result.fee_asset) == (D("1.5"), "USD")
    sent = fake.requests_to("POST", ADD)[-1]
    assert {k: sent.params[k] for k in ("ordertype", "type", "pair", "volume", "cl_ord_id", "oflags")} == {
        "ordertype": "market", "type": "buy", "pair": "XBTUSD", "volume": "0.01", "cl_ord_id": "cs0a1b2c3d4e5f6789",
        "oflags": "fciq",
    }  # fmt: skip
    deadline = datetime.fromisoformat(sent.params["deadline"].replace("Z", "+00:00")).timestamp()
    assert 4 <= deadline - fake.now() <= 7  # order_deadline_s = 5, rounded up to Kraken's whole seconds
    # Booleans the SDK's helper would send as "False" (Kraken once read any validate as validate-only).
    assert not {"validate", "reduce_only", "stptype", "starttm"} & set(sent.params)
    assert not sent.otp_sent
    assert len(fake.executions_of("cs0a1b2c3d4e5f6789")) == 1


async def test_a_key_with_two_factor_sends_otp_with_every_private_request(fake: FakeKraken) -> None:
    fake.keys[API_KEY].otp = OTP
    venue = KrakenVenue(settings(fake, one_time_password=SecretStr(OTP)))
    await venue.connect()

    await venue.submit(buy("cs2fa", "0.001"))

    private = [r for r in fake.requests if r.path.startswith("/0/private/")]
    assert private and all(r.otp_sent for r in private)
    assert "two-factor password in use" in (await venue.account()).account_id
    await venue.close()


async def test_a_missing_two_factor_password_is_an_auth_error_that_names_the_setting(fake: FakeKraken) -> None:
    fake.keys[API_KEY].otp = OTP
    venue = KrakenVenue(settings(fake))

    with pytest.raises(AuthError, match="one_time_password") as caught:
        await venue.connect()

    assert "EGeneral:Permission denied" in str(caught.value)
    assert find_secrets(str(caught.value)) == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda f: f.keys.clear(), "EAPI:Invalid key"),
        (lambda f: f.keys.update({API_KEY: ApiKey("c29tZW9uZSBlbHNl")}), "EAPI:Invalid signature"),
        (lambda f: f.keys.update({API_KEY: ApiKey(SECRET, permissions=frozenset())}), "EGeneral:Permission denied"),
    ],
)
async def test_bad_credentials_are_auth_errors_at_connect(
    fake: FakeKraken, change: Callable[[FakeKraken], None], error: str
) -> None:
    change(fake)

    with pytest.raises(AuthError) as caught:
        await KrakenVenue(settings(fake)).connect()

    assert error in str(caught.value)
    assert "Kraken → Settings → API" in str(caught.value) or "secret_key" in str(caught.value)
    assert find_secrets(str(caught.value)) == []


async def test_a_bad_futures_key_is_an_auth_error(fake: FakeKraken) -> None:
    fake.futures_keys.clear()

    with pytest.raises(AuthError, match="authenticationError"):
        await KrakenVenue(settings(fake, "futures")).connect()


async def test_futures_orders_carry_process_before_and_reduce_only_when_closing(
    fake: FakeKraken, futures: KrakenVenue
) -> None:
    opened = await futures.submit(buy("csopen", "0.01", "PF_XBTUSD"))
    closed = await futures.submit(sell("csclose", "0.01", "PF_XBTUSD", reduce_only=True))

    first, second = (r.params for r in fake.requests_to("POST", SEND))
    assert (opened.state, opened.filled_qty, opened.avg_price) == (OrderState.FILLED, D("0.01"), D(60000))
    assert closed.state is OrderState.FILLED
    assert "reduceOnly" not in first
    assert second["reduceOnly"] == "true"
    assert (first["orderType"], first["size"], first["cliOrdId"]) == ("mkt", "0.01", "csopen")
    process_before = datetime.fromisoformat(first["processBefore"].replace("Z", "+00:00")).timestamp()
    assert 4 <= process_before - fake.now() <= 6
    assert fake.position("PF_XBTUSD") == 0


@pytest.mark.parametrize(
    ("prepare", "order", "says"),
    [
        (lambda f: None, buy("cs1", "0.00001"), "EOrder:Order minimum not met"),
        (lambda f: f.set_balance("ZUSD", "10"), buy("cs2", "0.01"), "EOrder:Insufficient funds"),
        (lambda f: f.set_pair("XXBTZUSD", costmin="50"), buy("cs3", "0.0001"), "EOrder:Cost minimum not met"),
        (lambda f: None, buy("cs4", "0.1", "NOSUCHPAIR"), "EQuery:Unknown asset pair"),
    ],
)
async def test_spot_rejections_say_what_and_what_to_do(
    fake: FakeKraken, spot: KrakenVenue, prepare: Callable[[FakeKraken], None], order: OrderRequest, says: str
) -> None:
    prepare(fake)

    with pytest.raises(OrderRejected) as caught:
        await spot.submit(order)

    assert says in str(caught.value)
    assert " — " in str(caught.value)  # followed by what to do
    assert fake.executions == []


@pytest.mark.parametrize(
    ("prepare", "order", "status"),
    [
        (lambda f: None, buy("cs1", "0.00001", "PF_XBTUSD"), "invalidSize"),
        (lambda f: setattr(f, "collateral", D(10)), buy("cs2", "0.1", "PF_XBTUSD"), "insufficientAvailableFunds"),
        (lambda f: None, sell("cs3", "0.1", "PF_XBTUSD", reduce_only=True), "wouldNotReducePosition"),
    ],
)
async def test_futures_send_statuses_are_rejections(
    fake: FakeKraken, futures: KrakenVenue, prepare: Callable[[FakeKraken], None], order: OrderRequest, status: str
) -> None:
    prepare(fake)

    with pytest.raises(OrderRejected, match=status):
        await futures.submit(order)

    assert fake.executions == []


async def test_a_spot_answer_without_txid_is_not_a_placed_order(fake: FakeKraken, spot: KrakenVenue) -> None:
    original = fake._add_order
    fake._add_order = lambda params: {"descr": {"order": "buy 0.001 XBTUSD @ market"}}  # type: ignore[method-assign]
    try:
        with pytest.raises(OrderRejected, match="without a transaction id"):
            await spot.submit(buy("csnotxid", "0.001"))
    finally:
        fake._add_order = original  # type: ignore[method-assign]


# --- unknown outcomes, deadlines, rate limits, nonces ------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["spot", "futures"])
async def test_an_answer_lost_after_execution_is_unknown_and_the_lookup_finds_it(
    fake: FakeKraken, endpoint: str
) -> None:
    venue = KrakenVenue(settings(fake, endpoint))
    await venue.connect()
    symbol = "XBTUSD" if endpoint == "spot" else "PF_XBTUSD"
    fake.inject("POST", ADD if endpoint == "spot" else SEND, Fault(execute=True, stall=5))

    with pytest.raises(OutcomeUnknown):
        await venue.submit(buy("cstimeout", "0.01", symbol))
    found = await venue.lookup(symbol, "cstimeout")

    assert (found.state, found.filled_qty) == (OrderState.FILLED, D("0.01"))
    assert len(fake.executions_of("cstimeout")) == 1
    await venue.close()


async def test_a_futures_order_older_than_the_status_window_is_found_in_the_history(
    fake: FakeKraken, futures: KrakenVenue
) -> None:
    fake.inject("POST", SEND, Fault(execute=True, stall=5))
    with pytest.raises(OutcomeUnknown):
        await futures.submit(buy("csold", "0.02", "PF_ETHUSD"))
    fake.clock_offset += 30  # order status shows only the last 5 s; the deadline has long passed too

    found = await futures.lookup("PF_ETHUSD", "csold")

    assert (found.state, found.filled_qty, found.avg_price) == (OrderState.FILLED, D("0.02"), D(3000))
    assert len(fake.executions_of("csold")) == 1


@pytest.mark.parametrize("endpoint", ["spot", "futures"])
async def test_absent_is_declared_only_once_krakens_clock_has_passed_the_deadline(
    fake: FakeKraken, endpoint: str
) -> None:
    venue = KrakenVenue(settings(fake, endpoint))
    await venue.connect()
    symbol = "XBTUSD" if endpoint == "spot" else "PF_XBTUSD"
    fake.inject("POST", ADD if endpoint == "spot" else SEND, Fault(drop=True))  # lost on the way in

    with pytest.raises(OutcomeUnknown):
        await venue.submit(buy("csdropped", "0.01", symbol))
    lookup = asyncio.create_task(venue.lookup(symbol, "csdropped"))
    await asyncio.sleep(0.5)
    still_waiting = not lookup.done()
    fake.clock_offset += 10  # Kraken's clock passes the order's deadline (5 s)
    found = await asyncio.wait_for(lookup, 10)

    assert still_waiting  # not found, but the deadline had not passed: no verdict yet
    assert found.state is OrderState.ABSENT
    assert fake.executions == []
    await venue.close()


async def test_an_order_executed_after_its_timeout_is_found_not_sent_twice(fake: FakeKraken) -> None:
    """The order reaches Kraken only after the client gave up and after a first lookup found nothing:
    "absent" must wait for the deadline, or a resend would buy twice."""
    fake.keys[API_KEY].nonce_window = 60 * 100_000_000  # else Kraken would refuse the late one for its nonce
    venue = KrakenVenue(settings(fake, request_timeout_s=0.5))
    await venue.connect()
    in_flight = threading.Event()
    fake.inject("POST", ADD, Fault(hold=in_flight))
    try:
        with pytest.raises(OutcomeUnknown):
            await venue.submit(buy("cslate", "0.01"))
        lookup = asyncio.create_task(venue.lookup("XBTUSD", "cslate"))
        while not fake.requests_to("POST", "/0/private/ClosedOrders"):
            await asyncio.sleep(0.02)
        in_flight.set()  # now the order arrives, within its deadline
        found = await asyncio.wait_for(lookup, 15)
    finally:
        in_flight.set()
        await venue.close()

    assert (found.state, found.filled_qty) == (OrderState.FILLED, D("0.01"))
    assert len(fake.executions_of("cslate")) == 1


async def test_an_earlier_runs_futures_order_is_searched_from_its_journal_time(
    fake: FakeKraken, futures: KrakenVenue
) -> None:
    sent_at = datetime.now(UTC)
    earlier = KrakenVenue(settings(fake, "futures"))
    await earlier.connect()
    await earlier.submit(buy("csprevious", "0.5", "PF_SOLUSD"))
    await earlier.close()
    fake.clock_offset += 70  # long past its status window and any deadline

    found = await futures.lookup("PF_SOLUSD", "csprevious", sent_at=sent_at)

    assert (found.state, found.filled_qty) == (OrderState.FILLED, D("0.5"))
    searched = fake.requests_to("GET", "/api/history/v2/executions")[-1].params
    assert abs(int(searched["since"]) / 1000 - (sent_at.timestamp() - 60)) < 5
    assert searched["tradeable"] == "PF_SOLUSD"


async def test_an_order_from_an_earlier_run_waits_for_the_longest_deadline(fake: FakeKraken, spot: KrakenVenue) -> None:
    """Its deadline is unknown here: Kraken allows at most 60 s, counted before this run began."""
    with pytest.raises(VenueUnavailable, match="could still execute") as caught:
        await spot.lookup("XBTUSD", "csearlier")
    fake.clock_offset += 61

    assert caught.value.retry_after is not None and 50 < caught.value.retry_after <= 61
    assert (await spot.lookup("XBTUSD", "csearlier")).state is OrderState.ABSENT


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(errors=["EService:Unavailable"]), OutcomeUnknown),
        (Fault(errors=["EGeneral:Internal error"]), OutcomeUnknown),
        (Fault(status=520), OutcomeUnknown),  # a bare page instead of JSON: the SDK would raise a bare Exception
        (Fault(errors=["EService:Deadline elapsed"]), VenueUnavailable),
        (Fault(errors=["EOrder:Insufficient funds"]), OrderRejected),
    ],
)
async def test_answers_the_sdk_returns_or_raises_bare_are_classified(
    fake: FakeKraken, spot: KrakenVenue, fault: Fault, expected: type[Exception]
) -> None:
    fake.inject("POST", ADD, fault)

    with pytest.raises(expected):
        await spot.submit(buy("csfault", "0.01"))


async def test_an_unavailable_read_is_unavailable_not_unknown(fake: FakeKraken, spot: KrakenVenue) -> None:
    fake.inject("POST", BALANCE, Fault(errors=["EService:Busy"]))

    with pytest.raises(VenueUnavailable):
        await spot.positions()


@pytest.mark.parametrize(
    ("endpoint", "path", "fault"),
    [
        ("spot", ADD, Fault(errors=["EAPI:Rate limit exceeded"])),
        ("spot", ADD, Fault(errors=["EGeneral:Too many requests"])),  # the SDK returns this one silently
        ("futures", SEND, Fault(futures_error="apiLimitExceeded")),
    ],
)
async def test_a_rate_limit_blocks_every_request_for_the_pause(
    fake: FakeKraken, endpoint: str, path: str, fault: Fault
) -> None:
    venue = KrakenVenue(settings(fake, endpoint, rate_limit_pause_s=30))
    await venue.connect()
    symbol = "XBTUSD" if endpoint == "spot" else "PF_XBTUSD"
    fake.inject("POST", path, fault)

    with pytest.raises(VenueUnavailable) as first:
        await venue.submit(buy("csrate", "0.01", symbol))
    sent = len(fake.requests)
    with pytest.raises(VenueUnavailable) as second:
        await venue.positions()

    assert first.value.retry_after == 30
    assert second.value.retry_after is not None and 29 < second.value.retry_after <= 30
    assert len(fake.requests) == sent  # nothing reached Kraken during the pause
    assert fake.executions == []
    await venue.close()


async def test_a_refused_nonce_is_sent_once_more_and_then_explained(fake: FakeKraken, spot: KrakenVenue) -> None:
    fake.inject("POST", ADD, Fault(errors=["EAPI:Invalid nonce"]))

    result = await spot.submit(buy("csnonce", "0.01"))  # another program's request overtook ours: once more
    fake.inject("POST", ADD, Fault(errors=["EAPI:Invalid nonce"]), times=2)
    with pytest.raises(VenueUnavailable, match="key of its own"):
        await spot.submit(buy("csnonce2", "0.01"))

    assert result.state is OrderState.FILLED
    assert len(fake.executions_of("csnonce")) == 1
    assert fake.executions_of("csnonce2") == []


async def test_nonces_keep_increasing_across_adapters_of_one_key(fake: FakeKraken) -> None:
    for _ in range(3):  # three "runs" within a second
        venue = KrakenVenue(settings(fake))
        await venue.connect()
        await venue.positions()
        await venue.close()

    nonces = fake.nonces()
    assert len(nonces) >= 6
    assert nonces == sorted(nonces) and len(set(nonces)) == len(nonces)
    assert not [r for r in fake.requests if r.error]


async def test_a_run_continues_above_the_nonce_kept_on_disk(fake: FakeKraken, nonce_files: Path) -> None:
    """As if an earlier run's clock had been an hour ahead: Kraken holds that nonce, and so does the file."""
    ahead = (int(time.time()) + 3600) * 100_000_000
    path = nonce_file(nonce_files, API_KEY, "spot")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{ahead}\n")
    fake.keys[API_KEY].last_nonce = ahead

    venue = KrakenVenue(settings(fake))
    await venue.connect()
    await venue.close()

    assert min(fake.nonces()) == ahead + 1
    assert not [r for r in fake.requests if r.error]


def test_two_nonce_sources_on_one_file_never_repeat_even_with_a_frozen_clock(tmp_path: Path) -> None:
    """Two processes with one key (the running sidecar and `csmc check`), their clocks stuck in one instant."""
    path = tmp_path / "nonce.txt"
    frozen = 179_000_000_000_000_000
    first, second = NonceSource(path, clock=lambda: frozen), NonceSource(path, clock=lambda: frozen)
    seen: list[int] = []
    lock = threading.Lock()

    def draw(source: NonceSource) -> None:
        for _ in range(200):
            value = source.next()
            with lock:
                seen.append(value)

    threads = [threading.Thread(target=draw, args=(s,)) for s in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(set(seen)) == 400
    assert sorted(seen) == list(range(frozen, frozen + 400))


def test_a_clock_stepped_backwards_does_not_take_the_nonce_back(tmp_path: Path) -> None:
    path = tmp_path / "nonce.txt"
    now = [200_000_000_000_000_000]
    before = NonceSource(path, clock=lambda: now[0]).next()
    now[0] -= 5 * 100_000_000  # NTP steps the clock back 5 s, and the sidecar restarts

    after = NonceSource(path, clock=lambda: now[0]).next()

    assert after == before + 1


def test_the_nonce_file_name_does_not_give_the_key_away(tmp_path: Path) -> None:
    path = nonce_file(tmp_path, API_KEY, "spot")

    assert API_KEY not in str(path)
    assert path != nonce_file(tmp_path, API_KEY, "futures")


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


async def test_a_refused_connection_sent_nothing(closed_port: int, fake: FakeKraken) -> None:
    venue = KrakenVenue(settings(fake, api_url=f"http://127.0.0.1:{closed_port}"))

    with pytest.raises(VenueUnavailable, match="nothing was sent"):
        await venue.connect()


async def test_an_order_to_a_vanished_venue_is_unavailable_not_unknown(fake: FakeKraken, spot: KrakenVenue) -> None:
    fake.stop()

    with pytest.raises(VenueUnavailable, match="nothing was sent"):
        await spot.submit(buy("csgone", "0.01"))


# --- header logging ----------------------------------------------------------------------------------


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.mark.parametrize("endpoint", ["spot", "futures"])
async def test_logged_headers_hide_the_key_and_the_signature(fake: FakeKraken, endpoint: str) -> None:
    collect = Collect()
    logger = logging.getLogger("csmc.kraken")
    logger.addHandler(collect)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    extra: dict[str, Any] = {"log_headers": True}
    if endpoint == "spot":
        fake.keys[API_KEY].otp = OTP
        extra["one_time_password"] = SecretStr(OTP)
    try:
        venue = KrakenVenue(settings(fake, endpoint, **extra))
        await venue.connect()
        await venue.positions()
        await venue.close()
    finally:
        logger.removeHandler(collect)
        logger.setLevel(old_level)

    signed = [line for line in collect.lines if "/private/" in line or "openpositions" in line]
    assert signed, collect.lines
    header = "API-Key: ***" if endpoint == "spot" else "APIKey: ***"
    assert header in signed[0]
    assert ("API-Sign: ***" if endpoint == "spot" else "Authent: ***") in signed[0]
    assert "Content-Type" in signed[0]  # response headers too
    assert find_secrets("\n".join(collect.lines)) == []
