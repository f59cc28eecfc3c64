"""Multipart through boto3's API and awscli (`aws s3 cp` of 50 MiB uses multipart), sync, ls, rm."""
import hashlib
import os
import subprocess
import uuid

import botocore.exceptions
import pytest

MIB = 1024 * 1024




def aws(server, *arguments):
    environment = dict(os.environ, AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret_key,
                       AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    result = subprocess.run(["aws", "--endpoint-url", server.endpoint, *arguments], env=environment,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_multipart_api(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="application/x-test",
                                        Metadata={"kind": "multipart"})
    first = os.urandom(5 * MIB)
    second = b"the last part may be small"
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=first)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=2, Body=second)["ETag"]
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload["UploadId"])
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Parts"]] == [(1, e1, len(first)), (2, e2, len(second))]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [upload["UploadId"]]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    expected = hashlib.md5(hashlib.md5(first).digest() + hashlib.md5(second).digest()).hexdigest() + "-2"
    assert done["ETag"] == '"%s"' % expected
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == first + second
    assert got["ContentType"] == "application/x-test" and got["Metadata"] == {"kind": "multipart"}
    part2 = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert part2["Body"].read() == second and part2["PartsCount"] == 2
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_multipart_errors_and_abort(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="bad")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="bad", UploadId=upload, PartNumber=1, Body=b"too small")["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="bad", UploadId=upload, PartNumber=2, Body=b"last")["ETag"]

    def complete(parts):
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            s3.complete_multipart_upload(Bucket=bucket, Key="bad", UploadId=upload, MultipartUpload={"Parts": parts})
        return caught.value.response["Error"]["Code"]

    assert complete([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]) == "EntityTooSmall"
    assert complete([{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]) == "InvalidPartOrder"
    assert complete([{"PartNumber": 1, "ETag": '"0123456789abcdef0123456789abcdef"'}]) == "InvalidPart"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        s3.upload_part(Bucket=bucket, Key="bad", UploadId=upload, PartNumber=10001, Body=b"x")
    assert caught.value.response["Error"]["Code"] == "InvalidArgument"
    s3.abort_multipart_upload(Bucket=bucket, Key="bad", UploadId=upload)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        s3.list_parts(Bucket=bucket, Key="bad", UploadId=upload)
    assert caught.value.response["Error"]["Code"] == "NoSuchUpload"


def test_upload_part_copy(s3, bucket):
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="copied")["UploadId"]
    p1 = s3.upload_part_copy(Bucket=bucket, Key="copied", UploadId=upload, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange=f"bytes=0-{5 * MIB - 1}")
    p2 = s3.upload_part_copy(Bucket=bucket, Key="copied", UploadId=upload, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange=f"bytes={5 * MIB}-{6 * MIB - 1}")
    s3.complete_multipart_upload(Bucket=bucket, Key="copied", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="copied")["Body"].read() == source


def test_awscli_cp_sync_ls_rm(server, bucket, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(50 * MIB))
    aws(server, "s3", "cp", "--only-show-errors", str(big), f"s3://{bucket}/big.bin")
    head = aws(server, "s3api", "head-object", "--bucket", bucket, "--key", "big.bin")
    assert '-7\\""' in head, "aws s3 cp of 50 MiB uploads 7 parts of 8 MiB"
    back = tmp_path / "back.bin"
    aws(server, "s3", "cp", "--only-show-errors", f"s3://{bucket}/big.bin", str(back))
    assert back.read_bytes() == big.read_bytes()

    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.txt").write_text("b")
    aws(server, "s3", "sync", "--only-show-errors", str(tree), f"s3://{bucket}/tree")
    listing = aws(server, "s3", "ls", "--recursive", f"s3://{bucket}/tree")
    assert "tree/a.txt" in listing and "tree/sub/b.txt" in listing
    assert aws(server, "s3", "sync", "--dryrun", str(tree), f"s3://{bucket}/tree") == "", "nothing left to sync"
    aws(server, "s3", "rm", "--only-show-errors", "--recursive", f"s3://{bucket}/tree")
    assert "tree/" not in aws(server, "s3", "ls", "--recursive", f"s3://{bucket}")


def s3cmd(server, *arguments):
    host = server.endpoint.removeprefix("http://")
    result = subprocess.run(
        ["s3cmd", "--config=/dev/null", "--no-ssl", f"--host={host}", f"--host-bucket={host}", "--region=us-east-1",
         f"--access_key={server.access_key}", f"--secret_key={server.secret_key}", *arguments],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_s3cmd(server, tmp_path):
    bucket = "c-" + uuid.uuid4().hex[:12]
    source = tmp_path / "file.txt"
    source.write_text("via s3cmd\n" * 1000)
    s3cmd(server, "mb", f"s3://{bucket}")
    s3cmd(server, "put", str(source), f"s3://{bucket}/dir/file.txt")
    assert "dir/file.txt" in s3cmd(server, "ls", "--recursive", f"s3://{bucket}")
    s3cmd(server, "get", f"s3://{bucket}/dir/file.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == source.read_text()
    s3cmd(server, "del", f"s3://{bucket}/dir/file.txt")
    s3cmd(server, "rb", f"s3://{bucket}")
