"""Cluster mode: a 3-member etcd cluster and 3 `palisade serve --etcd` gateways on loopback.

Writes go to one gateway and reads to another; a fault run kills a gateway and an etcd member
(kill -9, then restarts them) and stops a gateway (SIGSTOP) for longer than a lease, while clients
do fenced read-modify-write increments through all three, then checks that the history of every
key is linearizable, that no acknowledged write was lost and no stale write accepted.
PALISADE_CLUSTER_FAULT_SECONDS makes the fault run longer.
"""
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from conftest import ACCESS_KEY, SECRET_KEY, EtcdCluster, Server, _free_port, call, palisade_binary
from linearizability import Operation, is_linearizable

pytestmark = pytest.mark.skipif(shutil.which("etcd") is None, reason="etcd-server is not installed")


@pytest.fixture(scope="module")
def etcd():
    cluster = EtcdCluster()
    yield cluster
    cluster.stop()


def start_gateway(etcd, blobs, prefix):
    binary = palisade_binary()
    return Server(binary, os.path.dirname(binary),
                  arguments=["--etcd", etcd.endpoints, "--blobs", blobs, "--etcd-prefix", prefix,
                             "--lock-delay", "500ms"])


@pytest.fixture()
def gateways(etcd):
    blobs = tempfile.mkdtemp(prefix="palisade-blobs-")
    prefix = f"interop-{uuid.uuid4().hex[:8]}/"
    started = [start_gateway(etcd, blobs, prefix) for _ in range(3)]
    started_args = (blobs, prefix)
    yield started, started_args
    for gateway in started:
        gateway.stop()
    shutil.rmtree(blobs, ignore_errors=True)


def test_a_first_start_on_a_blob_folder_not_yet_made_warns_of_nothing(etcd):
    """The space reserve lives in the blob folder: a first start must make the folder before taking the
    reserve, not report a disk short of space."""
    root = tempfile.mkdtemp(prefix="palisade-fresh-")
    port = _free_port()
    process = subprocess.Popen(
        [palisade_binary(), "serve", "--etcd", etcd.endpoints, "--blobs", os.path.join(root, "blobs"),
         "--etcd-prefix", f"fresh-{uuid.uuid4().hex[:8]}/", "--data-dir", os.path.join(root, "data"),
         "--port", str(port), "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                requests.get(f"http://127.0.0.1:{port}/_palisade/health", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.05)
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
        shutil.rmtree(root, ignore_errors=True)
    assert "listening on" in errors, errors
    assert "short of space" not in errors, errors


def s3_of(gateway, retries=True):
    return boto3.client(
        "s3", endpoint_url=gateway.endpoint, aws_access_key_id=gateway.access_key,
        aws_secret_access_key=gateway.secret_key, region_name="us-east-1",
        config=botocore.config.Config(
            signature_version="s3v4", connect_timeout=2, read_timeout=10,
            retries={"max_attempts": 3 if retries else 1, "mode": "standard"}))


def test_objects_written_through_one_gateway_are_read_through_another(gateways):
    (one, two, three), _ = gateways
    s1, s2, s3 = s3_of(one), s3_of(two), s3_of(three)
    s1.create_bucket(Bucket="shared")
    put = s1.put_object(Bucket="shared", Key="dir/a.txt", Body=b"written through gateway 1")
    got = s2.get_object(Bucket="shared", Key="dir/a.txt")
    assert got["Body"].read() == b"written through gateway 1"
    assert got["ETag"] == put["ETag"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="shared")["Contents"]] == ["dir/a.txt"]
    # A multipart upload created on one gateway, parts on another, completed on the third.
    upload = s1.create_multipart_upload(Bucket="shared", Key="big")["UploadId"]
    parts = [s2.upload_part(Bucket="shared", Key="big", UploadId=upload, PartNumber=n,
                            Body=bytes([n]) * (5 * 1024 * 1024 if n == 1 else 10))["ETag"] for n in (1, 2)]
    s3.complete_multipart_upload(
        Bucket="shared", Key="big", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), parts)]})
    body = s1.get_object(Bucket="shared", Key="big")["Body"].read()
    assert body == bytes([1]) * (5 * 1024 * 1024) + bytes([2]) * 10
    # Conditional create: the second gateway sees the first's object.
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        s3.put_object(Bucket="shared", Key="dir/a.txt", Body=b"x", IfNoneMatch="*")
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    s2.delete_object(Bucket="shared", Key="dir/a.txt")
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        s3.head_object(Bucket="shared", Key="dir/a.txt")
    assert gone.value.response["Error"]["Code"] == "404"


