"""Logging: the redactor, the rotated log file and the mirror of log records to the EA's chart."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.logs import MASK, REDACT, EaMirrorHandler, Redactor, set_max_log_size, setup_logging
from tests.secrets import TEST_SECRETS, find_secrets

Sent = tuple[str, str, bool, str]


@pytest.fixture
def redact_secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let a test register secrets with the global redactor without leaving them there for other tests."""
    monkeypatch.setattr(REDACT, "_secrets", set(REDACT._secrets))
    yield


@pytest.fixture
def csmc_logger() -> Iterator[logging.Logger]:
    """The `csmc` logger, restored after setup_logging has rewired it."""
    root = logging.getLogger("csmc")
    handlers, level, propagate = list(root.handlers), root.level, root.propagate
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if handler not in handlers:
            handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    root.propagate = propagate


def _flush(logger: logging.Logger) -> None:
    for handler in logger.handlers:
        handler.flush()


# --- Redactor --------------------------------------------------------------------------------------

HEADER_CASES = [
    ("X-MBX-APIKEY: AbCdEf1234567890", "X-MBX-APIKEY", "AbCdEf1234567890"),
    ("{'X-MBX-APIKEY': 'AbCdEf1234567890', 'Accept': 'json'}", "X-MBX-APIKEY", "AbCdEf1234567890"),
    ("GET /api/v3/order?symbol=BTCUSDT&timestamp=1&signature=0a1b2c3d4e5f6a7b", "signature", "0a1b2c3d4e5f6a7b"),
    ("KC-API-SIGN: c2lnbmF0dXJlLXZhbHVl", "KC-API-SIGN", "c2lnbmF0dXJlLXZhbHVl"),
    ('{"KC-API-PASSPHRASE": "cGFzc3BocmFzZQ"}', "KC-API-PASSPHRASE", "cGFzc3BocmFzZQ"),
    ("API-Sign: a3Jha2VuLXNpZ24=", "API-Sign", "a3Jha2VuLXNpZ24="),
    ("Authent: ZnV0dXJlcy1hdXRoLXZhbHVl", "Authent", "ZnV0dXJlcy1hdXRoLXZhbHVl"),
    ("hello from EA token=q1w2e3r4t5y6u7i8 accepted", "token", "q1w2e3r4t5y6u7i8"),
]


@pytest.mark.parametrize(("text", "name", "value"), HEADER_CASES, ids=[c[1] for c in HEADER_CASES])
def test_redactor_masks_header_and_parameter_values_and_keeps_the_name(text: str, name: str, value: str) -> None:
    out = Redactor()(text)

    assert value not in out
    assert name in out
    assert MASK in out


def test_redactor_masks_the_credential_of_an_authorization_bearer_header() -> None:
    credential = "eyJhbGciOiJIUzI1NiJ9.c2Vzc2lvbg"

    out = Redactor()(f"Authorization: Bearer {credential}")

    assert credential not in out
    assert "Authorization" in out


def test_redactor_masks_registered_secrets_wherever_they_occur() -> None:
    secret = TEST_SECRETS["kucoin_passphrase"]
    redactor = Redactor([secret])

    out = redactor(f"login failed ({secret}); retry with{secret}suffix")

    assert find_secrets(out) == []
    assert out == f"login failed ({MASK}); retry with{MASK}suffix"


def test_redactor_secrets_added_later_are_masked_too() -> None:
    redactor = Redactor()
    secret = TEST_SECRETS["kraken_one_time_password"]
    redactor.add(secret)

    assert redactor(f"otp is {secret}") == f"otp is {MASK}"


def test_redactor_leaves_short_registered_values_and_ordinary_words_alone() -> None:
    redactor = Redactor(["abc", "USD", "key", ""])
    text = "The key for abc in USD: the session token and the secret signature were refreshed."

    assert redactor(text) == text


def test_redactor_leaves_a_token_file_name_followed_by_prose_alone() -> None:
    text = "Cannot read the token file /tmp/ea.token: No such file or directory."

    assert Redactor()(text) == text


