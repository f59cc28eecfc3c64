#!/usr/bin/env bash
# Palisade beside the systems users would otherwise run, on this machine, in one run:
# etcd (its lock API), Redis (SET NX PX + compare-and-delete) and nginx (WebDAV PUT, sendfile GET),
# all on loopback, all loaded by the same generator (`palisade bench`), written to one table and a plot.
#
#   Benchmarks/peers/run.sh                 # 10 s per run, results in Benchmarks/peers/results/
#   DURATION=3s Benchmarks/peers/run.sh     # a quick pass
#
# Needs etcd, redis-server and nginx (Debian: etcd-server redis-server nginx-light; installed with
# apt-get when missing and run as root) and python3 with matplotlib for the plot. Not run by CI.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
duration="${DURATION:-10s}"
results="${RESULTS:-$here/results}"
lock_clients="${LOCK_CLIENTS:-1,8,64}"
work="$(mktemp -d /tmp/palisade-peers.XXXXXX)"
etcd_port=23379 redis_port=26379 nginx_port=28081

need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v redis-server >/dev/null || need+=(redis-server)
command -v nginx >/dev/null || need+=(nginx-light)
if ((${#need[@]})); then
    if [[ $(id -u) == 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
    else
        echo "install first: sudo apt-get install ${need[*]}" >&2
        exit 1
    fi
fi
python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install -q matplotlib

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "building palisade (release)…"
(cd "$repo" && swift build -c release --scratch-path .build-release --product palisade >/dev/null)
palisade="$repo/.build-release/release/palisade"

etcd --name peers --data-dir "$work/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
    --initial-cluster "peers=http://127.0.0.1:$((etcd_port + 1))" >"$work/etcd.log" 2>&1 &
pids+=($!)
etcd_pid=$!

# In memory, as Redis lock deployments usually run: no RDB snapshots, no AOF.
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
redis_pid=$!

mkdir -p "$work/nginx/root" "$work/nginx/tmp"
# nginx's workers run as an unprivileged user when started as root: let them write the files.
chmod 755 "$work" "$work/nginx"
chmod 777 "$work/nginx/root" "$work/nginx/tmp"
sed -e "s|@PORT@|$nginx_port|" -e "s|@WORK@|$work/nginx|" "$here/nginx.conf" >"$work/nginx/nginx.conf"
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
nginx_pid=$!  # with its workers, whose CPU time counts too

for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$etcd_port/health" >/dev/null &&
        redis-cli -p "$redis_port" ping >/dev/null 2>&1 &&
        curl -sf -o /dev/null -X PUT --data x "http://127.0.0.1:$nginx_port/probe" && break
    sleep 0.1
done

mkdir -p "$results"
rm -f "$results"/*.json
bench() { echo "+ palisade bench $*" >&2; "$palisade" bench "$@" --duration "$duration"; }

for mode in uncontended contended; do
    bench locks --mode "$mode" --clients "$lock_clients" --json "$results/locks-$mode-palisade.json"
    bench locks --mode "$mode" --clients "$lock_clients" --transport session \
        --json "$results/locks-$mode-palisade-session.json"
    bench locks --mode "$mode" --clients "$lock_clients" --transport session --durability relaxed \
        --json "$results/locks-$mode-palisade-session-relaxed.json"
    bench locks --mode "$mode" --clients "$lock_clients" --target etcd \
        --endpoint "http://127.0.0.1:$etcd_port" --server-pid "$etcd_pid" --json "$results/locks-$mode-etcd.json"
    bench locks --mode "$mode" --clients "$lock_clients" --target redis \
        --endpoint "redis://127.0.0.1:$redis_port" --server-pid "$redis_pid" --json "$results/locks-$mode-redis.json"
done

for load in "get 4KiB 1,16,64" "get 64MiB 1,4" "put 4KiB 1,16,64" "put 64MiB 1,4"; do
    read -r op size clients <<<"$load"
    fenced=()
    [[ $op == put ]] && fenced=(--fenced)
    bench gateway --op "$op" --size "$size" --clients "$clients" "${fenced[@]}" \
        --json "$results/gateway-$op-$size-palisade.json"
    bench gateway --op "$op" --size "$size" --clients "$clients" --target nginx \
        --endpoint "http://127.0.0.1:$nginx_port" --server-pid "$nginx_pid" --json "$results/gateway-$op-$size-nginx.json"
done

versions="etcd $(etcd --version | head -1 | awk '{print $3}'), redis $(redis-server --version | awk '{print $3}' | cut -d= -f2), nginx $(nginx -v 2>&1 | cut -d/ -f2)"
python3 "$here/report.py" "$results" --duration "$duration" --versions "$versions"
