"""Kraken's answers and transport failures → the sidecar's typed errors.

What matters is whether an order may have been executed. Sources for the strings: Kraken's "Spot Error
Messages" guide (docs.kraken.com/api/docs/guides/spot-errors), its Futures API error list, the send-order
`sendStatus.status` values, and python-kraken-sdk's exception table (kraken/exceptions/__init__.py).

- Spot answers HTTP 200 with `{"error": [...]}`; strings starting with W are warnings, not errors.
  `EService:Unavailable`, `EService:Busy` and `EGeneral:Internal error` leave an order's outcome unknown;
  `EService:Deadline elapsed` and the cancel/post/limit-only market modes refused it before it reached the
  book. An error string this table does not know leaves an order's outcome unknown too: it is then looked
  up rather than assumed absent.
- Futures answers `{"result": "error", "error": "<code>"}` (sometimes with a non-200 status), and a
  placed order's fate is `sendStatus.status`: only `placed` placed it.
- A transport failure before the request left this computer did nothing; after it (read timeout,
  connection reset) an order may have been placed.

No message built here contains a URL, a key, a signature or a nonce.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import requests

from sidecar.errors import AuthError, OrderRejected, OutcomeUnknown, VenueError, VenueUnavailable
from sidecar.venues.transport import failure_kind, never_sent

KEY_PERMISSIONS = "Query Funds, Query Open Orders & Trades, Query Closed Orders & Trades and Create & Modify Orders"
SHARED_KEY_ADVICE = (
    "Another program (or another copier) is using the same API key with higher nonces. Give the copier a key "
    "of its own: create a new key in Kraken → Settings → API and put it in the [kraken] section of the profile."
)

# --- Spot ------------------------------------------------------------------------------------------

NONCE = "EAPI:Invalid nonce"
DEADLINE_ELAPSED = "EService:Deadline elapsed"
LOCKOUT = "EGeneral:Temporary lockout"
RATE_LIMITS = (
    "EAPI:Rate limit exceeded",
    "EGeneral:Too many requests",
    "EOrder:Rate limit exceeded",
    "EOrder:Domain rate limit exceeded",
    "EAuth:Rate limit exceeded",
    "EAuth:Too many requests",
)
#: The request reached Kraken and it cannot say what became of it.
UNKNOWN_OUTCOME = ("EService:Unavailable", "EService:Busy", "EGeneral:Internal error", "EDatabase:Internal error")
#: Refused before the order reached the book.
NOT_PLACED = (
    DEADLINE_ELAPSED,
    "EService:Market in cancel_only mode",
    "EService:Market in post_only mode",
    "EService:Market in limit_only mode",
)

SPOT_AUTH_ADVICE: Mapping[str, str] = {
    "EAPI:Invalid key": "Kraken does not know this API key. Copy it again from Kraken → Settings → API into "
    '[kraken] api_key (a Futures key works only with endpoint "futures", a Spot key only with "spot").',
    "EAPI:Invalid signature": "Kraken did not accept the request's signature: [kraken] secret_key is not the "
    "private key of api_key, or the key has a two-factor password and [kraken] one_time_password is wrong. Copy "
    "the private key again (Kraken shows it only once: if it is lost, create a new key).",
    "EGeneral:Permission denied": f"The API key lacks a permission the copier needs ({KEY_PERMISSIONS}), or it "
    "has a two-factor password that [kraken] one_time_password does not give. Edit the key in Kraken → "
    "Settings → API.",
    "EAccount:Invalid permissions": f"The API key lacks a permission the copier needs ({KEY_PERMISSIONS}). "
    "Edit the key in Kraken → Settings → API.",
    "EAuth:Account temporary disabled": "Kraken has temporarily disabled this account. Contact Kraken support.",
    "EAuth:Account unconfirmed": "The Kraken account is not verified for trading. Finish the verification on Kraken.",
    "EAuth:Failed": "Kraken refused the credentials. Check [kraken] api_key and secret_key.",
}

SPOT_REJECT_ADVICE: Mapping[str, str] = {
    "EOrder:Insufficient funds": "the balance is insufficient. Add funds to the Spot account, or copy less: "
    "lower [mapping] multiplier or the MT5 volume.",
    "EOrder:Order minimum not met": "the size is below the pair's minimum order size (ordermin). Copy more (MT5 "
    "volume or [mapping] multiplier); `csmc check --symbol <MT5 symbol>` shows the rules.",
    "EOrder:Cost minimum not met": "the order's value is below the pair's minimum cost (costmin). Copy more (MT5 "
    "volume or [mapping] multiplier).",
    "EOrder:Tick size check failed": "Kraken refused the price precision. Restart the sidecar to reload the rules.",
    "EGeneral:Invalid arguments": "Kraken refused a parameter of the order (often the size's decimals after a rule "
    "change). Restart the sidecar to reload the rules; `csmc check --symbol <MT5 symbol>` shows them.",
    "EQuery:Unknown asset pair": "Kraken does not list this pair. Correct [mapping.overrides] in the profile "
    "(`csmc check --symbol` shows the mapping).",
    "EOrder:Orders limit exceeded": "the account has too many open orders. Cancel some on Kraken.",
    "EOrder:Positions limit exceeded": "the account holds the most margin positions Kraken allows.",
    "EOrder:Invalid order": "Kraken refused the order.",
    "ETrade:Invalid request": "Kraken refused the order request.",
    "ETrade:Locked": "trading is locked on this account. Contact Kraken support.",
}


def _errors_only(messages: Iterable[object]) -> list[str]:
    return [str(m) for m in messages if str(m) and not str(m).startswith("W")]


def _lookup(table: Mapping[str, str], message: str) -> str | None:
    for name in sorted(table, key=len, reverse=True):
        if message.startswith(name):
            return table[name]
    return None


def spot_errors(messages: Iterable[object]) -> list[str]:
    """The error strings of a Spot answer's `error` list (warnings dropped)."""
    return _errors_only(messages)


