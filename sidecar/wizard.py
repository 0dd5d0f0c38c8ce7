"""`csmc init`: writes a profile for one connector with every setting explained, and stores its keys.

On a terminal it asks: the connector, then each setting of the connector's section, shown with its
explanation and default (Enter keeps the default), then the API keys, without echoing them. With
`--non-interactive` (installers, scripts) every answer comes from `--set SECTION.KEY=VALUE` and the keys
from the `CSMC_<CONNECTOR>__<KEY>` variables; nothing is asked. Keys never come from the command line,
which other users of the computer can read.

Keys go to the OS keyring, or to the private secrets file where the computer has no keyring
(sidecar/secret_store.py), and the profile refers to them. The wizard ends with the checks of `csmc check`,
on what it wrote: the keys are read back from where they were stored.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError

from sidecar import paths, secret_store, tomlwriter
from sidecar.config import (
    BridgeSettings,
    Connector,
    LogSettings,
    MappingSettings,
    Section,
    Settings,
    load_settings,
)
from sidecar.errors import ConfigError, CsmcError
from sidecar.logs import setup_logging

CONNECTORS: tuple[Connector, ...] = ("ib", "binance", "kucoin", "kraken", "paper")
# Keys a connector cannot work without; the others (Kraken's one-time password) may stay empty.
REQUIRED_SECRETS: dict[str, tuple[str, ...]] = {
    "binance": ("api_key", "secret_key"),
    "kucoin": ("api_key", "secret_key", "passphrase"),
    "kraken": ("api_key", "secret_key"),
}
# Settings the wizard does not ask: IB cannot turn the sync at startup off; prices are a table.
NOT_ASKED = {("ib", "sync_at_startup"), ("paper", "prices")}
OTHER_SECTIONS: dict[str, type[Section]] = {"mapping": MappingSettings, "log": LogSettings, "bridge": BridgeSettings}

Ask = Callable[[str], str]


def add_init_parser(sub: Any) -> None:
    init = sub.add_parser(
        "init",
        help="write a profile, every setting explained; keys go to the OS keyring",
        description="Write a profile for one connector. On a terminal every setting is asked with its "
        "explanation; --non-interactive takes the answers from --set and the keys from CSMC_<CONNECTOR>__<KEY> "
        "variables (e.g. CSMC_BINANCE__API_KEY). Ends with the checks of csmc check.",
    )
    init.add_argument("--profile", default="default", help="profile name (file <config>/profiles/<name>.toml)")
    init.add_argument("--connector", choices=CONNECTORS, help="the venue to copy to")
    init.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a setting, e.g. binance.endpoint=futures or mapping.symbol_suffixes=.m,.pro (repeatable)",
    )
    init.add_argument(
        "--store",
        choices=("keyring", "file", "profile"),
        help="where the keys go: the OS keyring (the default where the computer has one), the private "
        "secrets file (the default where it has none), or the profile itself",
    )
    init.add_argument("--non-interactive", action="store_true", help="ask nothing; for installers and scripts")
    init.add_argument("--force", action="store_true", help="replace an existing profile without asking")
    init.add_argument("--no-check", action="store_true", help="do not connect to the venue at the end")
    init.add_argument("--symbol", action="append", default=[], help="an MT5 symbol for the final check (repeatable)")


def run_init(args: argparse.Namespace) -> int:
    try:
        return _init(args)
    except EOFError:
        raise ConfigError("csmc init ended before its questions were answered: nothing was written.") from None


def _init(args: argparse.Namespace) -> int:
    interactive = not args.non_interactive
    if interactive and not sys.stdin.isatty():
        raise ConfigError(
            "csmc init asks its questions on a terminal, and this is not one. Run it in a terminal, or pass "
            "--non-interactive with --connector, --set SECTION.KEY=VALUE and the keys in CSMC_<CONNECTOR>__<KEY> "
            "variables."
        )
    ask: Ask = input if interactive else _never_ask
    setup_logging(paths.log_dir(), max_mb=LogSettings().max_log_file_mb, name=f"init-{args.profile}", console=False)
    path = paths.profile_path(args.profile)
    if path.exists() and not args.force:
        if not interactive:
            raise ConfigError(f"The profile {path} exists already. Pass --force to replace it.")
        if not _yes(ask(f"The profile {path} exists. Replace it? [y/N] "), default=False):
            print("Nothing was changed.")
            return 1
    connector = args.connector or _ask_connector(ask, interactive)
    given = _parse_sets(args.set, connector)
    if interactive:
        print(f"\nSettings of [{connector}]. Press Enter to keep the value in brackets.\n")
    answers = _answers(SECTION_MODELS[connector], connector, given.pop(connector, {}), ask if interactive else None)
    others = {name: _answers(model, name, given.pop(name, {}), None) for name, model in OTHER_SECTIONS.items()}
    store = args.store or ("keyring" if secret_store.keyring_backend() else "file")
    secrets = _secrets(connector, interactive)
    references = {field: _keep(args.profile, connector, field, value, store) for field, value in secrets.items()}
    paths.write_private(path, profile_text(args.profile, connector, answers, references, others))
    print(f"\nWrote {path} (readable by you alone).")
    for field in references:
        print(f"  [{connector}] {field}: {_where(store)}")
    if args.no_check:
        return 0
    print("\nChecking the profile (csmc check):\n")
    return _final_check(args.profile, connector, args.symbol, path)


SECTION_MODELS: dict[str, type[Section]] = {
    name: typing.cast(type[Section], Settings.model_fields[name].annotation) for name in CONNECTORS
}


def _never_ask(prompt: str) -> str:
    raise AssertionError(f"asked in non-interactive mode: {prompt}")


def _ask_connector(ask: Ask, interactive: bool) -> Connector:
    if not interactive:
        raise ConfigError(f"csmc init --non-interactive needs --connector ({', '.join(CONNECTORS)}).")
    print("Which venue do you copy to? ib (Interactive Brokers), binance, kucoin, kraken, or paper (a simulator).")
    while True:
        answer = ask("Connector [paper]: ").strip().lower() or "paper"
        for name in CONNECTORS:
            if answer == name:
                return name
        print(f"  Choose one of: {', '.join(CONNECTORS)}.")


def _parse_sets(items: list[str], connector: str) -> dict[str, dict[str, str]]:
    known = {connector: SECTION_MODELS[connector], **OTHER_SECTIONS}
    found: dict[str, dict[str, str]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        section, dot, key = name.strip().partition(".")
        if not sep or not dot:
            raise ConfigError(f"--set {item}: write SECTION.KEY=VALUE, e.g. {connector}.position_sync_period_s=60")
        model = known.get(section)
        if model is None:
            raise ConfigError(f"--set {item}: [{section}] is not a section of a {connector} profile")
        field = model.model_fields.get(key)
        if field is None:
            raise ConfigError(f"--set {item}: [{section}] has no setting {key}")
        if _is_table(field.annotation):
            raise ConfigError(f"--set {item}: [{section}.{key}] is a table; write it in the profile after csmc init")
        if field.annotation is SecretStr:
            raise ConfigError(
                f"--set {item}: keys are never given on the command line, which other users can read; put it in "
                f"CSMC_{section.upper()}__{key.upper()} for csmc init instead"
            )
        found.setdefault(section, {})[key] = text
    return found


def _answers(model: type[Section], section: str, given: dict[str, str], ask: Ask | None) -> dict[str, Any]:
    """The section's values: from --set, else asked (on a terminal), else the default. All validated."""
    values: dict[str, Any] = {}
    for key, field in model.model_fields.items():
        if key in given:
            values[key] = _parsed(section, key, field.annotation, given[key])
            _validate(model, section, {**values})
            continue
        if field.annotation is SecretStr or (section, key) in NOT_ASKED or _is_table(field.annotation):
            continue
        if ask is None:
            values[key] = field.default
            continue
        values[key] = _ask_value(model, section, key, values, ask)
    return values


