"""The fake TWS against a second, independent client: IB's own ibapi 9.81 (reader thread + EClient.run loop).

If the fake only spoke what ib_async expects, these would fail: ibapi decodes every message with its own
field lists and version rules, and sends placeOrder with its own encoder. ibapi 9.81 speaks server versions up to
157, so the fake (like a current TWS) speaks 157 with it while it speaks 178 with ib_async.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.execution import Execution
from ibapi.order import Order
from ibapi.order_state import OrderState
from ibapi.wrapper import EWrapper

from tests.fakes.tws import DEFAULT_ACCOUNT, PLACE_ORDER, SERVER_VERSION, FakeTws, parse_place_order, running_tws

IBAPI_VERSION = 157

DEADLINE = 10.0


class Recorder(EWrapper, EClient):  # type: ignore[misc]
    """Collects callbacks as (name, values) tuples; ibapi calls them on the thread that runs `run()`."""

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, self)
        self.events: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()

    def _add(self, *event: Any) -> None:
        with self._lock:
            self.events.append(event)

    def seen(self, name: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return [e for e in self.events if e[0] == name]

    def nextValidId(self, orderId: int) -> None:
        self._add("nextValidId", orderId)

    def managedAccounts(self, accountsList: str) -> None:
        self._add("managedAccounts", accountsList)

    def error(self, reqId: int, errorCode: int, errorString: str) -> None:  # the 3-argument form of 9.81
        self._add("error", reqId, errorCode, errorString)

    def position(self, account: str, contract: Contract, position: float, avgCost: float) -> None:
        self._add("position", account, contract.secType, contract.localSymbol, contract.conId, position, avgCost)

    def positionEnd(self) -> None:
        self._add("positionEnd")

    def openOrder(self, orderId: int, contract: Contract, order: Order, orderState: OrderState) -> None:
        self._add(
            "openOrder", orderId, contract.localSymbol, order.action, order.totalQuantity, order.orderRef,
            order.eTradeOnly, order.firmQuoteOnly, orderState.status,
        )  # fmt: skip

    def orderStatus(self, orderId: int, status: str, filled: float, remaining: float, *rest: Any) -> None:
        self._add("orderStatus", orderId, status, filled, remaining)

    def openOrderEnd(self) -> None:
        self._add("openOrderEnd")

    def execDetails(self, reqId: int, contract: Contract, execution: Execution) -> None:
        self._add(
            "execDetails", reqId, contract.localSymbol, execution.side, execution.shares, execution.price,
            execution.orderRef, execution.orderId,
        )  # fmt: skip

    def currentTime(self, time: int) -> None:
        self._add("currentTime", time)


def wait(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"ibapi: {what} not seen within {DEADLINE} s")
        time.sleep(0.02)


@pytest.fixture
def tws() -> Iterator[FakeTws]:
    with running_tws() as fake:
        yield fake
        assert fake.violations == []


@pytest.fixture
def app(tws: FakeTws) -> Iterator[Recorder]:
    client = Recorder()
    client.connect("127.0.0.1", tws.port, 5)
    loop = threading.Thread(target=client.run, name="ibapi-run", daemon=True)
    loop.start()
    try:
        yield client
    finally:
        client.disconnect()
        loop.join(timeout=DEADLINE)
        assert not loop.is_alive(), "ibapi's run() loop did not end"


def eur_usd() -> Contract:
    contract = Contract()
    contract.symbol, contract.secType, contract.currency, contract.exchange = "EUR", "CASH", "USD", "IDEALPRO"
    return contract


def market(action: str, qty: float, ref: str) -> Order:
    order = Order()
    order.action, order.orderType, order.totalQuantity, order.orderRef = action, "MKT", qty, ref
    return order


def test_a_178_server_speaks_157_with_ibapi_and_starts_the_api(tws: FakeTws, app: Recorder) -> None:
    wait(lambda: bool(app.seen("managedAccounts")), "managedAccounts")

    assert tws.server_version == SERVER_VERSION == 178
    assert app.serverVersion() == IBAPI_VERSION
    assert tws.negotiated == [IBAPI_VERSION]
    assert app.seen("nextValidId") == [("nextValidId", 1)]
    assert app.seen("managedAccounts") == [("managedAccounts", DEFAULT_ACCOUNT)]
    assert tws.connected_clients() == [5]
    assert {e[2] for e in app.seen("error")} == {2104, 2106, 2158}


def test_positions_and_time(tws: FakeTws, app: Recorder) -> None:
    tws.set_position("EUR.USD", "CASH", 2000)
    tws.set_position("GBP.USD", "CFD", -150)
    wait(lambda: bool(app.seen("nextValidId")), "nextValidId")

    app.reqPositions()
    app.reqCurrentTime()
    wait(lambda: bool(app.seen("positionEnd")) and bool(app.seen("currentTime")), "positionEnd")

    eur = tws.contract("EUR.USD", "CASH").con_id
    gbp = tws.contract("GBP.USD", "CFD").con_id
    assert sorted(app.seen("position")) == sorted(
        [
            ("position", DEFAULT_ACCOUNT, "CASH", "EUR.USD", eur, 2000.0, 1.25),
            ("position", DEFAULT_ACCOUNT, "CFD", "GBP.USD", gbp, -150.0, 1.25),
        ]
    )
    assert abs(app.seen("currentTime")[0][1] - time.time()) < 5


def test_an_order_reports_open_order_status_and_execution(tws: FakeTws, app: Recorder) -> None:
    tws.set_price("EUR.USD", "CASH", "1.0842")
    wait(lambda: bool(app.seen("nextValidId")), "nextValidId")
    order = market("BUY", 25000, "ref-ibapi-1")
    order.eTradeOnly = False  # 9.81 defaults both to True, which TWS refuses since 2022
    order.firmQuoteOnly = False

    app.placeOrder(1, eur_usd(), order)
    wait(lambda: any(e[2] == "Filled" for e in app.seen("orderStatus")), "Filled")

    assert app.seen("openOrder")[0] == (
        "openOrder",
        1,
        "EUR.USD",
        "BUY",
        25000.0,
        "ref-ibapi-1",
        False,
        False,
        "Submitted",
    )
    assert [e[2:] for e in app.seen("orderStatus")] == [("Submitted", 0.0, 25000.0), ("Filled", 25000.0, 0.0)]
    assert app.seen("execDetails") == [("execDetails", -1, "EUR.USD", "BOT", 25000.0, 1.0842, "ref-ibapi-1", 1)]
    assert tws.position("EUR.USD", "CASH") == 25000
    (received,) = tws.received(PLACE_ORDER)
    assert len(received.fields) == 110  # what a v157 placeOrder of a plain order carries


def test_ibapi_default_order_attributes_are_refused_like_current_tws(tws: FakeTws, app: Recorder) -> None:
    wait(lambda: bool(app.seen("nextValidId")), "nextValidId")

    app.placeOrder(1, eur_usd(), market("SELL", 1000, "ref-ibapi-2"))
    wait(lambda: any(e[2] == 10268 for e in app.seen("error")), "error 10268")

    assert tws.executions == []
    assert app.seen("openOrder") == []


def test_place_order_parsing_is_strict() -> None:
    fields = tuple(["3", "1", "0", "EUR", "CASH"] + [""] * 100)

    with pytest.raises(Exception, match="placeOrder"):
        parse_place_order(fields)


def test_open_orders_come_with_their_order_status(tws: FakeTws, app: Recorder) -> None:
    """IBKR: reqAllOpenOrders answers every order TWS holds "via the openOrder and orderStatus events"."""
    wait(lambda: bool(app.seen("nextValidId")), "nextValidId")
    tws.hold_fills()
    order = market("BUY", 25000, "ref-open")
    order.eTradeOnly = order.firmQuoteOnly = False
    app.placeOrder(1, eur_usd(), order)
    wait(lambda: bool(app.seen("orderStatus")), "orderStatus of the new order")
    before = len(app.events)

    app.reqAllOpenOrders()
    wait(lambda: bool(app.seen("openOrderEnd")), "openOrderEnd")

    reply = [e[0] for e in app.events[before:]]
    assert reply == ["openOrder", "orderStatus", "openOrderEnd"]
    assert app.seen("orderStatus")[-1] == ("orderStatus", 1, "Submitted", 0.0, 25000.0)
    tws.release_fills()
    wait(lambda: tws.position("EUR.USD", "CASH") == 25000, "the fill")


def test_both_clients_send_the_same_place_order_layout_at_157(tws: FakeTws, app: Recorder) -> None:
    import asyncio

    from ib_async import IB, MarketOrder
    from ib_async import Contract as AsyncContract

    wait(lambda: bool(app.seen("nextValidId")), "nextValidId")
    order = market("BUY", 1000, "from-ibapi")
    order.eTradeOnly = order.firmQuoteOnly = False
    app.placeOrder(1, eur_usd(), order)
    wait(lambda: len(tws.executions) == 1, "ibapi fill")

    async def place_with_ib_async(server: FakeTws, ref: str) -> int:
        ib = IB()
        await ib.connectAsync("127.0.0.1", server.port, clientId=6, timeout=DEADLINE)
        version = ib.client.serverVersion()
        contract = AsyncContract(secType="CASH", symbol="EUR", currency="USD", exchange="IDEALPRO")
        ib.placeOrder(contract, MarketOrder("BUY", 1000, orderRef=ref))
        await server.wait_for(lambda t: any(e.order_ref == ref for e in t.executions), DEADLINE, "ib_async fill")
        ib.disconnect()
        return version

    with running_tws(server_version=IBAPI_VERSION) as old_tws:
        assert asyncio.run(place_with_ib_async(old_tws, "from-ib_async-157")) == IBAPI_VERSION
        (at_157,) = (parse_place_order(r.fields, IBAPI_VERSION) for r in old_tws.received(PLACE_ORDER))
        assert old_tws.violations == []
    assert asyncio.run(place_with_ib_async(tws, "from-ib_async-178")) == SERVER_VERSION

    from_ibapi, at_178 = tws.received(PLACE_ORDER)
    ibapi = parse_place_order(from_ibapi.fields, IBAPI_VERSION)
    ib_async_178 = parse_place_order(at_178.fields, SERVER_VERSION)
    # At 157 both write the same 110 fields. At 178 faProfile is gone and duration, postToAts, autoCancelParent,
    # advancedErrorOverride and manualOrderTime are added.
    assert ibapi.field_count == at_157.field_count == 110
    assert ib_async_178.field_count == 114
    assert (ibapi.order_ref, at_157.order_ref, ib_async_178.order_ref) == (
        "from-ibapi",
        "from-ib_async-157",
        "from-ib_async-178",
    )
    assert ibapi.qty == at_157.qty == ib_async_178.qty == Decimal(1000)
    with pytest.raises(Exception, match="placeOrder"):
        parse_place_order(at_178.fields, IBAPI_VERSION)  # a 178 layout read as 157 does not end where it should
