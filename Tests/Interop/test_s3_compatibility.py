"""S3 behaviours real clients and others' test suites rely on (Protocol/s3-compatibility.md): retried
completions, unknown uploads, conditional writes and deletes, bucket creation and listing, part
reads, copy sources, listing encodings — and never a wrong success for a feature Palisade lacks."""
import os
import subprocess
import time
import uuid
import xml.etree.ElementTree as ElementTree

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import pytest
import requests

from conftest import error_of, signed

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
MIB = 1024 * 1024


def error_code(response):
    """The status and `<Code>` of an S3 error response."""
    return response.status_code, ElementTree.fromstring(response.content).findtext("Code")


# Never a wrong success: write headers for features Palisade does not have.

@pytest.mark.parametrize("headers", [
    {"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z"},
    {"x-amz-object-lock-legal-hold": "ON"},
    {"x-amz-server-side-encryption": "AES256"},
    {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "k"},
    {"x-amz-server-side-encryption-customer-algorithm": "AES256",
     "x-amz-server-side-encryption-customer-key": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
     "x-amz-server-side-encryption-customer-key-md5": "zZ5FnqcIqUjVwvWmyog4zw=="},
    {"x-amz-tagging": "team=a"},
    {"x-amz-storage-class": "GLACIER"},
    {"x-amz-acl": "public-read"},
    {"x-amz-grant-read": "uri=http://acs.amazonaws.com/groups/global/AllUsers"},
    {"x-amz-website-redirect-location": "/elsewhere"},
    {"x-amz-server-side-encryption-bucket-key-enabled": "true"},
    {"x-amz-copy-source-server-side-encryption-customer-algorithm": "AES256"},
], ids=["retention", "legal-hold", "sse-s3", "sse-kms", "sse-c", "tagging", "storage-class", "acl", "grant",
        "redirect", "bucket-key", "copy-source-sse-c"])
def test_a_write_asking_for_a_missing_feature_is_refused_and_stores_nothing(server, s3, bucket, headers):
    for method, path in [("PUT", f"/{bucket}/k"), ("POST", f"/{bucket}/k?uploads")]:
        assert error_code(signed(server, method, path, headers, b"data")) == (501, "NotImplemented"), (method, path)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    copy = {"x-amz-copy-source": f"/{bucket}/src", "x-amz-metadata-directive": "REPLACE", **headers}
    assert error_code(signed(server, "PUT", f"/{bucket}/copy", copy)) == (501, "NotImplemented")
    assert "copy" not in [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]


def test_invalid_values_get_the_aws_error_and_default_values_are_accepted(server, s3, bucket):
    assert error_code(signed(server, "PUT", f"/{bucket}/k", {"x-amz-storage-class": "FAST"}, b"x")) \
        == (400, "InvalidStorageClass")
    assert error_code(signed(server, "PUT", f"/{bucket}/k", {"x-amz-server-side-encryption": "ROT13"}, b"x")) \
        == (400, "InvalidArgument")
    assert error_code(signed(server, "PUT", f"/{bucket}/k", {"x-amz-acl": "very-public"}, b"x")) \
        == (400, "InvalidArgument")
    # What rclone, s3cmd and the SDKs send by default is the default here too.
    defaults = {"x-amz-acl": "private", "x-amz-storage-class": "STANDARD", "x-amz-object-lock-legal-hold": "OFF"}
    assert signed(server, "PUT", f"/{bucket}/k", defaults, b"x").status_code == 200
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_a_bucket_with_object_lock_or_a_public_acl_is_refused(server, s3):
    name = "t-" + uuid.uuid4().hex[:12]
    assert error_code(signed(server, "PUT", f"/{name}", {"x-amz-bucket-object-lock-enabled": "true"})) \
        == (501, "NotImplemented")
    assert error_code(signed(server, "PUT", f"/{name}", {"x-amz-acl": "public-read-write"})) \
        == (501, "NotImplemented")
    assert name not in [entry["Name"] for entry in s3.list_buckets()["Buckets"]]
    assert signed(server, "PUT", f"/{name}", {"x-amz-acl": "private",
                                              "x-amz-object-ownership": "BucketOwnerEnforced"}).status_code == 200