def test_a_lease_outlives_its_gateway(gateways):
    (one, two, _), _ = gateways
    status, lease = call(one, "POST", "/_palisade/v1/leases", {"ttl_ms": 10_000})
    assert status == 201, lease
    status, grant = call(one, "POST", "/_palisade/v1/locks/acquire",
                         {"name": "job", "lease_id": lease["lease_id"], "wait_ms": 0})
    assert status == 200, grant
    one.process.kill()
    one.process.wait()
    # Keep-alives reach another gateway in time: the lease and its grant live on.
    status, renewed = call(two, "POST", f"/_palisade/v1/leases/{lease['lease_id']}/keepalive")
    assert status == 200, renewed
    assert [held["token"] for held in renewed["locks"]] == [grant["token"]]
    status, checked = call(two, "POST", "/_palisade/v1/locks/validate", {"name": "job", "token": grant["token"]})
    assert status == 200 and checked["valid"], checked


@pytest.mark.parametrize("transport", [[], ["--session"]], ids=["http", "session"])
def test_lock_run_keeps_its_lock_when_its_gateway_dies(gateways, transport):
    """`palisade lock run` given every gateway: its gateway is killed -9 while the command runs; the
    keep-alives move to another gateway, the lease lives on, the command finishes holding the lock."""
    (one, two, three), _ = gateways
    environment = dict(one.environment, PALISADE_ENDPOINT=",".join(g.endpoint for g in (one, two, three)))
    started = time.monotonic()
    command = subprocess.Popen(
        [palisade_binary(), "lock", "run", "job", "--ttl", "2s", *transport, "--",
         "sh", "-c", 'sleep 5; echo "$PALISADE_FENCING_TOKEN"'],
        env=environment, stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    one.process.kill()
    one.process.wait()
    output, _ = command.communicate(timeout=60)
    assert command.returncode == 0, f"exit {command.returncode}: the lease was lost with its gateway"
    assert time.monotonic() - started >= 5
    token = int(output.strip())
    status, checked = call(two, "POST", "/_palisade/v1/locks/validate", {"name": "job", "token": token})
    assert status == 200 and not checked["valid"], "the lock was not released at the end"


class History:
    """Per key: the acknowledged fenced increments (token, value), and every read and write as
    clients saw them (for the linearizability check)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acknowledged = {}
        self.operations = {}

    def record(self, key, token, value):
        with self.lock:
            self.acknowledged.setdefault(key, []).append((token, value))

    def operation(self, key, operation):
        with self.lock:
            self.operations.setdefault(key, []).append(operation)


def increment(gateways, key, history, rng):
    """One fenced read-modify-write of counter `key`, through random gateways."""
    def pick():
        return rng.choice(gateways)
    status, lease = call(pick(), "POST", "/_palisade/v1/leases", {"ttl_ms": 3000})
    if status != 201:
        return
    status, grant = call(pick(), "POST", "/_palisade/v1/locks/acquire",
                         {"name": f"bucket/{key}", "lease_id": lease["lease_id"], "wait_ms": 8000})
    if status != 200:
        return
    token = grant["token"]
    value = read_counter(s3_of(pick(), retries=False), key, history)
    if value is None:
        return
    called = time.monotonic()
    try:
        response = fenced_put(pick(), key, value + 1, token)
    except requests.RequestException:
        # It may or may not have committed.
        history.operation(key, Operation("write", str(value + 1), called))
        return
    if response.status_code == 200:
        history.record(key, token, value + 1)
        history.operation(key, Operation("write", str(value + 1), called, time.monotonic()))
    elif response.status_code >= 500:
        history.operation(key, Operation("write", str(value + 1), called))
    call(pick(), "POST", "/_palisade/v1/locks/release",
         {"name": f"bucket/{key}", "lease_id": lease["lease_id"], "token": token})


def read_counter(s3, key, history):
    """Counter `key`'s value (0 when absent), recorded as a read; None when the read failed."""
    called = time.monotonic()
    try:
        value = int(s3.get_object(Bucket="bucket", Key=key)["Body"].read())
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchKey":
            return None
        value = 0
    except Exception:
        return None
    history.operation(key, Operation("read", str(value) if value else None, called, time.monotonic()))
    return value


def signed_headers(gateway, path, body, extra):
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    request = botocore.awsrequest.AWSRequest(method="PUT", url=gateway.endpoint + path, data=body, headers=extra)
    botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(gateway.access_key, gateway.secret_key),
                              "s3", "us-east-1").add_auth(request)
    return dict(request.prepare().headers)


