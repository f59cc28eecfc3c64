"""What a crash costs in cluster mode, measured on the gateways and etcd members that run.sh started:

1. a gateway dies (kill -9) under a client that writes through it and knows the others: how long
   until its writes succeed again (the client moves on at the refused connection, as LockClient and
   ObjectClient do);
2. a lock holder dies with its gateway: how long until the waiting client, on another gateway, is
   granted the lock (the rest of the holder's lease, then the lock-delay), and writes with it;
3. the etcd leader dies (kill -9): how long writes through a gateway stall (a new leader is elected).

It kills what it measures: run it last. Prints one line per figure.
"""
import argparse
import json
import os
import signal
import threading
import time

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import requests

CREDENTIALS = botocore.credentials.Credentials(os.environ["PALISADE_ACCESS_KEY"], os.environ["PALISADE_SECRET_KEY"])


def send(endpoint, method, path, body=b"", headers=None, timeout=5):
    request = botocore.awsrequest.AWSRequest(method=method, url=endpoint + path, data=body, headers=headers or {})
    botocore.auth.S3SigV4Auth(CREDENTIALS, "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    return requests.request(method, prepared.url, headers=dict(prepared.headers), data=body, timeout=timeout)


def lock_api(endpoint, path, body, timeout=35):
    data = json.dumps(body).encode()
    response = send(endpoint, "POST", "/_palisade/v1" + path, data, {"content-type": "application/json"}, timeout)
    assert response.status_code in (200, 201), response.text
    return response.json()


class FailoverWriter:
    """Writes through the first gateway of a list, and moves to the next when one cannot be reached."""

    def __init__(self, endpoints):
        self.endpoints = list(endpoints)
        self.successes = []

    def put(self, key, headers=None):
        try:
            response = send(self.endpoints[0], "PUT", f"/crash-cost/{key}", b"x" * 4096, headers, timeout=2)
        except requests.RequestException:
            self.endpoints.append(self.endpoints.pop(0))
            return False
        if response.status_code == 503:
            self.endpoints.append(self.endpoints.pop(0))
        if response.status_code == 200:
            self.successes.append(time.monotonic())
            return True
        return False


def write_gap(endpoints, kill, seconds=4.0):
    """The longest wait between two acknowledged writes of a writer looping while `kill()` happens
    (a write in flight at the kill may still be acknowledged just after it: the stall comes next),
    and how many writes were acknowledged after the kill."""
    writer = FailoverWriter(endpoints)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            writer.put("gap")

    thread = threading.Thread(target=loop)
    thread.start()
    time.sleep(1)
    killed = time.monotonic()
    kill()
    time.sleep(seconds)
    stop.set()
    thread.join()
    around = [t for t in writer.successes if t > killed - 0.5] + [time.monotonic()]
    after = [t for t in writer.successes if t > killed]
    return max(later - earlier for earlier, later in zip(around, around[1:])), len(after)


def lock_passes_on(holder_gateway, waiter_gateway, kill, ttl_ms=3000):
    """Seconds from the death of the holder (and its gateway) to the waiter's grant, and to its first
    fenced write."""
    holder = lock_api(holder_gateway, "/leases", {"ttl_ms": ttl_ms})
    lock_api(holder_gateway, "/locks/acquire", {"name": "crash-cost/doc", "lease_id": holder["lease_id"], "wait_ms": 0})
    waiter = lock_api(waiter_gateway, "/leases", {"ttl_ms": 30_000})
    outcome = {}

    def wait_for_the_lock():
        grant = lock_api(waiter_gateway, "/locks/acquire",
                         {"name": "crash-cost/doc", "lease_id": waiter["lease_id"], "wait_ms": 30_000})
        outcome["granted"] = time.monotonic()
        headers = {"x-palisade-lock": "crash-cost/doc", "x-palisade-fencing-token": str(grant["token"])}
        while send(waiter_gateway, "PUT", "/crash-cost/doc", b"y", headers).status_code != 200:
            pass
        outcome["written"] = time.monotonic()

    thread = threading.Thread(target=wait_for_the_lock)
    thread.start()
    time.sleep(0.3)
    died = time.monotonic()
    kill()  # the holder's gateway; the holder itself sends no keep-alive from now on
    thread.join(timeout=60)
    return outcome["granted"] - died, outcome["written"] - died


def etcd_leader(urls):
    """The client URL of the etcd leader."""
    statuses = {url: requests.post(url + "/v3/maintenance/status", data="{}", timeout=5).json() for url in urls}
    leader = next(iter(statuses.values()))["leader"]
    return next(url for url, status in statuses.items() if status["header"]["member_id"] == leader)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", required=True, help="the gateways' URLs, comma-separated")
    parser.add_argument("--gateway-pids", required=True, help="their process ids, space-separated")
    parser.add_argument("--etcd", required=True, help="the etcd members' client URLs, comma-separated")
    parser.add_argument("--etcd-pids", required=True, help="their process ids, space-separated")
    arguments = parser.parse_args()
    gateways = arguments.gateways.split(",")
    gateway_pids = [int(pid) for pid in arguments.gateway_pids.split()]
    members = arguments.etcd.split(",")
    member_pids = dict(zip(members, (int(pid) for pid in arguments.etcd_pids.split())))
    send(gateways[0], "PUT", "/crash-cost")

    print("crash costs (kill -9):")
    gap, writes = write_gap(gateways, lambda: os.kill(gateway_pids[0], signal.SIGKILL))
    print(f"  a gateway dies under a writer that knows the others: the longest wait between two writes, {gap * 1000:.0f} ms "
          f"({writes} acknowledged in the 4 s after)")
    granted, written = lock_passes_on(gateways[1], gateways[2], lambda: os.kill(gateway_pids[1], signal.SIGKILL))
    print(f"  a holder dies with its gateway (lease TTL 3 s, lock-delay 1 s): the waiter is granted the lock after "
          f"{granted:.2f} s and has written with it after {written:.2f} s")
    leader = etcd_leader(members)
    gap, writes = write_gap(gateways[2:], lambda: os.kill(member_pids[leader], signal.SIGKILL), seconds=6.0)
    print(f"  the etcd leader dies: the longest wait between two writes through a gateway, {gap * 1000:.0f} ms "
          f"({writes} acknowledged in the 6 s after)")


if __name__ == "__main__":
    main()
