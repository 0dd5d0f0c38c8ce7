"""Secrets that the test profiles carry. None of them may appear in any log, alert, error or test output."""

TEST_SECRETS: dict[str, str] = {
    "binance_api_key": "bnKEY-7f3a9c2e51d04b8aa6c1",
    "binance_secret_key": "bnSECRET-c0ffee9d8e7f6a5b4c3d",
    "kucoin_api_key": "kcKEY-5e4d3c2b1a09f8e7d6c5",
    "kucoin_secret_key": "kcSECRET-0a1b2c3d4e5f6a7b8c9d",
    "kucoin_passphrase": "kcPASS-horse-battery-staple-42",
    "kraken_api_key": "krKEY-99aa88bb77cc66dd55ee",
    "kraken_secret_key": "krSECRET-ZmFrZS1rcmFrZW4tc2VjcmV0",
    "kraken_one_time_password": "krOTP-314159265358",
    "session_token": "tok-2b7e151628aed2a6abf71589",
}

SECRET_PROFILE = f"""\
connector = "paper"

[paper]
sync_at_startup = true

[binance]
api_key = "{TEST_SECRETS["binance_api_key"]}"
secret_key = "{TEST_SECRETS["binance_secret_key"]}"

[kucoin]
api_key = "{TEST_SECRETS["kucoin_api_key"]}"
secret_key = "{TEST_SECRETS["kucoin_secret_key"]}"
passphrase = "{TEST_SECRETS["kucoin_passphrase"]}"

[kraken]
api_key = "{TEST_SECRETS["kraken_api_key"]}"
secret_key = "{TEST_SECRETS["kraken_secret_key"]}"
one_time_password = "{TEST_SECRETS["kraken_one_time_password"]}"
"""


def find_secrets(text: str) -> list[str]:
    """Names of the test secrets that occur in `text`."""
    return [name for name, value in TEST_SECRETS.items() if value in text]
