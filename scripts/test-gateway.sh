#!/usr/bin/env bash
# The gateway (docs/gateway.md): formatting, lints, and its tests against real HTTP on loopback
# (an echo upstream, tokens from the core's issuer, a private redis-server for shared state).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy
cargo fmt -p oathmesh-gateway -- --check
cargo clippy -p oathmesh-gateway --all-targets -- -D warnings

# The Redis tests start their own redis-server; only the binary is needed.
# shellcheck source=lib/redis.sh
. "$ROOT/scripts/lib/redis.sh"
oathmesh_redis_install
cargo test -p oathmesh-gateway

# The deployment units (deploy/systemd) against the binary just built.
cargo build -p oathmesh-cli
"$ROOT/deploy/systemd/check.sh" "$CARGO_TARGET_DIR/debug/oathmesh"
