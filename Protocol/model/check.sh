#!/usr/bin/env bash
# Verifies Protocol/model/fencing.pml with spin: exhaustively safe with the gateway's commit-point
# check, and a counterexample (the paused writer) without it. Exits non-zero if either result changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$here/fencing.pml" .

spin -DGATEWAY_CHECK -a fencing.pml > /dev/null
gcc -O2 -DSAFETY -o pan pan.c
./pan -m100000 > with-check.txt
grep -E "errors: 0" with-check.txt > /dev/null || { cat with-check.txt; echo "FAIL: the model with the gateway check has errors"; exit 1; }
states=$(grep -Eo "[0-9]+ states, stored" with-check.txt | head -1)
echo "with the gateway check: no violation, $states (3 clients, 2 rounds, exhaustive)"

rm -f pan pan.* fencing.pml.trail
spin -a fencing.pml > /dev/null
gcc -O2 -DSAFETY -o pan pan.c
./pan -m100000 > without-check.txt || true
grep -E "assertion violated" without-check.txt > /dev/null || { cat without-check.txt; echo "FAIL: no counterexample without the gateway check"; exit 1; }
echo "without the gateway check: assertion violated; the counterexample:"
spin -t -p fencing.pml | grep -E "proc +[0-9]+ \((Client|LeaseExpiry|Gateway)" | sed -E 's/^ *[0-9]+: +//' | head -12
