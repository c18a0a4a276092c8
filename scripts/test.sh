#!/usr/bin/env bash
# Runs every test in every language. Installs what it needs; safe on a fresh machine.
# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

run() {
  echo
  echo "==> $*"
  "$@"
}

# shellcheck source=lib/version.sh
. "$ROOT/scripts/lib/version.sh"
# shellcheck source=lib/build.sh
. "$ROOT/scripts/lib/build.sh"
run om_check_version
# rustfmt and clippy once for the whole workspace; the language scripts then skip theirs.
run om_lint_workspace
export OATHMESH_LINTED=1

run "$ROOT/scripts/test-rust.sh"
# Every native artifact once (CLI, liboathmesh.a, wheel, addon); every suite below and the
# demo reuse them (scripts/lib/build.sh).
run om_build_all
for suite in issuer gateway python node c-go jvm release; do
  if [ -x "$ROOT/scripts/test-$suite.sh" ]; then
    run "$ROOT/scripts/test-$suite.sh"
  fi
done
# End to end: the CLI walk-through, then the main job (the whole system on loopback).
run "$ROOT/scripts/demo-cli.sh"
run "$ROOT/scripts/demo.sh"
echo
echo "All test suites passed."
