"""Crash loop: concurrent PUT, overwrite, DELETE, multipart and lock traffic against a durable
`palisade serve`, killed with SIGKILL at a random moment, over many cycles. After each restart:
every acknowledged write and lock change is there, no object is torn, no fencing token is issued
twice, no blob file is left over.

PALISADE_CRASH_CYCLES sets the number of cycles (default 10; CI runs the default).
"""
import os
import random
import shutil
import signal
import tempfile
import threading
import time
import urllib.parse
import uuid

import boto3
import botocore.config
import botocore.exceptions

from conftest import Server, call, palisade_binary

CYCLES = int(os.environ.get("PALISADE_CRASH_CYCLES", "10"))
OBJECT_WORKERS = 3
PART = 5 * 1024 * 1024


def client(server):
    return boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key, region_name="us-east-1",
        config=botocore.config.Config(signature_version="s3v4", retries={"total_max_attempts": 1},
                                      connect_timeout=2, read_timeout=20))


def body_of(tag, size):
    """An object's bytes, derived from its tag, so a reader can tell a whole version from a torn one."""
    unit = tag.encode() + b"|"
    return (unit * (size // len(unit) + 1))[:size]


class History:
    """What each key's owner knows: the last acknowledged state and the state of an operation that
    was in flight at the crash (it may or may not have committed)."""

    def __init__(self):
        self.acknowledged = {}  # key -> tag, or None for deleted
        self.in_flight = {}     # key -> tag or None
        self.operations = 0
        self.lock = threading.Lock()

    def acknowledge(self, key, tag):
        with self.lock:
            self.acknowledged[key] = tag
            self.in_flight.pop(key, None)
            self.operations += 1

    def attempt(self, key, tag):
        with self.lock:
            self.in_flight[key] = tag


def object_worker(server, bucket, worker, history, stop):
    s3 = client(server)
    rng = random.Random()
    keys = [f"w{worker}/k{index}" for index in range(4)]
    while not stop.is_set():
        key = rng.choice(keys)
        action = rng.random()
        tag = uuid.uuid4().hex
        try:
            if action < 0.55:
                size = rng.choice([1, 3000, 70_000, 1_100_000])
                history.attempt(key, tag)
                s3.put_object(Bucket=bucket, Key=key, Body=body_of(tag, size), Metadata={"tag": tag})
                history.acknowledge(key, tag)
            elif action < 0.8:
                history.attempt(key, None)
                s3.delete_object(Bucket=bucket, Key=key)
                history.acknowledge(key, None)
            else:
                upload = s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata={"tag": tag})["UploadId"]
                data = body_of(tag, PART + 1000)
                parts = []
                for number, chunk in ((1, data[:PART]), (2, data[PART:])):
                    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                          Body=chunk)["ETag"]
                    parts.append({"PartNumber": number, "ETag": etag})
                history.attempt(key, tag)
                s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                             MultipartUpload={"Parts": parts})
                history.acknowledge(key, tag)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            return  # the server died under the request


class Locks:
    """Acknowledged lock changes: the grants still held, and every token ever answered."""

    def __init__(self):
        self.held = {}      # (name, lease) -> token, acknowledged and not released
        self.releasing = set()  # (name, lease) whose release was sent but not answered
        self.released = []  # (name, lease, token) acknowledged releases
        self.tokens = []
        self.leases = set()
        self.fenced_tokens = []  # tokens of acknowledged fenced writes to crash-loop/fenced


