"""`csmc orders`: what the copier placed, with fill prices, fees and the MT5 deal each order followed."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from bridge.client import BridgeClient
from bridge.messages import Account, Deal, Position, Status
from tests.conftest import write_profile
from tests.e2e.harness import csmc, running

ACCOUNT = Account(login=7001, server="Demo-Server", currency="USD", margin_mode="netting")


def btc(volume: str) -> Position:
    return Position(
        symbol="BTCUSD", side="buy", volume=Decimal(volume), position_id=1, magic=0, contract_size=Decimal(1),
        base_currency="BTC", profit_currency="USD", volume_step=Decimal("0.01"), volume_min=Decimal("0.01"),
    )  # fmt: skip


async def trade(port: int, token: str) -> None:
    client = BridgeClient(f"tcp://127.0.0.1:{port}", token, account=ACCOUNT)
    try:
        await client.hello()
        await client.wait_for(lambda m: m.type == "request_snapshot", 15)
        for ticket, volume, price in ((900001, "0.25", "90012.5"), (900002, "0.10", "89990")):
            deal = Deal(ticket=ticket, position_id=1, symbol="BTCUSD", entry="in", volume=Decimal("0.1"), magic=0,
                        price=Decimal(price))  # fmt: skip
            await client.snapshot([btc(volume)], deal=deal)
            await client.wait_for(
                lambda m, v=Decimal(volume): isinstance(m.body, Status)
                and any(r.venue == v for r in m.body.instruments),
                15,
            )
    finally:
        await client.close()


def test_orders_show_fill_price_mt5_price_and_slippage(csmc_home: Path) -> None:
    write_profile(csmc_home, "hist", 'connector = "paper"\n[paper]\nposition_sync_period_s = 0\n')
    with running(csmc_home, "hist") as sidecar:
        sidecar.wait_listening()
        asyncio.run(trade(sidecar.port, sidecar.token))
        listed = csmc(csmc_home, "orders", "--profile", "hist", "--json")
        shown = csmc(csmc_home, "orders", "--profile", "hist")
        filtered = csmc(csmc_home, "orders", "--profile", "hist", "--symbol", "ETHUSD")
        recent = csmc(csmc_home, "orders", "--profile", "hist", "--since", "1h", "--limit", "1", "--json")
        bad = csmc(csmc_home, "orders", "--profile", "hist", "--since", "yesterday-ish")

    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["side"], r["qty"], r["state"], r["mt5_deal"]) for r in rows] == [
        ("sell", "0.15", "filled", 900002),  # newest first
        ("buy", "0.25", "filled", 900001),
    ]
    # The Paper venue fills at 90000: the buy paid 12.5 less than MT5 (slippage -12.5, better), the sell got 10
    # more than MT5's 89990 (-10, better too).
    assert [(r["avg_price"], r["mt5_price"], r["slippage"]) for r in rows] == [
        ("90000", "89990", "-10"),
        ("90000", "90012.5", "-12.5"),
    ]
    header, *lines = shown.stdout.splitlines()
    assert header.split()[:3] == ["time", "(UTC)", "symbol"] and len(lines) == 2
    assert "90012.5" in lines[1] and "-12.5" in lines[1] and "900001" in lines[1]
    assert filtered.stdout.strip() == "No orders for ETHUSD."
    assert [json.loads(line)["mt5_deal"] for line in recent.stdout.splitlines()] == [900002]
    assert bad.returncode == 2 and "--since yesterday-ish" in bad.stderr and "Traceback" not in bad.stderr
