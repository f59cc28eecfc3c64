"""The S3 gateway through boto3 with its default settings (checksums, Expect: 100-continue), and curl."""
import base64
import hashlib
import io
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import awscrt.checksums
import boto3
import botocore.exceptions
import pytest




def error_code(call):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_buckets(s3):
    name = "b-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.create_bucket(Bucket=name)  # Already yours, in us-east-1: 200 (test_s3_compatibility.py).
    assert error_code(lambda: s3.create_bucket(Bucket="Bad_Name")) == "InvalidBucketName"
    s3.put_object(Bucket=name, Key="x", Body=b"1")
    assert error_code(lambda: s3.delete_bucket(Bucket=name)) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="x")
    s3.delete_bucket(Bucket=name)
    assert error_code(lambda: s3.head_bucket(Bucket=name)) == "404"


def test_put_get_round_trip_with_metadata_and_checksums(s3, bucket):
    key = "dir/ünïcode key+plus&amp"
    body = b"hello palisade" * 1000
    put = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/plain", CacheControl="no-cache",
                        ContentDisposition="attachment", Metadata={"owner": "team-a"})
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    assert int(put["ResponseMetadata"]["HTTPHeaders"]["x-palisade-commit-sequence"]) > 0
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain" and got["CacheControl"] == "no-cache"
    assert got["ContentDisposition"] == "attachment"
    assert got["Metadata"] == {"owner": "team-a"}
    assert got["ChecksumCRC32"] == put["ChecksumCRC32"] == expected_checksum("CRC32", body)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(body) and head["ETag"] == put["ETag"]


def expected_checksum(algorithm, body):
    """The checksum as AWS encodes it (base64 of the big-endian digest), computed here, not by the server."""
    digests = {
        "CRC32": lambda: awscrt.checksums.crc32(body).to_bytes(4, "big"),
        "CRC32C": lambda: awscrt.checksums.crc32c(body).to_bytes(4, "big"),
        "CRC64NVME": lambda: awscrt.checksums.crc64nvme(body).to_bytes(8, "big"),
        "SHA1": lambda: hashlib.sha1(body).digest(),
        "SHA256": lambda: hashlib.sha256(body).digest(),
    }
    return base64.b64encode(digests[algorithm]()).decode()


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"])
def test_every_checksum_algorithm(s3, bucket, algorithm):
    body = b"checksummed content\n" * 321
    put = s3.put_object(Bucket=bucket, Key="c", Body=body, ChecksumAlgorithm=algorithm)
    got = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert put["Checksum" + algorithm] == expected_checksum(algorithm, body)
    assert got["Checksum" + algorithm] == expected_checksum(algorithm, body)


def test_streamed_upload_with_checksum_trailer(s3, bucket):
    # upload_fileobj of a non-seekable stream makes botocore send aws-chunked with a trailer.
    class Unseekable(io.RawIOBase):
        def __init__(self, data):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self.inner.read(len(buffer))
            buffer[:len(chunk)] = chunk
            return len(chunk)

    data = bytes(range(256)) * 4096
    s3.upload_fileobj(Unseekable(data), bucket, "streamed")
    assert s3.get_object(Bucket=bucket, Key="streamed")["Body"].read() == data
    # The client's own content coding survives aws-chunked's removal (botocore sends "gzip,aws-chunked").
    s3.upload_fileobj(Unseekable(data), bucket, "coded", ExtraArgs={"ContentEncoding": "gzip"})
    assert s3.head_object(Bucket=bucket, Key="coded")["ContentEncoding"] == "gzip"


def test_ranges(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=2-4")["Body"].read() == b"234"
    part = s3.get_object(Bucket=bucket, Key="r", Range="bytes=7-")
    assert part["Body"].read() == b"789" and part["ContentRange"] == "bytes 7-9/10"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-3")["Body"].read() == b"789"
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-")) == "InvalidRange"


def test_conditional_reads_and_writes(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=etag)) == "304"
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="k", IfMatch='"nope"')) == "PreconditionFailed"
    assert error_code(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfNoneMatch="*")) == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfMatch=etag)
    assert error_code(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"v3", IfMatch=etag)) == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    s3.put_object(Bucket=bucket, Key="new", Body=b"first", IfNoneMatch="*")


def test_listing_v2_v1_delimiter_pagination_and_url_encoding(s3, bucket):
    keys = ["a/1", "a/2", "b/1", "c", "d e", "é"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [c["Key"] for c in listed["Contents"]] == sorted(keys, key=lambda k: k.encode())
    grouped = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/", "b/"]
    assert [c["Key"] for c in grouped["Contents"]] == ["c", "d e", "é"]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2})
    assert [c["Key"] for page in pages for c in page.get("Contents", [])] == sorted(keys, key=lambda k: k.encode())
    v1 = s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 4})
    assert [c["Key"] for page in v1 for c in page.get("Contents", [])] == sorted(keys, key=lambda k: k.encode())
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=bucket, Prefix="a/")["Contents"]] == ["a/1", "a/2"]
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=bucket, StartAfter="c")["Contents"]] == ["d e", "é"]


def test_copy_and_metadata_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", ContentType="text/x-src", Metadata={"a": "1"})
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    dst = s3.get_object(Bucket=bucket, Key="dst")
    assert dst["Body"].read() == b"copy me" and dst["ContentType"] == "text/x-src" and dst["Metadata"] == {"a": "1"}
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", ContentType="text/x-new", Metadata={"b": "2"})
    dst = s3.head_object(Bucket=bucket, Key="dst")
    assert dst["ContentType"] == "text/x-new" and dst["Metadata"] == {"b": "2"}
    assert error_code(lambda: s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})) \
        == "InvalidRequest"


def test_delete_and_delete_objects(s3, bucket):
    for key in ["x", "y"]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    s3.delete_object(Bucket=bucket, Key="absent")
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x"}, {"Key": "y"}, {"Key": "z"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["x", "y", "z"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="x")) == "NoSuchKey"


def test_presigned_urls_with_curl(s3, bucket):
    s3.put_object(Bucket=bucket, Key="shared", Body=b"presigned body")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared"}, ExpiresIn=60)
    assert subprocess.run(["curl", "-sf", url], capture_output=True).stdout == b"presigned body"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up"}, ExpiresIn=60)
    subprocess.run(["curl", "-sf", "-X", "PUT", "--data-binary", "uploaded by curl", put_url], check=True)
    assert s3.get_object(Bucket=bucket, Key="up")["Body"].read() == b"uploaded by curl"
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared"}, ExpiresIn=1)
    time.sleep(2)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(expired)
    assert caught.value.code == 403 and b"<Code>AccessDenied</Code>" in caught.value.read()


def test_unsupported_subresources_answer_501(s3, bucket):
    assert error_code(lambda: s3.get_bucket_acl(Bucket=bucket)) == "NotImplemented"
    assert error_code(lambda: s3.get_bucket_tagging(Bucket=bucket)) == "NotImplemented"


def test_wrong_credentials(server, bucket):
    wrong = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                         aws_secret_access_key="wrong", region_name="us-east-1")
    assert error_code(lambda: wrong.list_objects_v2(Bucket=bucket)) == "SignatureDoesNotMatch"
    unknown = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id="NOBODY",
                           aws_secret_access_key="x", region_name="us-east-1")
    assert error_code(lambda: unknown.list_objects_v2(Bucket=bucket)) == "InvalidAccessKeyId"
