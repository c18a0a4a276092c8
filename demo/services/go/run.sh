#!/usr/bin/env bash
# Starts the Go demo service (net/http) in the foreground. Needs PORT, SERVICE_NAME,
# OATHMESH_CONFIG, Go, and liboathmesh.a built by scripts/test-c-go.sh (or
# `cargo build --release -p oathmesh-c`). `go build` is a quick no-op relink when nothing
# changed; the binary goes to bindings-c/build (gitignored).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
: "${PORT:?PORT is not set}" "${SERVICE_NAME:?SERVICE_NAME is not set}" "${OATHMESH_CONFIG:?OATHMESH_CONFIG is not set}"
# The Go toolchain scripts/test-c-go.sh fetched when the machine had none.
if ! command -v go >/dev/null && [ -x "$ROOT/bindings-c/build/go/bin/go" ]; then
  export PATH="$ROOT/bindings-c/build/go/bin:$PATH"
fi
export CGO_ENABLED=1
export CGO_LDFLAGS="-L${CARGO_TARGET_DIR:-$ROOT/target}/release ${CGO_LDFLAGS:-}"
BIN="$ROOT/bindings-c/build/oathmesh-demo-go"
(cd "$HERE" && go build -o "$BIN" .)
exec "$BIN"