def _ask_value(model: type[Section], section: str, key: str, values: dict[str, Any], ask: Ask) -> Any:
    field = model.model_fields[key]
    print(f"[{section}] {key}")
    for line in (field.description or "").splitlines():
        print(f"    {line.strip()}")
    choices = _choices(field.annotation)
    hint = f" ({'/'.join(choices)})" if choices else ""
    while True:
        answer = ask(f"  {key}{hint} [{_shown(field.default)}]: ").strip()
        try:
            value = field.default if answer == "" else _parsed(section, key, field.annotation, answer)
            _validate(model, section, {**values, key: value})
        except ConfigError as e:
            print(f"  {e}")
            continue
        print()
        return value


def _parsed(section: str, key: str, annotation: Any, text: str) -> Any:
    text = text.strip()
    kind = _plain(annotation)
    where = f"[{section}] {key}"
    try:
        if kind is bool:
            return _yes(text)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is Decimal:
            return Decimal(text)
        if kind is Path:
            return Path(text) if text else None
        if kind is list:
            return [part.strip() for part in text.split(",") if part.strip()]
    except (ValueError, InvalidOperation):
        raise ConfigError(f"{where}: '{text}' is not a {kind.__name__ if kind else 'value'}") from None
    choices = _choices(annotation)
    if choices and text not in choices:
        raise ConfigError(f"{where}: choose one of {', '.join(choices)}")
    return text


