"""Checksums of multipart objects (Protocol/s3-compatibility.md): composite (the checksum of the parts'
checksums, `-N`) and full-object (the CRC of all the bytes, combined from the parts' CRCs), each
value computed here from the bytes, not taken from the server."""
import base64
import hashlib
import io
import os
import sqlite3
import zlib

import awscrt.checksums
import boto3
import boto3.s3.transfer
import pytest

from conftest import Server, error_of, palisade_binary, signed

MIB = 1024 * 1024
RAW = {
    "CRC32": lambda data: zlib.crc32(data).to_bytes(4, "big"),
    "CRC32C": lambda data: awscrt.checksums.crc32c(data).to_bytes(4, "big"),
    "CRC64NVME": lambda data: awscrt.checksums.crc64nvme(data).to_bytes(8, "big"),
    "SHA1": lambda data: hashlib.sha1(data).digest(),
    "SHA256": lambda data: hashlib.sha256(data).digest(),
}


def b64(raw):
    return base64.b64encode(raw).decode()


def composite(algorithm, parts):
    return b64(RAW[algorithm](b"".join(RAW[algorithm](part) for part in parts))) + f"-{len(parts)}"


def full(algorithm, data):
    return b64(RAW[algorithm](data))


def pieces(sizes):
    """Parts of distinct, non-repeating content."""
    return [hashlib.shake_256(bytes([index])).digest(size) for index, size in enumerate(sizes)]


def upload_parts(s3, bucket, key, parts, algorithm, checksum_type=None, **create):
    extra = {"ChecksumType": checksum_type} if checksum_type else {}
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm, **extra, **create)
    assert upload["ChecksumAlgorithm"] == algorithm
    listed = []
    for number, body in enumerate(parts, start=1):
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=body,
                                ChecksumAlgorithm=algorithm)
        assert answer["Checksum" + algorithm] == full(algorithm, body)
        listed.append({"PartNumber": number, "ETag": answer["ETag"], "Checksum" + algorithm: answer["Checksum" + algorithm]})
    return upload, listed


def test_boto3_upload_file_gets_a_composite_crc32(s3, bucket):
    data = b"".join(pieces([5 * MIB, 5 * MIB, 123]))
    config = boto3.s3.transfer.TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_fileobj(io.BytesIO(data), bucket, "big", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    parts = [data[:5 * MIB], data[5 * MIB:10 * MIB], data[10 * MIB:]]
    assert head["ChecksumCRC32"] == composite("CRC32", parts)
    assert head["ChecksumType"] == "COMPOSITE"
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_checksums_of_every_algorithm(s3, bucket, algorithm):
    parts = pieces([5 * MIB, 1000])
    upload, listed = upload_parts(s3, bucket, "c", parts, algorithm)
    listing = s3.list_parts(Bucket=bucket, Key="c", UploadId=upload["UploadId"])
    assert (listing["ChecksumAlgorithm"], listing["ChecksumType"]) == (algorithm, "COMPOSITE")
    assert [part["Checksum" + algorithm] for part in listing["Parts"]] == [full(algorithm, part) for part in parts]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="c", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": listed})
    assert done["Checksum" + algorithm] == composite(algorithm, parts) and done["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert head["Checksum" + algorithm] == composite(algorithm, parts)


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_checksums_are_checked_at_completion(s3, bucket, algorithm):
    parts = pieces([5 * MIB, 7])
    data = b"".join(parts)
    upload, listed = upload_parts(s3, bucket, "f", parts, algorithm, "FULL_OBJECT")
    complete = lambda value, **extra: s3.complete_multipart_upload(
        Bucket=bucket, Key="f", UploadId=upload["UploadId"], MultipartUpload={"Parts": listed},
        ChecksumType="FULL_OBJECT", **{"Checksum" + algorithm: value}, **extra)
    assert error_of(lambda: complete(full(algorithm, data[1:]))) == (400, "BadDigest")
    assert error_of(lambda: complete(full(algorithm, data), MpuObjectSize=len(data) + 1)) == (400, "InvalidRequest")
    done = complete(full(algorithm, data), MpuObjectSize=len(data))
    assert done["Checksum" + algorithm] == full(algorithm, data) and done["ChecksumType"] == "FULL_OBJECT"
    # botocore checks a full-object checksum of a whole GET itself.
    got = s3.get_object(Bucket=bucket, Key="f", ChecksumMode="ENABLED")
    assert got["Checksum" + algorithm] == full(algorithm, data) and got["ChecksumType"] == "FULL_OBJECT"
    assert got["Body"].read() == data


def test_boto3_upload_file_with_a_full_object_crc_is_checked(s3, bucket):
    data = b"".join(pieces([5 * MIB, 5 * MIB, 99]))
    config = boto3.s3.transfer.TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_fileobj(io.BytesIO(data), bucket, "ok", Config=config, ExtraArgs={"ChecksumCRC32": full("CRC32", data)})
    assert s3.head_object(Bucket=bucket, Key="ok", ChecksumMode="ENABLED")["ChecksumType"] == "FULL_OBJECT"
    with pytest.raises(Exception, match="BadDigest"):
        s3.upload_fileobj(io.BytesIO(data), bucket, "bad", Config=config,
                          ExtraArgs={"ChecksumCRC32": full("CRC32", data + b"x")})
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="bad")) == (404, "404")


