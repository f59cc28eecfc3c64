"""Shutdown drains with a bound: a client that opened a large GET and reads nothing does not keep
`palisade serve` from exiting after SIGTERM (`--shutdown-grace`)."""
import signal
import socket
import time
import uuid

from conftest import Server, palisade_binary, s3_client


def test_a_slow_reader_does_not_hold_up_shutdown_past_the_grace():
    server = Server(palisade_binary(), "", arguments=["--shutdown-grace", "1s"])
    reader = None
    try:
        s3 = s3_client(server)
        bucket = "grace-" + uuid.uuid4().hex[:8]
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="big", Body=b"b" * (64 * 1024 * 1024))
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "big"}, ExpiresIn=600)
        path = url[len(server.endpoint):]
        reader = socket.create_connection(("127.0.0.1", server.port))
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        assert reader.recv(12).startswith(b"HTTP/1.1 200")
        time.sleep(0.5)  # the server fills the socket's buffers, then waits for the reader
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=30)
        elapsed = time.monotonic() - started
        assert code == 0
        assert elapsed < 10, f"shutdown took {elapsed:.1f} s with a 1 s grace"
    finally:
        if reader:
            reader.close()
        server.stop()
