#!/usr/bin/env bash
# The issuer server: formatting, lints, and its tests against a real server on loopback.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# A private Redis for the shared-revocation test.
. "$ROOT/scripts/lib/redis.sh"
oathmesh_redis_start
trap oathmesh_redis_stop EXIT
cargo fmt -p oathmesh-issuer -p oathmesh-serving -- --check
cargo clippy -p oathmesh-issuer -p oathmesh-serving --all-targets --features oathmesh-serving/test-pki -- -D warnings
cargo test -p oathmesh-issuer -p oathmesh-serving --features oathmesh-serving/test-pki
