"""`csmc`: the sidecar's command line.

Every failure a user can cause ends in one paragraph that says what is wrong and what to do, with exit
code 2; a failure of our own says where the log with the details is, with exit code 70. No traceback.
`check` and `sync --dry-run` exit with 1 when an MT5 symbol cannot be mapped (after listing every symbol).

`csmc run` started by an EA must tell that EA why it cannot copy: a profile that cannot be used, or one that
another sidecar already uses, still gets the port served, and the reason goes to the EA's chart as a
critical alert (sidecar/refusal.py), to stderr and to the log file. It exits with 2 when no EA has been
connected for a while, or with 75 as soon as the problem may be gone (the profile was saved again, the
other sidecar ended), so that the EA starts a sidecar that copies.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sidecar import __version__, paths
from sidecar.config import LogSettings, Settings, load_settings, settings_without_profile
from sidecar.errors import ConfigError, CsmcError
from sidecar.instance import ProfileInUse, ProfileLock, sidecars_on_port
from sidecar.launch import prebound
from sidecar.logs import REDACT, setup_logging

if TYPE_CHECKING:
    from bridge.token import TokenFile
    from sidecar.mapping import SymbolMapper
    from sidecar.refusal import ResolvedCheck

log = logging.getLogger("csmc.cli")
CONNECTORS = ("ib", "binance", "kucoin", "kraken", "paper")


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number: use a number from 1 to 65535") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port: use a number from 1 to 65535")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csmc", description="CSMultiConnector sidecar: copies MT5 positions to a venue."
    )
    parser.add_argument("-V", "--version", action="version", version=f"csmc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="serve an EA (what the EA starts)")
    run.add_argument("--port", type=port_number, required=True, help="TCP port on 127.0.0.1 the EA connects to")
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
        help="show how an MT5 symbol maps (repeatable); give the currencies of a symbol whose name does not "
        "hold them, as MT5's symbol specification shows them",
    )

    sync = sub.add_parser("sync", help="show the orders a sync would place now")
    sync.add_argument("--dry-run", action="store_true", required=True, help="place nothing (required)")
    sync.add_argument("--profile", default="default")
    sync.add_argument("--connector", choices=CONNECTORS)
    sync.add_argument("--journal", type=Path)

    from sidecar.history import add_orders_parser
    from sidecar.wizard import add_init_parser

    add_init_parser(sub)
    add_orders_parser(sub)

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
        if args.command == "init":
            from sidecar.wizard import run_init

            return run_init(args)
        if args.command == "run":
            return _run(args)
        if args.command == "orders":
            from sidecar.history import run_orders

            return run_orders(args)
        settings, profile_file = _settings(args)
        log_file = setup_logging(
            settings.log.directory or paths.log_dir(),
            max_mb=settings.log.max_log_file_mb,
            level=settings.log.level,
            name=f"{args.command}-{args.profile}",
        )
        REDACT.add(*settings.secret_values())
        try:
            if args.command == "check":
                return asyncio.run(check(settings, profile_file, args.symbol, args.profile))
            return asyncio.run(_dry_run(args, settings))
        except CsmcError:
            raise
        except Exception:
            return _internal_error(args.command, log_file)
    except CsmcError as e:
        _fail(str(e))
        return 2
    except KeyboardInterrupt:
        return 130


def _internal_error(command: str, log_file: Path) -> int:
    log.exception("internal error")
    _fail(
        f"Internal error in csmc {command}. The details are in the log file {log_file}; "
        f"please attach it (it holds no secrets) when you report the problem."
    )
    return 70


def _fail(text: str) -> None:
    print(f"csmc: {REDACT(text)}", file=sys.stderr)


def _settings(args: argparse.Namespace) -> tuple[Settings, Path]:
    """The profile's settings. A --connector may name the venue only where the profile does not: the profile
    holds that venue's keys, so a command line that disagrees with it is refused, naming both."""
    asked = getattr(args, "connector", None)
    settings, path = load_settings(args.profile)
    if not asked or asked == settings.connector:
        return settings, path
    if "connector" in settings.model_fields_set:
        raise ConfigError(
            f"csmc {args.command} was given --connector {asked}, but profile {path} says connector = "
            f'"{settings.connector}". The profile decides the venue: leave out --connector, or change the profile.'
        )
    return load_settings(args.profile, connector=asked)


def _run(args: argparse.Namespace) -> int:
    # The profile may be what is wrong: until it is read, the log goes to the default place and size.
    log_file = setup_logging(paths.log_dir(), max_mb=LogSettings().max_log_file_mb, name=f"run-{args.profile}")
    try:
        token = _read_token(args.token_file)
    except CsmcError as e:
        # Without the EA's token nobody can be told on a chart: the log file and stderr have to do.
        log.error("%s", e, extra={"console": False})
        raise
    profile_file = paths.profile_path(args.profile)
    try:
        settings, _ = _settings(args)
    except ConfigError as e:
        return _refuse(args, token, e, "the profile cannot be used", _changes_of(profile_file))
    log_file = setup_logging(
        settings.log.directory or paths.log_dir(),
        max_mb=settings.log.max_log_file_mb,
        level=settings.log.level,
        name=f"run-{args.profile}",
    )
    REDACT.add(*settings.secret_values())
    lock = ProfileLock(args.profile)
    try:
        lock.acquire(args.port)
    except ProfileInUse as e:
        return _refuse(
            args, token, e, f"profile '{args.profile}' is in use by another sidecar", _freed(lock), settings,
            code="profile_in_use",
        )  # fmt: skip
    try:
        return _serve(args, settings, token, lock, profile_file)
    except CsmcError:
        raise
    except Exception:
        return _internal_error("run", log_file)
    finally:
        lock.release()


