"""Fixtures for the Kraken tests: a fake Kraken per test, settings that point at it, and signed raw requests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from pydantic import SecretStr

from sidecar.config import KrakenSettings
from tests.fakes.kraken import FakeKraken, futures_sign, spot_sign
from tests.secrets import TEST_SECRETS

API_KEY = TEST_SECRETS["kraken_api_key"]
SECRET = TEST_SECRETS["kraken_secret_key"]
OTP = TEST_SECRETS["kraken_one_time_password"]


@pytest.fixture
def fake() -> Iterator[FakeKraken]:
    with FakeKraken() as server:
        yield server


@pytest.fixture(autouse=True)
def nonce_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The adapter keeps its nonce files in the data directory: one per test."""
    home = tmp_path / "nonce-home"
    monkeypatch.setenv("CSMC_HOME", str(home))
    return home / "data"


def settings(fake: FakeKraken, endpoint: str = "spot", **extra: Any) -> KrakenSettings:
    values: dict[str, Any] = {
        "endpoint": endpoint,
        "api_url": fake.url,
        "api_key": SecretStr(API_KEY),
        "secret_key": SecretStr(SECRET),
        "request_timeout_s": 1.0,
        "order_deadline_s": 5.0,
        "rate_limit_pause_s": 30.0,
    }
    return KrakenSettings(**(values | extra))


def nonce() -> str:
    return str(time.time_ns() // 10)


def spot_private(
    fake: FakeKraken,
    path: str,
    params: dict[str, str] | None = None,
    *,
    key: str = API_KEY,
    secret: str = SECRET,
    nonce_value: str | None = None,
) -> requests.Response:
    """A Spot request signed the way Kraken documents it, without python-kraken-sdk in the way."""
    fields = {"nonce": nonce_value or nonce(), **(params or {})}
    body = urlencode(fields)
    headers = {
        "API-Key": key,
        "API-Sign": spot_sign(secret, path, fields["nonce"], body),
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    }
    return requests.post(fake.url + path, data=body, headers=headers, timeout=5)


def futures_private(
    fake: FakeKraken,
    method: str,
    path: str,
    params: dict[str, str] | None = None,
    *,
    key: str = API_KEY,
    secret: str = SECRET,
    nonce_value: str | None = None,
) -> requests.Response:
    """A Futures request signed the way Kraken documents it: postData is the query string, or the form body."""
    data = urlencode(params or {})
    value = nonce_value or nonce()
    headers = {"APIKey": key, "Nonce": value, "Authent": futures_sign(secret, path, value, data)}
    if method == "GET":
        return requests.get(f"{fake.url}{path}?{data}" if data else fake.url + path, headers=headers, timeout=5)
    headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    return requests.post(fake.url + path, data=data, headers=headers, timeout=5)
