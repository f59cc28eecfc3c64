"""The write whose answer never came, made knowable: a named write (`x-palisade-write-id`).

The client's PUT times out. Did it commit? On S3 nobody can say: a HEAD may show someone else's
version, and the PUT may still be in flight and land after the HEAD. Here the client settles the
write's id: "committed" (with the version it made), or "not committed — and it never will be",
after which it simply writes again under a new id. Retrying under the same id is safe too: it is
answered with the first outcome and never stored twice.

Run: python3 examples/timed_out_write.py   (PALISADE_* set as `palisade serve` prints them)
"""
import uuid

import botocore.exceptions

from palisade_locks import call, s3_client

BUCKET, KEY, BODY = "timed-out-write", "invoice-17.json", b'{"invoice": 17, "total": 420}'

write = {"id": "w-" + uuid.uuid4().hex}
client = s3_client()
# A read timeout far shorter than the server's commit, and no retries: the answer is lost.
impatient = s3_client(read_timeout=0.001, retries={"total_max_attempts": 1})
for s3 in (client, impatient):
    s3.meta.events.register("before-sign.s3.PutObject",
                            lambda request, **_: request.headers.__setitem__("x-palisade-write-id", write["id"]))
try:
    client.create_bucket(Bucket=BUCKET)
except botocore.exceptions.ClientError:
    pass

try:
    impatient.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
    print(f"PUT under write id {write['id']}: answered in time")
except botocore.exceptions.ReadTimeoutError:
    print(f"PUT under write id {write['id']}: no answer (read timeout) — did it commit?")

outcome = call("POST", f"/writes/{write['id']}/settle")
if outcome["status"] == "committed":
    print(f"settled: committed, version {outcome['version_id']} at commit sequence {outcome['commit_sequence']}")
else:
    print("settled: not committed, and it never will be — writing again under a new id")
    write["id"] = "w-" + uuid.uuid4().hex
    client.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
    outcome = call("POST", f"/writes/{write['id']}/settle")

retry = client.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
headers = retry["ResponseMetadata"]["HTTPHeaders"]
print(f"the same write sent again under id {write['id']}: replayed={headers.get('x-palisade-write-replayed')}, "
      f"commit sequence {headers['x-palisade-commit-sequence']} (stored once)")
content = client.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
print(f"the object holds: {content.decode()}")
ok = content == BODY and headers["x-palisade-commit-sequence"] == str(outcome["commit_sequence"])
raise SystemExit(0 if ok else 1)
