#!/usr/bin/env bash
# Checks the units with `systemd-analyze verify`: syntax, known directives and values, and
# that the command exists. The units name /usr/local/bin/oathmesh, which need not be installed
# where this runs, so the check verifies copies whose ExecStart points at the binary given
# (default: the workspace's debug build).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="${1:-$HERE/../../target/debug/oathmesh}"
[ -x "$BIN" ] || { echo "no oathmesh binary at $BIN (cargo build -p oathmesh-cli)" >&2; exit 1; }
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
if ! command -v systemd-analyze >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq systemd >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq systemd >/dev/null; fi
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
for unit in "$HERE"/*.service; do
  sed "s|/usr/local/bin/oathmesh|$BIN|g" "$unit" >"$WORK/$(basename "$unit")"
done
# --man=no: the Documentation= pages are files installed with the package, not man pages.
out="$(systemd-analyze verify --man=no "$WORK"/*.service 2>&1)" || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then echo "$out" >&2; exit 1; fi
echo "systemd units: $(ls "$HERE"/*.service | wc -l) verified"
