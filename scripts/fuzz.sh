#!/usr/bin/env bash
# Schemathesis against the real server and openapi.yaml: every answer must match
# the spec and none may be a 5xx. One run as an admin over the whole API, then one
# each as a partner, a handler and station staff over their own routes, on cases
# they may act on, so their write routes' validation is fuzzed too.
#
# Schemathesis comes from PyPI, pinned, in a virtualenv under target/. Run by
# .ci/run after the test suite. FUZZ_EXAMPLES sets the examples per operation,
# FUZZ_SECONDS bounds each run.
set -euo pipefail
cd "$(dirname "$0")/.."
SCHEMATHESIS=4.32.5
VENV=target/fuzz-venv
EXAMPLES=${FUZZ_EXAMPLES:-25}
SECONDS_PER_RUN=${FUZZ_SECONDS:-300}

apt_install() {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
for tool in curl jq; do command -v $tool >/dev/null 2>&1 || apt_install $tool; done
command -v python3 >/dev/null 2>&1 || apt_install python3
# Debian ships `venv` without ensurepip unless python3-venv is installed.
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
if ! "$VENV/bin/st" --version 2>/dev/null | grep -qx "st, version $SCHEMATHESIS"; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS"
fi
ST=$VENV/bin/st

# Always the binary of this tree, never a stale one.
cargo build -q --bin odr-gateway
BIN=target/debug/odr-gateway

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
until curl -sf "$GW/readyz" >/dev/null; do
  kill -0 $pid 2>/dev/null || { cat "$dir/gateway.log" >&2; exit 1; }
  sleep 0.1
done

# The principals and cases each run acts on, made through the API.
j() { curl -sS --fail-with-body -H 'content-type: application/json' "$@"; }
token() { j "$GW/v1/oauth/token" -d "$(jq '{grant_type: "client_credentials", client_id, client_secret}' <<<"$1")" | jq -r .access_token; }
ADMIN=$(j "$GW/v1/auth/login" -d '{"username":"admin","password":"fuzz-admin-password"}' | jq -r .access_token)
as_admin=(-H "authorization: Bearer $ADMIN")
j "$GW/v1/stations" "${as_admin[@]}" -d '{"code":"QJ","name":"潜江市12315指挥中心"}' >/dev/null
j "$GW/v1/stations" "${as_admin[@]}" -d '{"code":"QJ-DC","name":"东城市场监管所","parent_code":"QJ"}' >/dev/null
HANDLER=$(j "$GW/v1/handlers" "${as_admin[@]}" -d '{"kind":"merchant","name":"某家具定制有限公司",
  "credit_code":"91420000177570439L","station_code":"QJ-DC","delivery":"pull"}')
PARTNER=$(j "$GW/v1/partners" "${as_admin[@]}" -d '{"name":"12315平台","rate_per_second":10000,"burst":100000}')
j "$GW/v1/staff" "${as_admin[@]}" -d '{"username":"dc-staff","password":"fuzz-staff-password","station_code":"QJ-DC"}' >/dev/null
HANDLER_TOKEN=$(token "$HANDLER")
PARTNER_TOKEN=$(token "$PARTNER")
STAFF=$(j "$GW/v1/auth/login" -d '{"username":"dc-staff","password":"fuzz-staff-password"}' | jq -r .access_token)
as_handler=(-H "authorization: Bearer $HANDLER_TOKEN")
intake() { # external_ref credit_code → id
  j "$GW/v1/complaints" -H "authorization: Bearer $PARTNER_TOKEN" -d '{
    "external_ref": "'"$1"'", "channel": "12315_web", "consumer": {"name": "孙先生", "phone": "13800138000"},
    "merchant": {"credit_code": "'"$2"'", "name": "某商户"}, "category": "goods", "problem": "quality",
    "description": "定制柜门存在质量问题", "demand": "更换柜门", "amount_cents": 350000,
    "occurred_at": "2026-01-17T10:00:00+08:00", "station_code": "QJ-DC"}' | jq -r .id
}
# The partner's case is negotiating (a proposal is waiting for the consumer).
PARTNER_CASE=$(intake fuzz-partner 91420000177570439L)
j "$GW/v1/inbox/$PARTNER_CASE" "${as_handler[@]}" >/dev/null
j -X POST "$GW/v1/inbox/$PARTNER_CASE/acknowledge" "${as_handler[@]}" >/dev/null
j "$GW/v1/inbox/$PARTNER_CASE/proposals" "${as_handler[@]}" -d '{"remedy":"replace","amount_cents":1000}' >/dev/null
# The handler's case waits in its inbox; the staff's reached the station unenrolled,
# and an acknowledged case carries an extension request for the staff to decide.
HANDLER_CASE=$(intake fuzz-handler 91420000177570439L)
STAFF_CASE=$(intake fuzz-staff 91110000802100433B)
EXTENSION_CASE=$(intake fuzz-extension 91420000177570439L)
j "$GW/v1/inbox/$EXTENSION_CASE" "${as_handler[@]}" >/dev/null
j -X POST "$GW/v1/inbox/$EXTENSION_CASE/acknowledge" "${as_handler[@]}" >/dev/null
EXTENSION=$(j "$GW/v1/inbox/$EXTENSION_CASE/extension" "${as_handler[@]}" \
  -d '{"working_days":3,"reason":"需要厂家检测"}' | jq -r .id)

# A role's schemathesis configuration: {id} fixed, per path, to a record it may
# act on (random ids would only ever find 404).
role_config() { # path-regex id [path-regex id …]
  local file
  file=$(mktemp "$dir/st-XXXX.toml")
  while [ $# -gt 0 ]; do
    printf '[[operations]]\ninclude-path-regex = "%s"\nparameters = { "path.id" = "%s" }\n\n' "$1" "$2" >>"$file"
    shift 2
  done
  echo "$file"
}
fuzz() { # name token config [st run options…]
  local name=$1 bearer=$2 config=$3
  shift 3
  echo "== schemathesis as $name"
  timeout --kill-after=10 "$SECONDS_PER_RUN" "$ST" --config-file "$config" run openapi.yaml --url "$GW" \
    -H "Authorization: Bearer $bearer" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" --seed 20261122 "$@" \
    || { echo "schemathesis as $name failed (status $?)" >&2; return 1; }
}

failed=0
fuzz admin "$ADMIN" "$(role_config)" "$@" || failed=1
fuzz partner "$PARTNER_TOKEN" "$(role_config '^/v1/complaints/' "$PARTNER_CASE")" \
  --include-path-regex '^/v1/complaints' "$@" || failed=1
fuzz handler "$HANDLER_TOKEN" "$(role_config '^/v1/(inbox|complaints)/' "$HANDLER_CASE")" \
  --include-path-regex '^/v1/(inbox|complaints/\{id\}/events)' "$@" || failed=1
fuzz staff "$STAFF" "$(role_config '^/v1/(queue|complaints)/' "$STAFF_CASE" \
    '^/v1/extensions/' "$EXTENSION" '^/v1/handlers/' "$(jq -r .id <<<"$HANDLER")")" \
  --include-path-regex '^/v1/(queue|extensions|stations|handlers|complaints/\{id\}/events)' "$@" || failed=1

if grep -q "internal error" "$dir/gateway.log"; then
  echo "the gateway logged internal errors:" >&2
  grep "internal error" "$dir/gateway.log" >&2
  failed=1
fi
exit $failed
