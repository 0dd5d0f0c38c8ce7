"""The opt-in update check against a release feed served on 127.0.0.1: alerts, failures, and copying unaffected."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bridge.client import BridgeClient
from bridge.messages import Account, AlertMsg, Position, Status
from sidecar import __version__
from sidecar.config import RELEASE_FEED, Settings
from sidecar.updates import MAX_FEED_BYTES, UpdateCheck, version_key
from tests.conftest import write_profile
from tests.e2e.harness import running


class FeedServer:
    """A web server on 127.0.0.1 answering every path with what the test set: status, body, delay."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b""
        self.delay_s = 0.0
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                time.sleep(owner.delay_s)
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                # The client may have given up waiting (the timeout case).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(owner.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/release-feed.json"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def serve(self, feed: object, status: int = 200, delay_s: float = 0.0) -> None:
        self.body = feed if isinstance(feed, bytes) else json.dumps(feed).encode()
        self.status = status
        self.delay_s = delay_s

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


NEWER = {"latest": {"version": "99.0.0", "url": "https://example.org/releases/tag/v99.0.0"}}
UNSAFE = {
    "latest": {"version": "99.0.0", "url": "https://example.org/releases/tag/v99.0.0"},
    "unsafe": [{"version": __version__, "reason": "closes positions twice", "url": "https://example.org/advisory/1"}],
}
FAILURES = {
    "404": (b"Not Found", 404, 0.0, "HTTP 404"),
    "garbage": (b"<html>not a feed</html>", 200, 0.0, "not JSON"),
    "wrong shape": (b'{"latest": {"version": "soon"}}', 200, 0.0, "not a release feed"),
    "timeout": (json.dumps(NEWER).encode(), 200, 2.0, "no answer within 0.3 s"),
    "too large": (b" " * (MAX_FEED_BYTES + 10), 200, 0.0, "larger than"),
}


def update_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "csmc.update"]


# --- the check, in process -------------------------------------------------------------------------


