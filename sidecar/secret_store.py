"""Where API keys live when they are not written in the profile: the OS keyring, or a private file.

A profile can name a stored secret instead of holding it:

    [binance]
    api_key = "keyring:live/binance.api_key"             # in the OS keyring, service "CSMultiConnector"
    secret_key = "secrets-file:live/binance.secret_key"  # in <config dir>/secrets.toml, readable by you alone

`csmc init` stores the keys and writes the references. The keyring library uses the operating system's
store (Windows Credential Manager, the macOS Keychain, the Secret Service of Linux desktops). A computer
without one keeps the secrets in the secrets file, which is created readable by its owner only and, like a
profile, refused when other users can read it. Keys written in the profile itself, or given in `CSMC_…`
variables, work as before.
"""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from pathlib import Path
from typing import Literal

from sidecar import paths, tomlwriter
from sidecar.errors import ConfigError

SERVICE = "CSMultiConnector"
KEYRING = "keyring:"
SECRETS_FILE = "secrets-file:"
Store = Literal["keyring", "file"]


class SecretStoreError(ConfigError):
    """A stored secret cannot be read or written; the text says where it was looked for and what to do."""


def is_reference(value: str) -> bool:
    return value.startswith((KEYRING, SECRETS_FILE))


def keyring_backend() -> str | None:
    """The name of the OS keyring the keyring library would use, or None when this computer has none."""
    import keyring
    from keyring.backends import fail, null

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    name: str = getattr(backend, "name", type(backend).__name__)
    return name


def save(name: str, secret: str, store: Store) -> str:
    """Store a secret under `name`; returns the reference the profile holds instead of the secret."""
    if store == "keyring":
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(SERVICE, name, secret)
        except KeyringError as e:
            raise SecretStoreError(
                f"The OS keyring refused to store {name}: {_first_line(e)}. Unlock the keyring and try again, or "
                f"store the keys in the private secrets file instead (csmc init --store file)."
            ) from None
        return KEYRING + name
    stored = _read_file()
    stored[name] = secret
    lines = [
        "# Secrets of CSMultiConnector profiles, written by csmc init. Keep this file readable by you alone.",
        *(tomlwriter.assignment(k, v) for k, v in sorted(stored.items())),
    ]
    paths.write_private(secrets_file(), "\n".join(lines) + "\n")
    return SECRETS_FILE + name


def resolve(reference: str) -> str:
    """The secret a reference names. Raises SecretStoreError (never with the secret in it) when it is missing."""
    if reference.startswith(KEYRING):
        return _from_keyring(reference[len(KEYRING) :])
    name = reference[len(SECRETS_FILE) :]
    secret = _read_file().get(name, "")
    if not secret:
        raise SecretStoreError(f"the secrets file {secrets_file()} has no entry \"{name}\"")
    return secret


def secrets_file() -> Path:
    return paths.config_dir() / "secrets.toml"


def _from_keyring(name: str) -> str:
    import keyring
    from keyring.errors import KeyringError

    backend = keyring_backend()
    if backend is None:
        raise SecretStoreError("it is kept in an OS keyring, and the keyring library finds none on this computer")
    try:
        secret = keyring.get_password(SERVICE, name)
    except KeyringError as e:
        raise SecretStoreError(f"the OS keyring ({backend}) cannot be read: {_first_line(e)}") from None
    if not secret:
        raise SecretStoreError(f'the OS keyring ({backend}) has no entry "{name}" for the service {SERVICE}')
    return secret


def _read_file() -> dict[str, str]:
    path = secrets_file()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if sys.platform != "win32" and not os.environ.get("WINEPREFIX") and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretStoreError(
            f"the secrets file {path} can be read by other users of this computer. Make it private with: "
            f"chmod 600 '{path}'"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SecretStoreError(f"the secrets file {path} cannot be read: {_first_line(e)}") from None
    return {k: v for k, v in data.items() if isinstance(v, str)}


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
