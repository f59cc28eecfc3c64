"""A full disk: `palisade serve` on a small tmpfs (mounted by the test; CI runs as root).

Writes are refused with 507 InsufficientStorage and no internal path; reads, deletes and lock calls
go on working (the space reserve); health and a metric report it; the server restarts on a full
disk and serves reads; it accepts writes again once space is freed.
"""
import json
import os
import subprocess
import tempfile
import urllib.request
import uuid

import botocore.exceptions
import pytest

from conftest import Server, call, palisade_binary, s3_client

RESERVE_MIB = 4
MEGABYTE = b"m" * (1024 * 1024)


@pytest.fixture()
def small_disk():
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount_point = tempfile.mkdtemp(prefix="palisade-full-disk-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", mount_point], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", mount_point], check=False)
        os.rmdir(mount_point)


def start(data_dir):
    return Server(palisade_binary(), "", arguments=["--space-reserve-mib", str(RESERVE_MIB)], data_dir=data_dir)


def health(server):
    return json.loads(urllib.request.urlopen(server.endpoint + "/_palisade/health", timeout=5).read())


def metric(server, name):
    text = urllib.request.urlopen(server.endpoint + "/_palisade/metrics", timeout=5).read().decode()
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name)]
    return sum(values)


def refused_for_space(error, data_dir):
    response = error.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 507, response
    assert response["Error"]["Code"] == "InsufficientStorage", response
    assert data_dir not in response["Error"]["Message"] and "/" not in response["Error"]["Message"], response
    return True


def fill(s3, bucket, data_dir):
    """PUTs 1 MiB objects until the server refuses one; returns the keys stored."""
    stored = []
    for index in range(100):
        try:
            s3.put_object(Bucket=bucket, Key=f"fill/{index}", Body=MEGABYTE)
            stored.append(f"fill/{index}")
        except botocore.exceptions.ClientError as error:
            assert refused_for_space(error, data_dir)
            return stored
    raise AssertionError("a 40 MiB disk took 100 MiB")


def test_a_full_disk_refuses_writes_clearly_and_keeps_reads_deletes_and_locks_working(small_disk):
    data_dir = os.path.join(small_disk, "data")
    server = start(data_dir)
    try:
        s3 = s3_client(server)
        bucket = "full-" + uuid.uuid4().hex[:8]
        s3.create_bucket(Bucket=bucket)
        stored = fill(s3, bucket, data_dir)
        assert len(stored) > 10
        assert metric(server, "palisade_insufficient_storage_total") >= 1
        # Whatever else fills the disk: every byte left goes.
        filler = os.path.join(small_disk, "filler")
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], stderr=subprocess.DEVNULL, check=False)
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            s3.put_object(Bucket=bucket, Key="one-more", Body=b"x" * 100_000)
        assert refused_for_space(refused.value, data_dir)
        assert health(server)["status"] == "low_space"
        # Reads and deletes go on; lock calls answer or say why in the lock API's JSON.
        assert s3.get_object(Bucket=bucket, Key=stored[0])["Body"].read() == MEGABYTE
        s3.delete_object(Bucket=bucket, Key=stored[0])
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in stored[1:4]]})
        assert s3.list_objects_v2(Bucket=bucket, Prefix="fill/")["KeyCount"] == len(stored) - 4
        status, lease = call(server, "POST", "/_palisade/v1/leases", {"ttl_ms": 30000})
        assert status == 201, lease
        status, grant = call(server, "POST", "/_palisade/v1/locks/acquire",
                             {"name": bucket + "/x", "lease_id": lease["lease_id"], "wait_ms": 0})
        assert (status, grant.get("code")) in ((200, None), (503, "ServiceUnavailable")), grant

        # A restart on a disk filled to the last byte: it starts, serves reads, refuses writes,
        # deletes still work, and no temp file is left behind.
        server.stop()
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}2", "bs=4k"], stderr=subprocess.DEVNULL, check=False)
        server = start(data_dir)
        assert not [name for name in os.listdir(data_dir) if name.endswith(".tmp")]
        assert s3_client(server).get_object(Bucket=bucket, Key=stored[5])["Body"].read() == MEGABYTE
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            s3_client(server).put_object(Bucket=bucket, Key="after-restart", Body=b"x" * 100_000)
        assert refused_for_space(refused.value, data_dir)
        s3_client(server).delete_object(Bucket=bucket, Key=stored[5])

        # Space freed: writes are accepted again, and health says so.
        os.unlink(filler)
        os.unlink(filler + "2")
        for key in stored[6:16]:
            s3_client(server).delete_object(Bucket=bucket, Key=key)
        s3_client(server).put_object(Bucket=bucket, Key="after-space", Body=b"y" * 100_000)
        assert health(server)["status"] == "ok"
        status, lease = call(server, "POST", "/_palisade/v1/leases", {"ttl_ms": 30000})
        status, grant = call(server, "POST", "/_palisade/v1/locks/acquire",
                             {"name": bucket + "/y", "lease_id": lease["lease_id"], "wait_ms": 0})
        assert status == 200, grant
    finally:
        server.stop()