async def test_a_newer_version_is_an_info_alert_with_the_link(
    feed: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    feed.serve(NEWER)
    caplog.set_level(logging.INFO, "csmc")

    verdict = await UpdateCheck(feed.url, 5.0).check_once()

    assert verdict is not None and verdict.newer is not None and verdict.unsafe is None
    [record] = update_records(caplog)
    assert record.levelno == logging.INFO
    assert getattr(record, "code", "") == "update"
    assert not getattr(record, "critical", False)
    assert "99.0.0" in record.getMessage() and "https://example.org/releases/tag/v99.0.0" in record.getMessage()
    assert feed.requests == ["/release-feed.json"]


async def test_the_same_or_an_older_version_says_nothing(feed: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "csmc")
    for version in (__version__, "0.0.1"):
        feed.serve({"latest": {"version": version, "url": "https://example.org/r"}})
        verdict = await UpdateCheck(feed.url, 5.0).check_once()
        assert verdict is not None and verdict.newer is None and verdict.unsafe is None
    assert update_records(caplog) == []


async def test_a_newer_version_is_announced_once_per_run(feed: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    feed.serve(NEWER)
    caplog.set_level(logging.INFO, "csmc")
    check = UpdateCheck(feed.url, 5.0)
    await check.check_once()
    await check.check_once()
    assert len(update_records(caplog)) == 1
    feed.serve({"latest": {"version": "99.1.0", "url": "https://example.org/r991"}})
    await check.check_once()
    assert [r.getMessage().split()[1] for r in update_records(caplog)] == ["99.0.0", "99.1.0"]


async def test_the_running_version_marked_unsafe_is_a_critical_alert(
    feed: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    feed.serve(UNSAFE)
    caplog.set_level(logging.INFO, "csmc")

    verdict = await UpdateCheck(feed.url, 5.0).check_once()

    assert verdict is not None and verdict.unsafe is not None
    critical = [r for r in update_records(caplog) if getattr(r, "critical", False)]
    assert len(critical) == 1
    assert critical[0].levelno == logging.ERROR
    assert getattr(critical[0], "code", "") == "unsafe_version"
    text = critical[0].getMessage()
    assert "closes positions twice" in text and "https://example.org/advisory/1" in text and __version__ in text


async def test_another_version_marked_unsafe_is_not_this_ones_problem(
    feed: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    feed.serve({"latest": {"version": __version__}, "unsafe": [{"version": "0.0.9", "reason": "old bug"}]})
    caplog.set_level(logging.INFO, "csmc")
    verdict = await UpdateCheck(feed.url, 5.0).check_once()
    assert verdict is not None and verdict.unsafe is None
    assert update_records(caplog) == []


@pytest.mark.parametrize("case", sorted(FAILURES))
async def test_a_feed_that_cannot_be_read_is_one_log_line_kept_off_the_chart(
    case: str, feed: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    body, status, delay, reason = FAILURES[case]
    feed.serve(body, status=status, delay_s=delay)
    caplog.set_level(logging.INFO, "csmc")

    verdict = await UpdateCheck(feed.url, 0.3).check_once()

    assert verdict is None
    [record] = update_records(caplog)
    assert record.levelno == logging.WARNING
    assert getattr(record, "to_ea", True) is False
    assert reason in record.getMessage() and feed.url in record.getMessage()
    assert "\n" not in record.getMessage() and record.exc_info is None


async def test_nothing_is_read_before_an_ea_is_connected_then_once_per_interval(feed: FeedServer) -> None:
    feed.serve(NEWER)
    connected = False
    check = UpdateCheck(feed.url, 5.0, interval_s=0.2, poll_s=0.02)
    task = asyncio.create_task(check.run(lambda: connected))
    try:
        await asyncio.sleep(0.3)
        assert feed.requests == []
        connected = True
        deadline = time.monotonic() + 10
        while len(feed.requests) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(feed.requests) >= 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_versions_compare_as_numbers() -> None:
    assert version_key("0.10.0") > version_key("0.9.9")
    assert version_key("1.2") == version_key("1.2.0") == version_key("v1.2.0")
    assert version_key("1.2.1") > version_key("1.2")
    with pytest.raises(ValueError, match="not a release version"):
        version_key("1.2.0-beta")


def test_the_check_is_off_by_default_and_reads_the_projects_feed() -> None:
    settings = Settings()
    assert settings.update.check is False
    assert settings.update.feed_url == RELEASE_FEED
    assert RELEASE_FEED.startswith("https://")


def test_a_feed_url_that_is_not_a_web_address_is_refused() -> None:
    with pytest.raises(ValueError, match="feed_url must be an https://"):
        Settings(update={"check": True, "feed_url": "file:///etc/passwd"})


# --- the running sidecar, as the EA sees it -------------------------------------------------------

BTC = Position(
    position_id=1, symbol="BTCUSD", side="buy", volume=Decimal("0.25"), contract_size=Decimal(1),
    volume_min=Decimal("0.01"), base_currency="BTC", profit_currency="USD", volume_step=Decimal("0.01"), magic=0,
)  # fmt: skip
ACCOUNT = Account(login=51234567, server="Demo-Server", currency="USD", margin_mode="netting")


def update_profile(home: Path, name: str, url: str) -> None:
    write_profile(home, name, f'connector = "paper"\n[update]\ncheck = true\nfeed_url = "{url}"\ntimeout_s = 0.5\n')


def _in_sync(message: object) -> bool:
    body = getattr(message, "body", None)
    return (
        isinstance(body, Status) and body.mismatches == 0 and any(r.venue == Decimal("0.25") for r in body.instruments)
    )


@pytest.mark.slow
@pytest.mark.parametrize("feed_kind", ["newer", "unsafe"])
async def test_the_ea_gets_the_alert(feed_kind: str, feed: FeedServer, csmc_home: Path) -> None:
    feed.serve(NEWER if feed_kind == "newer" else UNSAFE)
    update_profile(csmc_home, "upd", feed.url)
    with running(csmc_home, "upd") as sidecar:
        sidecar.wait_listening()
        client = BridgeClient(f"tcp://127.0.0.1:{sidecar.port}", sidecar.token, account=ACCOUNT, profile="upd")
        try:
            await client.hello()
            wanted = "update" if feed_kind == "newer" else "unsafe_version"
            message = await client.wait_for(lambda m: isinstance(m.body, AlertMsg) and m.body.code == wanted, 10)
        finally:
            await client.close("test finished")
    alert = message.body
    assert isinstance(alert, AlertMsg)
    if feed_kind == "newer":
        assert (alert.level, alert.critical) == ("info", False)
        assert "https://example.org/releases/tag/v99.0.0" in alert.text
    else:
        assert (alert.level, alert.critical) == ("error", True)
        assert "closes positions twice" in alert.text


@pytest.mark.slow
@pytest.mark.parametrize("case", ["404", "garbage", "timeout"])
async def test_a_bad_feed_leaves_copying_alone(case: str, feed: FeedServer, csmc_home: Path) -> None:
    body, status, delay, reason = FAILURES[case]
    feed.serve(body, status=status, delay_s=delay)
    update_profile(csmc_home, "upd", feed.url)
    with running(csmc_home, "upd") as sidecar:
        sidecar.wait_listening()
        client = BridgeClient(f"tcp://127.0.0.1:{sidecar.port}", sidecar.token, account=ACCOUNT, profile="upd")
        try:
            await client.hello()
            await client.wait_for(lambda m: m.type == "request_snapshot", 10)
            deadline = time.monotonic() + 10
            while not feed.requests and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.8)  # past the feed's 0.5 s timeout: the failure has been logged by now
            await client.snapshot([BTC], reason="connect")
            await client.wait_for(_in_sync, 10)
        finally:
            await client.close("test finished")
    assert feed.requests, "the sidecar never asked for the feed"
    alerts = [m.body for m in client.received if isinstance(m.body, AlertMsg)]
    assert not [a for a in alerts if "release feed" in a.text or a.code in ("update", "unsafe_version")]
    log_lines = (csmc_home / "logs" / "run-upd.log").read_text(encoding="utf-8").splitlines()
    feed_lines = [line for line in log_lines if "release feed" in line]
    assert len(feed_lines) == 1, feed_lines
    assert reason.replace("0.3", "0.5") in feed_lines[0]