def _validate(model: type[Section], section: str, values: dict[str, Any]) -> None:
    try:
        model(**values)
    except ValidationError as e:
        raise ConfigError(_section_problems(section, e)) from None


def _section_problems(section: str, error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        parts.append(f"[{section}] {key}: {item['msg']}")
    return "; ".join(parts)


def _secrets(connector: str, interactive: bool) -> dict[str, str]:
    model = SECTION_MODELS[connector]
    fields = [k for k, f in model.model_fields.items() if f.annotation is SecretStr]
    required = REQUIRED_SECRETS.get(connector, ())
    found: dict[str, str] = {}
    missing = []
    for key in fields:
        variable = f"CSMC_{connector.upper()}__{key.upper()}"
        value = os.environ.get(variable, "")
        if value:
            print(f"[{connector}] {key}: taken from {variable}")
        elif interactive:
            print(f"[{connector}] {key}")
            for line in (model.model_fields[key].description or "").splitlines():
                print(f"    {line.strip()}")
            optional = key not in required
            while True:
                value = getpass.getpass(f"  {key} ({'Enter for none' if optional else 'not shown'}): ").strip()
                if value or optional:
                    break
                print(f"  {connector} needs its {key}.")
            print()
        if value:
            found[key] = value
        elif key in required:
            missing.append(variable)
    if missing:
        raise ConfigError(
            f"The {connector} connector needs its keys: set {' and '.join(missing)} for csmc init, or run it on a "
            f"terminal without --non-interactive to be asked."
        )
    return found


def _keep(profile: str, connector: str, field: str, secret: str, store: str) -> str:
    if store == "profile":
        return secret
    return secret_store.save(f"{profile}/{connector}.{field}", secret, "keyring" if store == "keyring" else "file")


def _where(store: str) -> str:
    if store == "keyring":
        return f"stored in the OS keyring ({secret_store.keyring_backend()}), service {secret_store.SERVICE}"
    if store == "file":
        return f"stored in {secret_store.secrets_file()} (readable by you alone)"
    return "written in the profile"


def _final_check(profile: str, connector: str, symbols: list[str], path: Path) -> int:
    from sidecar.cli import check
    from sidecar.logs import REDACT

    # What was stored is what is checked: a key given in the environment for init must not stand in for it.
    with _without_variables(f"CSMC_{connector.upper()}__"):
        try:
            settings, _ = load_settings(profile)
            REDACT.add(*settings.secret_values())
            return asyncio.run(check(settings, path, symbols, profile))
        except CsmcError as e:
            print(
                f"csmc: the profile {path} is written, but the check found a problem: {REDACT(str(e))}",
                file=sys.stderr,
            )
            return 2


@contextmanager
def _without_variables(prefix: str) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith(prefix)}
    for k in saved:
        del os.environ[k]
    try:
        yield
    finally:
        os.environ.update(saved)