def test_an_sse_c_read_of_a_plain_object_is_refused(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"plain")
    headers = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
               "x-amz-server-side-encryption-customer-key": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
               "x-amz-server-side-encryption-customer-key-md5": "zZ5FnqcIqUjVwvWmyog4zw=="}
    assert error_code(signed(server, "GET", f"/{bucket}/k", headers)) == (501, "NotImplemented")


def test_browser_post_and_versioning_probes(server, s3, bucket):
    post = s3.generate_presigned_post(bucket, "form-upload")
    form = signed(server, "POST", f"/{bucket}", {"Content-Type": "multipart/form-data; boundary=x"},
                  b"--x\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nform-upload\r\n--x--\r\n")
    assert post["fields"]["key"] == "form-upload"
    assert error_code(form) == (501, "NotImplemented")
    assert b"POST" in form.content
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") is None
    response = signed(server, "GET", f"/{bucket}?versioning")
    assert response.status_code == 200
    assert ElementTree.fromstring(response.content).tag == NS + "VersioningConfiguration"
    assert error_of(lambda: s3.get_bucket_versioning(Bucket="t-" + uuid.uuid4().hex[:12])) == (404, "NoSuchBucket")
    assert error_of(lambda: s3.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})) == (501, "NotImplemented")


# Buckets.

def test_creating_a_bucket_you_own_in_us_east_1_succeeds_and_changes_nothing(s3, bucket):
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    s3.create_bucket(Bucket=bucket)
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["kept"]
    assert error_of(lambda: s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})) \
        == (409, "BucketAlreadyOwnedByYou")


def test_list_buckets_pages_by_prefix_and_continuation_token(server, s3):
    prefix = "p-" + uuid.uuid4().hex[:8] + "-"
    names = [prefix + str(index) for index in range(5)]
    for name in names:
        s3.create_bucket(Bucket=name)
    seen, token = [], None
    while True:
        arguments = {"Prefix": prefix, "MaxBuckets": 2, **({"ContinuationToken": token} if token else {})}
        page = s3.list_buckets(**arguments)
        assert len(page["Buckets"]) <= 2 and page["Prefix"] == prefix
        seen += [entry["Name"] for entry in page["Buckets"]]
        token = page.get("ContinuationToken")
        if not token:
            break
    assert seen == sorted(names)
    assert prefix + "0" in [entry["Name"] for entry in s3.list_buckets()["Buckets"]]
    assert error_code(signed(server, "GET", "/?max-buckets=0")) == (400, "InvalidArgument")
    assert error_code(signed(server, "GET", "/?continuation-token=%25%25")) == (400, "InvalidArgument")
    for name in names:
        s3.delete_bucket(Bucket=name)


# Multipart uploads.

def make_upload(s3, bucket, key, parts):
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    listed = []
    for number, body in parts:
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body)["ETag"]
        listed.append({"PartNumber": number, "ETag": etag})
    return upload, listed


def test_a_repeated_completion_answers_the_first_result_and_changes_nothing(s3, bucket):
    upload, parts = make_upload(s3, bucket, "mp", [(1, b"a" * 5 * MIB), (2, b"b")])
    first = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    sequence = s3.head_object(Bucket=bucket, Key="mp")["ResponseMetadata"]["HTTPHeaders"]["x-palisade-commit-sequence"]
    again = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    assert again["ETag"] == first["ETag"] and again["Key"] == "mp"
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-palisade-commit-sequence"] == sequence
    # Overwritten since: the retry still answers the completion it retries, and does not undo the overwrite.
    s3.put_object(Bucket=bucket, Key="mp", Body=b"newer")
    assert s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                        MultipartUpload={"Parts": parts})["ETag"] == first["ETag"]
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"newer"
    # The same upload id under another key is not that completion.
    assert error_of(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="other", UploadId=upload, MultipartUpload={"Parts": parts})) == (404, "NoSuchUpload")


@pytest.mark.parametrize("unknown", [uuid.uuid4().hex, "../../x", "z" * 4000, str(uuid.uuid4())],
                         ids=["unknown", "path", "long", "dashed"])
