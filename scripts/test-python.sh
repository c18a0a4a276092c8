#!/usr/bin/env bash
# Builds the `oathmesh` wheel once (maturin, release), installs it with its test extras into
# a virtualenv under bindings-python/, and runs the Python suite: conformance vectors,
# FastAPI/Flask/Django adapters, PyJWT interop, threads, README snippets, stubtest, and the
# tests against real services (a private Redis, the pkl CLI, `oathmesh serve`, and the
# FastAPI demo service under uvicorn).
# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
PKG="$ROOT/bindings-python"
VENV="$PKG/.venv"

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
  echo "test-python: need Python >= 3.10 (set PYTHON=...)" >&2
  exit 1
fi
# Debian splits venv/ensurepip out of the interpreter package.
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || om_apt_install python3-venv
# shellcheck source=lib/build.sh
. "$ROOT/scripts/lib/build.sh"

# The crate's own Rust checks (the Rust script covers the core's crates).
om_lint -p oathmesh-python

# The CLI (the issuer server the client tests talk to, and `oathmesh audit verify`) and the
# wheel with its test extras, each built once (scripts/lib/build.sh).
om_build_cli
om_build_python "test,fastapi,flask,django"

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
