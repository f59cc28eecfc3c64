"""S3 promises that were untested: copy preconditions, Expect: 100-continue, the size limit, and a
snapshot read over HTTP while the key is overwritten and deleted."""
import http.client
import os
import urllib.parse


from conftest import error_of


def test_copy_preconditions(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"source")["ETag"]
    source = {"Bucket": bucket, "Key": "src"}
    assert error_of(lambda: s3.copy_object(Bucket=bucket, Key="a", CopySource=source,
                                           CopySourceIfMatch='"0123456789abcdef0123456789abcdef"')) \
        == (412, "PreconditionFailed")
    assert error_of(lambda: s3.copy_object(Bucket=bucket, Key="a", CopySource=source,
                                           CopySourceIfNoneMatch=etag)) == (412, "PreconditionFailed")
    s3.copy_object(Bucket=bucket, Key="a", CopySource=source, CopySourceIfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"source"
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="never-copied"))[0] == 404


def raw_put(s3, server, bucket, key, headers, body=b""):
    """A presigned PUT sent by hand: (status, body)."""
    url = urllib.parse.urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}))
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("PUT", url.path + "?" + url.query, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    if headers.get("Expect") == "100-continue":
        return connection
    connection.send(body)
    response = connection.getresponse()
    return response.status, response.read().decode()


def test_expect_100_continue_and_the_size_limit(s3, server, bucket):
    # Over the limit: refused from its headers, before a byte of body is sent.
    status, text = raw_put(s3, server, bucket, "huge", {"Content-Length": str(6 * 1024 ** 3)})
    assert status == 400 and "<Code>EntityTooLarge</Code>" in text
    # Expect: 100-continue: the server says continue, then stores the body.
    connection = raw_put(s3, server, bucket, "continued", {"Content-Length": "5", "Expect": "100-continue"})
    connection.sock.settimeout(10)
    interim = connection.sock.recv(64)
    assert interim.startswith(b"HTTP/1.1 100"), interim
    connection.send(b"hello")
    response = connection.getresponse()
    assert response.status == 200, response.read()
    assert s3.get_object(Bucket=bucket, Key="continued")["Body"].read() == b"hello"


def test_a_started_get_streams_its_whole_version_across_overwrite_and_delete(s3, server, bucket):
    old = os.urandom(24 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="snap", Body=old)
    url = urllib.parse.urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "snap"}))
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    connection.request("GET", url.path + "?" + url.query)
    response = connection.getresponse()
    assert response.status == 200
    first = response.read(1024 * 1024)
    s3.put_object(Bucket=bucket, Key="snap", Body=b"new version")
    s3.delete_object(Bucket=bucket, Key="snap")
    rest = response.read()
    assert first + rest == old, "the started GET did not stream the version it began with"
    assert error_of(lambda: s3.get_object(Bucket=bucket, Key="snap")) == (404, "NoSuchKey")


def test_delete_objects_names_at_most_1000_keys(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k0", Body=b"kept")
    keys = [{"Key": f"k{index}"} for index in range(1001)]
    assert error_of(lambda: s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})) == (400, "MalformedXML")
    assert s3.get_object(Bucket=bucket, Key="k0")["Body"].read() == b"kept", "a refused batch deleted nothing"
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[:1000]})["Deleted"]
    assert len(deleted) == 1000
