"""KuCoin's answers and transport failures → the sidecar's typed errors.

What matters is whether an order may have been executed. KuCoin answers every request with a JSON body
`{"code": "...", "msg": "..."}`; "200000" is success, anything else a refusal or a failure. The code
arrives with HTTP 200 for business refusals (balance, size) and with 4xx/5xx for gateway refusals (keys,
timestamp, rate limit, server errors). kucoin-universal-sdk loses the code of a non-200 answer (it keeps
only the text), so the adapter reads the answer as the transport received it (`Reply`).

- 4xx codes and business codes are refusals of a request that did nothing: an order is rejected, a read
  is retried later, key problems are fatal.
- 5xx answers and code 500000 leave an order's fate unknown: it is looked up by its client id.
- 429000 (HTTP 429) and 200002 are rate limits; `gw-ratelimit-reset` says when the quota is back (ms).
- A transport failure before the request left this computer (refused connection, connect timeout, TLS)
  did nothing; one after it left (read timeout, connection reset) may have placed an order.

No message built here contains a URL or a header: they are the user's to read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sidecar.errors import AuthError, OrderRejected, OutcomeUnknown, VenueError, VenueUnavailable
from sidecar.venues.transport import failure_kind, never_sent

SUCCESS = "200000"
CLOCK = "400002"
MARGIN_MODE_MISMATCH = "330005"
POSITION_MODE_MISMATCH = "330011"
FUTURES_ORDER_NOT_FOUND = "100001"
# KuCoin's rate limits: 429000 the gateway's request quota (HTTP 429), 200002 a private endpoint's own
# limit (KuCoin docs, "Request Rate Limit": blocked for 10 s), 1015 Cloudflare's per-IP limit (30 s).
RATE_LIMITS: Mapping[str, float] = {"429000": 10.0, "200002": 10.0, "1015": 30.0}
# Codes of a request whose order may have been executed though the answer is an error.
UNKNOWN_OUTCOME_CODES = frozenset({"500000", "408000"})
# Size and value rules: the rules are read again after one of these.
RULE_CODES = frozenset({"400100", "600100", "600101", "300000"})

AUTH_ADVICE: Mapping[str, str] = {
    "400001": "The request lacked a KC-API header. Check that api_key, secret_key and passphrase are all set in "
    "the [kucoin] section of the profile.",
    "400003": "KuCoin does not know this API key. Copy it again from KuCoin → Account → API Management into "
    "[kucoin] api_key; a deleted or expired key must be replaced by a new one.",
    "400004": "The passphrase is wrong: [kucoin] passphrase must be the passphrase chosen when the API key was "
    "created (not the login password or the trading password). KuCoin checks it with the secret key, so a wrong "
    "[kucoin] secret_key fails here too.",
    "400005": "KuCoin did not accept the request's signature: [kucoin] secret_key does not belong to api_key. "
    "Copy the secret again (KuCoin shows it only once: if it is lost, create a new key).",
    "400006": "This computer's IP address is not in the API key's IP restriction list. Add it in KuCoin → "
    "API Management → the key → Edit → IP restriction, or create a key for this address.",
    "400007": 'The API key lacks a permission: it needs General, plus Spot for endpoint "spot" or Futures for '
    'endpoint "futures" (KuCoin → API Management → the key → Edit → API restrictions).',
    "411100": "KuCoin has frozen this account. Nothing can be traded until KuCoin support lifts it.",
    "400401": "KuCoin says the user is not logged in: check the API key in KuCoin → API Management.",
}

REJECT_ADVICE: Mapping[str, str] = {
    "400100": "the order breaks the symbol's rules (size step, minimum or maximum size) or carries a parameter "
    "KuCoin refuses. `csmc check --symbol <MT5 symbol>` shows the rules; change the MT5 volume or [mapping] "
    "multiplier so the copy meets them. The rules are read again before the next try.",
    "600100": "the order's value is below the symbol's minimum funds. Copy more (MT5 volume or [mapping] "
    "multiplier), or trade a symbol with a lower minimum.",
    "600101": "the order's value is below the symbol's minimum funds. Copy more (MT5 volume or [mapping] "
    "multiplier), or trade a symbol with a lower minimum.",
    "200004": "the balance is insufficient. Add funds to the KuCoin trade account, or copy less: lower [mapping] "
    "multiplier or the MT5 volume.",
    "230003": "the balance is insufficient. Add funds to the KuCoin trade account, or copy less: lower [mapping] "
    "multiplier or the MT5 volume.",
    "300003": "the futures account's available margin is insufficient. Add USDT to the Futures account, raise "
    "the leverage (on KuCoin for cross margin, [kucoin] isolated_leverage for isolated), or copy less.",
    "330008": "the margin and leverage of this contract have reached its maximum open size. Add margin, raise the "
    "leverage (on KuCoin for cross margin, [kucoin] isolated_leverage for isolated), or copy less.",
    "300000": "KuCoin found the order invalid (size or contract rules). `csmc check --symbol <MT5 symbol>` shows "
    "the rules; they are read again before the next try.",
    "300009": "there is no position left to close on KuCoin (it was changed on KuCoin). The next sync reads the "
    "positions again.",
    "330005": "the order's margin mode does not match the one set on KuCoin for this contract (it was changed "
    "while sending). It is read again before the next try.",
    "330011": "the order's position mode does not match KuCoin's Position Mode: the mode was changed on KuCoin "
    "while copying. Restart the sidecar so it reads the mode again.",
    "200001": "KuCoin has suspended order creation for this symbol. It is tried again at the next sync.",
    "400200": 'KuCoin forbids placing orders on this account or symbol now ("Forbidden to place an order").',
    "400500": "KuCoin does not allow trading this token from your country or region.",
    "400600": "the symbol is not trading (yet) on KuCoin.",
    "900001": "KuCoin does not list this symbol. Correct [mapping.overrides] in the profile (`csmc check "
    "--symbol` shows the mapping).",
    "400700": "KuCoin restricts trading on this account for a risk check; contact KuCoin support.",
    "400303": "KuCoin asks for identity verification (KYC) before this account may trade.",
}


class Refusal(OrderRejected):
    """KuCoin refused an order; `code` is KuCoin's, for the adapter's own follow-up (rules read again)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Reply:
    """One HTTP answer as the transport received it: KuCoin's status, headers and body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def payload(self) -> Any:
        """The JSON body with every fraction as a Decimal (prices and sizes are money); None if not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"), parse_float=Decimal)
        except (UnicodeDecodeError, ValueError):
            return None

    @property
    def code(self) -> str:
        body = self.payload()
        return str(body.get("code", "")) if isinstance(body, Mapping) else ""

    @property
    def msg(self) -> str:
        body = self.payload()
        text = body.get("msg") if isinstance(body, Mapping) else None
        return str(text) if text else f"HTTP {self.status}"

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.code == SUCCESS

    def reset_s(self) -> float | None:
        """Seconds until the rate-limit quota is back (`gw-ratelimit-reset`, in ms), if KuCoin said."""
        value = next((v for k, v in self.headers.items() if k.lower() == "gw-ratelimit-reset"), None)
        try:
            return max(int(str(value)) / 1000, 0.0) if value is not None else None
        except ValueError:
            return None


