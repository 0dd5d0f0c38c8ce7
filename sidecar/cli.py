"""`csmc`: the sidecar's command line.

Every failure a user can cause ends in one paragraph that says what is wrong and what to do, with exit
code 2; a failure of our own says where the log with the details is, with exit code 70. No traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sidecar import __version__, paths
from sidecar.config import Settings, load_settings
from sidecar.errors import CsmcError
from sidecar.logs import REDACT, setup_logging

if TYPE_CHECKING:
    from sidecar.mapping import SymbolMapper

log = logging.getLogger("csmc.cli")
CONNECTORS = ("ib", "binance", "kucoin", "kraken", "paper")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csmc", description="CSMultiConnector sidecar: copies MT5 positions to a venue."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="serve an EA (what the EA starts)")
    run.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 the EA connects to")
    run.add_argument("--connector", choices=CONNECTORS, help="venue; overrides the profile")
    run.add_argument("--profile", default="default", help="profile name (file <config>/profiles/<name>.toml)")
    run.add_argument("--token-file", type=Path, required=True, help="file holding this session's token")
    run.add_argument("--journal", type=Path, help="journal file (default: per profile in the data directory)")

    check = sub.add_parser("check", help="connect with a profile and print what the venue reports")
    check.add_argument("--profile", default="default")
    check.add_argument("--connector", choices=CONNECTORS)
    check.add_argument(
        "--symbol",
        action="append",
        default=[],
        metavar="MT5SYMBOL[=BASE/PROFIT]",
        help="show how an MT5 symbol maps (repeatable)",
    )

    sync = sub.add_parser("sync", help="show the orders a sync would place now")
    sync.add_argument("--dry-run", action="store_true", required=True, help="place nothing (required)")
    sync.add_argument("--profile", default="default")
    sync.add_argument("--connector", choices=CONNECTORS)
    sync.add_argument("--journal", type=Path)

    demo = sub.add_parser("demo", help="run a scripted MT5 session through the sidecar to the Paper venue")
    demo.add_argument("--quiet", action="store_true", help="print only the final summary")
    sub.add_parser("version", help="print the version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"csmc {__version__}")
        return 0
    try:
        if args.command == "demo":
            from sidecar.demo import run_demo

            return run_demo(quiet=args.quiet)
        settings, profile_file = _settings(args)
        log_file = setup_logging(
            settings.log.directory or paths.log_dir(),
            max_mb=settings.log.max_log_file_mb,
            level=settings.log.level,
            name=f"{args.command}-{args.profile}",
        )
        REDACT.add(*settings.secret_values())
        try:
            if args.command == "run":
                return _run(args, settings)
            if args.command == "check":
                return asyncio.run(_check(args, settings, profile_file))
            return asyncio.run(_dry_run(args, settings))
        except CsmcError:
            raise
        except Exception:
            log.exception("internal error")
            _fail(
                f"Internal error in csmc {args.command}. The details are in the log file {log_file}; "
                f"please attach it (it holds no secrets) when you report the problem."
            )
            return 70
    except CsmcError as e:
        _fail(str(e))
        return 2
    except KeyboardInterrupt:
        return 130


def _fail(text: str) -> None:
    print(f"csmc: {REDACT(text)}", file=sys.stderr)


def _settings(args: argparse.Namespace) -> tuple[Settings, Path]:
    cli = {"connector": args.connector} if getattr(args, "connector", None) else {}
    return load_settings(args.profile, **cli)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.token import TokenFile
    from sidecar.app import RunOptions, Sidecar

    token_path = _token_path(args.token_file)
    try:
        token = TokenFile(token_path, on_change=REDACT.add)
    except OSError as e:
        where = f" (under Wine: {token_path})" if token_path != args.token_file else ""
        raise CsmcError(
            f"Cannot read the token file {args.token_file}{where}: {e.strerror}. The EA writes it when it "
            f"starts the sidecar; when starting by hand, pass the file the EA's chart names."
        ) from None
    except ValueError:
        raise CsmcError(f"The token file {args.token_file} is empty.") from None
    options = RunOptions(
        profile=args.profile,
        token=token,
        port=args.port,
        journal_path=args.journal or paths.journal_path(args.profile),
        connector=settings.connector,
    )

    async def serve() -> int:
        from bridge.server import AddressInUse

        sidecar = Sidecar(settings, options)
        try:
            sidecar.bind()
        except AddressInUse as e:
            raise CsmcError(
                f"{e}. Another sidecar probably serves this port already; stop it, or give the EA another port."
            ) from None
        # A supervisor (the EA's launcher, the tests) waits for this line to know the port is bound.
        print(f"csmc: listening on 127.0.0.1:{options.port}", flush=True)
        return await sidecar.run()

    return asyncio.run(serve())


def _token_path(given: Path) -> Path:
    """Under Wine the EA names its token file with a Windows path: read that file through the Wine prefix."""
    from sidecar import winepath

    text = str(given)
    if not winepath.is_windows_path(text):
        return given
    try:
        path = winepath.to_unix(text)
    except winepath.WinePathError as e:
        raise CsmcError(f"Cannot find the token file {text}: {e}.") from None
    log.info("token file %s is %s in the Wine prefix", text, path)
    return path


def _parse_symbol_arg(text: str) -> tuple[str, str, str]:
    from sidecar.mapping import SymbolMapper

    name, _, pair = text.partition("=")
    if pair:
        base, _, profit = pair.partition("/")
        if not base or not profit:
            raise CsmcError(f"--symbol {text}: write the currencies as BASE/PROFIT, e.g. {name}=BTC/USD")
        return name, base, profit
    root = SymbolMapper({}, lambda b, q: b + q).root(name)
    if len(root) != 6 or not root.isalpha():
        raise CsmcError(f"--symbol {text}: cannot tell the currencies of {name}; write e.g. {name}=BTC/USD")
    return name, root[:3], root[3:]


async def _check(args: argparse.Namespace, settings: Settings, profile_file: Path) -> int:
    from sidecar.app import copy_mode, make_mapper, make_venue
    from sidecar.mapping import UnknownSymbol

    venue = make_venue(settings)
    await venue.connect()
    try:
        instruments = await venue.instruments()
        summary = await venue.account()
        before = datetime.now(UTC)
        server = await venue.server_time()
        skew = (server - before).total_seconds()
        positions = await venue.positions()
        mapper = make_mapper(settings, venue, instruments)
        print(f"Profile        {profile_file if profile_file.exists() else '(defaults)'}")
        print(f"Connector      {settings.connector} — {venue.name}, {copy_mode(settings).value} mode")
        print(f"Account        {summary.account_id}, position mode {summary.position_mode.value}")
        print(f"Clock skew     {skew:+.3f} s (venue − this computer)")
        balances = ", ".join(f"{k} {v}" for k, v in sorted(summary.balances.items())) or "(none)"
        print(f"Balances       {balances}")
        print("Positions      " + ("(none)" if not positions else ""))
        for p in positions:
            print(f"  {p.key!s:<18} {p.qty}")
        shown = []
        for text in args.symbol:
            name, base, profit = _parse_symbol_arg(text)
            candidate = mapper.venue_symbol_for(name, base, profit)
            if candidate is not None and candidate not in instruments:
                await venue.resolve({candidate})  # venues that look instruments up one by one (IB)
            try:
                mapped = mapper.map(name, base, profit)
            except UnknownSymbol as e:
                print(f"Mapping        {name}: NOT MAPPED — {e}")
                continue
            shown.append(mapped.instrument)
            print(f"Mapping        {name} → {mapped.instrument.symbol} (multiplier {mapped.multiplier})")
        print("Instrument rules")
        print(f"  {'symbol':<12} {'lot step':>10} {'min size':>10} {'min notional':>13} {'multiplier':>10}")
        for i in shown or sorted(instruments.values(), key=lambda i: i.symbol)[:30]:
            print(f"  {i.symbol:<12} {i.lot_step!s:>10} {i.min_qty!s:>10} {i.min_notional!s:>13} {i.multiplier!s:>10}")
        traded = {i.symbol for i in shown} | {o.symbol for o in settings.mapping.overrides.values()}
        for text in await venue.check_warnings(sorted(traded | _journal_symbols(args.profile, mapper))):
            print(f"Warning        {text}")
    finally:
        await venue.close()
    return 0


def _journal_symbols(profile: str, mapper: SymbolMapper) -> set[str]:
    """Venue symbols the copier trades for this profile, as far as its journal knows (none without one)."""
    from bridge.messages import Position
    from sidecar.journal import Journal
    from sidecar.mapping import UnknownSymbol

    path = paths.journal_path(profile)
    if not path.exists():
        return set()
    journal = Journal(path)
    try:
        stored = journal.last_snapshot()
        if stored is None:
            return set()
        copy_key, snapshot = stored
        symbols = {leg.symbol for leg in journal.traded_legs(copy_key)}
        for raw in snapshot.positions:
            p = Position.model_validate(raw)
            try:
                symbols.add(mapper.map(p.symbol, p.base_currency, p.profit_currency).instrument.symbol)
            except UnknownSymbol:
                continue
        return symbols
    finally:
        journal.close()


async def _dry_run(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.messages import Position
    from sidecar.app import copy_mode, make_mapper, make_venue
    from sidecar.engine import SyncEngine
    from sidecar.journal import Journal
    from sidecar.model import MarginMode

    journal_file = args.journal or paths.journal_path(args.profile)
    if not journal_file.exists():
        raise CsmcError(
            f"No journal at {journal_file}: the sidecar has not run with profile '{args.profile}' yet, "
            f"so there is no MT5 snapshot to sync from."
        )
    journal = Journal(journal_file)
    try:
        stored = journal.last_snapshot()
        if stored is None:
            raise CsmcError(f"The journal {journal_file} holds no MT5 snapshot yet: attach the EA first.")
        copy_key, snapshot = stored
        venue = make_venue(settings)
        await venue.connect()
        try:
            mapper = make_mapper(settings, venue, await venue.instruments())
            engine = SyncEngine(venue, journal, mapper, mode=copy_mode(settings))
            positions = [Position.model_validate(p) for p in snapshot.positions]
            plans = await engine.preview(copy_key, MarginMode(snapshot.margin_mode), positions)
        finally:
            await venue.close()
    finally:
        journal.close()
    taken = datetime.fromtimestamp(snapshot.received_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    print(f"Dry run for {copy_key}, {engine.mode.value} mode, from the MT5 snapshot of {taken} (seq {snapshot.seq}).")
    print("Nothing is placed.")
    print(f"  {'instrument':<18} {'target':>14} {'venue':>14}  order")
    for plan in plans:
        order = "none" if not plan.sends else f"{'BUY' if plan.delta > 0 else 'SELL'} {abs(plan.delta)}"
        if plan.key.leg.value == "short" and plan.sends:
            order = f"{'SELL' if plan.delta > 0 else 'BUY'} {abs(plan.delta)} (short leg)"
        note = f"  ({plan.note})" if plan.note else ""
        print(f"  {plan.key!s:<18} {_fmt(plan.target):>14} {_fmt(plan.position):>14}  {order}{note}")
    if not plans:
        print("  (no instruments)")
    return 0


def _fmt(value: Decimal) -> str:
    return f"{value:f}"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
