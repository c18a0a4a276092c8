#!/usr/bin/env bash
# The issuer server: formatting, lints, and its tests against a real server on loopback.
# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# A private Redis for the shared-revocation test.
. "$ROOT/scripts/lib/redis.sh"
oathmesh_redis_start
trap oathmesh_redis_stop EXIT
om_lint -p oathmesh-issuer -p oathmesh-serving -- --features oathmesh-serving/test-pki
cargo test -p oathmesh-issuer -p oathmesh-serving --features oathmesh-serving/test-pki
