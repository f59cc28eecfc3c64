#!/usr/bin/env python3
"""Instructions per operation of `palisade serve`, counted by valgrind's callgrind: a figure that
does not swing with this VM's speed, so a change's effect on a 4 KiB PUT, a 4 KiB GET or a lock
cycle can be read exactly.

The server runs under callgrind; this script drives a fixed workload over loopback — a warm-up,
then COUNT durable 4 KiB PUTs, COUNT 4 KiB GETs of them, COUNT lock cycles (acquire + release on
one lease, over signed HTTP), and an idle pause as long as the last phase — and has callgrind dump
its counters after each phase (`callgrind_control --dump`). Each phase's instructions ÷ COUNT is
the cost per operation; the idle phase shows what timers cost meanwhile. `--top N` also prints
the N functions with the most instructions (self) in each phase.

    swift build -c release --product palisade
    python3 Benchmarks/cost/run.py --binary .build/release/palisade --count 300
"""
import argparse
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import requests

ACCESS_KEY, SECRET_KEY = "COSTBENCHKEY", "cost-bench-secret-key-0123456789"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.session = requests.Session()
        self.credentials = botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY)

    def send(self, method, path, body=b"", headers=None):
        request = botocore.awsrequest.AWSRequest(method=method, url=self.endpoint + path, data=body,
                                                 headers=dict(headers or {}))
        botocore.auth.S3SigV4Auth(self.credentials, "s3", "us-east-1").add_auth(request)
        prepared = request.prepare()
        response = self.session.request(method, prepared.url, headers=dict(prepared.headers), data=body, timeout=120)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response

    def json(self, method, path, document):
        return self.send(method, path, json.dumps(document).encode(), {"content-type": "application/json"}).json()


def instructions(part_file):
    """The instruction count (Ir) of one callgrind dump."""
    with open(part_file) as dump:
        for line in dump:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"no summary in {part_file}")


def top_functions(part_file, count):
    output = subprocess.run(["callgrind_annotate", "--threshold=100", part_file], capture_output=True, text=True).stdout
    rows = []
    for line in output.splitlines():
        match = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*)", line)
        if match and "PROGRAM TOTALS" not in line:
            rows.append((match.group(2), match.group(3)[:110]))
    return rows[:count]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/palisade")
    parser.add_argument("--count", type=int, default=300, help="operations per phase (10 to 10 000)")
    parser.add_argument("--top", type=int, default=0, help="functions to show per phase")
    arguments = parser.parse_args()
    if not 10 <= arguments.count <= 10_000:
        parser.error("--count is 10 to 10 000")
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (apt-get install valgrind)")
    work = tempfile.mkdtemp(prefix="palisade-cost-")
    port = free_port()
    output = os.path.join(work, "callgrind.out")
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={output}", "--dump-instr=no",
         arguments.binary, "serve", "--port", str(port), "--data-dir", os.path.join(work, "data"),
         "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "valgrind.log"), "w"))
    client = Client(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                requests.get(client.endpoint + "/_palisade/health", timeout=5)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("palisade serve did not start under valgrind (see " + work + "/valgrind.log)")
                time.sleep(0.5)
        body = bytes(range(256)) * 16  # 4 KiB
        client.send("PUT", "/cost")
        lease = client.json("POST", "/_palisade/v1/leases", {"ttl_ms": 600_000})["lease_id"]

        def put(index):
            client.send("PUT", f"/cost/k{index % 1000:04d}", body)

        def get(index):
            assert len(client.send("GET", f"/cost/k{index % 1000:04d}").content) == len(body)

        def lock_cycle(_):
            client.json("POST", "/_palisade/v1/locks/acquire", {"name": "cost/lock", "lease_id": lease})
            client.json("POST", "/_palisade/v1/locks/release", {"name": "cost/lock", "lease_id": lease})

        phases = [("warm-up", None), ("4 KiB PUT", put), ("4 KiB GET", get), ("lock cycle (HTTP)", lock_cycle),
                  ("idle, as long as the lock phase", "idle")]
        dumps, rows, last_seconds = [], [], 0.0
        for name, operation in phases:
            started = time.monotonic()
            if operation is None:
                for index in range(50):
                    put(index), get(index), lock_cycle(index)
            elif operation == "idle":
                time.sleep(last_seconds)
            else:
                for index in range(arguments.count):
                    operation(index)
            last_seconds = time.monotonic() - started
            before = set(glob.glob(output + ".*"))
            subprocess.run(["callgrind_control", "--dump=" + name, str(server.pid)], capture_output=True, check=True)
            for _ in range(600):
                fresh = sorted(set(glob.glob(output + ".*")) - before)
                if fresh:
                    break
                time.sleep(0.1)
            time.sleep(0.5)  # let the dump finish writing
            dumps.append((name, fresh[0], last_seconds))
        print(f"palisade serve under callgrind, {arguments.count} operations per phase ({arguments.binary})")
        print("phase                              instructions/op   total instructions   seconds")
        for name, part, seconds in dumps[1:]:
            total = instructions(part)
            per_op = "-" if name.startswith("idle") else f"{total // arguments.count:,}"
            print(f"{name:34s} {per_op:>16s} {total:>20,} {seconds:9.1f}")
            for share, function in top_functions(part, arguments.top):
                print(f"    {share:>6s} %  {function}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
