"""`csmc orders`: the orders the copier placed, with their fills, fees and the MT5 deals that caused them.

Read from the journal without changing it, so it can run beside `csmc run`. Slippage is the venue's average
fill price against MT5's own deal price, counted so that a positive number is a worse price than MT5 got
(paid more on a buy, received less on a sell).
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sidecar import paths
from sidecar.decimals import plain
from sidecar.errors import CsmcError
from sidecar.journal import Journal, OrderRecord
from sidecar.model import Side

_RELATIVE = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def add_orders_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    orders = sub.add_parser("orders", help="list the orders the copier placed, with their fills")
    orders.add_argument("--profile", default="default")
    orders.add_argument("--journal", type=Path, help="journal file (default: the profile's)")
    orders.add_argument("--symbol", help="only this venue symbol, e.g. BTCUSDT")
    orders.add_argument(
        "--since", help="only orders since then: a UTC date or time (2026-11-28, 2026-11-28T09:30) or 30m, 12h, 7d"
    )
    orders.add_argument("--limit", type=int, default=50, help="at most this many, newest first (default 50)")
    orders.add_argument("--json", action="store_true", help="one JSON object per order, for scripts")


def parse_since(text: str, now: datetime) -> datetime:
    relative = _RELATIVE.match(text.strip())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CsmcError(
            f"--since {text}: write a UTC date or time like 2026-11-28 or 2026-11-28T09:30, or a span like 30m, "
            f"12h or 7d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def slippage(record: OrderRecord) -> Decimal | None:
    if record.avg_price is None or record.deal_price is None:
        return None
    worse = record.avg_price - record.deal_price
    return worse if record.request.side is Side.BUY else -worse


def _plain(value: Decimal | None) -> str:
    return "" if value is None else plain(value)


def as_json(record: OrderRecord) -> dict[str, object]:
    request = record.request
    return {
        "time": datetime.fromtimestamp(record.created_at, UTC).isoformat(timespec="seconds"),
        "client_id": request.client_id,
        "symbol": request.symbol,
        "leg": request.leg.value,
        "side": request.side.value,
        "qty": _plain(request.qty),
        "reduce_only": request.reduce_only,
        "state": record.state.value,
        "filled_qty": _plain(record.filled_qty),
        "target": _plain(record.target) or None,
        "avg_price": _plain(record.avg_price) or None,
        "fee": _plain(record.fee) or None,
        "fee_asset": record.fee_asset or None,
        "mt5_deal": record.deal_ticket,
        "mt5_price": _plain(record.deal_price) or None,
        "slippage": _plain(slippage(record)) or None,
        "detail": record.detail,
    }


COLUMNS = ("time (UTC)", "symbol", "side", "qty", "state", "filled", "avg price", "MT5 price", "slippage", "fee",
           "MT5 deal", "client id")  # fmt: skip


def table(records: list[OrderRecord]) -> str:
    rows = [COLUMNS]
    for r in records:
        symbol = r.request.symbol + ("" if r.request.leg.value == "net" else f":{r.request.leg.value.upper()}")
        fee = f"{_plain(r.fee)} {r.fee_asset}".strip()
        rows.append((
            datetime.fromtimestamp(r.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S"), symbol, r.request.side.value,
            _plain(r.request.qty), r.state.value, _plain(r.filled_qty), _plain(r.avg_price), _plain(r.deal_price),
            _plain(slippage(r)), fee, "" if r.deal_ticket is None else str(r.deal_ticket), r.request.client_id,
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def run_orders(args: argparse.Namespace) -> int:
    journal_file: Path = args.journal or paths.journal_path(args.profile)
    if not journal_file.exists():
        raise CsmcError(f"No journal at {journal_file}: the sidecar has not run with profile '{args.profile}' yet.")
    if args.limit < 1:
        raise CsmcError(f"--limit {args.limit}: give a number of orders, 1 or more")
    since = parse_since(args.since, datetime.now(UTC)).timestamp() if args.since else None
    journal = Journal(journal_file, read_only=True)
    try:
        records = journal.recent_orders(symbol=args.symbol, since=since, limit=args.limit)
    finally:
        journal.close()
    if args.json:
        for record in records:
            print(json.dumps(as_json(record)))
    elif records:
        print(table(records))
    else:
        print("No orders" + (f" for {args.symbol}" if args.symbol else "") + (" in that time" if since else "") + ".")
    return 0
