"""A client without keys, or with keys and bad intent, cannot exhaust `palisade serve`: idle
connections are closed and capped, an aws-chunked chunk is never held whole in memory, and what
the server writes is readable by its own user only."""
import datetime
import hashlib
import hmac
import os
import socket
import stat
import time
import urllib.request
import uuid

import pytest

from conftest import ACCESS_KEY, SECRET_KEY, Server, call, palisade_binary, s3_client


def _health(server, timeout=2.0) -> bool:
    try:
        return urllib.request.urlopen(server.endpoint + "/_palisade/health", timeout=timeout).status == 200
    except OSError:
        return False


def _metric(server, name) -> float:
    text = urllib.request.urlopen(server.endpoint + "/_palisade/metrics", timeout=5).read().decode()
    values = [line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")]
    return float(values[0]) if values else 0.0


def test_a_flood_of_idle_connections_is_capped_and_timed_out():
    server = Server(palisade_binary(), "", arguments=["--header-timeout", "2s", "--max-connections", "200"])
    flood = []
    try:
        for _ in range(600):
            connection = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            flood.append(connection)
        # Beyond the cap, connections are closed at once; the capped ones when their head is late.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _health(server, timeout=1):
            time.sleep(0.2)
        assert _health(server), "health did not answer within 10 s of the flood"
        closed = 0
        for connection in flood:
            connection.settimeout(5)
            try:
                closed += connection.recv(1) == b""
            except (ConnectionResetError, socket.timeout):
                closed += 0
        assert closed == len(flood), f"only {closed} of {len(flood)} idle connections were closed"
        assert _metric(server, "palisade_connections_refused_total") >= 300
    finally:
        for connection in flood:
            connection.close()
        server.stop()


def _sign(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def test_one_huge_signed_chunk_is_streamed_not_buffered():
    """The chunk's bytes go to disk as they arrive and its signature is checked at its end: the
    server's peak memory does not grow with the chunk (it grew by the whole chunk before)."""
    server = Server(palisade_binary(), "")
    try:
        bucket = "chunk-" + uuid.uuid4().hex[:8]
        s3_client(server).create_bucket(Bucket=bucket)
        size, piece = 128 * 1024 * 1024, b"\x5a" * (1024 * 1024)
        chunk_hash = hashlib.sha256()
        for _ in range(size // len(piece)):
            chunk_hash.update(piece)
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        scope = f"{day}/us-east-1/s3/aws4_request"
        host = f"127.0.0.1:{server.port}"
        headers = {"content-encoding": "aws-chunked", "host": host, "x-amz-content-sha256":
                   "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "x-amz-date": amz_date,
                   "x-amz-decoded-content-length": str(size)}
        signed = ";".join(sorted(headers))
        canonical = "\n".join(["PUT", f"/{bucket}/huge", "", *[f"{name}:{headers[name]}" for name in sorted(headers)],
                               "", signed, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])
        key = _sign(_sign(_sign(_sign(("AWS4" + SECRET_KEY).encode(), day), "us-east-1"), "s3"), "aws4_request")
        string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        seed = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()

        def chunk_signature(previous, digest):
            text = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous,
                              hashlib.sha256(b"").hexdigest(), digest])
            return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()

        first = chunk_signature(seed, chunk_hash.hexdigest())
        last = chunk_signature(first, hashlib.sha256(b"").hexdigest())
        head_line = f"{size:x};chunk-signature={first}\r\n".encode()
        tail = f"\r\n0;chunk-signature={last}\r\n\r\n".encode()
        content_length = len(head_line) + size + len(tail)
        before = _peak_rss_kib(server.process.pid)
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
            request = [f"PUT /{bucket}/huge HTTP/1.1"] + [f"{name}: {value}" for name, value in headers.items()]
            request += [f"content-length: {content_length}",
                        f"authorization: AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, "
                        f"SignedHeaders={signed}, Signature={seed}"]
            connection.sendall(("\r\n".join(request) + "\r\n\r\n").encode() + head_line)
            for _ in range(size // len(piece)):
                connection.sendall(piece)
            connection.sendall(tail)
            answer = connection.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        grown_mib = (_peak_rss_kib(server.process.pid) - before) / 1024
        assert grown_mib < 48, f"peak memory grew by {grown_mib:.0f} MiB for a 128 MiB chunk"
        stored = s3_client(server).head_object(Bucket=bucket, Key="huge")
        assert stored["ContentLength"] == size
    finally:
        server.stop()


@pytest.mark.parametrize("secret_via", ["file", "environment"])
def test_the_secret_need_not_be_on_the_command_line(secret_via):
    server = Server(palisade_binary(), "", secret_via=secret_via)
    try:
        status, _ = call(server, "POST", "/_palisade/v1/leases", {"ttl_ms": 5000})
        assert status == 201
        with open(f"/proc/{server.process.pid}/cmdline", "rb") as cmdline:
            assert SECRET_KEY.encode() not in cmdline.read()
    finally:
        server.stop()


def test_what_the_server_writes_is_private_to_its_user():
    server = Server(palisade_binary(), "")
    try:
        s3 = s3_client(server)
        s3.create_bucket(Bucket="private")
        s3.put_object(Bucket="private", Key="k", Body=b"secret data")
        status, lease = call(server, "POST", "/_palisade/v1/leases", {"ttl_ms": 5000})
        assert status == 201
        call(server, "POST", "/_palisade/v1/locks/acquire", {"name": "l", "lease_id": lease["lease_id"]})
        assert stat.S_IMODE(os.stat(server.data_dir).st_mode) == 0o700
        exposed = []
        for folder, folders, files in os.walk(server.data_dir):
            for name in folders + files:
                path = os.path.join(folder, name)
                if stat.S_IMODE(os.lstat(path).st_mode) & 0o077:
                    exposed.append(os.path.relpath(path, server.data_dir))
        assert not exposed, f"readable by other users: {exposed}"
    finally:
        server.stop()
