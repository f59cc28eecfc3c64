"""Command-line promises: `palisade serve --fenced`, `--access-log`, and `palisade lock run --shared`."""
import os
import subprocess
import tempfile
import urllib.request
import uuid

import botocore.exceptions
import pytest

from conftest import Server, call, palisade_binary, s3_client, signed


def test_serve_fenced_refuses_writes_without_a_token_and_accepts_the_holders():
    server = Server(palisade_binary(), "", arguments=["--fenced", "guarded"])
    try:
        s3 = s3_client(server)
        s3.create_bucket(Bucket="guarded")
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            s3.put_object(Bucket="guarded", Key="k", Body=b"no token")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert refused.value.response["Error"]["Code"] == "FencingTokenRequired"
        status, lease = call(server, "POST", "/_palisade/v1/leases", {"ttl_ms": 10000})
        status, grant = call(server, "POST", "/_palisade/v1/locks/acquire",
                             {"name": "guarded/k", "lease_id": lease["lease_id"], "wait_ms": 0})
        assert status == 200

        def add_fencing(request, **_):
            request.headers["x-palisade-lock"] = "guarded/k"
            request.headers["x-palisade-fencing-token"] = str(grant["token"])

        s3.meta.events.register("before-sign.s3.PutObject", add_fencing)
        s3.put_object(Bucket="guarded", Key="k", Body=b"with the token")
        assert s3.get_object(Bucket="guarded", Key="k")["Body"].read() == b"with the token"
        status, paths = call(server, "GET", "/_palisade/v1/admin/fencing")
        assert paths["fenced_paths"] == ["guarded"]
    finally:
        server.stop()


def test_lock_run_shared_lets_two_readers_hold_the_lock_at_once(server):
    folder = tempfile.mkdtemp(prefix="palisade-shared-")
    name = "shared/" + uuid.uuid4().hex[:8]
    # Each reader marks itself inside, then stays until the other is inside too (at most 10 s).
    script = ('touch "$DIR/$ME"; for i in $(seq 200); do [ -e "$DIR/a" ] && [ -e "$DIR/b" ] && exit 0; '
              'sleep 0.05; done; exit 3')
    readers = [subprocess.Popen([palisade_binary(), "lock", "run", name, "--shared", "--wait", "20s", "--",
                                 "sh", "-c", script], env=dict(server.environment, DIR=folder, ME=me))
               for me in ("a", "b")]
    assert [reader.wait(timeout=60) for reader in readers] == [0, 0], "the readers did not hold the lock together"
    os.unlink(os.path.join(folder, "a"))
    os.unlink(os.path.join(folder, "b"))
    os.rmdir(folder)


def test_access_log_and_metrics_name_each_s3_operation_and_fencing_refusal(tmp_path):
    log = tmp_path / "stderr.log"
    binary = palisade_binary()
    server = Server(binary, os.path.dirname(binary), wrapper=("sh", "-c", f'exec "$0" "$@" 2>>{log}'),
                    arguments=["--access-log", "--log-level", "info"])
    try:
        s3 = s3_client(server)
        s3.create_bucket(Bucket="logged")
        s3.put_object(Bucket="logged", Key="a/b", Body=b"12345")
        s3.list_objects_v2(Bucket="logged")
        refused = signed(server, "PUT", "/logged/x", {"x-palisade-lock": "logged/x", "x-palisade-fencing-token": "5"},
                         b"no such grant")
        assert refused.status_code == 409 and b"LockNotHeld" in refused.content
        metrics = urllib.request.urlopen(server.endpoint + "/_palisade/metrics", timeout=10).read().decode()
    finally:
        server.stop()
    lines = [line for line in log.read_text().splitlines() if "palisade.access" in line]
    put = [line for line in lines if "operation=PutObject" in line and "key=a/b" in line]
    assert len(put) == 1, lines
    for field in ["bucket=logged", "key=a/b", "status=200", "bytes_in=5", "method=PUT",
                  f"access_key={server.access_key}", "request_id=", "duration_ms="]:
        assert field in put[0], (field, put[0])
    assert any("operation=ListObjectsV2" in line for line in lines)
    assert 'route="PutObject"' in metrics and 'route="CreateBucket"' in metrics
    assert 'route="unmatched"' not in metrics
    assert 'palisade_fencing_refusals_total{reason="LockNotHeld"} 1' in metrics, metrics
