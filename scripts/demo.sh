#!/usr/bin/env bash
# The main job: the whole OathMesh system on loopback.
#
#   issuer (oathmesh serve) ── mints one token per call for the demo caller
#   payments API, three replicas in three languages, each with its own binding:
#     FastAPI (Python) · Express (Node) · net/http (Go)      ── verify with the Rust core
#   a plain upstream behind the gateway (oathmesh gateway)    ── knows nothing of OathMesh
#   Redis, shared by every receiver: replay cache and revocation list
#
# A caller goes through the scenarios below; the script prints one row per check
# (scenario, service, expected, got), the tail of an audit log, stops everything it
# started, and exits non-zero if anything differs from the expectation.
# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/redis.sh
. "$ROOT/scripts/lib/redis.sh"
# shellcheck source=lib/build.sh
. "$ROOT/scripts/lib/build.sh"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  oathmesh_redis_stop
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "==> building (each artifact once; a no-op when already built)"
om_build_cli
om_build_python
om_build_node
om_build_go
om_need curl curl
OM="$CARGO_TARGET_DIR/release/oathmesh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url name log
  for _ in $(seq 1 300); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "$2 did not start; its log:" >&2; tail -n 40 "$3" >&2; exit 1
}
start() { # name log command...
  local name="$1" log="$2"; shift 2
  "$@" >"$log" 2>&1 &
  PIDS+=("$!")
}

echo "==> starting Redis, the issuer, three receivers, the upstream and the gateway"
oathmesh_redis_start >/dev/null
ISSUER_PORT="$(free_port)"
ISSUER="http://127.0.0.1:$ISSUER_PORT"
AUD="https://payments.demo.internal"
GW_AUD="https://legacy.demo.internal"
CALLER_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
ADMIN_TOKEN="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
"$OM" keys rotate --dir "$WORK/keys" >/dev/null
cat >"$WORK/issuer.toml" <<TOML
issuer = "$ISSUER"
listen = "127.0.0.1:$ISSUER_PORT"
key_dir = "keys"
key_poll_secs = 1
redis_url = "$OATHMESH_TEST_REDIS_URL"
admin_token_sha256 = "$(sha256 "$ADMIN_TOKEN")"

[[clients]]
id = "demo-caller"
secret_sha256 = "$(sha256 "$CALLER_SECRET")"
allowed_sub = ["svc://checkout", "svc://reporting"]
allowed_aud = ["https://*.demo.internal"]
allowed_act = ["*"]
rate_per_sec = 1000
burst = 1000
TOML
start issuer "$WORK/issuer.log" "$OM" serve --config "$WORK/issuer.toml"
wait_http "$ISSUER/healthz" issuer "$WORK/issuer.log"

cat >"$WORK/policy.json" <<'JSON'
{ "version": 1,
  "rules": [
    { "name": "checkout-charges", "allow": true, "match": { "sub": "svc://checkout", "act": "charge" } },
    { "name": "reporting-reads", "allow": true, "match": { "sub": "svc://reporting", "act": "read" } } ] }
JSON
printf '%s' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$WORK/audit.key"
chmod 600 "$WORK/audit.key" # audit keys readable by others are refused
# One verifier document per receiver: keys fetched from the issuer's JWKS, replay and
# revocation in the shared Redis, the shared policy file (hot-reloaded), a chained audit log.
verifier_config() { # audience audit-file
  cat <<JSON
{ "audience": "$1",
  "trusted_issuers": ["$ISSUER"],
  "leeway": 0,
  "redis_url": "$OATHMESH_TEST_REDIS_URL",
  "policy_file": "$WORK/policy.json",
  "audit": { "file": "$2", "hmac_key_file": "$WORK/audit.key" } }
JSON
}

declare -A URL
for svc in python node go; do
  port="$(free_port)"
  verifier_config "$AUD" "$WORK/audit-$svc.ndjson" >"$WORK/verifier-$svc.json"
  start "$svc" "$WORK/$svc.log" env PORT="$port" SERVICE_NAME="payments-$svc" \
    OATHMESH_CONFIG="$WORK/verifier-$svc.json" "$ROOT/demo/services/$svc/run.sh"
  URL[$svc]="http://127.0.0.1:$port"