def test_an_unknown_upload_is_no_such_upload_everywhere(s3, bucket, unknown):
    """Also an id the server could not have made (checked with libuuid's uuid_parse before any lookup)."""
    parts = {"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]}
    for attempt in [
        lambda: s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=unknown, MultipartUpload=parts),
        lambda: s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=unknown),
        lambda: s3.upload_part(Bucket=bucket, Key="k", UploadId=unknown, PartNumber=1, Body=b"x"),
        lambda: s3.list_parts(Bucket=bucket, Key="k", UploadId=unknown),
    ]:
        assert error_of(attempt) == (404, "NoSuchUpload")


def test_a_part_listed_twice_uses_its_latest_upload(s3, bucket):
    upload, parts = make_upload(s3, bucket, "mp", [(1, b"first" * MIB), (2, b"tail")])
    latest = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"later" * MIB)["ETag"]
    listed = [{"PartNumber": 1, "ETag": latest}, {"PartNumber": 2, "ETag": parts[1]["ETag"]}]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": listed})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"later" * MIB + b"tail"


# Conditional writes.

def test_if_match_on_a_missing_key_is_no_such_key(s3, bucket):
    assert error_of(lambda: s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch='"' + "0" * 32 + '"')) \
        == (404, "NoSuchKey")
    assert error_of(lambda: s3.delete_object(Bucket=bucket, Key="absent", IfMatch='"' + "0" * 32 + '"')) \
        == (404, "NoSuchKey")


def test_if_match_any_and_if_none_match_an_etag_on_put(server, s3, bucket):
    assert error_code(signed(server, "PUT", f"/{bucket}/k", {"If-Match": "*"}, b"x")) == (404, "NoSuchKey")
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["ETag"]
    assert signed(server, "PUT", f"/{bucket}/k", {"If-Match": "*"}, b"two").status_code == 200
    current = s3.head_object(Bucket=bucket, Key="k")["ETag"]
    assert error_code(signed(server, "PUT", f"/{bucket}/k", {"If-None-Match": current}, b"three")) \
        == (412, "PreconditionFailed")
    assert signed(server, "PUT", f"/{bucket}/k", {"If-None-Match": etag}, b"four").status_code == 200
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"four"


def test_conditional_completion(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="mp", Body=b"old")
    current = s3.head_object(Bucket=bucket, Key="mp")["ETag"]
    upload, parts = make_upload(s3, bucket, "mp", [(1, b"new")])
    document = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{part['PartNumber']}</PartNumber><ETag>{part['ETag']}</ETag></Part>" for part in parts
    ) + "</CompleteMultipartUpload>"
    path = f"/{bucket}/mp?uploadId={upload}"
    assert error_code(signed(server, "POST", path, {"If-None-Match": current}, document.encode())) \
        == (412, "PreconditionFailed")
    assert signed(server, "POST", path, {"If-Match": "*"}, document.encode()).status_code == 200
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"new"


def test_conditional_deletes(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    assert error_of(lambda: s3.delete_object(Bucket=bucket, Key="k", IfMatch='"' + "0" * 32 + '"')) \
        == (412, "PreconditionFailed")
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag)
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="k"))[0] == 404
    kept = s3.put_object(Bucket=bucket, Key="kept", Body=b"1")["ETag"]
    gone = s3.put_object(Bucket=bucket, Key="gone", Body=b"2")["ETag"]
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "kept", "ETag": '"' + "0" * 32 + '"'}, {"Key": "gone", "ETag": gone}]})
    assert [entry["Key"] for entry in result["Deleted"]] == ["gone"]
    assert [(entry["Key"], entry["Code"]) for entry in result["Errors"]] == [("kept", "PreconditionFailed")]
    assert s3.head_object(Bucket=bucket, Key="kept")["ETag"] == kept


# Reads of parts, copies of parts.

def test_part_numbers_beyond_the_object_are_invalid_part(s3, bucket):
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    assert s3.get_object(Bucket=bucket, Key="plain", PartNumber=1)["Body"].read() == b"plain"
    assert error_of(lambda: s3.get_object(Bucket=bucket, Key="plain", PartNumber=2)) == (400, "InvalidPart")
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="plain", PartNumber=2))[0] == 400
    upload, parts = make_upload(s3, bucket, "mp", [(1, b"a" * 5 * MIB), (2, b"b")])
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)["Body"].read() == b"b"
    assert error_of(lambda: s3.get_object(Bucket=bucket, Key="mp", PartNumber=3)) == (400, "InvalidPart")