def test_bad_checksum_requests_are_refused_and_change_nothing(server, s3, bucket):
    for algorithm, checksum_type in [("SHA256", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE")]:
        assert error_of(lambda: s3.create_multipart_upload(
            Bucket=bucket, Key="k", ChecksumAlgorithm=algorithm, ChecksumType=checksum_type)) == (400, "InvalidRequest")
    for headers in [{"x-amz-checksum-type": "COMPOSITE"}, {"x-amz-checksum-algorithm": "MD4"},
                    {"x-amz-checksum-algorithm": "CRC32", "x-amz-checksum-type": "PARTIAL"}]:
        refused = signed(server, "POST", f"/{bucket}/k?uploads", headers=headers)
        assert refused.status_code == 400 and b"<Code>InvalidRequest</Code>" in refused.content
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    parts = pieces([5 * MIB, 10])
    upload, listed = upload_parts(s3, bucket, "k", parts, "CRC32")
    assert error_of(lambda: s3.upload_part(Bucket=bucket, Key="k", UploadId=upload["UploadId"], PartNumber=3,
                                           Body=b"x", ChecksumAlgorithm="SHA256")) == (400, "InvalidRequest")
    without = [{"PartNumber": part["PartNumber"], "ETag": part["ETag"]} for part in listed]
    attempts = [
        ({"Parts": without}, {}, "InvalidRequest"),  # a composite upload needs every part's checksum
        ({"Parts": [listed[0], dict(listed[1], ChecksumCRC32=listed[0]["ChecksumCRC32"])]}, {}, "InvalidPart"),
        ({"Parts": listed}, {"ChecksumType": "FULL_OBJECT"}, "InvalidRequest"),
        ({"Parts": listed}, {"ChecksumCRC32": composite("CRC32", parts[::-1])}, "BadDigest"),
    ]
    for document, extra, code in attempts:
        assert error_of(lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=upload["UploadId"], MultipartUpload=document, **extra)) == (400, code)
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="k")) == (404, "404")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": listed},
                                        ChecksumCRC32=composite("CRC32", parts).split("-")[0])
    assert done["ChecksumCRC32"] == composite("CRC32", parts)


def test_a_data_folder_from_before_multipart_checksums_opens_and_gains_them(tmp_path):
    """The tables of an older version (no checksum columns) get them when the server starts."""
    binary = palisade_binary()
    first = Server(binary, os.path.dirname(binary), data_dir=str(tmp_path))
    first.stop()
    database = sqlite3.connect(tmp_path / "metadata.sqlite")
    for table, column in [("upload", "checksum_algorithm"), ("upload", "checksum_type"), ("part", "checksum")]:
        database.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    database.commit()
    database.close()
    again = Server(binary, os.path.dirname(binary), data_dir=str(tmp_path))
    try:
        s3 = boto3.client("s3", endpoint_url=again.endpoint, aws_access_key_id=again.access_key,
                        aws_secret_access_key=again.secret_key, region_name="us-east-1")
        s3.create_bucket(Bucket="old")
        parts = pieces([5 * MIB, 3])
        upload, listed = upload_parts(s3, "old", "k", parts, "SHA1")
        done = s3.complete_multipart_upload(Bucket="old", Key="k", UploadId=upload["UploadId"],
                                            MultipartUpload={"Parts": listed})
        assert done["ChecksumSHA1"] == composite("SHA1", parts)
    finally:
        again.stop()
