#!/usr/bin/env python3
"""The mutation check of Palisade's safety rules.

Each mutant breaks one safety rule in the source (drop the commit-time fence check, answer a lock
change before it is saved, skip an fsync, …). For each, the script applies it, builds, runs the
integration tests that guard the rule — never a unit test of the pure rule alone — and restores the
source. A mutant is *killed* when those tests fail. The script exits non-zero when a mutant
survives, does not build, or no longer matches the source.

    python3 Tests/mutation-check.py            # every mutant (about 10 minutes on 2 cores)
    python3 Tests/mutation-check.py --short    # the short form the test command runs
    python3 Tests/mutation-check.py --only commit-time-fence
"""
import argparse
import dataclasses
import os
import pathlib
import subprocess
import sys
import time

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Mutant:
    name: str
    rule: str
    path: str
    original: str
    mutated: str
    swift_filter: str = ""
    pytest: str = ""


MUTANTS = [
    Mutant(
        "commit-time-fence", "the fencing check runs inside the commit transaction",
        "Sources/StorageEngine/Metadata/CommitPoint.swift",
        "switch CommitRules.decide(intent, current: current, fence: fence, records: records)",
        "switch CommitRules.decide(intent, current: current, fence: fence.claim == nil ? fence : .unfenced, "
        "records: records)",
        swift_filter="InFlightFencingTests"),
    Mutant(
        "named-write-once", "a named write commits at most once, and never after it was settled as not committed",
        "Sources/StorageEngine/Metadata/CommitPoint.swift",
        "switch CommitRules.decide(intent, current: current, fence: fence, records: records)",
        "switch CommitRules.decide(intent, current: current, fence: fence, records: records.filter { _ in false })",
        swift_filter="WriteRecordTests"),
    Mutant(
        "etcd-commit-compares", "cluster mode commits only if nothing the commit read has changed (etcd compares)",
        "Sources/EtcdCluster/EtcdMetadataTransaction.swift",
        "request.compare = Set(used).map(compare(unchanged:))",
        "request.compare = Set(used).map(compare(unchanged:)).filter { _ in false }",
        swift_filter="EtcdClusterTests"),
    Mutant(
        "cluster-live-holder", "in cluster mode a fenced write's token must belong to a live holding in etcd",
        "Sources/EtcdCluster/EtcdMetadataTransaction.swift",
        "guard checksLiveHolders else { return nil }",
        "guard checksLiveHolders, !checksLiveHolders else { return nil }",
        swift_filter="ClusterLockTests"),
    Mutant(
        "live-holder", "a token must belong to the lock's live holder",
        "Sources/StorageCore/CommitRules.swift",
        "if fence.claimIsLiveHolder == false { return .lockNotHeld }",
        "if fence.claimIsLiveHolder == false, fence.pathIsFenced, !fence.pathIsFenced { return .lockNotHeld }",
        swift_filter="PalisadeHTTPTests.FencingTests"),
    Mutant(
        "token-order-strict", "a holder may write again with its own token (>=, not >)",
        "Sources/StorageCore/CommitRules.swift",
        "claim.token < highest", "claim.token <= highest",
        swift_filter="FencingTests"),
    Mutant(
        "token-order-lax", "a token lower than the highest is stale",
        "Sources/StorageCore/CommitRules.swift",
        "claim.token < highest", "claim.token + 1 < highest",
        swift_filter="FencingTests"),
    Mutant(
        "commit-time-preconditions", "If-Match and If-None-Match are checked again at the commit point",
        "Sources/StorageCore/CommitRules.swift",
        "guard intent.preconditions.hold(for: current) else {",
        "guard intent.preconditions.hold(for: current) || intent.observedSequence != nil else {",
        swift_filter="ObjectStoreTests"),
    Mutant(
        "tokens-after-crash", "after a crash, tokens start above the persisted high-water mark",
        "Sources/LockEngine/LockService.swift",
        "let issuedAtMost = max(try persistence?.highWaterMark.read() ?? 0, highestRestored)",
        "let issuedAtMost = highestRestored",
        swift_filter="LockServiceRestartTests"),
    Mutant(
        "fifo", "waiters are granted in the order they queued",
        "Sources/LockCore/LockTable+Locks.swift",
        "        guard var record = locks[name] else { return }\n        defer { locks[name] = record.isIdle ? nil : record }",
        "        guard var record = locks[name] else { return }\n        record.queue.reverse()\n"
        "        defer { locks[name] = record.isIdle ? nil : record }",
        swift_filter="LockOrderTests"),
    Mutant(
        "lock-delay", "after an unclean release the lock-delay withholds the grant",
        "Sources/LockCore/LockTable+Locks.swift",
        "if reason.isUnclean, configuration.lockDelay > .zero {",
        "if reason.isUnclean, configuration.lockDelay < .zero {",
        swift_filter="LockOrderTests"),
    Mutant(
        "answer-before-saved", "a lock change is answered only after it is saved",
        "Sources/LockEngine/LockService.swift",
        "guard await journal.saved(journal.ticket()) else { throw Self.storageUnavailable }",
        "if journal.isBroken { throw Self.storageUnavailable }",
        swift_filter="LockServiceSaveFailureTests"),
    Mutant(
        "blob-fsync", "a durable PUT fsyncs its blob and folder before success",
        "Sources/StorageEngine/Blobs/FileBlobStore.swift",
        "            if durable {", "            if durable, path.isEmpty {",
        pytest="Tests/Interop/test_durability.py"),
    Mutant(
        "commit-fsync", "a durable commit (object or lock change) is fsynced before success",
        "Sources/PalisadeSQLite/SQLiteSetup.swift",
        'durable ? "FULL" : "NORMAL"', 'durable ? "NORMAL" : "NORMAL"',
        pytest="Tests/Interop/test_durability.py"),
    Mutant(
        "unsigned-amz-header", "every x-amz-* header of a signed request is signed",
        "Sources/PalisadeAuth/SigV4Verifier.swift",
        'headers.lazy.filter { SigV4.isNamed($0.name, startingWith: "x-amz-") }',
        'headers.lazy.filter { SigV4.isNamed($0.name, startingWith: "x-amz-never-") }',
        swift_filter="S3BadInputTests"),
    Mutant(
        "client-deadline", "a keep-alive is abandoned at the lease's client-side deadline",
        "Sources/PalisadeClient/LockSession.swift",
        "let answer = try await beforeDeadline { [client, leaseID] () async throws(LockClientError) in\n"
        "                    try await client.keepAlive(leaseID)\n                }",
        "let answer = try await client.keepAlive(leaseID)",
        pytest="Tests/Interop/test_stalled_network.py -k http"),
]

