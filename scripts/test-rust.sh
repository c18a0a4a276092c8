#!/usr/bin/env bash
# Rust: formatting, lints, unit/integration/property tests, Wycheproof, and the conformance
# vector drift check (the generator's output must equal the committed file).
# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# The crates this script owns; each binding's script checks its own crate.
CRATES=(-p oathmesh-core -p oathmesh-cli -p oathmesh-conformance)

om_lint "${CRATES[@]}"
# shellcheck source=lib/version.sh
. "$ROOT/scripts/lib/version.sh"
om_check_version
cargo build -p oathmesh-core --no-default-features

# Real services for the shared-state tests: a private Redis and the pkl CLI.
# shellcheck source=lib/redis.sh
. "$ROOT/scripts/lib/redis.sh"
# shellcheck source=lib/pkl.sh
. "$ROOT/scripts/lib/pkl.sh"
oathmesh_pkl_install "$ROOT"
oathmesh_redis_start
trap oathmesh_redis_stop EXIT
cargo test "${CRATES[@]}"
# The drift check runs as a test above; say so plainly when it is the thing that failed.
cargo test -q -p oathmesh-conformance --test vectors committed_file_matches_the_generator >/dev/null \
  || { echo "conformance-vectors/vectors.json drifted: run 'cargo run -p oathmesh-conformance'" >&2; exit 1; }