def lock_worker(server, locks, cycle, stop):
    rng = random.Random()
    try:
        status, lease = call(server, "POST", "/_palisade/v1/leases", {"ttl_ms": 120000})
        if status != 201:
            return
        lease_id = lease["lease_id"]
        locks.leases.add(lease_id)
        fenced_write(server, locks, lease_id)
        index = 0
        while not stop.is_set():
            name = f"crash/{cycle}/{index}"
            index += 1
            status, grant = call(server, "POST", "/_palisade/v1/locks/acquire",
                                 {"name": name, "lease_id": lease_id, "wait_ms": 0})
            if status != 200:
                return
            locks.tokens.append(grant["token"])
            locks.held[(name, lease_id)] = grant["token"]
            if rng.random() < 0.5:
                locks.releasing.add((name, lease_id))
                status, _ = call(server, "POST", "/_palisade/v1/locks/release",
                                 {"name": name, "lease_id": lease_id, "token": grant["token"]})
                if status != 200:
                    return
                del locks.held[(name, lease_id)]
                locks.releasing.discard((name, lease_id))
                locks.released.append((name, lease_id, grant["token"]))
    except Exception:  # the server died under the request: requests raises ConnectionError
        return


def check_objects(server, bucket, history):
    s3 = client(server)
    checked = 0
    for key, tag in history.acknowledged.items():
        allowed = {tag}
        if key in history.in_flight:
            allowed.add(history.in_flight[key])
        try:
            answer = s3.get_object(Bucket=bucket, Key=key)
            data = answer["Body"].read()
            found = answer["Metadata"].get("tag")
            assert found in allowed, f"{key}: version {found}, acknowledged {tag}, in flight {history.in_flight.get(key)}"
            assert data == body_of(found, len(data)), f"{key}: torn version {found}"
            assert len(data) == answer["ContentLength"]
        except botocore.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] == "NoSuchKey", error.response
            assert None in allowed, f"{key}: acknowledged version {tag} lost"
        checked += 1
    return checked


def settle(server, bucket, history):
    """After the check: what the server now holds is what the next cycle builds on."""
    s3 = client(server)
    for key in list(history.acknowledged) + list(history.in_flight):
        try:
            history.acknowledged[key] = s3.head_object(Bucket=bucket, Key=key)["Metadata"].get("tag")
        except botocore.exceptions.ClientError:
            history.acknowledged[key] = None
    history.in_flight.clear()


def fenced_client(server, token):
    """A client whose PUTs carry crash-loop/fenced and `token`."""
    def add_fencing(request, **_):
        request.headers["x-palisade-lock"] = "crash-loop/fenced"
        request.headers["x-palisade-fencing-token"] = str(token)
    s3 = client(server)
    s3.meta.events.register("before-sign.s3.PutObject", add_fencing)
    return s3


def fenced_write(server, locks, lease_id):
    """Takes crash-loop/fenced and writes the key it covers with its token, then releases it."""
    status, grant = call(server, "POST", "/_palisade/v1/locks/acquire",
                         {"name": "crash-loop/fenced", "lease_id": lease_id, "wait_ms": 5000})
    assert status == 200, grant
    locks.tokens.append(grant["token"])
    fenced_client(server, grant["token"]).put_object(Bucket="crash-loop", Key="fenced",
                                                     Body=str(grant["token"]).encode())
    locks.fenced_tokens.append(grant["token"])
    call(server, "POST", "/_palisade/v1/locks/release",
         {"name": "crash-loop/fenced", "lease_id": lease_id, "token": grant["token"]})


def check_fencing(server, locks):
    """The highest token of an acknowledged fenced write survived: an older one is stale."""
    if len(locks.fenced_tokens) < 2:
        return
    try:
        fenced_client(server, locks.fenced_tokens[0]).put_object(Bucket="crash-loop", Key="fenced", Body=b"stale")
        raise AssertionError("a write with the first fenced token was accepted after a crash")
    except botocore.exceptions.ClientError as error:
        assert error.response["Error"]["Code"] == "StaleFencingToken", error.response
    assert int(client(server).get_object(Bucket="crash-loop", Key="fenced")["Body"].read()) >= locks.fenced_tokens[-1]