def test_upload_part_copy_sources(s3, bucket):
    s3.put_object(Bucket=bucket, Key="what?versionId=1", Body=b"question")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="dest")["UploadId"]
    source = {"Bucket": bucket, "Key": "what?versionId=1"}
    copied = s3.upload_part_copy(Bucket=bucket, Key="dest", UploadId=upload, PartNumber=1, CopySource=source)
    assert copied["CopyPartResult"]["ETag"]
    assert error_of(lambda: s3.upload_part_copy(Bucket=bucket, Key="dest", UploadId=upload, PartNumber=2,
                                                CopySource=source, CopySourceRange="bytes=0-100")) \
        == (400, "InvalidArgument")  # As AWS: "Range specified is not valid for source object of size: 8".
    for malformed in ["bytes=0-", "bytes=-3", "0-3", "bytes=3-1"]:
        assert error_of(lambda: s3.upload_part_copy(Bucket=bucket, Key="dest", UploadId=upload, PartNumber=2,
                                                    CopySource=source, CopySourceRange=malformed)) \
            == (400, "InvalidArgument"), malformed
    s3.complete_multipart_upload(Bucket=bucket, Key="dest", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="dest")["Body"].read() == b"question"


# Listings.

def test_listing_encodes_only_when_asked(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="line\nbreak/a b", Body=b"x")
    for query in ["list-type=2&delimiter=%2F", "delimiter=%2F"]:
        plain = ElementTree.fromstring(signed(server, "GET", f"/{bucket}?{query}").content)
        assert plain.findtext(f"{NS}CommonPrefixes/{NS}Prefix") == "line\nbreak/"
        encoded = ElementTree.fromstring(signed(server, "GET", f"/{bucket}?{query}&encoding-type=url").content)
        assert encoded.findtext(f"{NS}CommonPrefixes/{NS}Prefix") == "line%0Abreak/"
        assert encoded.findtext(f"{NS}Delimiter") == "/" and encoded.findtext(f"{NS}EncodingType") == "url"
    plain = ElementTree.fromstring(signed(server, "GET", f"/{bucket}?list-type=2&prefix=line%0A").content)
    assert plain.findtext(f"{NS}Prefix") == "line\n" and plain.findtext(f"{NS}Contents/{NS}Key") == "line\nbreak/a b"


def test_max_keys_zero_lists_nothing_and_is_not_truncated_when_empty(s3, bucket):
    empty = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert empty["KeyCount"] == 0 and empty["IsTruncated"] is False
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    for page in [s3.list_objects_v2(Bucket=bucket, MaxKeys=0), s3.list_objects(Bucket=bucket, MaxKeys=0)]:
        assert "Contents" not in page and page["MaxKeys"] == 0
    assert s3.list_objects_v2(Bucket=bucket, MaxKeys=0)["KeyCount"] == 0


# Presigned URLs.

def test_presigned_url_expiry_answers_as_aws(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    time.sleep(2)
    response = requests.get(expired, timeout=10)
    assert error_code(response) == (403, "AccessDenied")
    assert ElementTree.fromstring(response.content).findtext("Message").startswith("Request has expired")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    for value, message in [("604801", "X-Amz-Expires must be less than a week (in seconds) that is 604800"),
                           ("-1", "X-Amz-Expires must be non-negative")]:
        response = requests.get(url.replace("X-Amz-Expires=60", f"X-Amz-Expires={value}"), timeout=10)
        assert error_code(response) == (400, "AuthorizationQueryParametersError")
        assert ElementTree.fromstring(response.content).findtext("Message") == message


# AWS Signature Version 2.

def sigv2_client(server, secret=None):
    return boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                        aws_secret_access_key=secret or server.secret_key, region_name="us-east-1",
                        config=botocore.config.Config(signature_version="s3"))


def test_sigv2_header_signed_requests_work_as_sigv4_ones(server, s3, bucket):
    v2 = sigv2_client(server)
    v2.put_object(Bucket=bucket, Key="dir/ü k", Body=b"signed with v2", Metadata={"owner": "v2"},
                  ContentType="text/plain")
    got = v2.get_object(Bucket=bucket, Key="dir/ü k")
    assert got["Body"].read() == b"signed with v2" and got["Metadata"] == {"owner": "v2"}
    assert [item["Key"] for item in v2.list_objects_v2(Bucket=bucket, Prefix="dir/")["Contents"]] == ["dir/ü k"]
    upload = v2.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = v2.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")["ETag"]
    v2.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    v2.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "mp"})
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"part"
    v2.delete_object(Bucket=bucket, Key="copy")
    assert error_of(lambda: sigv2_client(server, secret="wrong").list_objects(Bucket=bucket)) \
        == (403, "SignatureDoesNotMatch")


