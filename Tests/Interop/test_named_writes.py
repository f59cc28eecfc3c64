"""Named writes (`x-palisade-write-id`, Protocol/s3-compatibility.md#named-writes): a write whose
answer was lost is retried under the same id and answered with its first outcome, never written
twice; `/_palisade/v1/writes/ID/settle` answers "committed" or "not committed — and it never will
be", even for a write still in flight; a fenced write's retry is not refused as stale."""
import socket
import urllib.parse
import uuid

from conftest import call, signed

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def write_id():
    return "w-" + uuid.uuid4().hex


def test_a_retried_put_is_answered_with_the_first_outcome(server, s3, bucket):
    name = write_id()
    first = signed(server, "PUT", f"/{bucket}/k", {"x-palisade-write-id": name}, b"first attempt")
    assert first.status_code == 200 and "x-palisade-write-replayed" not in first.headers
    s3.put_object(Bucket=bucket, Key="k", Body=b"someone else, later")
    retry = signed(server, "PUT", f"/{bucket}/k", {"x-palisade-write-id": name}, b"the retry's body")
    assert retry.status_code == 200 and retry.headers["x-palisade-write-replayed"] == "true"
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert retry.headers["x-palisade-commit-sequence"] == first.headers["x-palisade-commit-sequence"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"someone else, later", "nothing written twice"
    status, outcome = call(server, "GET", f"/_palisade/v1/writes/{name}")
    assert status == 200 and outcome["status"] == "committed" and outcome["operation"] == "put"
    assert (outcome["bucket"], outcome["key"]) == (bucket, "k")
    assert f'"{outcome["etag"]}"' == first.headers["ETag"]
    assert str(outcome["commit_sequence"]) == first.headers["x-palisade-commit-sequence"]
    # The same id for another write is a client bug, said so.
    other = signed(server, "PUT", f"/{bucket}/elsewhere", {"x-palisade-write-id": name}, b"x")
    assert other.status_code == 409 and b"<Code>WriteIdMismatch</Code>" in other.content


def test_retried_deletes_copies_and_completions(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="doomed", Body=b"x")
    name = write_id()
    first = signed(server, "DELETE", f"/{bucket}/doomed", {"x-palisade-write-id": name})
    s3.put_object(Bucket=bucket, Key="doomed", Body=b"recreated")
    retry = signed(server, "DELETE", f"/{bucket}/doomed", {"x-palisade-write-id": name})
    assert (first.status_code, retry.status_code) == (204, 204)
    assert retry.headers["x-palisade-commit-sequence"] == first.headers["x-palisade-commit-sequence"]
    assert s3.get_object(Bucket=bucket, Key="doomed")["Body"].read() == b"recreated"

    s3.put_object(Bucket=bucket, Key="source", Body=b"copied")
    copy = {"x-amz-copy-source": f"/{bucket}/source", "x-palisade-write-id": write_id()}
    first, retry = (signed(server, "PUT", f"/{bucket}/copy", copy) for _ in range(2))
    assert retry.headers["x-palisade-write-replayed"] == "true"
    assert first.headers["x-palisade-commit-sequence"] == retry.headers["x-palisade-commit-sequence"]

    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")["ETag"]
    document = f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>" \
               "</CompleteMultipartUpload>".encode()
    name = write_id()
    first = signed(server, "POST", f"/{bucket}/mp?uploadId={upload}", {"x-palisade-write-id": name}, document)
    retry = signed(server, "POST", f"/{bucket}/mp?uploadId={upload}", {"x-palisade-write-id": name}, document)
    assert (first.status_code, retry.status_code) == (200, 200) and first.content == retry.content
    status, outcome = call(server, "POST", f"/_palisade/v1/writes/{name}/settle")
    assert outcome["status"] == "committed" and outcome["key"] == "mp"


def test_settling_an_unknown_write_makes_not_committed_final(server, s3, bucket):
    name = write_id()
    status, unknown = call(server, "GET", f"/_palisade/v1/writes/{name}")
    assert (status, unknown["status"]) == (200, "unknown")
    status, settled = call(server, "POST", f"/_palisade/v1/writes/{name}/settle")
    assert (status, settled["status"]) == (200, "not_committed")
    late = signed(server, "PUT", f"/{bucket}/k", {"x-palisade-write-id": name}, b"too late")
    assert late.status_code == 409 and b"<Code>WriteIdAbandoned</Code>" in late.content
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert call(server, "POST", f"/_palisade/v1/writes/{name}/settle")[1]["status"] == "not_committed"
    for bad in ["has%20space", "x" * 129]:
        status, error = call(server, "GET", f"/_palisade/v1/writes/{bad}")
        assert (status, error["code"]) == (400, "InvalidArgument")


def test_a_write_in_flight_when_it_is_settled_never_commits(server, s3, bucket):
    """The seed's case: the client's PUT stalls mid-body (its answer will never come), the client
    asks what became of it and is told "not committed"; then the stalled body arrives."""
    name = write_id()
    body = b"x" * 1000
    url = urllib.parse.urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"}))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                           f"Content-Length: {len(body)}\r\nx-palisade-write-id: {name}\r\n\r\n".encode()
                           + body[:100])
        status, settled = call(server, "POST", f"/_palisade/v1/writes/{name}/settle")
        assert settled["status"] == "not_committed"
        connection.sendall(body[100:])
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 409") and b"WriteIdAbandoned" in answer, answer
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_a_fenced_write_retried_after_a_newer_holder_wrote_is_answered_not_refused(server, s3, bucket):
    lock = f"{bucket}/k"
    status, lease = call(server, "POST", "/_palisade/v1/leases", {"ttl_ms": 10000})
    status, grant = call(server, "POST", "/_palisade/v1/locks/acquire",
                         {"name": lock, "lease_id": lease["lease_id"], "wait_ms": 1000})
    fenced = {"x-palisade-lock": lock, "x-palisade-fencing-token": str(grant["token"]),
              "x-palisade-write-id": write_id()}
    first = signed(server, "PUT", f"/{bucket}/k", fenced, b"holder one")
    assert first.status_code == 200
    call(server, "POST", "/_palisade/v1/locks/release",
         {"name": lock, "lease_id": lease["lease_id"], "token": grant["token"]})
    status, newer = call(server, "POST", "/_palisade/v1/locks/acquire",
                         {"name": lock, "lease_id": lease["lease_id"], "wait_ms": 1000})
    signed(server, "PUT", f"/{bucket}/k", {"x-palisade-lock": lock,
                                           "x-palisade-fencing-token": str(newer["token"])}, b"holder two")
    retry = signed(server, "PUT", f"/{bucket}/k", fenced, b"holder one")
    assert retry.status_code == 200 and retry.headers["x-palisade-write-replayed"] == "true"
    unnamed = dict(fenced)
    del unnamed["x-palisade-write-id"]
    stale = signed(server, "PUT", f"/{bucket}/k", unnamed, b"holder one")
    assert stale.status_code == 409 and b"StaleFencingToken" in stale.content
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"holder two"
    call(server, "DELETE", f"/_palisade/v1/leases/{lease['lease_id']}")