def classify_spot(errors: list[str], *, action: str, placing: bool, pause: float) -> VenueError:
    """The typed error for a Spot answer that carries `errors` (non-empty)."""
    said = "; ".join(errors)
    first = errors[0]
    if any(e.startswith(LOCKOUT) for e in errors):
        wait = max(pause, 60.0)
        return VenueUnavailable(
            f"Kraken locked this API key out for a while after repeated invalid-key errors ({said}); nothing is "
            f"sent for {wait:.0f} s. Check [kraken] api_key if this repeats.",
            retry_after=wait,
        )
    if any(e.startswith(r) for e in errors for r in RATE_LIMITS):
        return VenueUnavailable(
            f"Kraken asked to slow down ({said}); nothing is sent for {pause:.0f} s", retry_after=pause
        )
    if first.startswith(NONCE):
        return VenueUnavailable(f"Kraken refused the request's nonce ({said}). {SHARED_KEY_ADVICE}")
    advice = _lookup(SPOT_AUTH_ADVICE, first)
    if advice is not None:
        return AuthError(f"Kraken refused the API key: {said}. {advice}")
    if any(first.startswith(u) for u in UNKNOWN_OUTCOME):
        text = f"Kraken could not confirm {action}: {said}"
        return OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")
    if any(first.startswith(n) for n in NOT_PLACED):
        return VenueUnavailable(f"Kraken did not take {action}: {said}. Retrying later.")
    advice = _lookup(SPOT_REJECT_ADVICE, first)
    if placing:
        if advice is None:
            return OutcomeUnknown(f"Kraken answered {action} with an error the copier does not know: {said}")
        return OrderRejected(f"{said} — {advice}")
    return VenueUnavailable(f"Kraken refused {action}: {said}")


# --- Futures -----------------------------------------------------------------------------------------

FUTURES_NONCE = frozenset({"nonceBelowThreshold", "nonceDuplicate"})
FUTURES_RATE_LIMIT = "apiLimitExceeded"
FUTURES_AUTH_ADVICE: Mapping[str, str] = {
    "authenticationError": "Kraken Futures did not accept the key: [kraken] api_key and secret_key must be a "
    "Futures API key and its private key (Futures → Settings → API keys; demo keys work only with the demo URL), "
    "with the permission 'General API - Full Access'.",
    "invalidAccount": "Kraken Futures does not know this account. Check the API key.",
    "accountInactive": "The Kraken Futures account is inactive. Activate Futures trading on Kraken.",
}
FUTURES_UNKNOWN = frozenset({"Server Error", "unknownError", "Unavailable"})
FUTURES_NOT_PLACED = frozenset({"marketUnavailable"})

