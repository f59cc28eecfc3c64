"""A minimal Python client of Palisade's lock API (Protocol/lock-api.md), signed with botocore's SigV4.

Reads PALISADE_ENDPOINT (default http://127.0.0.1:9000), PALISADE_ACCESS_KEY and PALISADE_SECRET_KEY.
"""
import json
import os

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import requests

ENDPOINT = os.environ.get("PALISADE_ENDPOINT", "http://127.0.0.1:9000")
CREDENTIALS = botocore.credentials.Credentials(os.environ["PALISADE_ACCESS_KEY"], os.environ["PALISADE_SECRET_KEY"])


class LockAPIError(Exception):
    def __init__(self, status, body):
        super().__init__(f"{status} {body.get('code')}: {body.get('message')}")
        self.code = body.get("code")


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    request = botocore.awsrequest.AWSRequest(method=method, url=ENDPOINT + "/_palisade/v1" + path, data=data,
                                             headers={"content-type": "application/json"} if data else {})
    botocore.auth.S3SigV4Auth(CREDENTIALS, "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    response = requests.request(method, prepared.url, headers=dict(prepared.headers), data=data, timeout=60)
    answer = response.json()
    if response.status_code >= 300:
        raise LockAPIError(response.status_code, answer)
    return answer


def take_lock(name, ttl_ms=1000, wait_ms=30000):
    """Grants a lease and acquires `name` under it; returns (lease_id, token)."""
    lease = call("POST", "/leases", {"ttl_ms": ttl_ms})["lease_id"]
    grant = call("POST", "/locks/acquire", {"name": name, "lease_id": lease, "wait_ms": wait_ms})
    return lease, grant["token"]


def release(lease):
    try:
        call("DELETE", f"/leases/{lease}")
    except LockAPIError:
        pass  # the lease had expired already


def s3_client(fencing=None, **config):
    """A boto3 client whose writes carry the lock and token in `fencing` (a dict the caller updates);
    `config` adds botocore Config options (timeouts, retries)."""
    client = boto3.client("s3", endpoint_url=ENDPOINT, aws_access_key_id=CREDENTIALS.access_key,
                          aws_secret_access_key=CREDENTIALS.secret_key, region_name="us-east-1",
                          config=botocore.config.Config(signature_version="s3v4", **config))
    if fencing is not None:
        def add_fencing_headers(request, **_):
            if fencing.get("lock"):
                request.headers["x-palisade-lock"] = fencing["lock"]
                request.headers["x-palisade-fencing-token"] = str(fencing["token"])
        # Registered before signing, so the headers are signed like the others.
        for operation in ("PutObject", "DeleteObject", "CopyObject", "UploadPart", "CompleteMultipartUpload"):
            client.meta.events.register(f"before-sign.s3.{operation}", add_fencing_headers)
    return client