# --- the profile's text --------------------------------------------------------------------------------


def profile_text(
    profile: str,
    connector: str,
    answers: dict[str, Any],
    secrets: dict[str, str],
    others: dict[str, dict[str, Any]],
) -> str:
    written = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"# CSMultiConnector profile '{profile}', written by csmc init on {written}.",
        "# Settings are read, highest priority first, from: the command line, CSMC_… environment variables,",
        "# this file, the defaults. Unknown keys are errors. This file must stay readable by you alone.",
        "",
        f"connector = {tomlwriter.string(connector)}",
        "",
    ]
    lines += _section(connector, SECTION_MODELS[connector], answers, secrets)
    for name, model in OTHER_SECTIONS.items():
        lines += _section(name, model, others[name], {})
    return "\n".join(lines) + "\n"


def _section(name: str, model: type[Section], values: dict[str, Any], secrets: dict[str, str]) -> list[str]:
    lines = [f"[{name}]"]
    if model.__doc__ and model.__doc__ is not Section.__doc__ and model.__doc__ is not BaseModel.__doc__:
        lines += [f"# {line.strip()}" for line in model.__doc__.strip().splitlines()]
    tables = []
    for key, field in model.model_fields.items():
        description = [f"# {line.strip()}" for line in (field.description or "").splitlines()]
        if _is_table(field.annotation):
            tables.append((key, description))
            continue
        value = values.get(key, field.default) if field.annotation is not SecretStr else secrets.get(key)
        lines += description
        if field.annotation is SecretStr:
            lines.append(tomlwriter.assignment(key, value) if value else f'# {key} = ""')
        elif value is None:
            lines.append(f"# {key} =")
        else:
            lines.append(tomlwriter.assignment(key, value))
    lines.append("")
    for key, description in tables:
        lines += description
        lines.append(f"# e.g. {_TABLE_EXAMPLES.get((name, key), 'KEY = VALUE')}")
        lines += [f"[{name}.{key}]", ""]
    return lines


_TABLE_EXAMPLES = {
    ("mapping", "overrides"): '"US500" = { symbol = "<venue symbol>", multiplier = 1 }',
    ("paper", "prices"): '"BTCUSD" = 65000',
}


# --- small helpers --------------------------------------------------------------------------------


def _yes(text: str, default: bool | None = None) -> bool:
    answer = text.strip().lower()
    if answer in ("y", "yes", "true", "on", "1"):
        return True
    if answer in ("n", "no", "false", "off", "0"):
        return False
    if answer == "" and default is not None:
        return default
    raise ValueError(f"'{text}' is neither yes nor no")


def _plain(annotation: Any) -> type | None:
    """The Python type a setting's text is read as (Optional and Literal unwrapped)."""
    origin = get_origin(annotation)
    if origin is typing.Literal:
        return str
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _plain(inner[0]) if len(inner) == 1 else str
    if origin is list:
        return list
    return annotation if isinstance(annotation, type) else None


def _choices(annotation: Any) -> tuple[str, ...]:
    if get_origin(annotation) is typing.Literal:
        return tuple(str(a) for a in get_args(annotation))
    if annotation is bool:
        return ("yes", "no")
    return ()


def _is_table(annotation: Any) -> bool:
    return get_origin(annotation) is dict


def _shown(default: Any) -> str:
    if isinstance(default, bool):
        return "yes" if default else "no"
    if default is None:
        return ""
    if isinstance(default, list):
        return ",".join(default)
    return str(default)
