#!/usr/bin/env python3
"""Instructions per operation of the Palisade server, counted by valgrind's callgrind.

A fixed workload — 4 KiB PUTs, 4 KiB GETs, lock cycles over one session, one client at a time —
is sent by `palisade bench … --operations N` (running natively) to a `palisade serve` running under
callgrind, durable, on a loopback port. Only the server is counted. Each workload runs twice, with
N1 and N2 operations, counters zeroed before and dumped after each run; instructions per operation
are (I(N2) - I(N1)) / (N2 - N1), which cancels what a run costs besides its operations (opening a
session, creating the bucket). Unlike seconds, these counts do not swing with the machine's load.

    Benchmarks/cost/run.py                       # builds release, prints the table
    Benchmarks/cost/run.py --binary PATH         # counts another build (say, the commit before)
    Benchmarks/cost/run.py --json out.json --top 12

Needs valgrind (Debian: valgrind). Not run by CI: a run takes a few minutes.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ACCESS_KEY, SECRET_KEY = "COSTBENCHKEY", "cost-bench-secret-key-0123456789"

WORKLOADS = {
    "put 4KiB": ["gateway", "--op", "put", "--size", "4KiB"],
    "get 4KiB": ["gateway", "--op", "get", "--size", "4KiB"],
    "lock cycle (session)": ["locks", "--transport", "session", "--mode", "uncontended"],
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build_release() -> Path:
    subprocess.run(["swift", "build", "-c", "release", "--product", "palisade"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    output = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.strip()
    return Path(output) / "palisade"


class CountedServer:
    """`palisade serve` under callgrind, with its counters zeroed and dumped on request."""

    def __init__(self, binary: Path, work: Path):
        self.port = free_port()
        self.work = work
        secret = work / "secret"
        secret.write_text(SECRET_KEY)
        self.process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={work}/callgrind.out",
             str(binary), "serve", "--data-dir", str(work / "data"), "--port", str(self.port),
             "--access-key", ACCESS_KEY, "--secret-key-file", str(secret), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=open(work / "valgrind.log", "w"))
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.endpoint}/_palisade/health", timeout=5).read()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"palisade serve did not start under valgrind; see {work}/valgrind.log")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def control(self, flag: str):
        subprocess.run(["callgrind_control", flag, str(self.process.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def counted(self, action) -> Path:
        """Runs `action` with the counters zeroed before and dumped after; returns the dump."""
        before = set(self.work.glob("callgrind.out.*"))
        self.control("-z")
        action()
        self.control("-d")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            new = set(self.work.glob("callgrind.out.*")) - before
            if new:
                dump = new.pop()
                time.sleep(0.2)  # let callgrind finish writing it
                return dump
            time.sleep(0.1)
        raise RuntimeError("callgrind wrote no dump")

    def stop(self):
        # Under valgrind the server does not see SIGTERM reliably; its counts are already dumped.
        self.process.kill()
        self.process.wait()


def total_instructions(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


# Stages of the server's work: each pattern's count is the largest inclusive count (the function
# and all it calls) among the functions whose demangled name it matches; a stage of several
# patterns adds them up. A stage inside another is counted in both.
STAGES = {
    "SigV4 verification": r"^SigV4Verifier\.verify\(",
    "S3 request, routed and answered": r"^(specialized )?S3Gateway\.handle\(",
    "object head read (SQLite)": r"^protocol witness for MetadataStore\.head\(bucket:key:\) in conformance SQLite",
    "object write (PUT)": r"^ObjectStore\.put<",
    "metadata reads before a write (SQLite)": (r"^SQLiteMetadataStore\.read<A>\(", r"^SQLiteReader\.fencedPaths\(in:\)"),
    "metadata commit (group commit, SQLite)": r"^(partial apply for )?closure #\d+ in GroupCommit\.writeGroups\(\)$",
    "lock session message": r"^LockSessionRoutes\.answer\(",
    "lock state journal (durable lock changes)": r"^LockStateJournal\.writeAll\(",
    "Foundation JSON coders": (r"^JSONDecoder\.decode<A>\(_:from:\)$", r"^JSONEncoder\.encode<A>\(_:\)$"),
    "HTTP/1 parsing (NIO)": r"^HTTPDecoder\.decode\(context:buffer:\)",
    "HTTP/1 response writing (NIO)": r"^HTTPResponseEncoder\.write\(",
    "WebSocket frames (NIO)": r"^WebSocketFrameDecoder\.decode\(",
}


def where_they_go(dump: Path, top: int) -> dict:
    """The dump's instructions by shared object, its `top` functions by their own (exclusive)
    counts, and the stages above by their inclusive counts. Read from the dump itself:
    callgrind_annotate 3.19 charges a dump taken mid-run to `clone` whole."""
    names, costs, calls = {}, {}, {}
    obj = function = callee = None
    after_call = False

    def resolve(kind, value):
        # Compressed names: "(id) name" defines an id, "(id)" refers to it.
        match = re.match(r"\((\d+)\)(?: (.*))?", value)
        if not match:
            return value
        if match.group(2) is not None:
            names[kind, match.group(1)] = match.group(2)
        return names.get((kind, match.group(1)), "?")

    for line in dump.read_text(errors="replace").splitlines():
        if line[:1].isdigit() or line[:1] in "+-*":
            fields = line.split()
            if len(fields) < 2:
                continue
            if after_call:
                after_call = False  # a call's inclusive cost: the callee's, charged to the caller too
                if callee != function:
                    calls[function] = calls.get(function, 0) + int(fields[1])
            else:
                costs[function, obj] = costs.get((function, obj), 0) + int(fields[1])
        elif line.startswith("ob="):
            obj = resolve("ob", line[3:])
        elif line.startswith("cob="):
            resolve("ob", line[4:])
        elif line.startswith("fn="):
            function = resolve("fn", line[3:])
        elif line.startswith("cfn="):
            callee = resolve("fn", line[4:])
        elif line.startswith("calls="):
            after_call = True
    objects, own = {}, {}
    for (function, obj), count in costs.items():
        objects[os.path.basename(obj or "?")] = objects.get(os.path.basename(obj or "?"), 0) + count
        own[function] = own.get(function, 0) + count
    every = sorted(set(own) | set(calls))
    demangled = dict(zip(every, subprocess.run(["swift", "demangle", "--simplified", "--compact"],
                                               input="\n".join(every), capture_output=True,
                                               text=True).stdout.splitlines()))
    inclusive = {}
    for f in every:  # several copies of a function (specializations) demangle alike
        name = demangled.get(f, f)
        inclusive[name] = max(inclusive.get(name, 0), own.get(f, 0) + calls.get(f, 0))
    stages = {}
    for stage, patterns in STAGES.items():
        counts = [max((count for name, count in inclusive.items() if re.search(pattern, name)), default=0)
                  for pattern in ([patterns] if isinstance(patterns, str) else patterns)]
        if sum(counts):
            stages[stage] = sum(counts)
    functions = sorted(((count, demangled.get(function, function), os.path.basename(obj or "?"))
                        for (function, obj), count in costs.items()), reverse=True)[:top]
    return {"objects": sorted(((count, obj) for obj, count in objects.items()), reverse=True),
            "functions": functions, "stages": sorted(((count, stage) for stage, count in stages.items()),
                                                     reverse=True)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", type=Path, help="a palisade binary (default: build release)")
    parser.add_argument("--small", type=int, default=40, help="operations in the first run (N1)")
    parser.add_argument("--large", type=int, default=240, help="operations in the second run (N2)")
    parser.add_argument("--top", type=int, default=10, help="functions to list per workload")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--only", choices=list(WORKLOADS), action="append", help="run only these workloads")
    parser.add_argument("--keep", type=Path, help="keep the callgrind dumps in this folder")
    arguments = parser.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("needs valgrind (apt-get install valgrind)")

    binary = arguments.binary or build_release()
    results = {}
    with tempfile.TemporaryDirectory(prefix="palisade-cost.") as scratch:
        # valgrind 3.19 cannot read the DWARF 5 of Swift builds: count a copy without debug info
        # (its symbol table stays, so functions keep their names).
        counted_binary = Path(scratch) / "palisade"
        shutil.copy(binary, counted_binary)
        subprocess.run(["strip", "--strip-debug", str(counted_binary)], check=True)
        environment = dict(os.environ, PALISADE_ACCESS_KEY=ACCESS_KEY, PALISADE_SECRET_KEY=SECRET_KEY)
        for name in arguments.only or WORKLOADS:
            work = Path(scratch) / name.split()[0]
            work.mkdir()
            server = CountedServer(counted_binary, work)
            try:
                def load(operations):
                    subprocess.run([str(binary), "bench", *WORKLOADS[name], "--clients", "1",
                                    "--operations", str(operations), "--endpoint", server.endpoint],
                                   env=environment, check=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                load(10)  # warm: first-use initialisation is not an operation's cost
                small = total_instructions(server.counted(lambda: load(arguments.small)))
                large_dump = server.counted(lambda: load(arguments.large))
                if arguments.keep:
                    arguments.keep.mkdir(parents=True, exist_ok=True)
                    shutil.copy(large_dump, arguments.keep / f"callgrind.{name.split()[0]}.out")
                large = total_instructions(large_dump)
                per_operation = (large - small) / (arguments.large - arguments.small)
                shares = where_they_go(large_dump, arguments.top)
            finally:
                server.stop()
            results[name] = {"instructions_per_operation": round(per_operation),
                             "stages": [(stage, count / large) for count, stage in shares["stages"]],
                             "by_object": [(obj, count / large) for count, obj in shares["objects"]],
                             "top_functions": [(fn, obj, count / large) for count, fn, obj in shares["functions"]]}
            print(f"{name}: {per_operation:,.0f} instructions per operation", flush=True)

    print("\n| workload | instructions / op |\n|---|---:|")
    for name, result in results.items():
        print(f"| {name} | {result['instructions_per_operation']:,} |")
    for name, result in results.items():
        print(f"\n{name} — where the instructions go (share of the {arguments.large}-operation run)")
        for stage, share in result["stages"]:
            print(f"  {share * 100:5.1f}%  {stage} (with what it calls)")
        for obj, share in result["by_object"][:8]:
            print(f"  {share * 100:5.1f}%  {obj}")
        for fn, obj, share in result["top_functions"]:
            print(f"  {share * 100:5.1f}%    {fn[:90]}  ({obj})")
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
