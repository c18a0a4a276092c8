#!/usr/bin/env bash
# The end-to-end demo: an issuer key, tokens minted for one call each, and a receiver that
# verifies them through the full pipeline. Prints one row per scenario and exits non-zero
# if any outcome differs from what OathMesh promises.
# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

echo "Building the oathmesh CLI (release)..."
cargo build --release -q -p oathmesh-cli --manifest-path "$ROOT/Cargo.toml"
OM="$CARGO_TARGET_DIR/release/oathmesh"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ISS="https://issuer.demo.internal"
AUD="https://payments.demo.internal"

"$OM" keygen --out "$WORK/issuer.pem" >/dev/null
cat >"$WORK/policy.json" <<'JSON'
{ "version": 1,
  "rules": [
    { "name": "checkout-charges", "allow": true,
      "match": { "sub": "svc://checkout", "act": "charge", "scope": ["payments:write"] } },
    { "name": "no-refunds-from-checkout", "allow": false,
      "match": { "sub": "svc://checkout", "act": "refund" } } ] }
JSON

mint() { "$OM" mint --key "$WORK/issuer.pem" --iss "$ISS" --aud "$AUD" "$@"; }
# Verifies the given tokens in order with ONE verifier (so a repeated token is a replay) and
# prints the outcome of the last one: "allow (rule)" or the error code.
verify_last() {
  local out err
  if out="$("$OM" verify --jwks "$WORK/jwks.json" --iss "$ISS" --aud "$AUD" \
      --policy "$WORK/policy.json" "${VERIFY_FLAGS[@]}" "$@" 2>"$WORK/err")"; then
    echo "allow ($(tail -n1 <<<"$out" | sed -E 's/.*"policy_rule":"([^"]*)".*/\1/'))"
  else
    err="$(tail -n1 "$WORK/err")"
    sed -E 's/.*"error":"([^"]*)".*"step":"([^"]*)".*/\1 (step \2)/' <<<"$err"
  fi
}
VERIFY_FLAGS=()

failures=0
printf '\n%-44s %-34s %-34s %s\n' "SCENARIO" "EXPECTED" "GOT" ""
printf '%.0s-' {1..120}; echo
row() {
  local scenario="$1" expected="$2" got="$3" mark="ok"
  if [[ "$got" != "$expected"* ]]; then mark="MISMATCH"; failures=$((failures + 1)); fi
  printf '%-44s %-34s %-34s %s\n' "$scenario" "$expected" "$got" "$mark"
}

charge="$(mint --sub svc://checkout --act charge --scope payments:write)"
row "checkout charges (policy allows)" "allow (checkout-charges)" "$(verify_last "$charge")"

refund="$(mint --sub svc://checkout --act refund --scope payments:write)"
row "checkout refunds (explicit deny rule)" "policy_denied (step 14)" "$(verify_last "$refund")"

stranger="$(mint --sub svc://reporting --act charge)"
row "unknown service (default deny)" "policy_denied (step 14)" "$(verify_last "$stranger")"

again="$(mint --sub svc://checkout --act charge --scope payments:write)"
row "same token sent twice (replay)" "replay_detected (step 13)" "$(verify_last "$again" "$again")"

good="$(mint --sub svc://checkout --act charge --scope payments:write)"
IFS=. read -r h p s <<<"$good"
b64url_decode() { local s="$1"; while (( ${#s} % 4 )); do s="$s="; done; tr '_-' '/+' <<<"$s" | base64 -d; }
b64url_encode() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
forged_payload="$(b64url_decode "$p" | sed 's/"charge"/"refund"/' | b64url_encode)"
row "payload edited after signing" "signature_invalid (step 06)" "$(verify_last "$h.$forged_payload.$s")"

other_aud="$("$OM" mint --key "$WORK/issuer.pem" --iss "$ISS" --aud https://ledger.demo.internal --sub svc://checkout --act charge --scope payments:write)"
row "token minted for another service" "audience_mismatch (step 10)" "$(verify_last "$other_aud")"

mkdir -p "$WORK/rogue"
"$OM" keygen --out "$WORK/rogue/key.pem" >/dev/null
rogue="$("$OM" mint --key "$WORK/rogue/key.pem" --iss "$ISS" --aud "$AUD" --sub svc://checkout --act charge --scope payments:write)"
row "signed by a key the receiver never trusted" "key_not_found (step 05)" "$(verify_last "$rogue")"

body='{"amount":1250,"currency":"EUR"}'
printf '%s' "$body" >"$WORK/body.json"
printf '%s' '{"amount":999999,"currency":"EUR"}' >"$WORK/tampered.json"
bound="$(mint --sub svc://checkout --act charge --scope payments:write \
  --bind-method POST --bind-path '/v1/charges?customer=c1' --bind-body-file "$WORK/body.json")"
VERIFY_FLAGS=(--method POST --path '/v1/charges?customer=c1' --body-file "$WORK/tampered.json")
row "bound token, body tampered in flight" "binding_mismatch (step 12)" "$(verify_last "$bound")"
bound="$(mint --sub svc://checkout --act charge --scope payments:write \
  --bind-method POST --bind-path '/v1/charges?customer=c1' --bind-body-file "$WORK/body.json")"
VERIFY_FLAGS=(--method POST --path '/v1/charges?customer=c1' --body-file "$WORK/body.json")
row "bound token on its own request" "allow (checkout-charges)" "$(verify_last "$bound")"
VERIFY_FLAGS=(--leeway 0)

short="$(mint --sub svc://checkout --act charge --scope payments:write --ttl 1)"
sleep 2.2
row "token used after it expired (ttl 1 s)" "token_expired (step 08)" "$(verify_last "$short")"

row "not a token at all" "token_malformed (step 01)" "$(verify_last 'hello.world')"

printf '%.0s-' {1..120}; echo
if [ "$failures" -ne 0 ]; then
  echo "demo: $failures scenario(s) did not behave as expected" >&2
  exit 1
fi
echo "demo: every scenario behaved as expected."
