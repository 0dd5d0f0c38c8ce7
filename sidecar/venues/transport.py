"""What a failed HTTP request tells about the order it carried, for the venues reached through `requests`.

An order request that failed before any byte left the machine (refused connection, unknown host, connect
timeout, a certificate the machine does not trust) was certainly not placed: it may be sent again as is.
Anything later (a read timeout, a dropped connection) leaves the outcome unknown and must be resolved first.
requests wraps urllib3's errors, which wrap the socket's, so the cause can sit anywhere in the chain of
causes, contexts and reasons.

Other TLS errors are not proof: urllib3 raises the same SSLError for a failed handshake and for a TLS record
that breaks while the answer is read (a reset or a truncated stream after the venue received the order), so
only a failed certificate check, which can only happen during the handshake, counts as not sent.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from urllib.parse import SplitResult, urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from sidecar.errors import ConfigError

_BEFORE_SENDING = (
    requests.ConnectTimeout,
    requests.exceptions.InvalidURL,
    NewConnectionError,
    ConnectTimeoutError,
    ssl.SSLCertVerificationError,
)


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        stack.extend([current.__cause__, current.__context__, reason if isinstance(reason, BaseException) else None])
        stack.extend(a for a in current.args if isinstance(a, BaseException))


def never_sent(error: BaseException) -> bool:
    """True when the request failed before any byte of it reached the venue."""
    return any(isinstance(cause, _BEFORE_SENDING) for cause in _causes(error))


def failure_kind(error: BaseException) -> str:
    """A few words for the user on how the request failed."""
    causes = list(_causes(error))
    if any(isinstance(c, requests.ReadTimeout) for c in causes):
        return "timed out waiting for the answer"
    if any(isinstance(c, NewConnectionError) for c in causes):
        return "connection refused or host not found"  # urllib3 makes it a kind of ConnectTimeoutError
    if any(isinstance(c, requests.ConnectTimeout | ConnectTimeoutError) for c in causes):
        return "connection timed out"
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes):
        return "the server's TLS certificate is not trusted"
    if any(isinstance(c, requests.exceptions.SSLError | ssl.SSLError) for c in causes):
        return "the TLS connection broke"
    if never_sent(error):
        return "the address is not valid"
    return "connection lost"


def custom_api_url(section: str, text: str, example: str, advice: str) -> SplitResult:
    """The parts of a profile's api_url, which must be a plain http(s) base URL like `example`."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"[{section}] api_url '{text}' is not a URL like {example}. {advice}")
    return parts
