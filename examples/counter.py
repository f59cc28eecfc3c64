"""A read-modify-write counter incremented by several processes under a lock, where holders sometimes
pause past their lease (a GC pause). Without fencing, a paused holder's write overwrites newer
increments: updates are lost. With fencing, its write is refused and it retries: none are lost.

Run: python3 examples/counter.py [--processes 4] [--increments 8]   (PALISADE_* set)
"""
import argparse
import multiprocessing
import random
import time
import uuid

import botocore.exceptions

from palisade_locks import LockAPIError, release, s3_client, take_lock

BUCKET = "counter-example"


def worker(key, increments, fenced, seed):
    random.seed(seed)
    fencing = {}
    s3 = s3_client(fencing)
    done = 0
    while done < increments:
        try:
            lease, token = take_lock(f"{BUCKET}/{key}", ttl_ms=1000)
        except LockAPIError:
            continue
        if fenced:
            fencing.update(lock=f"{BUCKET}/{key}", token=token)
        value = int(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        if random.random() < 0.3:
            time.sleep(2.3)  # paused past the lease (1 s) and the lock-delay (1 s): another process takes the lock
        try:
            s3.put_object(Bucket=BUCKET, Key=key, Body=str(value + 1).encode())
            done += 1
        except botocore.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] in ("StaleFencingToken", "LockNotHeld")
        release(lease)


def run(processes, increments, fenced):
    key = f"counter-{'fenced' if fenced else 'unfenced'}-{uuid.uuid4().hex[:8]}"
    s3 = s3_client()
    try:
        s3.create_bucket(Bucket=BUCKET)
    except botocore.exceptions.ClientError:
        pass
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"0")
    workers = [multiprocessing.Process(target=worker, args=(key, increments, fenced, seed)) for seed in range(processes)]
    for process in workers:
        process.start()
    for process in workers:
        process.join()
    final = int(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    expected = processes * increments
    print(f"{'with' if fenced else 'without'} fencing: {expected} increments acknowledged, counter is {final}, "
          f"lost updates: {expected - final}")
    return expected - final


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--increments", type=int, default=8)
    arguments = parser.parse_args()
    run(arguments.processes, arguments.increments, fenced=False)
    lost = run(arguments.processes, arguments.increments, fenced=True)
    raise SystemExit(0 if lost == 0 else 1)
