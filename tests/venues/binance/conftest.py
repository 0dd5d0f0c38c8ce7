"""Fixtures for the Binance tests: a fake Binance per test, and signed raw requests to it."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests

from tests.fakes.binance import FakeBinance
from tests.secrets import TEST_SECRETS

API_KEY = TEST_SECRETS["binance_api_key"]
SECRET = TEST_SECRETS["binance_secret_key"]


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


def signed(
    fake: FakeBinance,
    method: str,
    path: str,
    params: dict[str, str],
    *,
    key: str = API_KEY,
    secret: str = SECRET,
    timestamp: int | None = None,
    in_body: bool = False,
) -> requests.Response:
    """A request signed the way Binance documents it, without python-binance in the way."""
    fields = dict(params)
    fields.setdefault("timestamp", str(timestamp if timestamp is not None else int(time.time() * 1000)))
    text = urlencode(fields)
    signature = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    text += f"&signature={signature}"
    url = fake.root_url + path
    headers = {"X-MBX-APIKEY": key} if key else {}
    if in_body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return requests.request(method, url, data=text, headers=headers, timeout=5)
    return requests.request(method, f"{url}?{text}", headers=headers, timeout=5)
