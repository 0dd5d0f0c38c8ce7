"""TWS error codes, sorted by what the adapter does about them.

TWS reports everything through one `error(reqId, code, text)` message: order rejections, lost connectivity,
and plain information ("market data farm connection is OK"). The code alone decides the branch.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    INFO = "info"  # nothing is wrong; debug log only
    CONNECTIVITY_LOST = "connectivity_lost"  # TWS lost IB (1100, 2110): pause trading until it is back
    RESTORED_DATA_LOST = "restored_data_lost"  # 1101: back, subscriptions lost: resync
    RESTORED_DATA_KEPT = "restored_data_kept"  # 1102: back, data kept: resync anyway, it is cheap
    SOCKET = "socket"  # the API socket itself is gone or unusable: reconnect
    CLIENT_ID_IN_USE = "client_id_in_use"  # 326: fatal until the user picks another client id
    REJECTED = "rejected"  # the order was refused for good: do not resend it
    WARNING = "warning"  # worth a line in the log; the request goes on
    TRANSIENT = "transient"  # the request failed this time; it may succeed when sent again


INFO_CODES = frozenset({2104, 2106, 2107, 2108, 2119, 2158})
CONNECTIVITY_LOST_CODES = frozenset({1100, 2110})
SOCKET_CODES = frozenset({502, 504, 507, 1300})
CLIENT_ID_IN_USE = 326
# 201 rejected, 103 duplicate order id, 110 price not on the minimum tick, 200 no or ambiguous security definition;
# 10268/10269: order attributes TWS no longer accepts, which no resend can fix either.
REJECTION_CODES = frozenset({103, 110, 200, 201, 10268, 10269})
# Farm disconnections and order messages: the order or request is still alive. 404: the order is held while shares
# are located; 10349: "Order TIF was set to DAY based on order preset" (ib_async issues #191, #217: the order stays
# live and fills later, though ib_async marks it Cancelled).
WARNING_CODES = frozenset({399, 404, 2100, 2101, 2102, 2103, 2105, 2157, 10349})


def classify(code: int) -> Kind:
    if code in INFO_CODES:
        return Kind.INFO
    if code in CONNECTIVITY_LOST_CODES:
        return Kind.CONNECTIVITY_LOST
    if code == 1101:
        return Kind.RESTORED_DATA_LOST
    if code == 1102:
        return Kind.RESTORED_DATA_KEPT
    if code in SOCKET_CODES:
        return Kind.SOCKET
    if code == CLIENT_ID_IN_USE:
        return Kind.CLIENT_ID_IN_USE
    if code in REJECTION_CODES:
        return Kind.REJECTED
    if code in WARNING_CODES or 2100 <= code < 2200:
        return Kind.WARNING
    return Kind.TRANSIENT


def client_id_in_use_message(client_id: int, host: str, port: int) -> str:
    return (
        f"TWS/IB Gateway at {host}:{port} refused client id {client_id}: another API application is already "
        f"connected with it (error 326). Give this profile another client id ([ib] client_id), or close the "
        f"other application."
    )
