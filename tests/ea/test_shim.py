"""The MQL5 runtime shim and the scenario runner, exercised through a self-test EA (tests/ea/selftest).

The self-test EA is built once per session with tests/ea/build.py; every test runs one scenario through the
resulting `ea-harness` binary and checks what the EA printed, the result file and the files and processes the
run left behind.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

EA_DIR = Path(__file__).resolve().parent
REPO_ROOT = EA_DIR.parents[1]
SELFTEST = EA_DIR / "selftest"
RUN_TIMEOUT = 60.0
BUILD_TIMEOUT = 600.0

SYMBOLS = {
    "EURUSD.m": {
        "contract_size": 100000,
        "base": "EUR",
        "profit": "USD",
        "description": "Euro vs US Dollar",
        "volume_step": 0.01,
        "volume_min": 0.01,
        "volume_max": 50,
        "digits": 5,
        "bid": 1.1,
        "ask": 1.1002,
    },
    "BTCUSD": {"contract_size": 1, "base": "BTC", "profit": "USD", "digits": 2, "bid": 60000, "ask": 60010},
}


@dataclass
class Run:
    exit_code: int
    result: dict[str, Any]
    stderr: str

    @property
    def failure(self) -> str | None:
        failure = self.result["failure"]
        assert failure is None or isinstance(failure, str)
        return failure

    def texts(self, kind: str) -> list[str]:
        return [event["text"] for event in self.result["events"] if event["kind"] == kind]

    @property
    def prints(self) -> list[str]:
        return self.texts("print")

    def value(self, key: str) -> str:
        """The text after `key=` in the one print line that starts with it."""
        found = [line[len(key) + 1 :] for line in self.prints if line.startswith(f"{key}=")]
        assert len(found) == 1, f"expected one print of {key}=..., got {found} in {self.prints}"
        return found[0]


def build_selftest(out: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        str(EA_DIR / "build.py"),
        "--mql5-root",
        str(SELFTEST),
        "--expert",
        "Experts/SelfTest.mq5",
        "--out",
        str(out),
    ]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)


@pytest.fixture(scope="session")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("selftest-build")
    built = build_selftest(out)
    assert built.returncode == 0, built.stdout + built.stderr
    return out / "ea-harness"


def scenario(case: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": case,
        "account": {"login": 51234567, "server": "Demo-Server", "currency": "USD", "margin_mode": "netting"},
        "terminal": {"dlls_allowed": True, "allowed_urls": ["127.0.0.1"]},
        "symbols": SYMBOLS,
        "inputs": {"InpCase": case},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def run_scenario(harness: Path, directory: Path, spec: dict[str, Any], *, narrate: bool = False) -> Run:
    directory.mkdir(parents=True, exist_ok=True)
    scenario_file = directory / "scenario.json"
    scenario_file.write_text(json.dumps(spec), encoding="utf-8")
    result_file = directory / "result.json"
    command = [str(harness), str(scenario_file), "--out", str(result_file), "--run-dir", str(directory / "run")]
    if narrate:
        command.append("--narrate")
    finished = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    assert finished.returncode in (0, 1), finished.stderr
    result = json.loads(result_file.read_text(encoding="utf-8"))
    assert (finished.returncode == 0) == (result["failure"] is None)
    return Run(finished.returncode, result, finished.stderr)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# ---------------------------------------------------------------------------------------------------------------
# Pure functions


def test_string_functions(harness: Path, tmp_path: Path) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_STRINGS"))
    assert run.failure is None
    expected = {
        "StringLen": "16",
        "Trim": "Hello, World|2|2",
        "StringSubstr": "World|Hello||",
        "StringFind": "4 8 -1",
        "StringSplit": "4:a||b|",
        "StringSplitEmpty": "0 0",
        "StringGetCharacter": "72 0",
        "StringSetCharacter": "aXcd",
        "StringSetCharacterCut": "aX 2",
        "StringReplace": "1 two 1 2",
        "Case": "MIXED ÄÖ|mixed äö",
        "StringCompare": "-1 1 0 -1",
        "ShortToString": "€ CharToString=A",
        "IntegerToString": "42|    42|00-7|9223372036854775807",
        "StringToInteger": "123 -45 0",
        "StringToDouble": "1.25 0",
        "DoubleToString": "3.14|3|0.33333333|1.23e+03",
        "Concat": "wxyz true true true true true",
        "StringConcatenate": "n=5 d=0.5 b=true 16",
        "Casts": "42|2.5|true|17|0.25|7",
        "StringInit": "***!",
        "StringFill": "---",
        "EnumToString": "CASE_FORMAT CASE_INFO DEAL_ENTRY_OUT_BY TRADE_TRANSACTION_DEAL_ADD ENUM_SELFTEST_CASE::99",
    }
    assert {key: run.value(key) for key in expected} == expected
    # Print joins any arguments: doubles in their shortest form, bools as words, floats with 5 decimals.
    assert "Print:1 -2 0.1 1e+20 true false 200 18446744073709551615 0.25000" in run.prints


def test_string_format(harness: Path, tmp_path: Path) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_FORMAT"))
    assert run.failure is None
    assert run.value("Format1") == "42|   42|42   |00042|+42|-3"
    # %d keeps the low 32 bits of a 64-bit value, as MQL5 does; %I64d and %lld print it whole.
    assert run.value("Format2") == "5000000000|-5000000000|705032704|18446744073709551615"
    assert run.value("Format3") == "7|ff|FF|10|A|%"
    assert run.value("Format4") == "1.500000|2.35|   3.142|1.234568e+04|0.0001|1.23e+03"
    assert run.value("Format5") == "abc|     right|left  |tru|12|true"
    assert run.value("Format6") == "ünï=3 (€)"
    assert "PrintFormat ok 2.3" in run.prints


def test_utf8_and_ansi_round_trips(harness: Path, tmp_path: Path) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_UTF8"))
    assert run.failure is None
    text = "Grüße €𝄞"
    assert run.value("Utf8Len") == "9"  # UTF-16 code units: the clef is a surrogate pair
    encoded = text.encode("utf-8") + b"\0"
    assert run.value("Utf8Bytes") == f"{len(encoded)} {encoded.hex()}"
    assert run.value("Utf8RoundTrip") == f"true {text}"
    assert run.value("NoShrink") == "3 40"  # StringToCharArray grows an array but never shrinks it
    assert run.value("CountLimit") == "2 e282"  # the count is in bytes, cutting the euro sign
    assert run.value("Invalid") == "6 41 fffd 42 fffd 28 fffd"
    assert run.value("StopAtZero") == "ab"
    assert run.value("Ansi") == "3 e98000 é€"  # CP_ACP is Windows-1252
    assert run.value("FixedTarget") == "4 0 78 76 0"


def test_arrays(harness: Path, tmp_path: Path) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_ARRAYS"))
    assert run.failure is None
    expected = {
        "ArrayResize": "5 5 -1 5 true",
        "ArrayInitialize": "7,7,7,7,7",
        "ArrayCopy": "5 0,10,20,30,40",
        "ArrayCopyPart": "2 0,10,20,30,40,0,10,20",
        "ArrayRemove": "0,30,40,0,10,20",
        "ArrayRemoveTail": "0,30,40",
        "Fixed": "4 2 1,1,0,10 false",
        "ArrayFill": "0,-1,-1,30,40",
        "ArrayFree": "0",
        "Initialised": "2 ba",
        "ArraySort": "1,2,3",
        "StructArray": "5 X 0",
        "BoolArray": "false true",
        "ZeroMemory": "0",
    }
    assert {key: run.value(key) for key in expected} == expected


def test_math_and_constants(harness: Path, tmp_path: Path) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_MATH"))
    assert run.failure is None
    assert run.value("MathAbs") == "3 2.5"
    assert run.value("MathMinMax") == "4.5 3 7"
    assert run.value("MathRound") == "3 -3 -2 2"
    assert run.value("MathPow") == "1024 MathLog10=3 MathMod=1.5"
    assert run.value("MathIsValidNumber") == "true false"
    assert run.value("MathExpLogSqrt") == "1 0 4"
    assert run.value("NormalizeDouble") == "1.23 0.13"
    assert run.value("MathRand") == "41,18467,6334"  # the sequence of MetaTrader's generator after MathSrand(1)
    assert run.value("Constants") == "2147483647 9223372036854775807 18446744073709551615 true -1 65001 32767 8 7"


def test_time_functions(harness: Path, tmp_path: Path) -> None:
    before = int(time.time())
    run = run_scenario(harness, tmp_path, scenario("CASE_TIME", account={"server_utc_offset_s": 7200}))
    after = int(time.time())
    assert run.failure is None
    assert run.value("TimeToString") == "2023.11.14 22:13|2023.11.14 22:13:20|2023.11.14|22:13:20"
    assert run.value("StringToTime") == "1700000000"
    assert run.value("DatetimeLiteral") == "1700000000 true"
    assert run.value("TimeToStruct") == "2023-11-14 2"
    assert run.value("StructToTime") == str(1700000000 - 22 * 3600)
    assert run.value("TimeTradeServer") == f"true TimeGMTOffset={-time.localtime().tm_gmtoff}"
    gmt = int(run.value("TimeGMT"))
    assert before <= gmt <= after
    assert 7200 - 1 <= int(run.value("TimeCurrent")) - gmt <= 7200 + 1
    assert abs(int(run.value("TimeLocal")) - gmt - time.localtime().tm_gmtoff) <= 1
    assert run.value("Elapsed") == "true true true"


def test_sha256_base64_and_random(harness: Path, tmp_path: Path) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_CRYPTO"))
    assert run.failure is None
    # FIPS 180-2 test vectors.
    assert run.value("Sha256Empty") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert run.value("Sha256Abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert run.value("Sha256TwoBlocks") == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    assert run.value("Sha256Million") == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    assert run.value("Base64") == "aGVsbG8= hello"
    filled, first, second = run.value("Random").split()
    assert filled == "true"
    assert len(first) == len(second) == 32
    assert first != second


# ---------------------------------------------------------------------------------------------------------------
# Inputs and scenario files


def test_inputs_are_set_from_scenario_text(harness: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFTEST_HOST", "hôst.example")
    inputs = {
        "InpCase": "CASE_INPUTS",
        "InpHost": "${SELFTEST_HOST}",
        "InpPort": 5557,
        "InpRatio": "0.25",
        "InpFlag": True,
        "InpBig": "-9000000000",
        "InpMagic": "18446744073709551615",
        "InpTimerMs": 75,
        "InpProgram": "${SELFTEST_HOST}/bin",
    }
    run = run_scenario(harness, tmp_path, scenario("CASE_INPUTS", inputs=inputs))
    assert run.failure is None
    assert run.value("Inputs") == "hôst.example|5557|0.25|true|-9000000000|18446744073709551615|75|hôst.example/bin"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"InpCase": "CASE_NOPE"}, "input InpCase: 'CASE_NOPE' is not one of CASE_STRINGS, CASE_FORMAT"),
        ({"InpPort": "12x"}, "input InpPort: '12x' is not an integer in [-2147483648, 2147483647]"),
        ({"InpPort": "4294967296"}, "input InpPort: '4294967296' is not an integer"),
        ({"InpFlag": "yes"}, "input InpFlag: 'yes' is not true or false"),
        ({"InpMagic": "-1"}, "input InpMagic: '-1' is not an unsigned integer"),
        ({"InpRatio": "1,5"}, "input InpRatio: '1,5' is not a number"),
        ({"InpNope": "1"}, "input InpNope: the EA has no input of that name (the EA's inputs: InpCase, InpHost"),
    ],
)
def test_bad_inputs_fail_before_oninit(harness: Path, tmp_path: Path, inputs: dict[str, str], message: str) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_STRINGS", inputs=inputs))
    assert run.failure is not None
    assert message in run.failure
    assert run.result["init_result"] is None
    assert run.prints == []
    assert run.result["calls"]["OnInit"] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timeline": [{"do": "jump"}]}, 'timeline[0]: unknown step "jump"'),
        ({"timeline": [{"do": "wait", "secs": 1}]}, "timeline[0]: unknown key 'secs'"),
        ({"timeline": [{"do": "deal", "symbol": "EURUSD.m", "side": "buy", "volume": "0.1e1"}]}, "not a plain"),
        ({"timeline": [{"do": "deinit"}, {"do": "wait", "seconds": 1}]}, "deinit must be the last step"),
        ({"terminal": {"dll_allowed": True}}, "terminal: unknown key 'dll_allowed'"),
        ({"inputs": {"InpHost": "${SELFTEST_UNSET_VARIABLE}"}}, "SELFTEST_UNSET_VARIABLE is not set"),
    ],
)
def test_unusable_scenarios_are_refused(harness: Path, tmp_path: Path, change: dict[str, Any], message: str) -> None:
    spec = scenario("CASE_STRINGS")
    spec.update(change)
    scenario_file = tmp_path / "scenario.json"
    scenario_file.write_text(json.dumps(spec), encoding="utf-8")
    command = [str(harness), str(scenario_file), "--out", str(tmp_path / "result.json"), "--run-dir", str(tmp_path)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    assert finished.returncode == 2
    assert message in finished.stderr
    assert not (tmp_path / "result.json").exists()


# ---------------------------------------------------------------------------------------------------------------
# Terminal


def test_terminal_account_and_symbol_information(harness: Path, tmp_path: Path) -> None:
    spec = scenario("CASE_INFO", account={"margin_mode": "hedging", "balance": 2500.5, "trade_mode": "real"})
    run = run_scenario(harness, tmp_path, spec)
    assert run.failure is None
    assert run.value("Account") == "51234567|Demo-Server|USD|Scripted Broker Ltd|Test Account|2|2|2500.5"
    assert run.value("Terminal") == "111|1|SelfTest"
    data_path = Path(run.value("DataPath"))
    assert data_path == Path(run.result["data_path"]) == tmp_path / "run" / "data"
    assert (data_path / "MQL5" / "Files").is_dir()
    assert Path(run.value("CommonPath")) == tmp_path / "run" / "common"
    assert run.value("Chart") == "EURUSD.m|EURUSD.m|true|5"
    assert run.value("Symbol") == "100000|0.01|0.01|50|1.1|1.1002|5|EUR|USD|Euro vs US Dollar"
    assert run.value("BoolForms") == "true 5 true EUR true 0.01"
    assert run.value("UnknownSymbol") == "false 4301 0 4301"
    assert run.value("Symbols") == "EURUSD.m;BTCUSD; true false true 1 2"
    assert run.value("Program") == "true 0 0 true false"
    assert run.value("UninitializeReason") == "0 IsStopped=false"
    assert run.value("UserError") == "65539"
    # Comment is recorded whenever the chart text changes, with the text MT5 shows: at most 2045 characters.
    assert run.texts("comment") == ["line one\nline two", "count 5", "x" * 2045]
    assert run.texts("alert") == ["alert 1 raised"]
    assert run.value("Tester") == "000"
    assert run.value("Socket") == "true 0"


@pytest.mark.parametrize(
    ("mode", "flags", "comments"),
    [("tester", "100", 3), ("visual", "101", 3), ("optimization", "110", 0)],
)
def test_the_strategy_tester_modes(harness: Path, tmp_path: Path, mode: str, flags: str, comments: int) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_INFO", terminal={"mode": mode}))
    assert run.failure is None
    assert run.value("Tester") == flags  # MQL_TESTER, MQL_OPTIMIZATION, MQL_VISUAL_MODE
    assert run.value("Socket") == "false 4014"  # no network functions in the tester
    assert len(run.texts("comment")) == comments  # Comment does nothing while optimising


def test_files_stay_in_the_sandbox_and_are_private(harness: Path, tmp_path: Path) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_FILES"))
    assert run.failure is None
    expected = {
        "FileOpenWrite": "true",
        "Written": "12 Size=23",
        "FileIsExist": "true false",
        "ReadLines": "tökén-42|false|second line|true",
        "Unicode": "€1 6",
        "Common": "true false",
        "Binary": "3 7 3 123 xy true 3",
        "Csv": "symbol|0.5|3 14",
        "Seek": "7 0.5",
        "OpenMissing": "-1 5004",
        "OpenOutside": "-1 5002",
        "FileDelete": "true false false",
    }
    assert {key: run.value(key) for key in expected} == expected
    files = Path(run.result["data_path"]) / "MQL5" / "Files"
    token = files / "SelfTest" / "sub" / "token.txt"
    assert token.read_bytes() == "tökén-42\r\nsecond line".encode()
    for written in (token, files / "SelfTest" / "unicode.txt", tmp_path / "run" / "common" / "Files" / "common.txt"):
        assert stat.S_IMODE(written.stat().st_mode) == 0o600, written
    assert (files / "SelfTest" / "unicode.txt").read_bytes() == b"\xff\xfe" + "€1".encode("utf-16-le")
    assert (files / "SelfTest" / "table.csv").read_bytes() == b"symbol;0.5;3\r\n"
    assert not (tmp_path / "run" / "data" / "MQL5" / "escape.txt").exists()


class PingServer:
    """Accepts one connection, answers "ping" with "pong42" and hangs up once it has read "bye!"."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(RUN_TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.problem: BaseException | None = None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @staticmethod
    def read_exactly(connection: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = connection.recv(size - len(data))
            if not chunk:
                raise ConnectionError(f"peer closed after {data!r}")
            data += chunk
        return data

    def serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
            with connection:
                connection.settimeout(RUN_TIMEOUT)
                self.received.append(self.read_exactly(connection, 4))
                connection.sendall(b"pong42")
                self.received.append(self.read_exactly(connection, 4))
        except (OSError, ConnectionError) as error:
            self.problem = error
        finally:
            self.listener.close()


SOCKET_TERMINALS = {
    "plain": ({}, {}),
    # MT5 answers 1 for an empty buffer and leaves the real check to the next read; and an address outside the
    # allowed list may be refused with another code than 4014
    "speculative": (
        {"speculative_readable": True, "not_allowed_error": 5272},
        {"ReadableBefore": "1", "NotAllowed": "false 5272", "ReadableAfterAll": "1"},
    ),
}


@pytest.mark.parametrize("kind", SOCKET_TERMINALS)
def test_sockets_against_a_tcp_server(harness: Path, tmp_path: Path, kind: str) -> None:
    terminal, differences = SOCKET_TERMINALS[kind]
    server = PingServer()
    inputs = {"InpCase": "CASE_SOCKETS", "InpPort": server.port, "InpRefusedPort": free_port()}
    run = run_scenario(harness, tmp_path, scenario("CASE_SOCKETS", inputs=inputs, terminal=terminal))
    server.thread.join(timeout=RUN_TIMEOUT)
    assert server.problem is None
    assert run.failure is None
    assert server.received == [b"ping", b"bye!"]
    expected = {
        "Refused": "false 5272",
        "NotAllowed": "false 4014",  # not in the terminal's allowed URLs
        "InvalidHandle": "-1 5270",
        "Connected": "true true true",
        "ReadableBefore": "0",
        "Sent": "4",
        "Readable": "6",
        "Read4": "4 pong 4",  # the dynamic buffer is sized to what was read
        "ReadRest": "2 42",
        "ReadableAfterAll": "0",
        "ReadTimeout": "-1 5273 true true",  # nothing arrived in time; the connection stays up
        "SentFixed": "4",
        "PeerClosed": "true",
        "ReadAfterClose": "-1 5273",
        "Close": "true false",
        "TooMany": "128 -1 5271",
    } | differences
    assert {key: run.value(key) for key in expected} == expected


CHILD_SCRIPT = """
import json, os, sys, time
argv_file, state_file = sys.argv[1], sys.argv[2]
with open(argv_file, "w", encoding="utf-8") as handle:
    json.dump(sys.argv[3:], handle)
print("hello from the child", flush=True)
with open(state_file + ".tmp", "w", encoding="utf-8") as handle:
    json.dump({"positions": [["STARTED", "net", "1"]], "orders": {}}, handle)
os.replace(state_file + ".tmp", state_file)
time.sleep(60)
"""


def test_shell_execute_starts_a_process_and_the_run_ends_it(harness: Path, tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD_SCRIPT, encoding="utf-8")
    argv_file = tmp_path / "argv.json"
    state_file = tmp_path / "child-state.json"
    parameters = f'"{script}" "{argv_file}" "{state_file}" "two words" back\\slash "say \\"hi\\""'
    inputs = {"InpCase": "CASE_SHELL", "InpProgram": sys.executable, "InpParameters": parameters}
    timeline = [{"do": "wait_venue", "file": str(state_file), "positions": {"STARTED": "1"}, "timeout_s": 30}]
    run = run_scenario(harness, tmp_path, scenario("CASE_SHELL", inputs=inputs, timeline=timeline))
    assert run.failure is None
    assert run.value("ShellStarted") == "true"
    assert run.value("ShellMissing") == "2"  # SE_ERR_FNF
    data_path = run.result["data_path"]
    # Windows quoting rules, and backslashes mapped to slashes as Wine does.
    assert json.loads(argv_file.read_text(encoding="utf-8")) == [
        "two words",
        "back/slash",
        'say "hi"',
        f"{data_path}/MQL5/Files/from-ea.txt",
    ]
    [process] = run.result["processes"]
    assert process["ended"] == "killed by signal 15 (SIGTERM)"
    with pytest.raises(ProcessLookupError):
        os.kill(process["pid"], 0)
    outputs = list((tmp_path / "run" / "processes").glob("1-*.stdout"))
    assert [path.read_text(encoding="utf-8") for path in outputs] == ["hello from the child\n"]
    [started, missing] = run.texts("shell")
    assert started.startswith(f"ShellExecuteW started pid {process['pid']}: {sys.executable} {script}")
    assert "'two words' back/slash 'say \"hi\"'" in started
    assert missing.startswith("ShellExecuteW failed (No such file or directory): /nonexistent/no-such-program")
    assert run.texts("process")[-2:] == [
        f"sent SIGTERM to pid {process['pid']}",
        f"process {process['pid']} ended: killed by signal 15 (SIGTERM)",
    ]


TICKER_SCRIPT = """
import json, os, sys, time
state_file = sys.argv[1]
def publish(rows):
    with open(state_file + ".tmp", "w", encoding="utf-8") as handle:
        json.dump({"positions": rows, "orders": {}}, handle)
    os.replace(state_file + ".tmp", state_file)
publish([["TICKING", "net", "1"]])
last = time.monotonic()
while True:
    time.sleep(0.02)
    now = time.monotonic()
    if now - last > 0.5:
        publish([["TICKING", "net", "1"], ["RESUMED", "net", "1"]])
    last = now
"""


def test_stop_continue_and_kill_reach_the_started_process(harness: Path, tmp_path: Path) -> None:
    script = tmp_path / "ticker.py"
    script.write_text(TICKER_SCRIPT, encoding="utf-8")
    state_file = tmp_path / "ticker-state.json"
    inputs = {"InpCase": "CASE_SHELL", "InpProgram": sys.executable, "InpParameters": f'"{script}" "{state_file}"'}
    timeline = [
        {"do": "wait_venue", "file": str(state_file), "positions": {"TICKING": "1"}, "timeout_s": 30},
        {"do": "stop_sidecar"},
        {"do": "wait", "seconds": 1.0},
        {"do": "continue_sidecar"},
        # Only a process that was really stopped sees a gap of more than half a second.
        {"do": "wait_venue", "file": str(state_file), "positions": {"TICKING": "1", "RESUMED": "1"}, "timeout_s": 30},
        {"do": "kill_sidecar"},
    ]
    run = run_scenario(harness, tmp_path, scenario("CASE_SHELL", inputs=inputs, timeline=timeline))
    assert run.failure is None
    [process] = run.result["processes"]
    assert process["ended"] == "killed by signal 9 (SIGKILL)"
    pid = process["pid"]
    assert run.texts("process") == [
        f"sent SIGSTOP to pid {pid}",
        f"sent SIGCONT to pid {pid}",
        f"sent SIGKILL to pid {pid}",
        f"process {pid} ended: killed by signal 9 (SIGKILL)",
    ]
    # Shell events are the ShellExecuteW calls alone, with their command lines.
    [started, missing] = run.texts("shell")
    assert started.startswith(f"ShellExecuteW started pid {pid}: {sys.executable} {script} {state_file}")
    assert missing.startswith("ShellExecuteW failed (No such file or directory): /nonexistent/no-such-program")


def test_dll_calls_need_the_permission(harness: Path, tmp_path: Path) -> None:
    refused = {"terminal": {"dlls_allowed": False}}
    unchecked = run_scenario(harness, tmp_path / "unchecked", scenario("CASE_DLL_UNCHECKED", **refused))
    assert unchecked.failure is not None
    assert unchecked.failure.startswith("OnInit: DLL call not allowed: cannot call 'shell32.dll::ShellExecuteW'")
    assert unchecked.result["processes"] == []
    assert unchecked.texts("runtime_error") == [unchecked.failure]

    checked = run_scenario(harness, tmp_path / "checked", scenario("CASE_SHELL", **refused))
    assert checked.failure is None
    assert checked.value("Shell") == "DLL imports are not allowed: not starting anything"
    crypto = run_scenario(harness, tmp_path / "crypto", scenario("CASE_CRYPTO", **refused))
    assert crypto.failure is None
    assert crypto.value("RandomSkipped") == "DLL imports are not allowed"


def test_wait_venue_compares_decimals_and_waits_for_the_file(harness: Path, tmp_path: Path) -> None:
    state_file = tmp_path / "paper-state.json"
    rows = [["EURUSD", "net", "5000.00"], ["BTCUSDT", "long", "0.250"], ["XRPUSDT", "net", "0"]]
    expected = {"EURUSD": "5000", "BTCUSDT:long": 0.25, "ETHUSDT:short": "0"}
    writer = threading.Timer(0.3, lambda: state_file.write_text(json.dumps({"positions": rows, "orders": {}})))
    writer.start()
    try:
        timeline = [{"do": "wait_venue", "file": str(state_file), "positions": expected, "timeout_s": 30}]
        run = run_scenario(harness, tmp_path / "match", scenario("CASE_STRINGS", timeline=timeline))
    finally:
        writer.join()
    assert run.failure is None

    timeline = [{"do": "wait_venue", "file": str(state_file), "positions": {"EURUSD": "4000"}, "timeout_s": 0.3}]
    mismatch = run_scenario(harness, tmp_path / "mismatch", scenario("CASE_STRINGS", timeline=timeline))
    assert mismatch.failure is not None
    assert mismatch.failure.startswith('timeline[0] (wait_venue): the venue did not reach {"EURUSD": "4000"}')
    assert mismatch.failure.endswith('last seen {"BTCUSDT:long": "0.25", "EURUSD": "5000"}')


# ---------------------------------------------------------------------------------------------------------------
# The scripted account


def deal(side: str, volume: str, **extra: Any) -> dict[str, Any]:
    return {"do": "deal", "symbol": "EURUSD.m", "side": side, "volume": volume, **extra}


def trade_report(run: Run) -> list[str]:
    """The EA's trade output without the order-side transactions it is told about but must ignore."""
    return [
        line
        for line in run.prints
        if line.startswith(("deal ", "positions:", "tx TRADE_TRANSACTION_DEAL_ADD", "history:", "PositionSelect"))
    ]


def test_netting_account(harness: Path, tmp_path: Path) -> None:
    timeline = [
        deal("buy", "0.10", label="A", say="Buy 0.10 EURUSD.m by hand"),
        deal("buy", "0.05", magic=12345),
        deal("sell", "0.05", close="A"),
        deal("sell", "0.30"),
        deal("buy", "0.20"),
        deal("buy", "0.01"),
    ]
    run = run_scenario(harness, tmp_path, scenario("CASE_TRADES", timeline=timeline))
    assert run.failure is None
    assert run.value("Unselected") == "0 4755"  # deal properties need HistorySelect/HistoryDealSelect first
    deal_lines = [line for line in trade_report(run) if line.startswith("deal ")]
    assert deal_lines[:6] == [
        "deal 5002 entry=DEAL_ENTRY_IN type=DEAL_TYPE_BUY magic=0 position=1001 volume=0.10 symbol=EURUSD.m "
        "reason=DEAL_REASON_CLIENT",
        "deal 5003 entry=DEAL_ENTRY_IN type=DEAL_TYPE_BUY magic=12345 position=1001 volume=0.05 symbol=EURUSD.m "
        "reason=DEAL_REASON_EXPERT",
        "deal 5004 entry=DEAL_ENTRY_OUT type=DEAL_TYPE_SELL magic=0 position=1001 volume=0.05 symbol=EURUSD.m "
        "reason=DEAL_REASON_CLIENT",
        # More than the position holds: it turns around and keeps its identifier.
        "deal 5005 entry=DEAL_ENTRY_INOUT type=DEAL_TYPE_SELL magic=0 position=1001 volume=0.30 symbol=EURUSD.m "
        "reason=DEAL_REASON_CLIENT",
        "deal 5006 entry=DEAL_ENTRY_OUT type=DEAL_TYPE_BUY magic=0 position=1001 volume=0.20 symbol=EURUSD.m "
        "reason=DEAL_REASON_CLIENT",
        # After a full close the next position is a new one.
        "deal 5007 entry=DEAL_ENTRY_IN type=DEAL_TYPE_BUY magic=0 position=1006 volume=0.01 symbol=EURUSD.m "
        "reason=DEAL_REASON_CLIENT",
    ]
    tables = [line for line in trade_report(run) if line.startswith("positions:")]
    assert tables == [
        "positions: ",
        "positions: EURUSD.m buy 0.10 id=1001 ticket=1001 magic=0",
        "positions: EURUSD.m buy 0.15 id=1001 ticket=1001 magic=0",
        "positions: EURUSD.m buy 0.10 id=1001 ticket=1001 magic=0",
        "positions: EURUSD.m sell 0.20 id=1001 ticket=1001 magic=0",
        "positions: ",
        "positions: EURUSD.m buy 0.01 id=1006 ticket=1006 magic=0",
    ]
    # Each deal comes with the order transactions around it, then one OnTrade.
    transaction_kinds = [line.split()[1] for line in run.prints if line.startswith("tx ")]
    assert (
        transaction_kinds
        == [
            "TRADE_TRANSACTION_ORDER_ADD",
            "TRADE_TRANSACTION_DEAL_ADD",
            "TRADE_TRANSACTION_ORDER_DELETE",
            "TRADE_TRANSACTION_HISTORY_ADD",
        ]
        * 6
    )
    assert run.prints.count("OnTrade") == 6
    assert run.value("PositionSelect") == "true 0.01"
    assert run.value("ByTicket") == "EURUSD.m false 4753 true 1006"
    assert run.value("ByPosition") == "1 DEAL_ENTRY_IN;"
    history = trade_report(run)[trade_report(run).index("history: 7 deals") + 1 :]
    assert history[0].startswith("deal 5001 entry=DEAL_ENTRY_IN type=DEAL_TYPE_BALANCE")
    assert history[1:7] == deal_lines[:6]
    assert run.texts("step")[0] == "deal buy 0.1 EURUSD.m magic 0 as A"


def test_hedging_account_and_close_by(harness: Path, tmp_path: Path) -> None:
    spec = scenario(
        "CASE_TRADES",
        account={"margin_mode": "hedging"},
        before_init=[deal("buy", "1", magic=7)],
        timeline=[
            deal("buy", "0.10", label="A"),
            deal("sell", "0.30", label="B"),
            deal("sell", "0.04", close="A"),
            {"do": "close_by", "position": "A", "by": "B"},
            deal("buy", "0.24", close="B"),
        ],
    )
    run = run_scenario(harness, tmp_path, spec)
    assert run.failure is None
    report = trade_report(run)
    assert report[0] == "positions: EURUSD.m buy 1.00 id=1001 ticket=1001 magic=7"
    deals = [line.split(" reason=")[0] for line in report if line.startswith("deal ")]
    assert deals[:6] == [
        "deal 5003 entry=DEAL_ENTRY_IN type=DEAL_TYPE_BUY magic=0 position=1002 volume=0.10 symbol=EURUSD.m",
        "deal 5004 entry=DEAL_ENTRY_IN type=DEAL_TYPE_SELL magic=0 position=1003 volume=0.30 symbol=EURUSD.m",
        "deal 5005 entry=DEAL_ENTRY_OUT type=DEAL_TYPE_SELL magic=0 position=1002 volume=0.04 symbol=EURUSD.m",
        # Close-by: two deals of the smaller volume; the smaller position closes, the larger shrinks.
        "deal 5006 entry=DEAL_ENTRY_OUT_BY type=DEAL_TYPE_SELL magic=0 position=1002 volume=0.06 symbol=EURUSD.m",
        "deal 5007 entry=DEAL_ENTRY_OUT_BY type=DEAL_TYPE_BUY magic=0 position=1003 volume=0.06 symbol=EURUSD.m",
        "deal 5008 entry=DEAL_ENTRY_OUT type=DEAL_TYPE_BUY magic=0 position=1003 volume=0.24 symbol=EURUSD.m",
    ]
    tables = [line for line in report if line.startswith("positions:")]
    assert tables[1:] == [
        "positions: EURUSD.m buy 1.00 id=1001 ticket=1001 magic=7; EURUSD.m buy 0.10 id=1002 ticket=1002 magic=0",
        "positions: EURUSD.m buy 1.00 id=1001 ticket=1001 magic=7; EURUSD.m buy 0.10 id=1002 ticket=1002 magic=0; "
        "EURUSD.m sell 0.30 id=1003 ticket=1003 magic=0",
        "positions: EURUSD.m buy 1.00 id=1001 ticket=1001 magic=7; EURUSD.m buy 0.06 id=1002 ticket=1002 magic=0; "
        "EURUSD.m sell 0.30 id=1003 ticket=1003 magic=0",
        "positions: EURUSD.m buy 1.00 id=1001 ticket=1001 magic=7; EURUSD.m sell 0.24 id=1003 ticket=1003 magic=0",
        "positions: EURUSD.m buy 1.00 id=1001 ticket=1001 magic=7; EURUSD.m sell 0.24 id=1003 ticket=1003 magic=0",
        "positions: EURUSD.m buy 1.00 id=1001 ticket=1001 magic=7",
    ]
    # PositionSelect on a hedging account picks the position with the smallest ticket.
    assert run.value("PositionSelect") == "true 1"
    assert run.value("ByPosition") == "1 DEAL_ENTRY_IN;"


@pytest.mark.parametrize(
    ("account", "timeline", "message"),
    [
        ("hedging", [deal("buy", "0.1", label="A"), deal("sell", "0.2", close="A")], "cannot close 0.2 lots"),
        ("hedging", [deal("buy", "0.1", label="A"), deal("buy", "0.1", close="A")], "opposite direction"),
        ("netting", [deal("buy", "0.1", close="Z")], "no position is labelled 'Z'"),
        ("netting", [deal("buy", "0.1", label="A"), {"do": "close_by", "position": "A", "by": "A"}], "hedging"),
        ("netting", [{"do": "deal", "symbol": "GBPUSD", "side": "buy", "volume": "1"}], "'GBPUSD' is not in"),
    ],
)
def test_impossible_trades_fail_the_run(
    harness: Path, tmp_path: Path, account: str, timeline: list[dict[str, Any]], message: str
) -> None:
    spec = scenario("CASE_TRADES", account={"margin_mode": account}, timeline=timeline)
    run = run_scenario(harness, tmp_path, spec)
    assert run.failure is not None
    assert run.failure.startswith(f"timeline[{len(timeline) - 1}]")
    assert message in run.failure


# ---------------------------------------------------------------------------------------------------------------
# Program life cycle


def timer_calls(run: Run) -> list[tuple[int, int, int]]:
    calls = []
    for line in run.prints:
        if line.startswith("timer "):
            number, started, ended = (int(field) for field in line.split()[1:])
            calls.append((number, started, ended))
    return calls


def test_timer_events_are_never_queued_twice(harness: Path, tmp_path: Path) -> None:
    period = 200
    timeline = [{"do": "wait", "seconds": 2.0}, {"do": "reset_timing"}, {"do": "wait", "seconds": 0.5}]
    inputs = {"InpCase": "CASE_TIMER", "InpTimerMs": period}
    run = run_scenario(harness, tmp_path, scenario("CASE_TIMER", inputs=inputs, timeline=timeline))
    assert run.failure is None
    calls = timer_calls(run)
    assert run.result["calls"]["OnTimer"] == len(calls) >= 8
    # The second call blocks for 3.5 periods: the ticks it misses collapse into one call right after it,
    # and the timer then keeps its rhythm.
    blocked = calls[1]
    assert blocked[2] - blocked[1] >= 3.5 * period - 5
    follow_ups = [call for call in calls[2:] if call[1] - blocked[2] < period // 4]
    assert [call[0] for call in follow_ups] == [3]
    assert calls[3][1] - blocked[2] >= period // 4
    for earlier, later in itertools.pairwise(calls[3:]):
        assert later[1] - earlier[1] >= period // 2
    # reset_timing dropped the long call from the maximum.
    assert run.result["timing_ms"]["OnTimer"] < period


def test_expert_remove_ends_the_run_after_the_handler(harness: Path, tmp_path: Path) -> None:
    timeline = [{"do": "wait", "seconds": 30}]
    run = run_scenario(harness, tmp_path, scenario("CASE_REMOVE", timeline=timeline))
    assert run.failure is None
    assert run.result["removed_by_ea"] is True
    assert run.result["calls"]["OnTimer"] == 3
    assert run.prints[-3] == "ExpertRemove called, IsStopped=true"
    assert run.prints[-2].startswith("timer 3 ")  # the handler that asked to stop still runs to its end
    assert run.prints[-1] == "OnDeinit reason=1 UninitializeReason=1 IsStopped=true"
    assert run.result["events"][-1]["t_ms"] < 10_000


def test_deinit_step_passes_its_reason(harness: Path, tmp_path: Path) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_STRINGS", timeline=[{"do": "deinit", "reason": 3}]))
    assert run.failure is None
    assert run.result["removed_by_ea"] is False
    assert run.prints[-1] == "OnDeinit reason=3 UninitializeReason=3 IsStopped=true"
    assert run.result["calls"]["OnDeinit"] == 1


def test_failed_init_removes_the_ea(harness: Path, tmp_path: Path) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_INIT_FAILED", timeline=[{"do": "wait", "seconds": 30}]))
    assert run.result["init_result"] == 32767
    assert run.failure == "OnInit returned 32767: the terminal removed the EA"
    assert run.prints[-1] == "OnDeinit reason=8 UninitializeReason=8 IsStopped=true"
    assert run.texts("step") == []


def source_line(path: Path, marker: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    [number] = [index + 1 for index, line in enumerate(lines) if marker in line]
    return number


def test_array_out_of_range_stops_the_ea_at_the_source_line(harness: Path, tmp_path: Path) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_ARRAY_OUT_OF_RANGE"))
    source = SELFTEST / "Include" / "SelfTest" / "Checks.mqh"
    line = source_line(source, "// out-of-range access")
    assert run.failure is not None
    shown = source.relative_to(REPO_ROOT)
    assert run.failure.startswith(f"OnInit: array out of range in '{shown}' ({line},")
    assert run.failure.endswith("index 5, size 3")
    assert run.prints[-1] == "before the bad access"  # stopped there: no OnDeinit either
    assert run.result["calls"]["OnDeinit"] == 0


def test_integer_division_by_zero_stops_the_ea(harness: Path, tmp_path: Path) -> None:
    run = run_scenario(harness, tmp_path, scenario("CASE_ZERO_DIVIDE"))
    assert run.failure == "OnInit: zero divide"
    assert run.result["calls"]["OnDeinit"] == 0


def test_an_interrupted_run_deinitialises_the_ea(harness: Path, tmp_path: Path) -> None:
    spec = scenario("CASE_TIMER", inputs={"InpCase": "CASE_TIMER", "InpTimerMs": 50})
    spec["timeline"] = [{"do": "wait", "seconds": 120}]
    scenario_file = tmp_path / "scenario.json"
    scenario_file.write_text(json.dumps(spec), encoding="utf-8")
    result_file = tmp_path / "result.json"
    command = [str(harness), str(scenario_file), "--out", str(result_file), "--run-dir", str(tmp_path), "--narrate"]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as runner:
        lines: queue.Queue[str] = queue.Queue()
        assert runner.stderr is not None
        stream = runner.stderr

        def forward() -> None:
            for line in stream:
                lines.put(line)

        threading.Thread(target=forward, daemon=True).start()
        deadline = time.monotonic() + RUN_TIMEOUT
        while "EA: timer 1 " not in lines.get(timeout=max(0.0, deadline - time.monotonic())):
            pass
        runner.send_signal(signal.SIGINT)
        assert runner.wait(timeout=RUN_TIMEOUT) == 1
    result = json.loads(result_file.read_text(encoding="utf-8"))
    assert result["failure"] == "interrupted by a signal"
    prints = [event["text"] for event in result["events"] if event["kind"] == "print"]
    assert prints[-1] == "OnDeinit reason=9 UninitializeReason=9 IsStopped=true"  # REASON_CLOSE


def test_narration_shows_steps_prints_and_alerts(harness: Path, tmp_path: Path) -> None:
    timeline = [deal("buy", "0.10", say="Buy 0.10 EURUSD.m by hand")]
    run = run_scenario(harness, tmp_path / "trades", scenario("CASE_TRADES", timeline=timeline), narrate=True)
    assert ">>: Buy 0.10 EURUSD.m by hand" in run.stderr
    assert "EA: positions: EURUSD.m buy 0.10 id=1001 ticket=1001 magic=0" in run.stderr
    info = run_scenario(harness, tmp_path / "info", scenario("CASE_INFO"), narrate=True)
    assert "ALERT: alert 1 raised" in info.stderr
    quiet = run_scenario(harness, tmp_path / "quiet", scenario("CASE_INFO"))
    assert quiet.stderr == ""


# ---------------------------------------------------------------------------------------------------------------
# Build errors point at the MQL5 sources


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def run_build(tree: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(EA_DIR / "build.py"), "--mql5-root", str(tree), "--expert", "Experts/Probe.mq5"]
    return subprocess.run(
        [*command, "--out", str(out), *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )


@pytest.fixture
def probe_tree(tmp_path: Path) -> Iterator[Path]:
    tree = tmp_path / "mql5"
    write_tree(
        tree,
        {
            "Experts/Probe.mq5": """
                #property version "1.00"
                #include <Probe\\Lib.mqh>
                input int InpLevel = 2; // level
                int OnInit()
                  {
                   return(Helper(InpLevel));
                  }
                """,
            "Include/Probe/Lib.mqh": """
                //+------------------------------------------------------------------+
                string g_parts[];
                int Helper(const int level)
                  {
                   return(level > 100 ? INIT_FAILED : INIT_SUCCEEDED);
                  }
                """,
        },
    )
    yield tree


def test_a_correct_tree_passes_the_syntax_check(probe_tree: Path, tmp_path: Path) -> None:
    checked = run_build(probe_tree, tmp_path / "out", "--syntax-only")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("syntax OK: ")
    assert not (tmp_path / "out" / "ea-harness").exists()


def test_a_translation_error_names_the_original_line(probe_tree: Path, tmp_path: Path) -> None:
    expert = probe_tree / "Experts" / "Probe.mq5"
    expert.write_text(expert.read_text().replace('#property version "1.00"', "#property version 1.0 beta"))
    built = run_build(probe_tree, tmp_path / "out")
    assert built.returncode == 1
    assert f"{expert}:1: error: malformed #property" in built.stderr
    assert "translation error" in built.stderr


@pytest.mark.parametrize("mode", [[], ["--syntax-only"]])
def test_a_compile_error_names_the_original_file_and_line(probe_tree: Path, tmp_path: Path, mode: list[str]) -> None:
    library = probe_tree / "Include" / "Probe" / "Lib.mqh"
    library.write_text(library.read_text().replace("return(level > 100", "return(level >"))
    built = run_build(probe_tree, tmp_path / "out", *mode)
    assert built.returncode == 1
    assert f"{library}:5:" in built.stderr
    assert "error" in built.stderr
    assert str(tmp_path / "out" / "src") not in built.stderr
