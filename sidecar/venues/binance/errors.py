"""Binance's answers and transport failures → the sidecar's typed errors.

What matters is whether an order may have been executed. Binance says so in its codes: -1006 and -1007
(and any 5xx or 408) leave the execution status unknown; 4xx codes are refusals of a request that did
nothing; 429 and 418 are rate-limit refusals that carry Retry-After. A transport failure before the
request left this computer (connection refused, connect timeout, name or TLS failure) did nothing
either; one after it left (read timeout, connection reset) may have placed the order.

No message built here contains a URL: python-binance's transport errors quote the request line, with
its timestamp and signature.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import requests
from binance.exceptions import BinanceAPIException, BinanceRequestException
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from sidecar.errors import AuthError, OrderRejected, OutcomeUnknown, VenueError, VenueUnavailable

ORDER_NOT_FOUND = -2013
CLOCK = -1021
UNKNOWN_OUTCOME_CODES = frozenset({-1006, -1007})
DUPLICATE_CLIENT_ID = -4116  # USDⓈ-M: an order with this client id exists, so it is looked up, not resent
RATE_LIMIT_CODES = frozenset({-1003, -1015, -1008})

AUTH_ADVICE: Mapping[int, str] = {
    -2015: "The API key is not valid, this computer's IP address is not in the key's allowed list, or the key "
    "lacks a permission. In Binance → API Management check the key, its IP access restriction and that "
    "'Enable Spot & Margin Trading' (Spot) or 'Enable Futures' (USDⓈ-M) is ticked.",
    -2014: "The API key has the wrong format. Copy it again from Binance → API Management into [binance] api_key.",
    -1022: "Binance did not accept the request's signature: [binance] secret_key does not belong to api_key. "
    "Copy the secret key again (Binance shows it only once: if it is lost, create a new key).",
    -1002: "This API key may not make this request. Check the key's permissions in Binance → API Management.",
    -2008: "Binance does not know this API key. Check [binance] api_key, and the API URL (a testnet key works "
    "only on the testnet).",
}

REJECT_ADVICE: Mapping[int, str] = {
    -2010: "for a market order this means the balance is insufficient. Add funds to the account, or copy less: "
    "lower [mapping] multiplier or the MT5 volume.",
    -2019: "the futures wallet's margin is insufficient. Add USDT to the USDⓈ-M wallet, raise the leverage on "
    "Binance, or copy less: lower [mapping] multiplier or the MT5 volume.",
    -1013: "the quantity breaks the symbol's trading rules (lot step, minimum or maximum size, or minimum "
    "notional). `csmc check --symbol <MT5 symbol>` shows the rules; change the MT5 volume or [mapping] "
    "multiplier so the copy meets them. If Binance changed the rules, restart the sidecar to reload them.",
    -4164: "the order's value is below the symbol's minimum notional. Copy more (MT5 volume or [mapping] "
    "multiplier), or trade a symbol with a lower minimum.",
    -4003: "the quantity is zero or negative. Check [mapping] multiplier and the symbol's contract size.",
    -4004: "the quantity is below the symbol's minimum size. Copy more (MT5 volume or [mapping] multiplier).",
    -4005: "the quantity is above the symbol's maximum for market orders. Copy less, or split the MT5 position.",
    -4023: "the quantity is not a multiple of the symbol's lot step. If Binance changed the rules, restart the "
    "sidecar to reload them.",
    -1111: "the quantity has more decimals than the symbol allows. If Binance changed the rules, restart the "
    "sidecar to reload them.",
    -1121: "Binance does not list this symbol. Correct [mapping.overrides] in the profile (`csmc check --symbol` "
    "shows the mapping).",
    -4061: "the order's position side does not match the account's Position Mode: the mode was changed on "
    "Binance while copying. Restart the sidecar so it reads the mode again.",
    -2022: "Binance refused a reduce-only order: the position it would reduce is smaller than expected (it was "
    "changed on Binance). The next sync reads it again.",
    -1106: "Binance refused a parameter for this account's Position Mode. Restart the sidecar so it reads the "
    "mode again.",
    -4140: "the symbol is not trading right now (delisting or a trading halt).",
    -1100: "the order carried an invalid parameter.",
}


def _retry_after(response: object) -> float | None:
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def never_sent(error: BaseException) -> bool:
    """True when a transport failure happened before any byte of the request reached Binance."""
    if isinstance(error, requests.ConnectTimeout | requests.exceptions.SSLError | requests.exceptions.InvalidURL):
        return True
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NewConnectionError | ConnectTimeoutError | ssl.SSLError):
            return True
        reason = getattr(current, "reason", None)
        stack.extend([current.__cause__, current.__context__, reason if isinstance(reason, BaseException) else None])
        stack.extend(a for a in current.args if isinstance(a, BaseException))
    return False


def classify(error: Exception, *, action: str, placing: bool, host: str) -> VenueError:
    """The typed error for a failed request. `placing`: the request was a new order."""
    if isinstance(error, BinanceAPIException):
        return _classify_api(error, action=action, placing=placing)
    if isinstance(error, BinanceRequestException):
        text = f"Binance sent an unreadable answer to {action}"
        return OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")
    if isinstance(error, requests.RequestException):
        if never_sent(error):
            return VenueUnavailable(
                f"cannot reach Binance at {host} ({_transport_kind(error)}); nothing was sent. Check the network "
                f"and [binance] api_url."
            )
        kind = _transport_kind(error)
        if placing:
            return OutcomeUnknown(f"no answer from Binance to {action} ({kind})")
        return VenueUnavailable(f"no answer from Binance to {action} ({kind})")
    # Anything else (an unreadable answer, a library fault): an order may have gone out before it happened.
    text = f"{action} failed ({type(error).__name__})"
    return OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")


def _transport_kind(error: BaseException) -> str:
    if isinstance(error, requests.ConnectTimeout):
        return "connection timed out"
    if isinstance(error, requests.ReadTimeout):
        return "timed out waiting for the answer"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if never_sent(error):
        return "connection refused or host not found"
    return "connection lost"


def _classify_api(error: BinanceAPIException, *, action: str, placing: bool) -> VenueError:
    status, code = int(error.status_code), int(error.code or 0)
    said = f"{error.message} (code {code}, HTTP {status})" if code else f"HTTP {status}"
    if status in (429, 418) or code in RATE_LIMIT_CODES:
        wait = _retry_after(error.response)
        what = "banned this IP for sending too many requests" if status == 418 else "asked to slow down"
        after = f" for {wait:.0f} s" if wait is not None else ""
        return VenueUnavailable(f"Binance {what}{after} ({said}); nothing is sent until then", retry_after=wait)
    if code in AUTH_ADVICE:
        return AuthError(f"Binance refused the API key: {error.message} (code {code}). {AUTH_ADVICE[code]}")
    if code in UNKNOWN_OUTCOME_CODES or status >= 500 or status == 408:
        text = f"Binance could not confirm {action}: {said}"
        return OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")
    if code == CLOCK:
        return VenueUnavailable(
            f"Binance rejected the request's timestamp twice ({said}) even after re-reading the server time. "
            f"Make this computer's clock synchronise automatically, or raise [binance] recv_window_ms."
        )
    if status == 403:
        return VenueUnavailable(f"Binance's firewall refused {action} (HTTP 403); retrying later")
    if placing and code == DUPLICATE_CLIENT_ID:
        return OutcomeUnknown(f"Binance already holds an order with this client id ({said})")
    if placing and code == -2010 and "duplicate" in (error.message or "").lower():
        return OutcomeUnknown(f"Binance already holds an order with this client id ({said})")
    if placing:
        advice = REJECT_ADVICE.get(code, "Check the order against `csmc check`, and the log file for details.")
        return OrderRejected(f"{said} — {advice}")
    return VenueUnavailable(f"Binance refused {action}: {said}")
