#!/usr/bin/env bash
# Builds the `oathmesh` wheel once (maturin, release), installs it with its test extras into
# a virtualenv under bindings-python/, and runs the Python suite: conformance vectors,
# FastAPI/Flask/Django adapters, PyJWT interop, threads, README snippets, stubtest, and the
# tests against real services (a private Redis, the pkl CLI, `oathmesh serve`, and the
# FastAPI demo service under uvicorn).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PKG="$ROOT/bindings-python"
VENV="$PKG/.venv"
DIST="$PKG/dist"

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
  echo "test-python: need Python >= 3.10 (set PYTHON=...)" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
  # Debian splits venv/ensurepip out of the interpreter package.
  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip
"${PIP[@]}" install "maturin==1.16.*"

# The crate's own Rust checks (the Rust script covers the core's crates).
rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add rustfmt clippy
cargo fmt -p oathmesh-python -- --check
cargo clippy -q -p oathmesh-python --all-targets -- -D warnings

# The CLI: the issuer server the client tests talk to, and `oathmesh audit verify`.
cargo build --release -q -p oathmesh-cli
export OATHMESH_BIN="$CARGO_TARGET_DIR/release/oathmesh"

# One wheel per run, built from a clean dist dir so exactly one wheel is installed.
rm -rf "$DIST"
(cd "$PKG" && "$VENV/bin/maturin" build --release --out "$DIST" --interpreter "$VENV/bin/python")
WHEEL="$(ls "$DIST"/oathmesh-*.whl)"
"${PIP[@]}" install "${WHEEL}[test,fastapi,flask,django]"
# The version does not change between builds: force the wheel just built over any older one.
"${PIP[@]}" install --force-reinstall --no-deps "$WHEEL"

# Real services for the shared-state tests: a private Redis and the pkl CLI.
# shellcheck source=lib/redis.sh
. "$ROOT/scripts/lib/redis.sh"
# shellcheck source=lib/pkl.sh
. "$ROOT/scripts/lib/pkl.sh"
oathmesh_pkl_install "$ROOT"
oathmesh_redis_start
trap oathmesh_redis_stop EXIT

# Run from the tests directory against the installed wheel, never the source tree.
cd "$PKG/tests"
"$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
