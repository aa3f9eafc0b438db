#!/usr/bin/env bash
# The README's curl walk-through as one script: run it against a gateway started
# with `ODR_CLOCK=manual ODR_CLOCK_START=2026-09-29T10:00:00+08:00 cargo run -- serve`
# after creating the admin (see README.md).
set -euo pipefail
GW=${GW:-http://127.0.0.1:8080}
j() { curl -sS --fail-with-body -H 'content-type: application/json' "$@"; }

# 1. The admin signs in.
ADMIN=$(j -X POST $GW/v1/auth/login -d '{"username":"admin","password":"change-me-now"}' | jq -r .access_token)

# 2. A station tree: the command centre and one supervision station.
j -X POST $GW/v1/stations -H "authorization: Bearer $ADMIN" -d '{"code":"QJ","name":"潜江市12315指挥中心"}' >/dev/null
j -X POST $GW/v1/stations -H "authorization: Bearer $ADMIN" -d '{"code":"QJ-DC","name":"东城市场监管所","parent_code":"QJ"}' >/dev/null

# 3. An ODR merchant that pulls its complaints; its secrets are shown only now.
HANDLER=$(j -X POST $GW/v1/handlers -H "authorization: Bearer $ADMIN" -d '{"kind":"merchant","name":"某家具定制有限公司","credit_code":"91420000177570439L","station_code":"QJ-DC","delivery":"pull"}')
HANDLER_TOKEN=$(curl -sS --fail-with-body $GW/v1/oauth/token -d grant_type=client_credentials \
  -d client_id=$(jq -r .client_id <<<"$HANDLER") -d client_secret=$(jq -r .client_secret <<<"$HANDLER") | jq -r .access_token)

# 4. A partner platform with its quota.
PARTNER=$(j -X POST $GW/v1/partners -H "authorization: Bearer $ADMIN" -d '{"name":"12315平台","rate_per_second":20,"burst":40}')
PARTNER_TOKEN=$(curl -sS --fail-with-body $GW/v1/oauth/token -d grant_type=client_credentials \
  -d client_id=$(jq -r .client_id <<<"$PARTNER") -d client_secret=$(jq -r .client_secret <<<"$PARTNER") | jq -r .access_token)

# 5. Intake: the partner pushes a complaint (SPEC §13); it is routed to the merchant.
intake() {
  j -X POST $GW/v1/complaints -H "authorization: Bearer $PARTNER_TOKEN" -H "Idempotency-Key: $1" -d '{
    "external_ref": "'"$1"'", "channel": "12315_web",
    "consumer": {"name": "孙先生", "phone": "13800138000"},
    "merchant": {"credit_code": "91420000177570439L", "name": "某家具定制有限公司"},
    "category": "goods", "problem": "quality",
    "description": "定制柜门存在质量问题，安装时损坏榻榻米垫子", "demand": "更换柜门并赔偿",
    "amount_cents": 350000, "occurred_at": "2026-01-17T10:00:00+08:00", "station_code": "QJ-DC"}'
}
CASE=$(intake 12315-2026-000123 | jq -r .id)

# 6. The merchant pulls its inbox (this delivers the case), acknowledges, proposes.
j $GW/v1/inbox -H "authorization: Bearer $HANDLER_TOKEN" | jq '.items[] | {id, status, received_at}'
j -X POST $GW/v1/inbox/$CASE/acknowledge -H "authorization: Bearer $HANDLER_TOKEN" | jq '{status, consumer}'
PROPOSAL=$(j -X POST $GW/v1/inbox/$CASE/proposals -H "authorization: Bearer $HANDLER_TOKEN" \
  -d '{"remedy":"replace","amount_cents":120000,"note":"更换柜门并赔偿垫子"}' | jq -r .id)

# 7. The consumer accepts through the partner: settled, 1,200 yuan recovered.
j -X POST $GW/v1/complaints/$CASE/consumer-response -H "authorization: Bearer $PARTNER_TOKEN" \
  -d '{"decision":"accept","proposal_id":"'"$PROPOSAL"'"}' | jq '{status, outcome}'

# 8. A second complaint fails at the merchant and goes to the station.
CASE2=$(intake 12315-2026-000124 | jq -r .id)
j $GW/v1/inbox/$CASE2 -H "authorization: Bearer $HANDLER_TOKEN" >/dev/null
j -X POST $GW/v1/inbox/$CASE2/acknowledge -H "authorization: Bearer $HANDLER_TOKEN" >/dev/null
j -X POST $GW/v1/inbox/$CASE2/fail -H "authorization: Bearer $HANDLER_TOKEN" -d '{"note":"双方分歧较大，协商不成"}' | jq '{status, escalation_reason}'

# 9. Station staff work the queue: claim, accept, initial feedback, close.
j -X POST $GW/v1/staff -H "authorization: Bearer $ADMIN" -d '{"username":"dc-staff","password":"staff-password-1","station_code":"QJ-DC"}' >/dev/null
STAFF=$(j -X POST $GW/v1/auth/login -d '{"username":"dc-staff","password":"staff-password-1"}' | jq -r .access_token)
j "$GW/v1/queue?status=escalated" -H "authorization: Bearer $STAFF" | jq '.items[] | {id, escalation_reason}'
j -X POST $GW/v1/queue/$CASE2/claim -H "authorization: Bearer $STAFF" >/dev/null
j -X POST $GW/v1/queue/$CASE2/decision -H "authorization: Bearer $STAFF" -d '{"accept":true}' >/dev/null
j -X POST $GW/v1/queue/$CASE2/feedback -H "authorization: Bearer $STAFF" -d '{"kind":"initial","note":"已联系双方，约定调解"}' >/dev/null
j -X POST $GW/v1/queue/$CASE2/close -H "authorization: Bearer $STAFF" \
  -d '{"result":"mediated","recovered_cents":80000,"note":"调解成功，商家退款800元"}' | jq '{status, outcome}'

# 10. The case file: every step, who, when.
j $GW/v1/complaints/$CASE2/events -H "authorization: Bearer $STAFF" | jq -r '.items[] | "\(.seq) \(.at) \(.actor.kind) \(.kind) \(.from_status) -> \(.to_status)"'

# 11. Deadlines: a third complaint, read by the merchant on Tuesday 2026-09-29, must be
#     acknowledged by the end of the next working day; the merchant stays silent.
CASE3=$(intake 12315-2026-000125 | jq -r .id)
j $GW/v1/inbox/$CASE3 -H "authorization: Bearer $HANDLER_TOKEN" | jq '.deadlines | map_values({due, state, rule_set})'
#     Move the manual clock past ack_by: the deadline job runs at once and escalates.
j -X POST $GW/v1/admin/clock -H "authorization: Bearer $ADMIN" -d '{"set":"2026-10-01T00:00:00+08:00"}' | jq .
j $GW/v1/queue/$CASE3 -H "authorization: Bearer $STAFF" | jq '{status, escalation_reason, ack_by: .deadlines.ack_by.state, station_deadline}'
