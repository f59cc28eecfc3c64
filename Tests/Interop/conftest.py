"""A real `palisade serve` on 127.0.0.1 for the interoperability tests.

PALISADE_BIN names the binary (`.ci/run` and `Tests/run-all.sh` set it after building). With
PALISADE_INTEROP_CLUSTER=1 the shared `server` is cluster mode instead: two `palisade serve --etcd`
gateways on a 3-member etcd cluster, boto3's reads (GET, HEAD) sent to the second gateway and
everything else to the first.
"""
import json
import os
import pathlib
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
import uuid

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions
import pytest
import requests

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
ACCESS_KEY = "PALISADEINTEROPKEY"
SECRET_KEY = "palisade-interop-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def signed(server, method, path, headers=None, body=b"", secret=None):
    """Sends a request signed by botocore's S3 SigV4 signer (every header given is signed) and
    returns the `requests` response."""
    request = botocore.awsrequest.AWSRequest(method=method, url=server.endpoint + path, data=body,
                                             headers=dict(headers or {}))
    credentials = botocore.credentials.Credentials(server.access_key, secret or server.secret_key)
    botocore.auth.S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    return requests.request(method, prepared.url, headers=dict(prepared.headers), data=body, timeout=30)


def call(server, method, path, body=None, secret=None):
    """Sends a lock API request signed by botocore's S3 SigV4 signer and returns (status, json)."""
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"content-type": "application/json"} if body is not None else {}
    response = signed(server, method, path, headers, data, secret)
    return response.status_code, response.json()


def error_of(call):
    """The (HTTP status, S3 error code) of a boto3 call that must fail."""
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return caught.value.response["ResponseMetadata"]["HTTPStatusCode"], caught.value.response["Error"]["Code"]


def palisade_binary() -> str:
    return os.environ.get("PALISADE_BIN") or str(REPOSITORY / ".build" / "debug" / "palisade")


class Server:
    """`palisade serve` on a free port; `wrapper` runs it under another command (strace),
    `arguments` are added to its command line. Without `data_dir` it serves from a fresh folder
    that `stop()` removes; a given `data_dir` is kept. `secret_via` says how the secret key is
    given: "flag" (`--secret-key`), "file" (`--secret-key-file`) or "environment"."""

    def __init__(self, binary: str, bin_dir: str, wrapper=(), arguments=(), data_dir=None, secret_via="flag",
                 tls=None):
        """`tls` is (certificate, key, CA file): the server then speaks HTTPS only."""
        self.binary = binary
        self.bin_dir = bin_dir
        self.port = _free_port()
        self.tls = tls
        self.endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        if tls:
            arguments = ["--tls-cert", tls[0], "--tls-key", tls[1], *arguments]
        context = ssl.create_default_context(cafile=tls[2]) if tls else None
        self.owns_data = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="palisade-interop-")
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        secret_arguments, environment = ["--secret-key", SECRET_KEY], None
        if secret_via == "file":
            secret_file = pathlib.Path(tempfile.mkdtemp(prefix="palisade-secret-")) / "secret"
            secret_file.write_text(SECRET_KEY + "\n")
            secret_arguments = ["--secret-key-file", str(secret_file)]
        elif secret_via == "environment":
            secret_arguments, environment = [], dict(os.environ, PALISADE_SECRET_KEY=SECRET_KEY)
        self.process = subprocess.Popen(
            [*wrapper, binary, "serve", "--data-dir", self.data_dir, "--port", str(self.port),
             "--access-key", ACCESS_KEY, *secret_arguments, "--log-level", "warning", *arguments],
            stdout=subprocess.DEVNULL, env=environment)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.endpoint + "/_palisade/health", timeout=1, context=context).read()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("palisade serve did not start")

    @property
    def environment(self) -> dict:
        return dict(os.environ, PALISADE_ENDPOINT=self.endpoint,
                    PALISADE_ACCESS_KEY=self.access_key, PALISADE_SECRET_KEY=self.secret_key)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.owns_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class EtcdCluster:
    """`members` etcd processes with fresh data folders; kill -9 and restart one at a time."""

    def __init__(self, members=3):
        self.directory = tempfile.mkdtemp(prefix="palisade-etcd-")
        self.clients = [f"http://127.0.0.1:{_free_port()}" for _ in range(members)]
        self.peers = [f"http://127.0.0.1:{_free_port()}" for _ in range(members)]
        self.processes = [None] * members
        for index in range(members):
            self.start(index, "new")
        self.wait_healthy()

    @property
    def endpoints(self):
        return ",".join(self.clients)

    def start(self, index, state):
        cluster = ",".join(f"m{i}={peer}" for i, peer in enumerate(self.peers))
        log = open(os.path.join(self.directory, f"m{index}.log"), "ab")
        self.processes[index] = subprocess.Popen(
            ["etcd", "--name", f"m{index}", "--data-dir", os.path.join(self.directory, f"m{index}"),
             "--listen-client-urls", self.clients[index], "--advertise-client-urls", self.clients[index],
             "--listen-peer-urls", self.peers[index], "--initial-advertise-peer-urls", self.peers[index],
             "--initial-cluster", cluster, "--initial-cluster-state", state,
             "--initial-cluster-token", "palisade-interop", "--logger", "zap", "--log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=log)

    def wait_healthy(self, members=None, timeout=60):
        deadline = time.monotonic() + timeout
        for index in members if members is not None else range(len(self.clients)):
            url = self.clients[index]
            while self.processes[index] is not None:
                try:
                    if b'"health":"true"' in urllib.request.urlopen(url + "/health", timeout=1).read():
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"etcd member {index} is not healthy"
                time.sleep(0.1)

    def kill(self, index):
        self.processes[index].kill()
        self.processes[index].wait()
        self.processes[index] = None

    def stop(self):
        for index, process in enumerate(self.processes):
            if process is not None:
                self.kill(index)
        shutil.rmtree(self.directory, ignore_errors=True)


CLUSTER = os.environ.get("PALISADE_INTEROP_CLUSTER") == "1"


@pytest.fixture(scope="session")
def server():
    binary = palisade_binary()
    if not CLUSTER:
        started = Server(binary, os.path.dirname(binary))
        yield started
        started.stop()
        return
    etcd = EtcdCluster()
    blobs = tempfile.mkdtemp(prefix="palisade-blobs-")
    writer, reader = [Server(binary, os.path.dirname(binary), arguments=["--etcd", etcd.endpoints, "--blobs", blobs])
                      for _ in range(2)]
    writer.reader = reader
    yield writer
    for gateway in (writer, reader):
        gateway.stop()
    etcd.stop()
    shutil.rmtree(blobs, ignore_errors=True)


def s3_client(server):
    """boto3 with its default settings, but SigV4 presigned URLs; against cluster mode, its reads go
    to the second gateway."""
    client = boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key, region_name="us-east-1",
        config=botocore.config.Config(signature_version="s3v4"), verify=server.tls[2] if server.tls else None)
    reader = getattr(server, "reader", None)
    if reader is not None:
        def read_from_reader(request, **_):
            if request.method in ("GET", "HEAD") and request.url.startswith(server.endpoint):
                request.url = reader.endpoint + request.url[len(server.endpoint):]
        client.meta.events.register("before-sign.s3", read_from_reader)
    return client


@pytest.fixture(scope="session")
def s3(server):
    return s3_client(server)


@pytest.fixture()
def bucket(s3):
    """A fresh bucket for one test."""
    name = "t-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    return name
