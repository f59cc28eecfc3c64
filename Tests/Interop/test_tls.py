"""TLS on the one port (`--tls-cert`/`--tls-key`): boto3, the lock API over HTTPS, a lock session
over WSS and `palisade lock run`, all trusting a CA this test makes; the certificate is checked;
a plaintext client is not served, and a TLS client of a plaintext server gets an answer."""
import os
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import Server, palisade_binary, s3_client


def _openssl(*arguments):
    subprocess.run(["openssl", *arguments], check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates():
    """A CA, and a certificate it signed for 127.0.0.1 (and one for another name)."""
    folder = tempfile.mkdtemp(prefix="palisade-tls-")
    path = lambda name: os.path.join(folder, name)  # noqa: E731
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", "/CN=Palisade test CA", "-keyout", path("ca.key"), "-out", path("ca.pem"))
    for name, san in [("server", "IP:127.0.0.1,DNS:localhost"), ("elsewhere", "DNS:elsewhere.example")]:
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", path(f"{name}.key"), "-out", path(f"{name}.csr"))
        with open(path(f"{name}.ext"), "w") as extensions:
            extensions.write(f"subjectAltName={san}\n")
        _openssl("x509", "-req", "-in", path(f"{name}.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                 "-CAcreateserial", "-days", "2", "-extfile", path(f"{name}.ext"), "-out", path(f"{name}.pem"))
    return path


@pytest.fixture(scope="module")
def tls_server(certificates):
    server = Server(palisade_binary(), "",
                    tls=(certificates("server.pem"), certificates("server.key"), certificates("ca.pem")))
    yield server
    server.stop()


def test_boto3_over_https(tls_server):
    s3 = s3_client(tls_server)
    bucket = "tls-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"over tls")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"over tls"


@pytest.mark.parametrize("transport, host, sessions", [([], "127.0.0.1", 0), (["--session"], "localhost", 1),
                                                       (["--session"], "127.0.0.1", 0)])
def test_lock_run_over_https_and_wss(tls_server, certificates, transport, host, sessions):
    """A lock session needs a host name for WSS (SNI takes no IP address): to an IP address, the
    session's calls go over HTTPS instead. The command reads the open-session gauge while it holds the lock."""
    environment = dict(tls_server.environment, PALISADE_CA_FILE=certificates("ca.pem"),
                       PALISADE_ENDPOINT=f"https://{host}:{tls_server.port}")
    probe = (f"curl -s --cacert {certificates('ca.pem')} https://127.0.0.1:{tls_server.port}/_palisade/metrics"
             " | grep '^palisade_lock_sessions '; echo token $PALISADE_FENCING_TOKEN")
    result = subprocess.run([palisade_binary(), "lock", "run", *transport, "tls-lock", "--", "sh", "-c", probe],
                            env=environment, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    lines = dict(line.split(" ", 1) for line in result.stdout.decode().splitlines())
    assert int(lines["token"]) > 0
    assert float(lines["palisade_lock_sessions"]) == sessions


def test_a_client_that_does_not_trust_the_certificate_is_refused(tls_server):
    result = subprocess.run([palisade_binary(), "lock", "run", "untrusted", "--", "true"],
                            env=tls_server.environment, capture_output=True, timeout=60)
    assert result.returncode != 0
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) as raw:
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")


def test_a_certificate_for_another_name_fails_the_clients_check(certificates):
    context = ssl.create_default_context(cafile=certificates("ca.pem"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    process = subprocess.Popen(
        [palisade_binary(), "serve", "--data-dir", tempfile.mkdtemp(prefix="palisade-tls-other-"), "--port", str(port),
         "--access-key", "K", "--secret-key", "S", "--log-level", "warning",
         "--tls-cert", certificates("elsewhere.pem"), "--tls-key", certificates("elsewhere.key")],
        stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        with pytest.raises(ssl.SSLCertVerificationError):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                context.wrap_socket(raw, server_hostname="127.0.0.1")
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_plaintext_to_the_tls_port_is_not_served(tls_server):
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) as raw:
        raw.sendall(b"GET /_palisade/health HTTP/1.1\r\nhost: x\r\n\r\n")
        answer = raw.recv(4096)
        assert b"HTTP/1.1 200" not in answer


def test_a_tls_client_of_a_plaintext_server_gets_an_answer_promptly():
    server = Server(palisade_binary(), "")
    try:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
        assert time.monotonic() - started < 5
    finally:
        server.stop()
