#!/usr/bin/env bash
# Verifies the models of this folder with spin, exhaustively, and exits non-zero if any result changes:
#   fencing.pml (one gateway): safe with the gateway's commit-point check (CHECK=2); a counterexample
#     without its live-holder compare (CHECK=1) and without any check (CHECK=0);
#   cluster.pml (two gateways on a linearizable store, leases ending, a gateway crashing between its
#     check and its commit): safe with the commit transaction's compares (COMPARES=2); a counterexample
#     without the holder compare (COMPARES=1) and with no compares (COMPARES=0).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$here/fencing.pml" "$here/cluster.pml" .

verify() {  # verify MODEL MACRO VALUE: builds and runs the verifier, leaves its report in MODEL-VALUE.txt
    rm -f pan pan.* ./*.trail
    spin -D"$2=$3" -a "$1.pml" > /dev/null
    gcc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c
    ./pan -m200000 > "$1-$3.txt" || true
}

# check MODEL MACRO SAFE-NAME [VALUE NAME]...: the model is safe with MACRO=2, and each other value
# gives a counterexample, which is printed.
check() {
    local model="$1" macro="$2" safe="$3"
    shift 3
    verify "$model" "$macro" 2
    grep -E "errors: 0" "$model-2.txt" > /dev/null || { cat "$model-2.txt"; echo "FAIL: $model $safe has errors"; exit 1; }
    states=$(grep -Eo "[0-9]+ states, stored" "$model-2.txt" | head -1)
    echo "$model, $safe: no violation, $states (exhaustive)"
    while [ $# -gt 0 ]; do
        local variant="$1" name="$2"
        shift 2
        verify "$model" "$macro" "$variant"
        grep -E "assertion violated" "$model-$variant.txt" > /dev/null || { cat "$model-$variant.txt"; echo "FAIL: no counterexample $name"; exit 1; }
        echo "$model, $name: assertion violated ($(grep -Eo 'assertion violated \([^)]*\)' "$model-$variant.txt" | head -1 | sed 's/assertion violated //')); the counterexample:"
        # The last steps that tell the story, up to the failed assertion (awk reads to the end: an
        # early exit would end spin with SIGPIPE, which pipefail turns into a failure).
        spin -D"$macro=$variant" -t -p "$model.pml" | sed -E 's/^ *[0-9]+: +//' \
            | awk 'done { next } /assert\(/ { print; done = 1; next } /holder = |leaseAlive\[holder\] = 0|net(\[[a-z0-9]+\])?[!?]|seenHighest = |committed = |accepted!/ { print }' \
            | tail -7
    done
}

check fencing CHECK "with the gateway check" 1 "without the live-holder compare" 0 "without the gateway check"
check cluster COMPARES "with the commit's compares" 1 "without the holder compare" 0 "deciding on the snapshot alone"