def test_a_header_added_to_a_sigv2_request_breaks_its_signature(server, bucket):
    request = botocore.awsrequest.AWSRequest(method="PUT", url=f"{server.endpoint}/{bucket}/k", data=b"x",
                                             headers={"x-amz-meta-a": "1"})
    botocore.auth.HmacV1Auth(botocore.credentials.Credentials(server.access_key, server.secret_key)) \
        .add_auth(request)
    prepared = request.prepare()
    honest = dict(prepared.headers)
    for tampered in [{**honest, "x-amz-meta-a": "2"}, {**honest, "x-amz-copy-source": f"/{bucket}/k"},
                     {**honest, "Content-Type": "text/html"}]:
        response = requests.put(prepared.url, headers=tampered, data=b"x", timeout=10)
        assert error_code(response) == (403, "SignatureDoesNotMatch"), tampered
    assert requests.put(prepared.url, headers=honest, data=b"x", timeout=10).status_code == 200
    stale = dict(honest, Date="Mon, 01 Jan 2024 00:00:00 GMT")
    assert error_code(requests.put(prepared.url, headers=stale, data=b"x", timeout=10))[0] == 403


def test_boto3_default_presigned_urls_are_sigv2_and_work(server, s3, bucket):
    default = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                           aws_secret_access_key=server.secret_key, region_name="us-east-1")
    put = default.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "shared"})
    assert "AWSAccessKeyId=" in put and "Signature=" in put, put
    assert requests.put(put, data=b"presigned v2", timeout=10).status_code == 200
    get = default.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared"})
    assert requests.get(get, timeout=10).content == b"presigned v2"
    other_key = get.replace("/shared?", "/other?")
    assert error_code(requests.get(other_key, timeout=10)) == (403, "SignatureDoesNotMatch")
    expired = default.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared"}, ExpiresIn=1)
    time.sleep(2)
    response = requests.get(expired, timeout=10)
    assert error_code(response) == (403, "AccessDenied")
    assert ElementTree.fromstring(response.content).findtext("Message") == "Request has expired"


def test_a_bucket_whose_only_content_is_uploads_in_progress_is_deleted_as_on_aws(s3):
    name = "t-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    upload = s3.create_multipart_upload(Bucket=name, Key="unfinished")["UploadId"]
    s3.upload_part(Bucket=name, Key="unfinished", UploadId=upload, PartNumber=1, Body=b"part")
    s3.delete_bucket(Bucket=name)
    assert error_of(lambda: s3.head_bucket(Bucket=name))[0] == 404
    s3.create_bucket(Bucket=name)
    assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
    assert error_of(lambda: s3.list_parts(Bucket=name, Key="unfinished", UploadId=upload)) == (404, "NoSuchUpload")
    s3.delete_bucket(Bucket=name)


# Bodies and metadata.

def test_a_put_streamed_with_chunked_transfer_encoding_and_no_length_is_stored(s3, bucket):
    data = os.urandom(300 * 1024)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "streamed"})
    result = subprocess.run(["curl", "-sS", "-w", "%{http_code}", "-o", "/dev/null", "-T", "-", url],
                            input=data, capture_output=True, timeout=60)
    assert result.stdout == b"200", result.stdout + result.stderr
    assert s3.get_object(Bucket=bucket, Key="streamed")["Body"].read() == data
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part_url = s3.generate_presigned_url("upload_part", Params={"Bucket": bucket, "Key": "mp", "UploadId": upload,
                                                                "PartNumber": 1})
    result = subprocess.run(["curl", "-sS", "-D", "-", "-o", "/dev/null", "-T", "-", part_url],
                            input=b"part bytes", capture_output=True, timeout=60)
    assert b"HTTP/1.1 200 OK" in result.stdout, result.stdout
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)["Parts"][0]["Size"] == len(b"part bytes")
