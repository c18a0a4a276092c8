#!/usr/bin/env bash
# Runs every test in every language. Installs what it needs; safe on a fresh machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

run() {
  echo
  echo "==> $*"
  "$@"
}

run "$ROOT/scripts/test-rust.sh"
for lang in python node c-go; do
  if [ -x "$ROOT/scripts/test-$lang.sh" ]; then
    run "$ROOT/scripts/test-$lang.sh"
  fi
done
echo
echo "All test suites passed."
