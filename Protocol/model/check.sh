#!/usr/bin/env bash
# Verifies Protocol/model/fencing.pml with spin: exhaustively safe with the gateway's commit-point
# check (CHECK=2), and a counterexample without its live-holder compare (CHECK=1) and without any
# check (CHECK=0). Exits non-zero if any result changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$here/fencing.pml" .

verify() {  # verify CHECK: builds and runs the verifier, leaves its report in check-CHECK.txt
    rm -f pan pan.* fencing.pml.trail
    spin -DCHECK="$1" -a fencing.pml > /dev/null
    gcc -O2 -DSAFETY -o pan pan.c
    ./pan -m100000 > "check-$1.txt" || true
}

verify 2
grep -E "errors: 0" check-2.txt > /dev/null || { cat check-2.txt; echo "FAIL: the model with the gateway check has errors"; exit 1; }
states=$(grep -Eo "[0-9]+ states, stored" check-2.txt | head -1)
echo "with the gateway check: no violation, $states (3 clients, 2 rounds, exhaustive)"

for variant in 1 0; do
    verify "$variant"
    name=$([ "$variant" = 1 ] && echo "without the live-holder compare" || echo "without the gateway check")
    grep -E "assertion violated" "check-$variant.txt" > /dev/null || { cat "check-$variant.txt"; echo "FAIL: no counterexample $name"; exit 1; }
    echo "$name: assertion violated ($(grep -Eo 'assertion violated \([^)]*\)' "check-$variant.txt" | head -1 | sed 's/assertion violated //')); the counterexample:"
    spin -DCHECK="$variant" -t -p fencing.pml | grep -E "proc +[0-9]+ \((Client|LeaseExpiry|Gateway|Observer)" | sed -E 's/^ *[0-9]+: +//' | head -12
done
