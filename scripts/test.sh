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
for suite in issuer gateway python node c-go jvm; do
  if [ -x "$ROOT/scripts/test-$suite.sh" ]; then
    run "$ROOT/scripts/test-$suite.sh"
  fi
done
# End to end: the CLI walk-through, then the main job (the whole system on loopback).
run "$ROOT/scripts/demo-cli.sh"
run "$ROOT/scripts/demo.sh"
echo
echo "All test suites passed."
