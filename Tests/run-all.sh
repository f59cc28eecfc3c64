#!/usr/bin/env bash
# The whole test suite, in one command: the Swift tests (unit, live server, concurrency, CLI,
# kill -9 restart, cluster mode's stores on a throw-away etcd), then the interoperability and fault
# tests (botocore, curl, the OpenAPI document, the examples, the spin model of fencing, syscall-level
# durability, a kill -9 loop, a full disk, a stalled network) against a real `palisade serve`,
# `swift format lint` (.swift-format), and the short form of the mutation check. Installs what it needs on a fresh Debian machine.
# Exits non-zero when anything fails. Our own targets are built with warnings as errors.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
pkg-config --exists sqlite3 2>/dev/null || missing+=(libsqlite3-dev)
pkg-config --exists uuid 2>/dev/null || missing+=(uuid-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v curl >/dev/null || missing+=(curl)
command -v spin >/dev/null || missing+=(spin)
command -v gcc >/dev/null || missing+=(gcc)
command -v strace >/dev/null || missing+=(strace)
command -v openssl >/dev/null || missing+=(openssl)
command -v etcd >/dev/null || missing+=(etcd-server)
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" || exit 1
    else
        echo "run-all: please install ${missing[*]}" >&2
        exit 1
    fi
fi
if ! python3 -c "import pytest, boto3, botocore, awscrt, awscli, openapi_spec_validator, jsonschema, yaml, requests, websocket, schemathesis" 2>/dev/null || ! command -v s3cmd >/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check -r Tests/Interop/requirements.txt || exit 1
fi

swift build --build-tests || exit 1
status=0
swift format lint --strict -r Sources Tests examples Package.swift || status=1
python3 Tests/check-target-imports.py || status=1
# The suites that hold a live server to wall-clock promises (a lost lease ends the body within one
# TTL, a shutdown within 10 s, a lock-delay still running) run after the others, on their own: on
# two cores shared with every other suite they missed their bounds by seconds (their checks are
# unchanged).
timed='LockClientTests|GracefulShutdownTests|LockAPITests|ClusterLockTests'
swift test --skip-build --skip "$timed" || status=1
swift test --skip-build --filter "$timed" || status=1
PALISADE_BIN="$(swift build --show-bin-path)/palisade" python3 -m pytest -q Tests/Interop || status=1
# The suites that use the shared server once more, against cluster mode: two gateways on a 3-member
# etcd cluster, boto3's reads sent to the second (Tests/Interop/conftest.py).
PALISADE_INTEROP_CLUSTER=1 PALISADE_BIN="$(swift build --show-bin-path)/palisade" python3 -m pytest -q \
    Tests/Interop/test_{s3_boto3,s3_cli_and_multipart,s3_contracts,s3_compatibility,multipart_checksums,crt,named_writes,lock_api,lock_sessions,cli,examples,stalled_network,openapi_fuzz}.py \
    || status=1
# libFuzzer targets, each for PALISADE_FUZZ_SECONDS (default 20) from the committed seeds (Fuzz/).
bash Fuzz/run.sh || status=1
# Last, as it rebuilds with each mutant: the short form of the mutation check (README, Tests).
python3 Tests/mutation-check.py --short --no-final-build || status=1
exit $status
