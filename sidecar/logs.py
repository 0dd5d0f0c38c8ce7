"""Logging: a size-rotated text file, the console, and the EA's chart — all through one redactor.

Secrets are removed from the formatted text of every record (message, arguments and traceback alike), so
no handler can write an API key, a signature, an auth header or the session token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler
from pathlib import Path

from sidecar.paths import private_dir, private_file

MASK = "***"
# A credential's name stands alone (not the tail of "ea.token" or "binance.secret_key", which are file names
# and setting paths in ordinary messages); its value is a run of the characters keys, signatures and tokens
# are written in (hex, base64, URL-safe base64).
_HEADER_SECRETS = re.compile(
    r"(?i)(?<![\w.-])(X-MBX-APIKEY|KC-API-KEY|KC-API-SIGN|KC-API-PASSPHRASE|API-Key|API-Sign|APIKey|Authent"
    r"|signature|token|secret|passphrase|api_key|secret_key|otp)(\"?'?\s*[:=]\s*\"?'?)([A-Za-z0-9+/=_.~%-]+)"
)
# Prose also follows these names ("signature: secret_key does not belong to api_key"): a value is taken for a
# credential when it holds a digit or is too long to be a word. Known secrets are masked whatever they look like.
_LONGEST_WORD = 15
# Authorization carries a scheme and a credential ("Bearer abc…"): everything after the name goes.
_AUTHORIZATION = re.compile(r"(?i)(?<![\w.-])(Authorization\"?'?\s*[:=]\s*)([^\r\n\"',}]+)")


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        # Short values would mask ordinary words; every real key and token is longer than this.
        self._secrets.update(s for s in secrets if s and len(s) >= 6)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{MASK}", text)
        return _HEADER_SECRETS.sub(_mask_credential, text)


def _mask_credential(match: re.Match[str]) -> str:
    name, separator, value = match.groups()
    if any(c.isdigit() for c in value) or len(value) > _LONGEST_WORD:
        return f"{name}{separator}{MASK}"
    return match.group(0)


REDACT = Redactor()


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, redactor: Redactor = REDACT) -> None:
        super().__init__(fmt)
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotated log file that only its owner can read: logs name the account, its positions and orders."""

    def _open(self) -> TextIOWrapper:
        private_file(Path(self.baseFilename))
        return super()._open()


def setup_logging(
    directory: Path, *, max_mb: int, level: str = "INFO", console: bool = True, name: str = "sidecar"
) -> Path:
    """Route the `csmc` loggers to a rotated file (and stderr). Returns the log file's path."""
    private_dir(directory)
    path = directory / f"{name}.log"
    root = logging.getLogger("csmc")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    root.propagate = False
    file_handler = PrivateRotatingFileHandler(path, maxBytes=max_mb * 1024 * 1024, backupCount=3, encoding="utf-8")
    file_handler.setFormatter(RedactingFormatter(FILE_FORMAT))
    root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
        stream.setLevel(logging.WARNING)
        # A record the command also prints as its own one-paragraph message is kept off the console.
        stream.addFilter(lambda record: getattr(record, "console", True) is not False)
        root.addHandler(stream)
    return path


def set_max_log_size(max_mb: int) -> list[Path]:
    """Rotate the `csmc` log files at `max_mb` from now on (the EA's "Max log file size" input); their paths."""
    changed = []
    for handler in logging.getLogger("csmc").handlers:
        if isinstance(handler, RotatingFileHandler):
            handler.maxBytes = max_mb * 1024 * 1024
            changed.append(Path(handler.baseFilename))
    return changed


class EaMirrorHandler(logging.Handler):
    """Sends info, warnings and errors to the EA, as its Logging inputs ask (PROTOCOL.md, `alert`)."""

    def __init__(self, send: Callable[[str, str, bool, str], None]) -> None:
        super().__init__(logging.INFO)
        self._send = send
        self.info_messages = True

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING and not self.info_messages:
            return
        if getattr(record, "to_ea", True) is False:
            return
        level = "info" if record.levelno < logging.WARNING else "warning" if record.levelno < logging.ERROR else "error"
        try:
            # The message alone: a traceback belongs in the log file, not on the trader's chart.
            text = REDACT(record.getMessage())
            self._send(level, text, bool(getattr(record, "critical", False)), getattr(record, "code", ""))
        except Exception:
            self.handleError(record)
