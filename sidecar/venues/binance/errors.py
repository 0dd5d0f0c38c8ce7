"""Binance's answers and transport failures → the sidecar's typed errors.

What matters is whether an order may have been executed. Binance says so in its documentation:
- Spot ("HTTP Return Codes"): "HTTP 5XX return codes are used for internal errors … It is important to NOT
  treat this as a failure operation; the execution status is UNKNOWN and could have been a success." So
  every 5xx answer to a Spot order is an unknown outcome, whatever its code (-1008 included).
- USDⓈ-M ("HTTP 503 Status: Message Variants & Handling"): a 503 "Unknown error, please check your request
  or try again later." leaves the execution status UNKNOWN; "Service Unavailable." and "Internal error;
  unable to process your request. Please try again." are "a failure API operation"; -1008 "Request throttled
  by system-level protection …" is a "100% failure". HTTP 408 is "a timeout … while waiting for a response
  from the backend server": unknown. Any other 5xx to an order counts as unknown.
- -1006 and -1007 say "execution status unknown" in their text; 4xx codes are refusals of a request that
  did nothing; 429 and 418 are rate-limit refusals that carry Retry-After; 403 is the web application
  firewall, which stops a request before it reaches the API.
A transport failure before the request left this computer (connection refused, connect timeout, name or
TLS failure) did nothing either; one after it left (read timeout, connection reset) may have placed the order.

No message built here contains a URL (python-binance's transport errors quote the request line, with its
timestamp and signature) or an HTML page (a firewall or gateway answers in HTML).
"""

from __future__ import annotations

from collections.abc import Mapping

import requests

from sidecar.errors import AuthError, OrderRejected, OutcomeUnknown, VenueError, VenueUnavailable
from sidecar.venues.binance.sdk import BinanceAPIException, BinanceRequestException
from sidecar.venues.transport import failure_kind, never_sent

ORDER_NOT_FOUND = -2013
ORDER_ARCHIVED = -2026  # Spot lookup: "canceled or expired with no executed qty over 90 days ago"
CLOCK = -1021
UNKNOWN_OUTCOME_CODES = frozenset({-1006, -1007})
DUPLICATE_CLIENT_ID = -4116  # USDⓈ-M: an order with this client id exists, so it is looked up, not resent
RATE_LIMIT_CODES = frozenset({-1003, -1015})
SERVER_BUSY = -1008
ME_RECV_WINDOW = -5028  # USDⓈ-M: "Timestamp for this request is outside of the ME recvWindow."
# USDⓈ-M 503 texts that Binance's futures documentation calls "a failure API operation".
FAILED_503_TEXTS = frozenset(
    {"service unavailable", "internal error; unable to process your request. please try again"}
)
INVALID_JSON = "Invalid JSON error message from Binance"  # python-binance's text for a non-JSON error body

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
    -2019: "the futures wallet's margin is insufficient. Add USDT to the USDⓈ-M wallet, raise the leverage on "
    "Binance, or copy less: lower [mapping] multiplier or the MT5 volume.",
    -1013: "the quantity breaks the symbol's trading rules (lot step, minimum or maximum size, or minimum "
    "notional). `csmc check --symbol <MT5 symbol>` shows the rules; change the MT5 volume or [mapping] "
    "multiplier so the copy meets them. If Binance changed the rules, restart the sidecar to reload them.",
    -4164: "the order's value is below the symbol's minimum notional. Copy more (MT5 volume or [mapping] "
    "multiplier), or trade a symbol with a lower minimum.",
    -4003: "the quantity is zero or negative. Check [mapping] multiplier and the symbol's contract size.",
    -4004: "the quantity is below the symbol's minimum size. Copy more (MT5 volume or [mapping] multiplier).",
    -4005: "the quantity is above the symbol's maximum for market orders. If Binance lowered the maximum, restart "
    "the sidecar to reload the rules: larger changes are then sent in several orders.",
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
    -4140: "the symbol is not trading right now (delisting, settlement or a trading halt). Nothing was executed; "
    "the order is tried again when MT5 changes this position or at the next sync.",
    -4131: "the book has no counterparty within Binance's price protection (PERCENT_PRICE) for a market order "
    "now: it is thin or moving fast. Nothing was executed; the order is tried again when MT5 changes this "
    "position or at the next sync. If it keeps happening, the symbol is too illiquid to copy with market orders.",
    -1100: "the order carried an invalid parameter.",
}

# Spot -2010 NEW_ORDER_REJECTED carries the matching engine's reason in its text (Binance's errors.md,
# "Messages for -1010 ERROR_MSG_RECEIVED, -2010 NEW_ORDER_REJECTED, and -2011 CANCEL_REJECTED").
SPOT_REJECT_TEXTS: Mapping[str, str] = {
    "account has insufficient balance for requested action": "the balance is insufficient. Add funds to the "
    "Spot wallet, or copy less: lower [mapping] multiplier or the MT5 volume.",
    "market is closed": "Binance is not trading this symbol right now (its market is closed for a break or "
    "maintenance). Nothing was executed; the order is tried again when MT5 changes this position or at the next "
    "sync. `csmc check --symbol <MT5 symbol>` shows the symbol's status.",
    "this symbol is not permitted for this account": "this account may not trade this symbol (its permissions "
    "differ from the symbol's). Trade another symbol, or ask Binance why the account lacks the permission.",
    "this symbol is restricted for this account": "this account may not trade this symbol. Trade another "
    "symbol, or ask Binance support why it is restricted.",
    "market orders are not supported for this symbol": "Binance takes no market orders for this symbol; the "
    "copier places market orders only. Map the MT5 symbol to another instrument in [mapping.overrides].",
}
# Spot -2010 texts that mean the account itself may not trade: the user must act, nothing else will help.
SPOT_ACCOUNT_BLOCKED = frozenset(
    {"this account may not place or cancel orders", "this action is disabled on this account"}
)


