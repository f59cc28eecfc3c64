#!/usr/bin/env bash
# The lock API by hand with curl (Protocol/lock-api.md, section 5): lease, acquire, status,
# keep-alive, release, revoke. Needs PALISADE_ACCESS_KEY and PALISADE_SECRET_KEY (as printed by
# `palisade serve`) and optionally PALISADE_ENDPOINT (default http://127.0.0.1:9000).
set -euo pipefail
endpoint="${PALISADE_ENDPOINT:-http://127.0.0.1:9000}"
api="$endpoint/_palisade/v1"
call() {
    curl --silent --show-error --fail-with-body --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$PALISADE_ACCESS_KEY:$PALISADE_SECRET_KEY" -H "content-type: application/json" "$@"
    echo
}
field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }

lease=$(call -X POST "$api/leases" -d '{"ttl_ms": 10000}' | field lease_id)
echo "lease:   $lease"
grant=$(call -X POST "$api/locks/acquire" -d '{"name": "orders/2026/42", "lease_id": "'"$lease"'", "wait_ms": 30000}')
token=$(echo "$grant" | field token)
echo "granted: $grant"
echo "status:  $(call "$api/locks?name=orders%2F2026%2F42")"
echo "renewed: $(call -X POST "$api/leases/$lease/keepalive")"
echo "release: $(call -X POST "$api/locks/release" -d '{"name": "orders/2026/42", "lease_id": "'"$lease"'", "token": '"$token"'}')"
echo "revoke:  $(call -X DELETE "$api/leases/$lease")"
