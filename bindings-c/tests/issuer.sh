# Source this file: a real `oathmesh serve` on a free loopback port for the C client tests.
#   c_issuer_start BIN DIR   starts it (keys in DIR/keys), waits for /healthz, and exports
#                            OATHMESH_TEST_ISSUER_URL, OATHMESH_TEST_CLIENT_ID,
#                            OATHMESH_TEST_CLIENT_SECRET, OATHMESH_TEST_DOWN_URL
#   c_issuer_stop            stops it (safe to call twice)

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

c_issuer_start() {
  local bin="$1" dir="$2" port secret hash
  port="$(free_port)"
  # A fresh random secret per run; the issuer stores only its SHA-256.
  secret="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  hash="$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)"
  mkdir -p "$dir"
  "$bin" keys rotate --dir "$dir/keys" >/dev/null
  cat >"$dir/issuer.toml" <<TOML
issuer = "http://127.0.0.1:$port"
listen = "127.0.0.1:$port"
key_dir = "keys"

[[clients]]
id = "checkout"
secret_sha256 = "$hash"
allowed_sub = ["svc://checkout"]
allowed_aud = ["https://billing.internal"]
allowed_act = ["charge"]
TOML
  "$bin" serve --config "$dir/issuer.toml" >"$dir/issuer.log" 2>&1 &
  C_ISSUER_PID=$!
  local i
  for i in $(seq 1 200); do
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
      export OATHMESH_TEST_ISSUER_URL="http://127.0.0.1:$port"
      export OATHMESH_TEST_CLIENT_ID="checkout" OATHMESH_TEST_CLIENT_SECRET="$secret"
      export OATHMESH_TEST_DOWN_URL="http://127.0.0.1:$(free_port)"
      return 0
    fi
    sleep 0.05
  done
  echo "oathmesh serve did not start; log:" >&2
  cat "$dir/issuer.log" >&2
  return 1
}

c_issuer_stop() {
  if [ -n "${C_ISSUER_PID:-}" ]; then
    kill "$C_ISSUER_PID" 2>/dev/null || true
    wait "$C_ISSUER_PID" 2>/dev/null || true
    C_ISSUER_PID=""
  fi
}
