"""Scoped credentials from a users file (`palisade serve --users`), as boto3 users meet them; the
file is read again on SIGHUP, and a file that does not parse never replaces a good one."""
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import Server, palisade_binary, s3_client


def _client(server, key, secret):
    return boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name="us-east-1", config=botocore.config.Config(signature_version="s3v4",
                                                                              retries={"max_attempts": 1}))


def _reader(key, bucket):
    return {"access_key": key, "secret_key": key.lower() + "-secret", "policy": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}}


def _error_code(call):
    try:
        call()
    except botocore.exceptions.ClientError as error:
        return error.response["Error"]["Code"]
    return None


def test_policies_apply_and_sighup_reloads_them():
    bucket = "scoped-" + uuid.uuid4().hex[:8]
    users = os.path.join(tempfile.mkdtemp(prefix="palisade-users-"), "users.json")
    with open(users, "w") as file:
        json.dump({"users": [_reader("READERONE", bucket)]}, file)
    server = Server(palisade_binary(), "", arguments=["--users", users])
    try:
        admin = s3_client(server)
        admin.create_bucket(Bucket=bucket)
        admin.put_object(Bucket=bucket, Key="k", Body=b"value")
        one = _client(server, "READERONE", "readerone-secret")
        assert one.get_object(Bucket=bucket, Key="k")["Body"].read() == b"value"
        assert _error_code(lambda: one.put_object(Bucket=bucket, Key="k", Body=b"x")) == "AccessDenied"

        with open(users, "w") as file:
            json.dump({"users": [_reader("READERTWO", bucket)]}, file)
        server.process.send_signal(signal.SIGHUP)
        two = _client(server, "READERTWO", "readertwo-secret")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _error_code(lambda: two.head_object(Bucket=bucket, Key="k")):
            time.sleep(0.1)
        assert two.get_object(Bucket=bucket, Key="k")["Body"].read() == b"value"
        assert _error_code(lambda: one.get_object(Bucket=bucket, Key="k")) == "InvalidAccessKeyId"

        with open(users, "w") as file:
            file.write("{ not json")
        server.process.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert two.get_object(Bucket=bucket, Key="k")["Body"].read() == b"value", "a bad file keeps the users"
        assert admin.get_object(Bucket=bucket, Key="k")["Body"].read() == b"value", "the admin stays"
        assert server.process.poll() is None
    finally:
        server.stop()
    assert server.process.returncode == 0, "SIGTERM still shuts down cleanly"


@pytest.mark.parametrize("content, complaint", [
    ('{"users": [{"access_key": "K", "secret_key": "S", "policy": {"Statement": '
     '[{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {}}]}}]}', "Condition is not supported"),
    ('{"users": [{"access_key": "K"}]}', "needs access_key and secret_key"),
])
def test_a_bad_users_file_stops_serve_with_the_reason(content, complaint):
    users = os.path.join(tempfile.mkdtemp(prefix="palisade-users-"), "users.json")
    with open(users, "w") as file:
        file.write(content)
    result = subprocess.run([palisade_binary(), "serve", "--data-dir", tempfile.mkdtemp(), "--port", "0",
                             "--users", users], capture_output=True, timeout=60)
    assert result.returncode != 0
    assert complaint in result.stderr.decode()
