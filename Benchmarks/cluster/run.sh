#!/usr/bin/env bash
# Cluster mode beside etcd's own lock API, on this machine, in one run: a 3-member etcd cluster and
# 3 `palisade serve --etcd` gateways on loopback, loaded by the same generator (`palisade bench`)
# through 1 gateway and through all 3, next to etcd's `/v3/lock` on the same etcd; then what a crash
# costs (crash_cost.py). The tables go to stdout and to results/cluster.txt.
#
#   Benchmarks/cluster/run.sh                  # 10 s per run
#   DURATION=3s Benchmarks/cluster/run.sh      # a quick pass
#   PALISADE_BIN=.build/release/palisade …     # a release binary already built
#
# Needs etcd (Debian: etcd-server) and python3 with requests and botocore. Not run by CI.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
duration="${DURATION:-10s}"
results="${RESULTS:-$here/results}"
lock_clients="${LOCK_CLIENTS:-1,8,64}"
work="$(mktemp -d /tmp/palisade-cluster.XXXXXX)"
etcd_base=33379 gateway_base=39100
export PALISADE_ACCESS_KEY=PALISADEBENCHKEY PALISADE_SECRET_KEY=palisade-bench-secret

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

palisade="${PALISADE_BIN:-}"
if [[ -z $palisade ]]; then
    echo "building palisade (release)…"
    (cd "$repo" && swift build -c release --scratch-path .build-release --product palisade >/dev/null)
    palisade="$repo/.build-release/release/palisade"
fi

members=() peers=()
for i in 0 1 2; do
    members+=("http://127.0.0.1:$((etcd_base + 2 * i))")
    peers+=("m$i=http://127.0.0.1:$((etcd_base + 2 * i + 1))")
done
cluster="$(IFS=,; echo "${peers[*]}")"
for i in 0 1 2; do
    etcd --name "m$i" --data-dir "$work/etcd$i" \
        --listen-client-urls "${members[i]}" --advertise-client-urls "${members[i]}" \
        --listen-peer-urls "${peers[i]#*=}" --initial-advertise-peer-urls "${peers[i]#*=}" \
        --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token palisade-bench \
        --logger zap --log-level error >"$work/etcd$i.log" 2>&1 &
    pids+=($!)
done
etcd_pids=("${pids[@]}")
for member in "${members[@]}"; do
    for _ in $(seq 200); do curl -sf "$member/health" | grep -q '"health":"true"' && break; sleep 0.1; done
done
etcd_urls="$(IFS=,; echo "${members[*]}")"

gateways=() gateway_pids=()
for i in 0 1 2; do
    port=$((gateway_base + i))
    "$palisade" serve --etcd "$etcd_urls" --blobs "$work/blobs" --data-dir "$work/gateway$i" --port "$port" \
        --access-key "$PALISADE_ACCESS_KEY" --secret-key "$PALISADE_SECRET_KEY" --log-level warning \
        >"$work/gateway$i.log" 2>&1 &
    pids+=($!)
    gateway_pids+=($!)
    gateways+=("http://127.0.0.1:$port")
    for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/_palisade/health" >/dev/null && break; sleep 0.1; done
done
one="${gateways[0]}"
three="$(IFS=,; echo "${gateways[*]}")"

mkdir -p "$results"
{
    echo "cluster mode on $(nproc) cores: 3 etcd members ($(etcd --version | head -1 | awk '{print $3}')), 3 gateways, $duration per run"
    bench() { echo "+ palisade bench $*"; "$palisade" bench "$@" --duration "$duration" 2>/dev/null; }
    for mode in uncontended contended; do
        bench locks --mode "$mode" --clients "$lock_clients" --endpoint "$one"
        bench locks --mode "$mode" --clients "$lock_clients" --endpoint "$three"
        bench locks --mode "$mode" --clients "$lock_clients" --transport session --endpoint "$three"
        bench locks --mode "$mode" --clients "$lock_clients" --target etcd --endpoint "${members[0]}"
    done
    for op in put get; do
        bench gateway --op "$op" --size 4KiB --clients 1,16,64 --endpoint "$one"
        bench gateway --op "$op" --size 4KiB --clients 1,16,64 --endpoint "$three"
    done
    python3 "$here/crash_cost.py" --gateways "$three" --gateway-pids "${gateway_pids[*]}" --etcd "$etcd_urls" \
        --etcd-pids "${etcd_pids[*]}"
} 2>&1 | tee "$results/cluster.txt"
