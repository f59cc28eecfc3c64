"""Command-line promises: `palisade serve --fenced` and `palisade lock run --shared`."""
import os
import subprocess
import tempfile
import uuid

import botocore.exceptions
import pytest

from conftest import Server, call, palisade_binary, s3_client


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