# --- setup_logging: the file -----------------------------------------------------------------------


@pytest.mark.usefixtures("redact_secrets")
def test_log_file_never_receives_a_registered_secret(tmp_path: Path, csmc_logger: logging.Logger) -> None:
    secret = TEST_SECRETS["binance_secret_key"]
    REDACT.add(secret)
    path = setup_logging(tmp_path / "logs", max_mb=1, console=False)
    log = logging.getLogger("csmc.test.file")

    log.warning("in the message: " + secret)
    log.warning("in the arguments: %s", secret)
    try:
        raise ValueError(f"in the exception: {secret}")
    except ValueError:
        log.exception("in a traceback")
    _flush(csmc_logger)

    text = path.read_text(encoding="utf-8")
    assert find_secrets(text) == []
    assert f"in the message: {MASK}" in text
    assert f"in the arguments: {MASK}" in text
    assert "Traceback" in text
    assert f"ValueError: in the exception: {MASK}" in text


@pytest.mark.usefixtures("redact_secrets")
def test_console_output_is_redacted(
    tmp_path: Path, csmc_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = TEST_SECRETS["kucoin_secret_key"]
    REDACT.add(secret)
    setup_logging(tmp_path / "logs", max_mb=1, console=True)

    logging.getLogger("csmc.test.console").warning("rejected key %s", secret)
    _flush(csmc_logger)

    err = capsys.readouterr().err
    assert f"rejected key {MASK}" in err
    assert find_secrets(err) == []


def test_log_file_rotates_at_the_size_limit(tmp_path: Path, csmc_logger: logging.Logger) -> None:
    path = setup_logging(tmp_path / "logs", max_mb=1, console=False, name="sidecar")
    log = logging.getLogger("csmc.test.rotation")
    filler = "x" * 1000
    count = 3 * 1024

    for i in range(count):
        log.info("record %05d %s", i, filler)
    _flush(csmc_logger)

    files = sorted(path.parent.glob("sidecar.log*"))
    names = {f.name for f in files}
    assert path.name == "sidecar.log"
    assert {"sidecar.log", "sidecar.log.1", "sidecar.log.2"} <= names
    record_size = max(len(line) + 1 for line in path.read_text(encoding="utf-8").splitlines())
    for f in files:
        assert f.stat().st_size <= 1024 * 1024 + record_size, f.name
    assert f"record {count - 1:05d} " in path.read_text(encoding="utf-8")
    assert f"record {count - 1:05d} " not in (path.parent / "sidecar.log.1").read_text(encoding="utf-8")


def test_the_rotation_size_can_change_while_the_sidecar_runs(tmp_path: Path, csmc_logger: logging.Logger) -> None:
    """The EA's 'Max log file size' input arrives with its hello, after the log file was opened."""
    path = setup_logging(tmp_path / "logs", max_mb=20, console=False, name="run-live")
    log = logging.getLogger("csmc.test.resize")
    filler = "y" * 1000

    assert set_max_log_size(1) == [path]
    for i in range(1536):
        log.info("record %05d %s", i, filler)
    _flush(csmc_logger)

    assert (path.parent / "run-live.log.1").exists()  # rotated at 1 MB, far below the 20 MB it was opened with
    assert path.stat().st_size <= 1024 * 1024 + 1100


def test_setup_logging_replaces_its_previous_handlers(tmp_path: Path, csmc_logger: logging.Logger) -> None:
    first = setup_logging(tmp_path / "one", max_mb=1, console=False)
    second = setup_logging(tmp_path / "two", max_mb=1, console=False)

    logging.getLogger("csmc.test.switch").warning("only in the second file")
    _flush(csmc_logger)

    assert "only in the second file" in second.read_text(encoding="utf-8")
    assert "only in the second file" not in first.read_text(encoding="utf-8")


# --- EaMirrorHandler -------------------------------------------------------------------------------


@pytest.fixture
def mirror() -> Iterator[tuple[logging.Logger, EaMirrorHandler, list[Sent]]]:
    sent: list[Sent] = []

    def send(level: str, text: str, critical: bool, code: str) -> None:
        sent.append((level, text, critical, code))

    handler = EaMirrorHandler(send)
    # A logger outside the logging tree: its records reach this handler and nothing else (not pytest's capture).
    logger = logging.Logger("csmc.test.mirror", logging.DEBUG)
    logger.addHandler(handler)
    yield logger, handler, sent
    logger.removeHandler(handler)


def test_mirror_maps_record_levels_to_alert_levels(mirror: tuple[logging.Logger, EaMirrorHandler, list[Sent]]) -> None:
    log, _, sent = mirror

    log.debug("a debug line")
    log.info("an info")
    log.warning("a warning")
    log.error("an error")
    log.critical("a critical")

    assert [(level, text) for level, text, _, _ in sent] == [
        ("info", "an info"),
        ("warning", "a warning"),
        ("error", "an error"),
        ("error", "a critical"),
    ]


def test_mirror_without_info_messages_sends_only_warnings_and_errors(
    mirror: tuple[logging.Logger, EaMirrorHandler, list[Sent]],
) -> None:
    log, handler, sent = mirror
    handler.info_messages = False

    log.info("an info")
    log.warning("a warning")
    log.error("an error")

    assert [(level, text) for level, text, _, _ in sent] == [("warning", "a warning"), ("error", "an error")]


def test_mirror_skips_records_marked_not_for_the_ea(mirror: tuple[logging.Logger, EaMirrorHandler, list[Sent]]) -> None:
    log, _, sent = mirror

    log.warning("for the log file only", extra={"to_ea": False})
    log.warning("for the chart too", extra={"to_ea": True})

    assert [text for _, text, _, _ in sent] == ["for the chart too"]


def test_mirror_sends_the_message_without_the_traceback(
    mirror: tuple[logging.Logger, EaMirrorHandler, list[Sent]],
) -> None:
    log, _, sent = mirror

    try:
        raise RuntimeError("deep detail")
    except RuntimeError:
        log.exception("order failed")

    assert sent == [("error", "order failed", False, "")]


def test_mirror_passes_critical_and_code_through(mirror: tuple[logging.Logger, EaMirrorHandler, list[Sent]]) -> None:
    log, _, sent = mirror

    log.error("cannot use the venue", extra={"critical": True, "code": "venue_config"})
    log.warning("plain warning")

    assert sent == [
        ("error", "cannot use the venue", True, "venue_config"),
        ("warning", "plain warning", False, ""),
    ]


@pytest.mark.usefixtures("redact_secrets")
def test_mirror_redacts_secrets(mirror: tuple[logging.Logger, EaMirrorHandler, list[Sent]]) -> None:
    log, _, sent = mirror
    secret = TEST_SECRETS["binance_api_key"]
    REDACT.add(secret)

    log.warning("key %s was rejected", secret)
    log.warning("request GET /order?signature=0a1b2c3d4e5f6a7b failed")

    texts = [text for _, text, _, _ in sent]
    assert texts == [f"key {MASK} was rejected", f"request GET /order?signature={MASK} failed"]


PROSE_AFTER_A_CREDENTIAL_NAME = [
    "Binance did not accept the request's signature: [binance] secret_key does not belong to api_key. Copy it again.",
    "signature: secret_key does not belong to api_key",
    "the token: expired, and the passphrase = wrong",
    "Cannot read the token file C:/MT5/MQL5/Files/CSMultiConnector/sidecar-5555.token: No such file",
]


@pytest.mark.parametrize("text", PROSE_AFTER_A_CREDENTIAL_NAME)
def test_redactor_keeps_prose_that_follows_a_credential_name(text: str) -> None:
    assert Redactor()(text) == text


def test_redactor_still_masks_a_credential_that_looks_like_a_word_when_it_is_registered() -> None:
    redactor = Redactor(["correcthorsebattery"])

    assert redactor("passphrase: correcthorsebattery") == f"passphrase: {MASK}"
