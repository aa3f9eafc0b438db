#!/usr/bin/env bash
# Schemathesis against the real server and openapi.yaml, as an admin: every
# answer must match the spec and none may be a 5xx. Run by .ci/run after the
# test suite (which has built target/debug/odr-gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/debug/odr-gateway}
EXAMPLES=${FUZZ_EXAMPLES:-25}
[ -x "$BIN" ] || cargo build -q --bin odr-gateway
command -v st >/dev/null 2>&1 || python3 -m pip install -q --disable-pip-version-check schemathesis

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export ODR_DATABASE_URL="sqlite://$dir/fuzz.db?mode=rwc" ODR_LISTEN="127.0.0.1:$port" ODR_CLOCK=manual \
  ODR_LOG=warn ODR_LIMITS__CLIENT_RATE_PER_SECOND=100000 ODR_LIMITS__CLIENT_BURST=100000 \
  ODR_LIMITS__LOGIN_RATE_PER_SECOND=100000 ODR_LIMITS__LOGIN_BURST=100000
unset DATABASE_URL ODR_CONFIG
"$BIN" admin create-user --username admin --password fuzz-admin-password --role admin >/dev/null
"$BIN" serve >"$dir/gateway.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
GW="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$GW/healthz" >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -sSf "$GW/v1/auth/login" -H 'content-type: application/json' \
  -d '{"username":"admin","password":"fuzz-admin-password"}' | jq -r .access_token)
curl -sSf "$GW/v1/stations" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"code":"QJ","name":"潜江市12315指挥中心"}' >/dev/null

st run openapi.yaml --url "$GW" -H "Authorization: Bearer $TOKEN" \
  --checks all --exclude-checks positive_data_acceptance \
  --max-examples "$EXAMPLES" --seed 20261122 "$@"
if grep -q "internal error" "$dir/gateway.log"; then
  echo "the gateway logged internal errors:" >&2
  grep "internal error" "$dir/gateway.log" >&2
  exit 1
fi
