#!/usr/bin/env bash
# The gateway (docs/gateway.md): formatting, lints, and its tests against real HTTP on loopback
# (an echo upstream, tokens from the core's issuer, a private redis-server for shared state).
# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

om_lint -p oathmesh-gateway

# The Redis tests start their own redis-server; only the binary is needed.
# shellcheck source=lib/redis.sh
. "$ROOT/scripts/lib/redis.sh"
oathmesh_redis_install
cargo test -p oathmesh-gateway

# The deployment units (deploy/systemd) against the binary just built.
cargo build -p oathmesh-cli
"$ROOT/deploy/systemd/check.sh" "$CARGO_TARGET_DIR/debug/oathmesh"
