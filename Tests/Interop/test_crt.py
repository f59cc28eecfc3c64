"""Clients built on the AWS Common Runtime (Protocol/s3-compatibility.md): the CRT transfer manager
as awscli v2 wires it to an endpoint (s3transfer's CRTTransferManager and awscrt's S3 client), and
awscrt's own SigV4 query signing for presigned URLs.

boto3's `preferred_transfer_client="crt"` is not tested: boto3 builds its CRT client without the
client's endpoint (boto3/crt.py passes `endpoint_url: None` and `use_ssl: True`), so it only ever
talks to AWS, whatever the server."""
import hashlib
import os
import urllib.error
import urllib.request

import awscrt.auth
import awscrt.http
import awscrt.s3
import botocore.config
import botocore.session
import pytest
from s3transfer.crt import BotocoreCRTRequestSerializer, CRTTransferManager, create_s3_crt_client

from test_multipart_checksums import MIB, composite, full

PART = 5 * MIB


@pytest.fixture(scope="module")
def crt(server):
    """A CRT transfer manager on the server's endpoint, path-style, plain HTTP, 5 MiB parts."""
    session = botocore.session.Session()
    session.set_credentials(server.access_key, server.secret_key)
    credentials = awscrt.auth.AwsCredentialsProvider.new_static(server.access_key, server.secret_key)
    client = create_s3_crt_client("us-east-1", crt_credentials_provider=credentials, use_ssl=False, part_size=PART)
    serializer = BotocoreCRTRequestSerializer(session, {
        "region_name": "us-east-1", "endpoint_url": server.endpoint,
        "config": botocore.config.Config(s3={"addressing_style": "path"})})
    manager = CRTTransferManager(client, serializer)
    yield manager
    manager.shutdown()


def test_crt_multipart_upload_and_download(crt, s3, bucket, tmp_path):
    data = hashlib.shake_256(b"crt").digest(2 * PART + 4321)
    source, target = tmp_path / "in", tmp_path / "out"
    source.write_bytes(data)
    crt.upload(str(source), bucket, "big", {}).result(timeout=120)
    head = s3.head_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"') and head["ContentLength"] == len(data)
    # The CRT checksums every part with CRC32 (in a trailer) and completes with the part checksums.
    assert head["ChecksumCRC32"] == composite("CRC32", [data[:PART], data[PART:2 * PART], data[2 * PART:]])
    crt.download(bucket, "big", str(target), {}).result(timeout=120)
    assert target.read_bytes() == data
    crt.delete(bucket, "big", {}).result(timeout=60)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_crt_upload_with_a_full_object_checksum(crt, s3, bucket, tmp_path):
    data = hashlib.shake_256(b"full").digest(PART + 99)
    source = tmp_path / "in"
    source.write_bytes(data)
    crt.upload(str(source), bucket, "f", {"ChecksumCRC32": full("CRC32", data)}).result(timeout=120)
    head = s3.head_object(Bucket=bucket, Key="f", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (full("CRC32", data), "FULL_OBJECT")
    with pytest.raises(Exception):
        crt.upload(str(source), bucket, "g", {"ChecksumCRC32": full("CRC32", data + b"!")}).result(timeout=120)
    assert "g" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_crt_get_validates_the_servers_checksum(server, s3, bucket):
    """awscrt's S3 client asks for the checksum (x-amz-checksum-mode) and checks the bytes against it."""
    body = b"validated by the CRT\n" * 1000
    s3.put_object(Bucket=bucket, Key="v", Body=body, ChecksumAlgorithm="CRC32C")
    credentials = awscrt.auth.AwsCredentialsProvider.new_static(server.access_key, server.secret_key)
    client = awscrt.s3.S3Client(
        bootstrap=awscrt.io.ClientBootstrap.get_or_create_static_default(), region="us-east-1",
        signing_config=awscrt.s3.create_default_s3_signing_config(region="us-east-1", credential_provider=credentials),
        tls_mode=awscrt.s3.S3RequestTlsMode.DISABLED)
    request = awscrt.http.HttpRequest("GET", f"/{bucket}/v", awscrt.http.HttpHeaders(
        [("host", server.endpoint.split("//")[1])]))
    received, validated = [], []
    meta = client.make_request(
        type=awscrt.s3.S3RequestType.GET_OBJECT, request=request,
        checksum_config=awscrt.s3.S3ChecksumConfig(validate_response=True),
        on_body=lambda chunk, **_: received.append(chunk),
        on_done=lambda did_validate_checksum=False, **_: validated.append(did_validate_checksum))
    meta.finished_future.result(timeout=60)
    assert b"".join(received) == body
    assert validated == [True]


def test_crt_presigned_urls(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="p", Body=b"presigned by the CRT")
    credentials = awscrt.auth.AwsCredentialsProvider.new_static(server.access_key, server.secret_key)

    def presign(path):
        request = awscrt.http.HttpRequest("GET", path, awscrt.http.HttpHeaders(
            [("host", server.endpoint.split("//")[1])]))
        config = awscrt.auth.AwsSigningConfig(
            algorithm=awscrt.auth.AwsSigningAlgorithm.V4,
            signature_type=awscrt.auth.AwsSignatureType.HTTP_REQUEST_QUERY_PARAMS,
            credentials_provider=credentials, region="us-east-1", service="s3",
            signed_body_value=awscrt.auth.AwsSignedBodyValue.UNSIGNED_PAYLOAD, expiration_in_seconds=60,
            use_double_uri_encode=False, should_normalize_uri_path=False)
        return server.endpoint + awscrt.auth.aws_sign_request(request, config).result(timeout=10).path

    url = presign(f"/{bucket}/p")
    assert urllib.request.urlopen(url, timeout=10).read() == b"presigned by the CRT"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url.replace(f"/{bucket}/p", f"/{bucket}/q"), timeout=10)
    assert refused.value.code == 403
