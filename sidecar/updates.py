"""The opt-in update check: a release feed read at start and once a day. Nothing is downloaded or run.

With `[update] check = true` the running sidecar reads a small JSON file (`[update] feed_url`) once an EA
is connected, and again every day:

    {
      "latest": {"version": "0.2.0", "url": "https://…/releases/tag/v0.2.0"},
      "unsafe": [{"version": "0.1.0", "reason": "closes positions twice after a reconnect",
                  "url": "https://…/releases/tag/v0.1.1"}]
    }

- `latest.version` newer than the running version → an info alert on the chart with the link (once per
  version and run).
- the running version listed in `unsafe` → a critical alert: the EA stops when its *stop on critical
  error* input is on. Copying otherwise goes on: stopping is the trader's choice.
- A feed that cannot be read (HTTP error, timeout, not JSON, wrong shape) is one line in the log file and
  nothing else: it never reaches the chart and never touches copying.

Unknown keys in the feed are ignored, so later feeds can say more without breaking older sidecars.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bridge.codec import describe_validation
from sidecar import __version__

log = logging.getLogger("csmc.update")

DAY_S = 24 * 3600.0
MAX_FEED_BYTES = 256 * 1024
"""A release feed is a few hundred bytes; anything this large is not one."""
_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)$")


class FeedError(Exception):
    """The feed could not be read or does not say what a feed says; the text says why, in one line."""


def version_key(text: str) -> tuple[int, ...]:
    """`1.10.0` > `1.9.2`; trailing zeros do not count (`1.2` == `1.2.0`)."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not a release version like 1.2.3")
    parts = [int(p) for p in match.group(1).split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


class _FeedItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    version: str
    url: str = ""

    @field_validator("version")
    @classmethod
    def _release_version(cls, value: str) -> str:
        version_key(value)
        return value

    @field_validator("url")
    @classmethod
    def _web_link(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("a link must start with https://")
        return value


class Release(_FeedItem):
    pass


class UnsafeRelease(_FeedItem):
    reason: str = ""


class Feed(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    latest: Release
    unsafe: list[UnsafeRelease] = []


def parse_feed(raw: bytes) -> Feed:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FeedError("the answer is not JSON") from None
    try:
        return Feed.model_validate(data)
    except ValidationError as e:
        raise FeedError(f"not a release feed: {describe_validation(e, limit=2)}") from None


def fetch_feed(url: str, timeout_s: float) -> Feed:
    """Blocking: one GET, at most MAX_FEED_BYTES, within timeout_s per network operation."""
    if not url.startswith(("https://", "http://")):
        raise FeedError("the feed address must start with https://")
    # Imported here: the check is off by default, and urllib's HTTP stack is memory every sidecar would carry.
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": f"csmc/{__version__} update-check"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (scheme checked above)
            raw = response.read(MAX_FEED_BYTES + 1)
    except urllib.error.HTTPError as e:
        raise FeedError(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise FeedError(f"no answer within {timeout_s:g} s") from None
        raise FeedError(f"{e.reason}") from None
    except TimeoutError:
        raise FeedError(f"no answer within {timeout_s:g} s") from None
    except OSError as e:
        raise FeedError(f"{e.strerror or e}") from None
    if len(raw) > MAX_FEED_BYTES:
        raise FeedError(f"the answer is larger than {MAX_FEED_BYTES // 1024} KiB")
    return parse_feed(raw)


@dataclass(frozen=True)
class Verdict:
    newer: Release | None
    unsafe: UnsafeRelease | None


def judge(feed: Feed, running: str) -> Verdict:
    current = version_key(running)
    newer = feed.latest if version_key(feed.latest.version) > current else None
    unsafe = next((u for u in feed.unsafe if version_key(u.version) == current), None)
    return Verdict(newer, unsafe)


class UpdateCheck:
    """Reads the feed whenever an EA is connected and a day has passed since the last reading."""

    def __init__(
        self,
        feed_url: str,
        timeout_s: float,
        *,
        running: str = __version__,
        interval_s: float = DAY_S,
        poll_s: float = 0.5,
    ) -> None:
        self.feed_url = feed_url
        self.timeout_s = timeout_s
        self.running = running
        self.interval_s = interval_s
        self.poll_s = poll_s
        self._announced: str | None = None

    async def run(self, connected: Callable[[], bool]) -> None:
        # The alerts are for the chart: read the feed once an EA is there to show them.
        while True:
            while not connected():
                await asyncio.sleep(self.poll_s)
            await self.check_once()
            await asyncio.sleep(self.interval_s)

    async def check_once(self) -> Verdict | None:
        try:
            feed = await asyncio.to_thread(fetch_feed, self.feed_url, self.timeout_s)
        except FeedError as e:
            log.warning("update check: cannot read the release feed %s: %s", self.feed_url, e, extra={"to_ea": False})
            return None
        verdict = judge(feed, self.running)
        self._report(verdict)
        return verdict

    def _report(self, verdict: Verdict) -> None:
        if verdict.unsafe is not None:
            unsafe = verdict.unsafe
            why = f": {unsafe.reason}" if unsafe.reason else ""
            where = unsafe.url or (verdict.newer.url if verdict.newer else "") or self.feed_url
            log.error(
                "This version of CSMultiConnector (%s) is marked unsafe%s. Install a fixed version: %s",
                self.running,
                why,
                where,
                extra={"critical": True, "code": "unsafe_version"},
            )
        newer = verdict.newer
        if newer is not None and newer.version != self._announced:
            self._announced = newer.version
            link = newer.url or self.feed_url
            log.info(
                "CSMultiConnector %s is available (this is %s): %s",
                newer.version,
                self.running,
                link,
                extra={"code": "update"},
            )
