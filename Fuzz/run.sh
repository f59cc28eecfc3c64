#!/usr/bin/env bash
# Builds the libFuzzer targets (Swift's -sanitize=fuzzer) and runs each for a fixed time from its
# committed seed corpus: PALISADE_FUZZ_SECONDS per target (default 20). New inputs go to a
# temporary folder, never into the repository; a crash leaves its input in Fuzz/crashes/.
# The seeds in Fuzz/corpus/ are written by hand, or are inputs that once crashed a target.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${PALISADE_FUZZ_SECONDS:-20}
fuzzers=(SigV4Fuzzer AWSChunkedFuzzer S3XMLFuzzer LockMessageFuzzer)
for fuzzer in "${fuzzers[@]}"; do
    PALISADE_FUZZ=1 swift build --scratch-path .build-fuzz --product "$fuzzer" 2>&1 | grep -E "error|warning: unre|Compiling|Build" | tail -3
done
bin=$(PALISADE_FUZZ=1 swift build --scratch-path .build-fuzz --show-bin-path)
mkdir -p Fuzz/crashes
status=0
for fuzzer in "${fuzzers[@]}"; do
    work=$(mktemp -d)
    cp Fuzz/corpus/"$fuzzer"/* "$work"/
    echo "fuzz: $fuzzer for ${seconds} s"
    if ! SWIFT_BACKTRACE=enable=no "$bin/$fuzzer" "$work" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix=Fuzz/crashes/"$fuzzer"- -print_final_stats=1 2>&1 | grep -E "^stat::number_of_executed_units|^stat::peak_rss|ERROR|Fatal|==[0-9]+==" ; then
        echo "fuzz: $fuzzer stopped with a failure"
        status=1
    fi
    if ls Fuzz/crashes/"$fuzzer"-* >/dev/null 2>&1; then
        echo "fuzz: $fuzzer FOUND A CRASH: $(ls Fuzz/crashes/"$fuzzer"-*)"
        status=1
    fi
    rm -rf "$work"
done
exit $status
