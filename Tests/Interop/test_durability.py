"""Durability observed at the system-call level: `palisade serve` runs under strace, and before each
success it sends, every file the acknowledged change depends on (blob, blob folder, the metadata
and lock-state WALs) must have been fsynced after its last write. In relaxed mode none is.

A power loss keeps only what was synced; kill -9 cannot show this (the page cache survives it).
"""
import os
import re
import signal
import tempfile
import time
import uuid

from conftest import Server, call, palisade_binary, s3_client

TRACED = ("openat,mkdir,mkdirat,unlink,unlinkat,write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,"
          "rename,renameat,renameat2")
LINE = re.compile(r"^(?P<pid>\d+)\s+(?:<\.\.\. (?P<resumed>\w+) resumed>|(?P<call>\w+)\()(?P<rest>.*)$")
FD_PATH = re.compile(r"^\d+<(?P<path>[^>]*)>")


class TracedServer:
    """A server under `strace -f -yy`, whose log is read as a list of events."""

    def __init__(self, durability):
        self.log = tempfile.mktemp(prefix="palisade-strace-", suffix=".log")
        wrapper = ["strace", "-f", "-qq", "-yy", "-s", "16", "-e", "trace=" + TRACED, "-o", self.log]
        self.server = Server(palisade_binary(), "", wrapper=wrapper, arguments=["--durability", durability])
        self.data_dir = os.path.realpath(self.server.data_dir)

    def events(self):
        """(kind, path) in the order strace saw them: kind is write, create, sync_start, sync_end or
        respond (a 2xx status line written to a TCP socket)."""
        pending, existing = {}, set()
        with open(self.log, errors="replace") as log:
            for line in log:
                match = LINE.match(line)
                if not match:
                    continue
                pid, rest = match["pid"], match["rest"]
                if match["resumed"]:
                    if match["resumed"] in ("fsync", "fdatasync") and pid in pending:
                        yield "sync_end", pending.pop(pid)
                    continue
                call = match["call"]
                fd = FD_PATH.match(rest)
                path = fd["path"] if fd else ""
                if call in ("fsync", "fdatasync"):
                    yield "sync_start", path
                    if "<unfinished ...>" in rest:
                        pending[pid] = path
                    else:
                        yield "sync_end", path
                elif call in ("write", "writev", "pwrite64", "pwritev", "pwritev2"):
                    if path.startswith("TCP:") and re.search(r'"HTTP/1\.1 2\d\d', rest):
                        yield "respond", path
                    elif path.startswith(self.data_dir):
                        yield "write", path
                elif call in ("mkdir", "mkdirat") and rest.rstrip().endswith("= 0"):
                    created = re.search(r'"([^"]+)"', rest)
                    if created and created[1].startswith(self.data_dir):
                        yield "create", os.path.dirname(created[1])
                elif call == "openat" and "O_CREAT" in rest:
                    created = re.search(r'"([^"]+)"', rest)
                    if created and created[1].startswith(self.data_dir) and created[1] not in existing:
                        existing.add(created[1])
                        yield "create", os.path.dirname(created[1])
                elif call.startswith("unlink"):
                    removed = re.search(r'"([^"]+)"', rest)
                    existing.discard(removed[1] if removed else None)
                elif call.startswith("rename"):
                    paths = re.findall(r'"([^"]+)"', rest)
                    if paths and paths[-1].startswith(self.data_dir):
                        existing.discard(paths[0])
                        existing.add(paths[-1])
                        yield "create", os.path.dirname(paths[-1])

    def stop(self):
        """Stops the traced server itself (strace would only detach on SIGTERM), then strace."""
        tracer = self.server.process.pid
        with open(f"/proc/{tracer}/task/{tracer}/children") as children:
            for child in children.read().split():
                os.kill(int(child), signal.SIGTERM)
        self.server.stop()
        os.unlink(self.log)


def acknowledged_workload(server):
    """Every kind of acknowledged change, one after another: object writes and lock changes."""
    s3 = s3_client(server)
    bucket = "durable-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"x" * 5000)
    s3.put_object(Bucket=bucket, Key="a", Body=b"y" * 5000)  # small: kept inline, in the commit
    s3.put_object(Bucket=bucket, Key="large", Body=b"z" * 100_000)  # past the inline limit: a blob
    s3.copy_object(Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=1, Body=b"p" * 1000)
    s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.delete_object(Bucket=bucket, Key="b")
    status, lease = call(server, "POST", "/_palisade/v1/leases", {"ttl_ms": 60000})
    assert status == 201
    lease_id = lease["lease_id"]
    status, grant = call(server, "POST", "/_palisade/v1/locks/acquire",
                         {"name": bucket + "/a", "lease_id": lease_id, "wait_ms": 0})
    assert status == 200
    assert call(server, "POST", f"/_palisade/v1/leases/{lease_id}/keepalive")[0] == 200
    assert call(server, "POST", "/_palisade/v1/locks/release",
                {"name": bucket + "/a", "lease_id": lease_id, "token": grant["token"]})[0] == 200
    assert call(server, "DELETE", f"/_palisade/v1/leases/{lease_id}")[0] == 200


def trace(durability):
    traced = TracedServer(durability)
    try:
        acknowledged_workload(traced.server)
        time.sleep(0.2)  # let strace write its last lines
        return list(traced.events()), traced.data_dir
    finally:
        traced.stop()


def test_every_durable_acknowledgment_follows_the_sync_of_what_it_wrote():
    events, data_dir = trace("durable")
    dirty, sync_started, written = {}, {}, set()
    clock, responses, unsynced = 0, 0, []
    for kind, path in events:
        clock += 1
        if path.endswith("-shm"):
            continue  # SQLite's shared-memory index: rebuilt from the WAL after a crash
        if kind in ("write", "create"):
            dirty.setdefault(path, clock)
            written.add(path)
        elif kind == "sync_start":
            sync_started[path] = clock
        elif kind == "sync_end":
            started = sync_started.pop(path, clock)
            if path in dirty and dirty[path] < started:
                del dirty[path]
        elif kind == "respond":
            responses += 1
            if dirty:
                unsynced.append(sorted(os.path.relpath(p, data_dir) for p in dirty))
    assert responses >= 14, "every acknowledgment of the workload was seen"
    assert any(p.endswith("metadata.sqlite-wal") for p in written), "the metadata WAL was written"
    assert any(p.endswith("locks.sqlite-wal") for p in written), "the lock-state WAL was written"
    assert any("/blobs/" in p for p in written), "blob files were written"
    assert not unsynced, f"successes sent while these files had unsynced writes: {unsynced}"


def test_relaxed_durability_syncs_no_commit_and_no_blob():
    events, data_dir = trace("relaxed")
    serving = events[next(index for index, (kind, _) in enumerate(events) if kind == "respond"):]
    synced = {os.path.relpath(path, data_dir) for kind, path in serving if kind == "sync_start"}
    assert not {p for p in synced if p.endswith("-wal") or p.startswith("blobs")}, synced