def fenced_put(gateway, key, value, token, timeout=10):
    headers = {"x-palisade-lock": f"bucket/{key}", "x-palisade-fencing-token": str(token)}
    body = str(value).encode()
    return requests.put(f"{gateway.endpoint}/bucket/{key}", data=body,
                        headers=signed_headers(gateway, f"/bucket/{key}", body, headers), timeout=timeout)


def paused_writer(started):
    """A holder sends its write through a gateway that is stopped (SIGSTOP); its lease ends; the next
    holder writes through another gateway; the stopped gateway resumes: the old write must be refused."""
    stopped, first, second = started
    status, lease = call(first, "POST", "/_palisade/v1/leases", {"ttl_ms": 2000})
    assert status == 201, lease
    status, grant = call(first, "POST", "/_palisade/v1/locks/acquire",
                         {"name": "bucket/paused", "lease_id": lease["lease_id"], "wait_ms": 0})
    assert status == 200, grant
    os.kill(stopped.process.pid, signal.SIGSTOP)
    outcome = {}
    late = threading.Thread(target=lambda: outcome.update(
        response=fenced_put(stopped, "paused", "stale", grant["token"], timeout=60)))
    try:
        late.start()
        time.sleep(0.5)
        status, next_lease = call(second, "POST", "/_palisade/v1/leases", {"ttl_ms": 30_000})
        assert status == 201, next_lease
        status, next_grant = call(second, "POST", "/_palisade/v1/locks/acquire",
                                  {"name": "bucket/paused", "lease_id": next_lease["lease_id"], "wait_ms": 20_000})
        assert status == 200, next_grant
        assert next_grant["token"] > grant["token"]
        assert fenced_put(second, "paused", "current", next_grant["token"]).status_code == 200
    finally:
        os.kill(stopped.process.pid, signal.SIGCONT)
        late.join(timeout=60)
    assert outcome["response"].status_code == 409, outcome["response"].text
    assert s3_of(first).get_object(Bucket="bucket", Key="paused")["Body"].read() == b"current"


