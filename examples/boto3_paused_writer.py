"""The paused-writer story with boto3: an event hook adds the fencing headers to every write.

Run: python3 examples/boto3_paused_writer.py   (PALISADE_* set as `palisade serve` prints them)
"""
import time

import botocore.exceptions

from palisade_locks import release, s3_client, take_lock

BUCKET, KEY = "boto3-paused-writer", "report.txt"
LOCK = f"{BUCKET}/{KEY}"

fencing_a, fencing_b = {}, {}
a, b = s3_client(fencing_a), s3_client(fencing_b)
try:
    a.create_bucket(Bucket=BUCKET)
except botocore.exceptions.ClientError:
    pass

lease_a, fencing_a["token"] = take_lock(LOCK, ttl_ms=1000)
fencing_a["lock"] = LOCK
print(f"A holds {LOCK} with fencing token {fencing_a['token']}, then pauses")
time.sleep(2.3)  # past A's TTL and the lock-delay

lease_b, fencing_b["token"] = take_lock(LOCK, ttl_ms=10000)
fencing_b["lock"] = LOCK
b.put_object(Bucket=BUCKET, Key=KEY, Body=b"written by B")
print(f"B holds {LOCK} with fencing token {fencing_b['token']} and writes")
release(lease_b)

try:
    a.put_object(Bucket=BUCKET, Key=KEY, Body=b"written by A")
    raise SystemExit("A's stale write was accepted: this must not happen")
except botocore.exceptions.ClientError as error:
    print(f"A wakes up and writes with token {fencing_a['token']}: refused, {error.response['Error']['Code']}")
release(lease_a)

content = a.get_object(Bucket=BUCKET, Key=KEY)["Body"].read().decode()
print(f"the object holds: {content}")
raise SystemExit(0 if content == "written by B" else 1)