def order_not_found(reply: Reply) -> bool:
    """KuCoin says it has no order with this id: futures 100001 "error.getOrder.orderNotExist", spot a
    parameter error whose text says the order does not exist. (Key errors say "not exists" too: excluded.)"""
    if reply.code == FUTURES_ORDER_NOT_FOUND:
        return True
    if reply.code in AUTH_ADVICE:
        return False
    text = reply.msg.lower().replace("_", " ").replace(".", " ")
    return "order" in text and ("not exist" in text or "notexist" in text)


def classify(error: BaseException, reply: Reply | None, *, action: str, placing: bool, host: str) -> VenueError:
    """The typed error for a failed request. `reply`: KuCoin's answer, None when none arrived. `placing`:
    the request was a new order."""
    if reply is None:
        return _transport(error, action=action, placing=placing, host=host)
    if reply.payload() is None or (reply.status == 200 and not reply.code):
        # An answer that is not KuCoin's JSON (a proxy's page, a truncated body): an order may be behind it.
        text = f"KuCoin sent an unreadable answer (HTTP {reply.status}) to {action}"
        if reply.status in (403, 429):
            return VenueUnavailable(f"{text}; KuCoin limits this IP for now. Nothing is sent for 30 s.", 30.0)
        return OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")
    return _classify_reply(reply, action=action, placing=placing)


def _transport(error: BaseException, *, action: str, placing: bool, host: str) -> VenueError:
    kind = failure_kind(error)
    if never_sent(error):
        return VenueUnavailable(
            f"cannot reach KuCoin at {host} ({kind}); nothing was sent. Check the network and [kucoin] api_url."
        )
    text = f"no answer from KuCoin to {action} ({kind})"
    return OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")


def _classify_reply(reply: Reply, *, action: str, placing: bool) -> VenueError:
    code, status = reply.code, reply.status
    said = f"{reply.msg} (code {code}, HTTP {status})" if code else f"{reply.msg} (HTTP {status})"
    if code in RATE_LIMITS or status == 429:
        wait = reply.reset_s()
        if wait is None:
            wait = RATE_LIMITS.get(code, 10.0)
        text = f"KuCoin asked to slow down for {wait:.0f} s ({said}); nothing is sent until then"
        return VenueUnavailable(text, wait)
    if code in AUTH_ADVICE:
        return AuthError(f"KuCoin refused the API key: {reply.msg} (code {code}). {AUTH_ADVICE[code]}")
    if code in UNKNOWN_OUTCOME_CODES or status >= 500 or code.startswith("5"):
        text = f"KuCoin could not confirm {action}: {said}"
        return OutcomeUnknown(text) if placing else VenueUnavailable(f"{text}. Retrying.")
    if code == CLOCK:
        return VenueUnavailable(
            f"KuCoin rejected the request's timestamp ({said}) even after re-reading its clock. Make this "
            f"computer's clock synchronise automatically."
        )
    if status == 404 or code == "404000":
        return AuthError(
            f"KuCoin has no such address ({said}): [kucoin] api_url does not point to KuCoin's "
            f"{'Spot' if 'spot' in action else 'API'} service. Leave it empty for KuCoin's own URL."
        )
    if placing and "duplicat" in reply.msg.lower():
        # KuCoin refuses a client id only while an order with it is active: that order exists, look it up.
        return OutcomeUnknown(f"KuCoin already holds an order with this client id ({said})")
    if placing:
        advice = REJECT_ADVICE.get(code, "Check the order against `csmc check`, and the log file for details.")
        return Refusal(f"{said} — {advice}", code)
    if status == 403:
        return VenueUnavailable(f"KuCoin refused {action} ({said}); retrying later", 30.0)
    return VenueUnavailable(f"KuCoin refused {action}: {said}")
