# Source this file (after common.sh): build steps shared by the demo and the test scripts.
# Each builds one artifact into the shared target/ (or the binding's own folder). Under
# ./scripts/test.sh every artifact is built once, up front (om_build_all), and the exported
# OATHMESH_BUILT_* markers make the language scripts and the demo reuse it instead of
# building a second copy; run alone, a script builds what it needs itself.

# The `oathmesh` CLI and liboathmesh.a for cgo, in one cargo run (one feature resolution,
# so the core is compiled once for both).
om_build_native() {
  [ "${OATHMESH_BUILT_NATIVE:-}" = 1 ] && return 0
  echo "==> cargo build --release -p oathmesh-cli -p oathmesh-c"
  cargo build --release --quiet -p oathmesh-cli -p oathmesh-c
  export OATHMESH_BUILT_NATIVE=1
  export OATHMESH_BIN="$CARGO_TARGET_DIR/release/oathmesh"
}
om_build_cli() { om_build_native; }
om_build_go() { om_build_native; }

# The Python virtualenv with maturin (bindings-python/.venv).
om_python_venv() {
  local venv="$ROOT/bindings-python/.venv" python="${PYTHON:-python3}"
  "$python" -c 'import venv, ensurepip' 2>/dev/null || om_apt_install python3-venv
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip --disable-pip-version-check -q install "maturin==1.16.*"
}

# The wheel, once per run, into bindings-python/dist (exactly one wheel there); exports
# OATHMESH_WHEEL.
om_build_wheel() {
  if [ "${OATHMESH_BUILT_WHEEL:-}" = 1 ] && [ -f "${OATHMESH_WHEEL:-}" ]; then return 0; fi
  local pkg="$ROOT/bindings-python" venv="$ROOT/bindings-python/.venv"
  om_python_venv
  echo "==> maturin build --release (the oathmesh wheel)"
  rm -rf "$pkg/dist"
  (cd "$pkg" && "$venv/bin/maturin" build --release --quiet --out dist --interpreter "$venv/bin/python" >/dev/null)
  OATHMESH_WHEEL="$(ls "$pkg"/dist/oathmesh-*.whl)"
  export OATHMESH_WHEEL OATHMESH_BUILT_WHEEL=1
}

# om_build_python [EXTRAS]: the wheel installed into bindings-python/.venv with the given
# extras (default: fastapi, which the demo service needs) and uvicorn.
om_build_python() {
  local extras="${1:-fastapi}" venv="$ROOT/bindings-python/.venv"
  om_build_wheel
  local pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
  "${pip[@]}" install "${OATHMESH_WHEEL}[$extras]" uvicorn
  # The version does not change between builds: force the wheel just built over any older one.
  "${pip[@]}" install --force-reinstall --no-deps "$OATHMESH_WHEEL"
}

# The napi addon and the compiled TypeScript layer in bindings-node/ (native/, dist/).
om_build_node() {
  [ "${OATHMESH_BUILT_NODE:-}" = 1 ] && return 0
  echo "==> npm ci, napi build --release, tsc (the Node addon)"
  (cd "$ROOT/bindings-node" &&
    { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --silent; } &&
    npx napi build --platform --release --output-dir native >/dev/null &&
    npm run --silent build:ts)
  export OATHMESH_BUILT_NODE=1
}

# Everything above, once; the markers it exports reach every script test.sh runs next.
om_build_all() {
  om_build_native
  om_build_python "test,fastapi,flask,django"
  om_build_node
}
