#!/usr/bin/env bash
# The lock API by hand with curl (Protocol/lock-api.md, section 5): lease, acquire, status,
# keep-alive, a fenced object write, release, revoke — and the former holder's write refused. Needs PALISADE_ACCESS_KEY and PALISADE_SECRET_KEY (as printed by
# `palisade serve`) and optionally PALISADE_ENDPOINT (default http://127.0.0.1:9000).
set -euo pipefail
endpoint="${PALISADE_ENDPOINT:-http://127.0.0.1:9000}"
api="$endpoint/_palisade/v1"
call() {
    curl --silent --show-error --fail-with-body --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$PALISADE_ACCESS_KEY:$PALISADE_SECRET_KEY" -H "content-type: application/json" "$@"
    echo
}
# An S3 request. curl signs it with SigV4 but sends no payload hash, which S3 requires: send
# x-amz-content-sha256 yourself — UNSIGNED-PAYLOAD, or the body's hex SHA-256 to sign the body too.
s3() {
    curl --silent --show-error --aws-sigv4 "aws:amz:us-east-1:s3" --user "$PALISADE_ACCESS_KEY:$PALISADE_SECRET_KEY" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -o /dev/null -w "%{http_code}" "$@"
}
field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }

lease=$(call -X POST "$api/leases" -d '{"ttl_ms": 10000}' | field lease_id)
echo "lease:   $lease"
grant=$(call -X POST "$api/locks/acquire" -d '{"name": "orders/2026/42", "lease_id": "'"$lease"'", "wait_ms": 30000}')
token=$(echo "$grant" | field token)
echo "granted: $grant"
echo "status:  $(call "$api/locks?name=orders%2F2026%2F42")"
echo "renewed: $(call -X POST "$api/leases/$lease/keepalive")"
fenced=(-H "x-palisade-lock: orders/2026/42" -H "x-palisade-fencing-token: $token")
echo "bucket:  $(s3 -X PUT "$endpoint/orders")"
echo "write:   $(s3 -X PUT "$endpoint/orders/2026/42" "${fenced[@]}" --data-binary '{"total": 42}') (fenced by token $token)"
echo "release: $(call -X POST "$api/locks/release" -d '{"name": "orders/2026/42", "lease_id": "'"$lease"'", "token": '"$token"'}')"
echo "late:    $(s3 -X PUT "$endpoint/orders/2026/42" "${fenced[@]}" --data-binary '{"total": 0}') (the same token after the release: refused)"
echo "revoke:  $(call -X DELETE "$api/leases/$lease")"