def paused_writer_mid_upload(started):
    """A holder's write passes its checks on arrival, then its body stalls past the lease; the next
    holder writes through another gateway; the rest of the body arrives: the commit must refuse it."""
    import http.client
    first, second = started[0], started[1]
    status, lease = call(first, "POST", "/_palisade/v1/leases", {"ttl_ms": 2000})
    assert status == 201, lease
    status, grant = call(first, "POST", "/_palisade/v1/locks/acquire",
                         {"name": "bucket/slow", "lease_id": lease["lease_id"], "wait_ms": 0})
    assert status == 200, grant
    body = b"stale" * 1000
    headers = signed_headers(first, "/bucket/slow", body, {
        "x-palisade-lock": "bucket/slow", "x-palisade-fencing-token": str(grant["token"])})
    connection = http.client.HTTPConnection("127.0.0.1", first.port, timeout=60)
    connection.putrequest("PUT", "/bucket/slow", skip_host=True, skip_accept_encoding=True)
    connection.putheader("Host", f"127.0.0.1:{first.port}")
    for name, value in headers.items():  # Content-Length among them
        connection.putheader(name, value)
    connection.endheaders(body[:100])
    status, next_lease = call(second, "POST", "/_palisade/v1/leases", {"ttl_ms": 30_000})
    assert status == 201, next_lease
    status, next_grant = call(second, "POST", "/_palisade/v1/locks/acquire",
                              {"name": "bucket/slow", "lease_id": next_lease["lease_id"], "wait_ms": 20_000})
    assert status == 200, next_grant
    assert fenced_put(second, "slow", "current", next_grant["token"]).status_code == 200
    connection.send(body[100:])
    response = connection.getresponse()
    assert response.status == 409, response.read()
    assert s3_of(second).get_object(Bucket="bucket", Key="slow")["Body"].read() == b"current"


def test_fault_run_loses_no_acknowledged_write_and_accepts_no_stale_one(etcd, gateways):
    started, (blobs, prefix) = gateways
    s3_of(started[0]).create_bucket(Bucket="bucket")
    history = History()
    stop = threading.Event()
    seconds = float(os.environ.get("PALISADE_CLUSTER_FAULT_SECONDS", "25"))
    # The gateways the workers use: a stopped one is left out while it is stopped.
    live = list(started)

    def worker(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            try:
                increment(list(live), f"counter-{rng.randrange(3)}", history, rng)
            except (requests.RequestException, OSError, ValueError, KeyError, IndexError):
                pass

    workers = [threading.Thread(target=worker, args=(seed,)) for seed in range(6)]
    for thread in workers:
        thread.start()
    try:
        time.sleep(seconds / 5)
        # A gateway dies and comes back.
        started[1].process.kill()
        started[1].process.wait()
        time.sleep(seconds / 5)
        started[1] = start_gateway(etcd, blobs, prefix)
        live[1] = started[1]
        # An etcd member dies and comes back.
        etcd.kill(2)
        time.sleep(seconds / 5)
        etcd.start(2, "existing")
        etcd.wait_healthy([2])
        # A gateway stops for longer than a lease, with a write held up in it.
        live.remove(started[0])
        paused_writer(started)
        live.append(started[0])
        paused_writer_mid_upload(started)
        time.sleep(seconds / 5)
    finally:
        stop.set()
        for thread in workers:
            thread.join(timeout=60)
    reader = s3_of(started[2])
    total = 0
    for key in list(history.operations):
        read_counter(reader, key, history)
        assert is_linearizable(history.operations[key]), f"{key}: the history is not linearizable"
    for key, writes in history.acknowledged.items():
        values = [value for _, value in writes]
        assert len(values) == len(set(values)), f"{key}: two acknowledged writes wrote the same value: a lost update"
        in_token_order = [value for _, value in sorted(writes)]
        assert in_token_order == sorted(in_token_order), f"{key}: a write with a lower token was accepted later"
        final = reader.get_object(Bucket="bucket", Key=key)
        assert int(final["Body"].read()) >= max(values), f"{key}: an acknowledged write was lost"
        assert int(final["ResponseMetadata"]["HTTPHeaders"]["x-palisade-fencing-token"]) >= max(t for t, _ in writes)
        total += len(writes)
    operations = sum(len(ops) for ops in history.operations.values())
    print(f"cluster fault run: {total} acknowledged increments over {len(history.acknowledged)} keys, "
          f"{operations} operations checked for linearizability")
    assert total >= 10, f"only {total} increments were acknowledged: the run did too little to mean anything"