def _normal(text: str | None) -> str:
    return (text or "").strip().rstrip(".").casefold()


def _retry_after(response: object) -> float | None:
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def classify(error: Exception, *, action: str, placing: bool, host: str, futures: bool = False) -> VenueError:
    """The typed error for a failed request. `placing`: the request was a new order; `futures`: USDⓈ-M."""
    if isinstance(error, BinanceAPIException):
        return _classify_api(error, action=action, placing=placing, futures=futures)
    if isinstance(error, BinanceRequestException):
        text = f"Binance sent an unreadable answer to {action}"
        return OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")
    if isinstance(error, requests.RequestException):
        if never_sent(error):
            return VenueUnavailable(
                f"cannot reach Binance at {host} ({failure_kind(error)}); nothing was sent. Check the network "
                f"and [binance] api_url."
            )
        kind = failure_kind(error)
        if placing:
            return OutcomeUnknown(f"no answer from Binance to {action} ({kind})")
        return VenueUnavailable(f"no answer from Binance to {action} ({kind})")
    # Anything else (an unreadable answer, a library fault): an order may have gone out before it happened.
    text = f"{action} failed ({type(error).__name__})"
    return OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")


def binance_text(error: BinanceAPIException) -> str:
    """Binance's own message, or "" when the answer was no JSON (an HTML page from a firewall or gateway)."""
    message = str(error.message or "")
    return "" if message.startswith(INVALID_JSON) else message


def _said(error: BinanceAPIException) -> str:
    status, code, text = int(error.status_code), int(error.code or 0), binance_text(error)
    if code:
        return f"{text} (code {code}, HTTP {status})"
    return f"{text} (HTTP {status})" if text else f"HTTP {status}"


def _classify_api(error: BinanceAPIException, *, action: str, placing: bool, futures: bool) -> VenueError:
    status, code, text = int(error.status_code), int(error.code or 0), binance_text(error)
    said = _said(error)
    if status in (429, 418) or code in RATE_LIMIT_CODES:
        wait = _retry_after(error.response)
        what = "banned this IP for sending too many requests" if status == 418 else "asked to slow down"
        after = f" for {wait:.0f} s" if wait is not None else ""
        return VenueUnavailable(f"Binance {what}{after} ({said}); nothing is sent until then", retry_after=wait)
    if code in AUTH_ADVICE:
        return AuthError(f"Binance refused the API key: {text} (code {code}). {AUTH_ADVICE[code]}")
    if status >= 500 or status == 408:
        return _server_side(action, said, status, code, text, placing=placing, futures=futures)
    if code in UNKNOWN_OUTCOME_CODES:
        return _unknown(action, said, placing)
    if code == CLOCK:
        return VenueUnavailable(
            f"Binance rejected the request's timestamp twice ({said}) even after re-reading the server time. "
            f"Make this computer's clock synchronise automatically, or raise [binance] recv_window_ms."
        )
    if status == 403:
        return VenueUnavailable(
            f"Binance's web application firewall refused {action} (HTTP 403): it did not reach Binance's API, so "
            f"nothing was executed. Retrying later; if it persists, this IP address sends requests Binance's "
            f"firewall blocks (too many, or from a blocked region or VPN)."
        )
    if code == ME_RECV_WINDOW:
        return VenueUnavailable(
            f"Binance's matching engine received {action} after its recvWindow had passed ({said}), so it was not "
            f"executed. It is sent again shortly. If this repeats, Binance is overloaded or this computer's clock "
            f"lags: let the clock synchronise automatically, or raise [binance] recv_window_ms."
        )
    if placing and code == DUPLICATE_CLIENT_ID:
        return OutcomeUnknown(f"Binance already holds an order with this client id ({said})")
    if placing and code == -2010:
        return _spot_rejection(said, text)
    if placing:
        advice = REJECT_ADVICE.get(code, "Check the order against `csmc check`, and the log file for details.")
        return OrderRejected(f"{said} — {advice}")
    return VenueUnavailable(f"Binance refused {action}: {said}")


def _unknown(action: str, said: str, placing: bool) -> VenueError:
    text = f"Binance could not confirm {action}: {said}"
    return OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")


def _server_side(
    action: str, said: str, status: int, code: int, text: str, *, placing: bool, futures: bool
) -> VenueError:
    if placing and not futures:
        # Spot: a 5xx leaves the execution status unknown, whatever its code; only a lookup can tell.
        return _unknown(action, said, placing)
    if futures and status == 503 and (code == SERVER_BUSY or _normal(text) in FAILED_503_TEXTS):
        return VenueUnavailable(
            f"Binance USDⓈ-M is overloaded and refused {action} ({said}); nothing was executed. Retrying shortly."
        )
    if code == SERVER_BUSY:
        return VenueUnavailable(f"Binance is overloaded and did not answer {action} ({said}). Retrying shortly.")
    return _unknown(action, said, placing)


def _spot_rejection(said: str, text: str) -> VenueError:
    reason = _normal(text)
    if "duplicate" in reason:
        return OutcomeUnknown(f"Binance already holds an order with this client id ({said})")
    if reason in SPOT_ACCOUNT_BLOCKED:
        return AuthError(
            f"Binance refused the order: {said}. Binance has disabled trading on this account, so nothing can be "
            f"copied until it is enabled again: contact Binance support (Binance → Support → Chat) and ask why the "
            f"account may not place orders."
        )
    advice = SPOT_REJECT_TEXTS.get(reason)
    if advice is None:
        advice = "Binance's matching engine refused the order. Check it against `csmc check`, and the log file."
    return OrderRejected(f"{said} — {advice}")
