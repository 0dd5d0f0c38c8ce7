"""Which failed HTTPS requests prove that an order never reached the venue, shown against a real local TLS
server. An order wrongly taken as unsent is sent again: a second real order. So every failure that happens
after the server has read the request must count as possibly sent, whatever exception requests raises."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sidecar.venues.transport import failure_kind, never_sent

LOCALHOST = "127.0.0.1"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOCALHOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOCALHOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


ServerEnd = Callable[[ssl.SSLSocket], None]


class OneShotServer:
    """Accepts one connection, completes the handshake, reads the request, then ends as told."""

    def __init__(self, certificate: tuple[Path, Path], end: ServerEnd) -> None:
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(*certificate)
        self._listener = socket.create_server((LOCALHOST, 0))
        self.url = f"https://{LOCALHOST}:{self._listener.getsockname()[1]}/api/v3/order"
        self.request = b""
        self._end = end
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        try:
            tls = self._context.wrap_socket(connection, server_side=True)
        except ssl.SSLError:
            connection.close()  # the client refused the certificate
            return
        while b"newClientOrderId" not in self.request:
            chunk = tls.recv(65536)
            if not chunk:
                break
            self.request += chunk
        self._end(tls)

    def close(self) -> None:
        self._thread.join(timeout=10)
        self._listener.close()


@pytest.fixture
def serve(certificate: tuple[Path, Path]) -> Iterator[Callable[[ServerEnd], OneShotServer]]:
    servers: list[OneShotServer] = []

    def start(end: ServerEnd) -> OneShotServer:
        servers.append(OneShotServer(certificate, end))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _raw(tls: ssl.SSLSocket) -> socket.socket:
    return socket.socket(fileno=tls.detach())


def _reset(tls: ssl.SSLSocket) -> None:
    raw = _raw(tls)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, (1).to_bytes(4, "little") + (0).to_bytes(4, "little"))
    raw.close()


def _plain_text_answer(tls: ssl.SSLSocket) -> None:
    raw = _raw(tls)
    raw.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    raw.close()


def _hang_up(tls: ssl.SSLSocket) -> None:
    raw = _raw(tls)
    raw.shutdown(socket.SHUT_RDWR)
    raw.close()


def _place(url: str, *, verify: Path | bool, timeout: float = 10) -> requests.RequestException:
    with pytest.raises(requests.RequestException) as failure:
        requests.post(url, data={"symbol": "BTCUSDT", "newClientOrderId": "x1"}, verify=verify, timeout=timeout)
    return failure.value


@pytest.mark.parametrize(
    ("end", "kinds"),
    [
        # Whether a reset surfaces as a broken TLS record or a reset socket depends on timing.
        (_reset, {"the TLS connection broke", "connection lost"}),
        (_plain_text_answer, {"the TLS connection broke"}),
        (_hang_up, {"connection lost"}),
    ],
    ids=["reset-after-request", "broken-tls-record", "closed-without-answer"],
)
def test_a_connection_that_breaks_after_the_server_read_the_order_may_have_placed_it(
    serve: Callable[[ServerEnd], OneShotServer], certificate: tuple[Path, Path], end: ServerEnd, kinds: set[str]
) -> None:
    server = serve(end)
    error = _place(server.url, verify=certificate[0])
    server.close()
    assert b"newClientOrderId=x1" in server.request  # the venue has the order
    assert never_sent(error) is False
    assert failure_kind(error) in kinds


def test_an_answer_that_never_comes_may_have_placed_the_order(
    serve: Callable[[ServerEnd], OneShotServer], certificate: tuple[Path, Path]
) -> None:
    released = threading.Event()
    server = serve(lambda tls: (released.wait(10), tls.close()))
    error = _place(server.url, verify=certificate[0], timeout=0.5)
    released.set()
    server.close()
    assert b"newClientOrderId=x1" in server.request
    assert isinstance(error, requests.ReadTimeout)
    assert never_sent(error) is False
    assert failure_kind(error) == "timed out waiting for the answer"


def test_an_untrusted_certificate_stops_the_order_before_it_is_written(
    serve: Callable[[ServerEnd], OneShotServer],
) -> None:
    server = serve(lambda tls: tls.close())
    error = _place(server.url, verify=True)  # the system's trust store does not know the local certificate
    server.close()
    assert server.request == b""
    assert never_sent(error) is True
    assert failure_kind(error) == "the server's TLS certificate is not trusted"


def test_a_refused_connection_stops_the_order_before_it_is_written() -> None:
    with socket.create_server((LOCALHOST, 0)) as closed:
        port = closed.getsockname()[1]
    error = _place(f"https://{LOCALHOST}:{port}/api/v3/order", verify=True)
    assert never_sent(error) is True
    assert failure_kind(error) == "connection refused or host not found"