SHORT = ["commit-time-fence", "answer-before-saved", "commit-fsync"]


def run(command, **options):
    return subprocess.run(command, cwd=REPOSITORY, **options).returncode


def build():
    return run(["swift", "build", "--build-tests"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def killed_by_tests(mutant):
    """Whether the mutant's guarding tests fail."""
    failed = False
    if mutant.swift_filter:
        failed |= run(["swift", "test", "--skip-build", "--filter", mutant.swift_filter],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) != 0
    if mutant.pytest:
        binary = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPOSITORY, capture_output=True,
                                text=True).stdout.strip() + "/palisade"
        failed |= run([sys.executable, "-m", "pytest", "-q", "-x", *mutant.pytest.split()],
                      env=dict(os.environ, PALISADE_BIN=binary),
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) != 0
    return failed


def check(mutant):
    source = REPOSITORY / mutant.path
    text = source.read_text()
    if text.count(mutant.original) != 1:
        return "stale (its source text is not found once)"
    source.write_text(text.replace(mutant.original, mutant.mutated))
    try:
        if not build():
            return "did not build"
        return "killed" if killed_by_tests(mutant) else "SURVIVED"
    finally:
        source.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="only the mutants of the short form")
    parser.add_argument("--only", action="append", default=[], help="only this mutant (repeatable)")
    parser.add_argument("--no-final-build", action="store_true",
                        help="do not build the restored source at the end (when nothing runs after)")
    arguments = parser.parse_args()
    names = arguments.only or (SHORT if arguments.short else [mutant.name for mutant in MUTANTS])
    selected = [mutant for mutant in MUTANTS if mutant.name in names]
    outcomes = []
    try:
        for mutant in selected:
            started = time.monotonic()
            outcome = check(mutant)
            outcomes.append(outcome)
            print(f"mutant {mutant.name:<26} {outcome:<8} {time.monotonic() - started:5.0f} s  ({mutant.rule})",
                  flush=True)
    finally:
        if not arguments.no_final_build and not build():
            print("the restored source does not build", flush=True)
    killed = outcomes.count("killed")
    print(f"mutation check: {killed} killed, {len(outcomes) - killed} not killed, of {len(outcomes)} mutants")
    return 0 if killed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