def check_locks(server, locks):
    for (name, lease_id), token in locks.held.items():
        if (name, lease_id) in locks.releasing:
            continue  # its release may have committed
        status, lock = call(server, "GET", "/_palisade/v1/locks?name=" + urllib.parse.quote(name, safe=""))
        assert status == 200
        holders = {(holder["lease_id"], holder["token"]) for holder in lock["holders"]}
        assert (lease_id, token) in holders, f"acknowledged grant of {name} (token {token}) lost: {lock}"
    for name, lease_id, token in locks.released:
        status, lock = call(server, "GET", "/_palisade/v1/locks?name=" + urllib.parse.quote(name, safe=""))
        assert all(holder["token"] != token for holder in lock["holders"]), f"acknowledged release of {name} undone"
    assert len(set(locks.tokens)) == len(locks.tokens), "a fencing token was issued twice"
    status, lease = call(server, "POST", "/_palisade/v1/leases", {"ttl_ms": 10000})
    status, grant = call(server, "POST", "/_palisade/v1/locks/acquire",
                         {"name": "crash/probe/" + uuid.uuid4().hex, "lease_id": lease["lease_id"], "wait_ms": 0})
    assert grant["token"] > max(locks.tokens, default=0), "a token after the restart is not above every earlier one"
    locks.tokens.append(grant["token"])
    for lease_id in list(locks.leases) + [lease["lease_id"]]:
        call(server, "DELETE", f"/_palisade/v1/leases/{lease_id}")
    checked = len(locks.held) + len(locks.released)
    locks.held.clear()
    locks.releasing.clear()
    locks.released.clear()
    locks.leases.clear()
    return checked


# palisade serve keeps objects up to this size in its database, with no blob (SQLiteMetadataStore).
INLINE_LIMIT = 64 * 1024


def check_blobs(server, bucket):
    """Every blob file belongs to a committed object or an uploaded part, and the other way round."""
    s3 = client(server)
    expected = 0
    for entry in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        etag = entry["ETag"].strip('"')
        if "-" in etag:
            expected += int(etag.split("-")[1])
        elif entry["Size"] > INLINE_LIMIT:
            expected += 1
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        expected += len(s3.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]).get("Parts", []))
    root = os.path.join(server.data_dir, "blobs")
    found = sum(len(os.listdir(os.path.join(root, shard))) for shard in os.listdir(root))
    assert found == expected, f"{found} blob files for {expected} committed blobs"


def test_kill_9_at_random_moments_loses_no_acknowledged_change():
    data_dir = tempfile.mkdtemp(prefix="palisade-crash-")
    history, locks = History(), Locks()
    bucket = "crash-loop"
    rng = random.Random()
    checked = {"objects": 0, "locks": 0}
    try:
        for cycle in range(CYCLES + 1):
            server = Server(palisade_binary(), "", data_dir=data_dir)
            try:
                if cycle == 0:
                    client(server).create_bucket(Bucket=bucket)
                else:
                    checked["objects"] += check_objects(server, bucket, history)
                    check_fencing(server, locks)
                    checked["locks"] += check_locks(server, locks)
                    check_blobs(server, bucket)
                    settle(server, bucket, history)
                if cycle == CYCLES:
                    break
                stop = threading.Event()
                workers = [threading.Thread(target=object_worker, args=(server, bucket, index, history, stop))
                           for index in range(OBJECT_WORKERS)]
                workers.append(threading.Thread(target=lock_worker, args=(server, locks, cycle, stop)))
                for worker in workers:
                    worker.start()
                time.sleep(rng.uniform(0.3, 1.5))
                server.process.send_signal(signal.SIGKILL)
                server.process.wait()
                stop.set()
                for worker in workers:
                    worker.join(timeout=30)
            finally:
                server.stop()
        assert len(locks.fenced_tokens) >= 2, "too few fenced writes to check the highest token across crashes"
        print(f"\n{CYCLES} kill -9 cycles: {history.operations} acknowledged object writes, "
              f"{checked['objects']} key checks and {checked['locks']} lock changes checked after restarts, 0 lost")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
