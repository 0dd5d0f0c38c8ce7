"""Error hierarchy of the sidecar.

The branch an error sits on decides what happens next, so each class says what the sidecar does with it.
Every message is written for a trader: what is wrong, and what to do about it.
"""

from __future__ import annotations


class CsmcError(Exception):
    """Base of every error the sidecar raises on purpose; its text is shown to the user as it is."""


class ConfigError(CsmcError):
    """The profile, the command line or the account set-up is wrong: nothing is traded until it is fixed."""


class VenueError(CsmcError):
    """Base of everything a venue adapter raises."""


class OrderRejected(VenueError):
    """The venue said no (size, balance, symbol). Not retried until the target or the next sync changes it."""


class VenueUnavailable(VenueError):
    """Transient: the request certainly did not take effect. Retried with back-off."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OutcomeUnknown(VenueError):
    """The order may or may not have been executed: resolve it by client id before anything else."""


class AuthError(VenueError):
    """Keys, permissions or account set-up are wrong: fatal, the user must act."""