done
UPSTREAM_PORT="$(free_port)"
start upstream "$WORK/upstream.log" env PORT="$UPSTREAM_PORT" python3 "$ROOT/demo/upstream_echo.py"
GW_PORT="$(free_port)"
verifier_config "$GW_AUD" "$WORK/audit-gateway.ndjson" >"$WORK/verifier-gateway.json"
cat >"$WORK/gateway.toml" <<TOML
listen = "127.0.0.1:$GW_PORT"
upstream = "http://127.0.0.1:$UPSTREAM_PORT"
verifier_file = "verifier-gateway.json"
TOML
start gateway "$WORK/gateway.log" "$OM" gateway --config "$WORK/gateway.toml"
URL[gateway]="http://127.0.0.1:$GW_PORT"
for svc in python node go; do wait_http "${URL[$svc]}/healthz" "$svc" "$WORK/$svc.log"; done
wait_http "http://127.0.0.1:$UPSTREAM_PORT/" upstream "$WORK/upstream.log"
for _ in $(seq 1 100); do curl -s -o /dev/null "${URL[gateway]}/" && break; sleep 0.1; done
STARTED_AT="$(date +%s)"

# --- the caller -------------------------------------------------------------------------
export DEMO_CALLER_SECRET="$CALLER_SECRET"
# mint SUB ACT AUD [extra oathmesh token flags...]: one fresh token from the issuer.
mint() {
  local sub="$1" act="$2" aud="$3"; shift 3
  "$OM" token --issuer "$ISSUER" --client-id demo-caller --client-secret-env DEMO_CALLER_SECRET \
    --sub "$sub" --act "$act" --aud "$aud" "$@"
}
BODY='{"amount":1250,"currency":"EUR"}'
printf '%s' "$BODY" >"$WORK/body.json"
printf '%s' '{"amount":999999,"currency":"EUR"}' >"$WORK/tampered.json"
# call SERVICE TOKEN [BODY-FILE]: POST /api/charges; prints "200" or "<status> <error code>".
call() {
  local svc="$1" token="$2" body="${3:-$WORK/body.json}" status
  status="$(curl -s -o "$WORK/resp" -w '%{http_code}' -X POST \
    -H "Authorization: OathMesh $token" -H 'Content-Type: application/json' \
    --data-binary @"$body" "${URL[$svc]}/api/charges")"
  if [ "$status" = 200 ]; then echo 200; else
    echo "$status $(sed -nE 's/.*"error" *: *"([^"]*)".*/\1/p' "$WORK/resp")"
  fi
}

failures=0
printf '\n%-46s %-9s %-26s %-26s\n' SCENARIO SERVICE EXPECTED GOT
printf '%.0s-' {1..112}; echo
row() { # scenario service expected got
  local mark=ok
  [ "$4" = "$3" ] || { mark=MISMATCH; failures=$((failures + 1)); }
  printf '%-46s %-9s %-26s %-26s %s\n' "$1" "$2" "$3" "$4" "$mark"
}
aud_of() { [ "$1" = gateway ] && echo "$GW_AUD" || echo "$AUD"; }
SERVICES=(python node go gateway)

for svc in "${SERVICES[@]}"; do
  row "fresh token per call, allowed by policy" "$svc" 200 "$(call "$svc" "$(mint svc://checkout charge "$(aud_of "$svc")")")"
done
token="$(mint svc://checkout charge "$GW_AUD")"
curl -s -X POST -H "Authorization: OathMesh $token" -H 'X-OathMesh-Subject: svc://admin' \
  --data-binary @"$WORK/body.json" "${URL[gateway]}/api/charges" >"$WORK/echo.json"
row "gateway: upstream sees verified identity only" gateway "svc://checkout, no auth" \
  "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["oathmesh"].get("x-oathmesh-subject"), "no auth" if not d["authorization_seen"] else "auth LEAKED", sep=", ")' "$WORK/echo.json")"

for svc in "${SERVICES[@]}"; do
  row "action not allowed by policy" "$svc" "403 policy_denied" "$(call "$svc" "$(mint svc://reporting charge "$(aud_of "$svc")")")"
done

token="$(mint svc://checkout charge "$AUD")"
row "token spent at one replica..." python 200 "$(call python "$token")"
row "...replayed at another (shared Redis)" node "401 replay_detected" "$(call node "$token")"
row "...and at a third" go "401 replay_detected" "$(call go "$token")"

declare -A HELD
for svc in "${SERVICES[@]}"; do HELD[$svc]="$(mint svc://checkout charge "$(aud_of "$svc")")"; done
admin() { curl -s -o /dev/null -w '%{http_code}' -X "$1" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d '{"sub":"svc://checkout"}' "$ISSUER/v1/admin/revoke"; }
row "admin revokes svc://checkout at the issuer" issuer 200 "$(admin POST)"
for svc in "${SERVICES[@]}"; do
  row "token minted before revocation" "$svc" "401 subject_revoked" "$(call "$svc" "${HELD[$svc]}")"
done
row "issuer refuses to mint for it" issuer "403 subject_revoked" \
  "$(mint svc://checkout charge "$AUD" 2>&1 >/dev/null | sed -nE 's/.*"error":"([^"]*)".*"status":([0-9]+).*/\2 \1/p')"
row "admin lifts the revocation" issuer 200 "$(admin DELETE)"

for svc in "${SERVICES[@]}"; do
  bound="$(mint svc://checkout charge "$(aud_of "$svc")" --bind-method POST --bind-path /api/charges --bind-body-file "$WORK/body.json")"
  row "bound token, body tampered in flight" "$svc" "401 binding_mismatch" "$(call "$svc" "$bound" "$WORK/tampered.json")"
done
bound="$(mint svc://checkout charge "$AUD" --bind-method POST --bind-path /api/charges --bind-body-file "$WORK/body.json")"
row "bound token on its own request" go 200 "$(call go "$bound")"

declare -A SHORT
for svc in "${SERVICES[@]}"; do SHORT[$svc]="$(mint svc://checkout charge "$(aud_of "$svc")" --ttl 1)"; done
sleep 2.1
for svc in "${SERVICES[@]}"; do
  row "token used after expiry (ttl 1 s)" "$svc" "401 token_expired" "$(call "$svc" "${SHORT[$svc]}")"
done

# Key rotation. Receivers refetch an issuer's JWKS for an unknown kid at most once per 10 s
# (no refetch storms), so give the window since their first fetch time to pass.
declare -A IN_FLIGHT
for svc in "${SERVICES[@]}"; do IN_FLIGHT[$svc]="$(mint svc://checkout charge "$(aud_of "$svc")")"; done
old_kid="$(curl -s "$ISSUER/.well-known/jwks.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"][-1]["kid"])')"
"$OM" keys rotate --dir "$WORK/keys" >/dev/null
for _ in $(seq 1 100); do
  [ "$(curl -s "$ISSUER/.well-known/jwks.json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))')" = 2 ] && break
  sleep 0.1
done
elapsed=$(( $(date +%s) - STARTED_AT ))
if [ "$elapsed" -lt 11 ]; then sleep $(( 11 - elapsed )); fi
for svc in "${SERVICES[@]}"; do
  token="$(mint svc://checkout charge "$(aud_of "$svc")")"
  new_kid="$("$OM" inspect --json "$token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["kid"])')"
  [ "$new_kid" != "$old_kid" ] || new_kid="(not rotated)"
  row "after rotation: token signed by the new key" "$svc" 200 "$(call "$svc" "$token")"
  row "in-flight token from the old key survives" "$svc" 200 "$(call "$svc" "${IN_FLIGHT[$svc]}")"
done
printf '%.0s-' {1..112}; echo

echo
echo "Audit trail of the Go replica (last 4 events; HMAC-chained, never the token):"
tail -n 4 "$WORK/audit-go.ndjson" | cut -c1-220
printf 'audit chain check: '
"$OM" audit verify --key-file "$WORK/audit.key" "$WORK/audit-go.ndjson"

echo
if [ "$failures" -ne 0 ]; then
  echo "demo: $failures check(s) did not behave as expected" >&2
  for svc in python node go gateway issuer; do echo "--- $svc log (tail)"; tail -n 15 "$WORK/$svc.log" 2>/dev/null || true; done >&2
  exit 1
fi
echo "demo: every scenario behaved as expected."