#: sendStatus.status → why the order was refused and what to do; every status but `placed` is a refusal.
SEND_STATUS_ADVICE: Mapping[str, str] = {
    "insufficientAvailableFunds": "the margin is insufficient. Add collateral to the Futures account, or copy "
    "less: lower [mapping] multiplier or the MT5 volume.",
    "wouldCauseLiquidation": "the order would cause a liquidation. Add collateral, or copy less.",
    "invalidSize": "the size breaks the contract's size rules. Restart the sidecar to reload them; `csmc check "
    "--symbol <MT5 symbol>` shows them.",
    "tooSmall": "the size is below the contract's minimum. Copy more (MT5 volume or [mapping] multiplier).",
    "maxPositionViolation": "the position would exceed Kraken's maximum position size for the contract.",
    "wouldNotReducePosition": "a reduce-only order would not reduce the position (it was changed on Kraken). The "
    "next sync reads it again.",
    "reduceOnlyWouldIncreasePosition": "a reduce-only order would increase the position (it was changed on "
    "Kraken). The next sync reads it again.",
    "invalidOrderType": "Kraken refused the order type.",
    "invalidSide": "Kraken refused the order side.",
    "invalidPrice": "Kraken refused the order's price.",
    "outsidePriceCollar": "the market price is outside Kraken's price collar right now.",
    "iocWouldNotExecute": "there was no liquidity to fill the market order.",
    "postWouldExecute": "Kraken refused the order as post-only.",
    "selfFill": "the order would trade against one of the account's own orders.",
    "tooManySmallOrders": "the account has too many small orders open.",
    "clientOrderIdTooLong": "the client order id is too long.",
    "clientOrderIdInvalid": "the client order id is not valid.",
    "clientOrderIdTooBig": "the client order id is not valid.",
}
#: The order certainly did not reach the book: it may be sent again later.
SEND_STATUS_NOT_PLACED = frozenset({"wouldProcessAfterSpecifiedTime", "marketSuspended", "marketInactive"})
#: An order with this client id exists: it is looked up, never sent again blindly.
SEND_STATUS_EXISTS = "clientOrderIdAlreadyExist"


def classify_futures(code: str, *, action: str, placing: bool, pause: float) -> VenueError:
    """The typed error for `{"result": "error", "error": code}`."""
    if code == FUTURES_RATE_LIMIT:
        return VenueUnavailable(
            f"Kraken Futures asked to slow down ({code}); nothing is sent for {pause:.0f} s", retry_after=pause
        )
    if code in FUTURES_NONCE:
        return VenueUnavailable(f"Kraken Futures refused the request's nonce ({code}). {SHARED_KEY_ADVICE}")
    if code in FUTURES_AUTH_ADVICE:
        return AuthError(f"Kraken Futures refused the API key ({code}). {FUTURES_AUTH_ADVICE[code]}")
    if code in FUTURES_NOT_PLACED:
        return VenueUnavailable(f"Kraken Futures did not take {action} ({code}). Retrying later.")
    if code in FUTURES_UNKNOWN or not placing:
        text = f"Kraken Futures could not confirm {action} ({code})" if placing else f"{action} failed ({code})"
        return OutcomeUnknown(text) if placing else VenueUnavailable(f"Kraken Futures: {text}. Retrying.")
    if code == "insufficientFunds":
        return OrderRejected(f"{code} — {SEND_STATUS_ADVICE['insufficientAvailableFunds']}")
    return OrderRejected(f"Kraken Futures refused {action} ({code}). Check the order against `csmc check`.")


def classify_send_status(status: str, *, action: str) -> VenueError:
    """The typed error for a sendorder answer whose `sendStatus.status` is not `placed`."""
    if status == SEND_STATUS_EXISTS:
        return OutcomeUnknown(f"Kraken Futures already holds an order with this client id ({status})")
    if status in SEND_STATUS_NOT_PLACED:
        return VenueUnavailable(f"Kraken Futures did not take {action} ({status}). Retrying later.")
    advice = SEND_STATUS_ADVICE.get(status)
    if advice is None:
        return OutcomeUnknown(f"Kraken Futures answered {action} with a status the copier does not know ({status})")
    return OrderRejected(f"{status} — {advice}")


# --- HTTP and transport --------------------------------------------------------------------------------


def classify_http(status: int, *, action: str, placing: bool, pause: float) -> VenueError:
    """A non-200 answer that carried no Kraken error of its own (a proxy's or Cloudflare's page)."""
    if status == 429:
        return VenueUnavailable(
            f"Kraken asked to slow down (HTTP 429); nothing is sent for {pause:.0f} s", retry_after=pause
        )
    if status >= 500 or status == 408:
        text = f"Kraken could not confirm {action} (HTTP {status})"
        return OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")
    return VenueUnavailable(f"Kraken refused {action} (HTTP {status}); retrying later")


def classify_transport(error: Exception, *, action: str, placing: bool, host: str) -> VenueError:
    """A failure of the request itself: raw `requests` errors (python-kraken-sdk does not wrap them)."""
    kind = failure_kind(error)
    if isinstance(error, requests.RequestException) and never_sent(error):
        return VenueUnavailable(
            f"cannot reach Kraken at {host} ({kind}); nothing was sent. Check the network and [kraken] api_url."
        )
    if isinstance(error, requests.RequestException):
        text = f"no answer from Kraken to {action} ({kind})"
    else:
        text = f"{action} failed ({type(error).__name__})"
    return OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")