def _read_token(path: Path) -> TokenFile:
    from bridge.token import TokenFile

    token_path = _token_path(path)
    try:
        token = TokenFile(token_path, on_change=REDACT.add)
    except OSError as e:
        where = f" (under Wine: {token_path})" if token_path != path else ""
        raise CsmcError(
            f"Cannot read the token file {path}{where}: {e.strerror}. The EA writes it when it "
            f"starts the sidecar; when starting by hand, pass the file the EA's chart names."
        ) from None
    except UnicodeDecodeError:
        token = None
    except ValueError:
        raise CsmcError(
            f"The token file {path} holds no token: it is empty. The EA writes a new token there each time it "
            f"starts; when starting by hand, pass the file the EA's chart names."
        ) from None
    if token is None or not token.value.isprintable():
        raise CsmcError(
            f"The token file {path} does not hold a token: its content is not text. The EA writes a line of "
            f"letters and digits there; when starting by hand, pass the file the EA's chart names."
        )
    return token


def _serve(args: argparse.Namespace, settings: Settings, token: TokenFile, lock: ProfileLock, profile: Path) -> int:
    from bridge.messages import Welcome
    from bridge.server import AddressInUse, Session
    from sidecar.app import RunOptions, Sidecar

    class LockedSidecar(Sidecar):
        """Names its EA's account in the profile lock, for the message a second sidecar shows."""

        async def on_hello(self, session: Session) -> Welcome:
            welcome = await super().on_hello(session)
            account = session.hello.account
            lock.record_account(f"{account.login} on {account.server}")
            return welcome

    options = RunOptions(
        profile=args.profile,
        token=token,
        port=args.port,
        journal_path=args.journal or paths.journal_path(args.profile),
        connector=settings.connector,
    )
    # The port `csmc` claimed before its slow imports (sidecar/launch.py), if it could.
    sock = prebound(args.port)
    try:
        sidecar = LockedSidecar(settings, options, sock=sock)
    except ConfigError as e:  # a connector this version does not have
        lock.release()
        return _refuse(args, token, e, f"the {settings.connector} connector cannot be used", _changes_of(profile),
                       sock=sock)  # fmt: skip

    async def serve() -> int:
        try:
            sidecar.bind()
        except AddressInUse as e:
            raise CsmcError(_cannot_listen(e, args.port)) from None
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


def _refuse(
    args: argparse.Namespace,
    token: TokenFile,
    problem: CsmcError,
    summary: str,
    resolved: ResolvedCheck,
    settings: Settings | None = None,
    *,
    code: str = "config",
    sock: socket.socket | None = None,
) -> int:
    """Serve the port only to tell the EA why nothing is copied (sidecar/refusal.py)."""
    from bridge.server import AddressInUse
    from sidecar.refusal import RefusingSidecar

    bridge = (settings or settings_without_profile()).bridge
    after = (
        "this sidecar exits when the other one has ended, and the EA can then start one that copies"
        if isinstance(problem, ProfileInUse)
        else "when the profile file changes (saved, or its permissions changed), this sidecar exits and the EA can "
        "start one that reads it"
    )
    reason = str(problem).rstrip()
    text = f"{reason}{'' if reason.endswith('.') else '.'} Nothing is copied: {after}."
    log.error("Not copying. %s", text, extra={"console": False})
    refusing = RefusingSidecar(
        text, summary, token, port=args.port, connector=args.connector, profile=args.profile, code=code,
        resolved=resolved, heartbeat_ms=bridge.heartbeat_ms, timeout_ms=bridge.timeout_ms,
        orphan_exit_s=bridge.orphan_exit_s, sock=sock if sock is not None else prebound(args.port),
    )  # fmt: skip

    async def serve() -> int:
        try:
            refusing.bind()
        except AddressInUse as e:
            raise CsmcError(f"{_cannot_listen(e, args.port)} (So the EA cannot be told: {problem})") from None
        _fail(text)
        print(f"csmc: listening on 127.0.0.1:{args.port} to tell the EA why nothing is copied", flush=True)
        return await refusing.run()

    return asyncio.run(serve())


