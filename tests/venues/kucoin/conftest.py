"""Fixtures for the KuCoin tests: a fake KuCoin per test, and requests to it signed without the SDK."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from tests.fakes.kucoin import FakeKuCoin, encrypted_passphrase, prehash, sign
from tests.secrets import TEST_SECRETS

API_KEY = TEST_SECRETS["kucoin_api_key"]
SECRET = TEST_SECRETS["kucoin_secret_key"]
PASSPHRASE = TEST_SECRETS["kucoin_passphrase"]


@pytest.fixture
def fake() -> Iterator[FakeKuCoin]:
    with FakeKuCoin() as server:
        yield server


def signed(
    fake: FakeKuCoin,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    market: str = "spot",
    key: str = API_KEY,
    secret: str = SECRET,
    passphrase: str = PASSPHRASE,
    timestamp: int | None = None,
    version: str = "3",
    omit: str = "",
) -> requests.Response:
    """A request signed as KuCoin's documentation describes it: GET parameters in the signed query string,
    POST parameters as the JSON body."""
    stamp = str(timestamp if timestamp is not None else int(time.time() * 1000))
    body = ""
    if method == "GET" and params:
        path = f"{path}?{urlencode(params)}"
    elif params:
        body = json.dumps(params)
    headers = {
        "KC-API-KEY": key,
        "KC-API-SIGN": sign(secret, prehash(stamp, method, path, body)),
        "KC-API-TIMESTAMP": stamp,
        "KC-API-PASSPHRASE": encrypted_passphrase(secret, passphrase) if version != "1" else passphrase,
        "KC-API-KEY-VERSION": version,
        "Content-Type": "application/json",
    }
    headers.pop(omit, None)
    return requests.request(method, fake.url(market) + path, data=body or None, headers=headers, timeout=5)