def _changes_of(path: Path) -> ResolvedCheck:
    """A check that answers once the file is written, created, removed or has its permissions changed."""

    def fingerprint() -> tuple[int, int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_mode

    first = fingerprint()

    def changed() -> str | None:
        return f"{path} changed" if fingerprint() != first else None

    return changed


def _freed(lock: ProfileLock) -> ResolvedCheck:
    def free() -> str | None:
        return f"the other sidecar of profile '{lock.profile}' has ended" if lock.is_free() else None

    return free


def _cannot_listen(error: Exception, port: int) -> str:
    """Why the port cannot be bound, as far as this computer can tell: only a port in use names its holder."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind(("127.0.0.1", port))
    except OSError as e:
        in_use = e.errno == errno.EADDRINUSE
    else:
        in_use = False
    finally:
        probe.close()
    if not in_use:
        return f"{error}. Give the EA another port ('Sidecar port')."
    owners = [o for o in sidecars_on_port(port) if o.pid != os.getpid()]  # this one has locked its profile
    who = owners[0].describe(name_profile=True) if owners else "another program"
    return (
        f"Cannot listen on 127.0.0.1:{port}: the port is in use by {who}. Stop it, or give the EA another port "
        f"('Sidecar port')."
    )


def _symbol_currencies(text: str, mapper: SymbolMapper) -> tuple[str, str, str] | str:
    """MT5 symbol, base and profit currency of a --symbol argument; or why they cannot be told."""
    name, _, pair = text.partition("=")
    if pair:
        base, _, profit = pair.partition("/")
        if not base or not profit:
            return f"write its currencies as BASE/PROFIT, e.g. --symbol {name}=EUR/USD"
        return name, base, profit
    if mapper.venue_symbol_for(name, "", "") is not None:
        return name, "", ""  # an override names the venue symbol: the currencies are not needed
    root = mapper.root(name)
    if len(root) == 6 and root.isalpha():
        return name, root[:3], root[3:]
    return (
        f"its name does not hold two currencies, and the profile has no override for it. Add one to the profile: "
        f'[mapping.overrides] "{root}" = {{ symbol = "<venue symbol>" }}'
    )


async def check(settings: Settings, profile_file: Path, symbols: Sequence[str], profile: str) -> int:
    """`csmc check`: what the venue reports, and how each MT5 symbol maps. 1 when a symbol cannot be mapped."""
    from sidecar.app import copy_mode, make_mapper, make_venue
    from sidecar.mapping import UnknownSymbol

    venue = make_venue(settings)
    await venue.connect()
    unmapped = 0
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
        for text in symbols:
            parsed = _symbol_currencies(text, mapper)
            if isinstance(parsed, str):
                unmapped += 1
                print(f"Mapping        {text.partition('=')[0]}: NOT MAPPED — {parsed}.")
                continue
            name, base, profit = parsed
            candidate = mapper.venue_symbol_for(name, base, profit)
            if candidate is not None and candidate not in instruments:
                await venue.resolve({candidate})  # venues that look instruments up one by one (IB)
            try:
                mapped = mapper.map(name, base, profit)
            except UnknownSymbol as e:
                unmapped += 1
                print(f"Mapping        {name}: NOT MAPPED — {e}")
                continue
            shown.append(mapped.instrument)
            print(f"Mapping        {name} → {mapped.instrument.symbol} (multiplier {mapped.multiplier})")
        print("Instrument rules")
        print(f"  {'symbol':<12} {'lot step':>10} {'min size':>10} {'min notional':>13} {'multiplier':>10}")
        for i in shown or sorted(instruments.values(), key=lambda i: i.symbol)[:30]:
            print(
                f"  {i.symbol:<12} {i.lot_step:>10f} {i.min_qty:>10f} {i.min_notional:>13f} {i.multiplier:>10f}"
            )
        traded = sorted({i.symbol for i in shown} | {o.symbol for o in settings.mapping.overrides.values()}
                        | _journal_symbols(profile, mapper))  # fmt: skip
        for label, text in await venue.check_details(traded):
            print(f"{label:<15}{text}")
        for text in await venue.check_warnings(traded):
            print(f"Warning        {text}")
    finally:
        await venue.close()
    if unmapped:
        print(f"{unmapped} of {len(symbols)} MT5 symbol(s) cannot be mapped: they would not be copied.")
        return 1
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
    unmapped = engine.targets.unmapped if engine.targets else {}
    for plan in plans:
        order = "none" if not plan.sends else f"{'BUY' if plan.delta > 0 else 'SELL'} {abs(plan.delta)}"
        if plan.key.leg.value == "short" and plan.sends:
            order = f"{'SELL' if plan.delta > 0 else 'BUY'} {abs(plan.delta)} (short leg)"
        note = f"  ({plan.note})" if plan.note else ""
        print(f"  {plan.key!s:<18} {_fmt(plan.target):>14} {_fmt(plan.position):>14}  {order}{note}")
    if not plans and not unmapped:
        print("  (no instruments)")
    for mt5_symbol, why in sorted(unmapped.items()):
        print(f"  {mt5_symbol:<18} NOT MAPPED, not copied — {why}")
    if unmapped:
        print(f"{len(unmapped)} MT5 symbol(s) of the snapshot cannot be mapped: nothing is placed for them.")
        return 1
    return 0


def _fmt(value: Decimal) -> str:
    return f"{value:f}"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
