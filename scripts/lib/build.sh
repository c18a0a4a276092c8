# Source this file: build steps shared by the demo and the test scripts. Each builds one
# artifact into the shared target/ (or the binding's own folder) and is a quick no-op when
# nothing changed. Expects ROOT and CARGO_TARGET_DIR.

om_build_cli() {
  (cd "$ROOT" && cargo build --release --quiet -p oathmesh-cli)
}

# The wheel, installed with the FastAPI extra and uvicorn into bindings-python/.venv.
om_build_python() {
  local pkg="$ROOT/bindings-python" venv="$ROOT/bindings-python/.venv"
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  fi
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip --disable-pip-version-check -q install "maturin==1.16.*" uvicorn
  rm -rf "$pkg/dist"
  (cd "$pkg" && "$venv/bin/maturin" build --release --quiet --out dist --interpreter "$venv/bin/python" >/dev/null)
  local wheel
  wheel="$(ls "$pkg"/dist/oathmesh-*.whl)"
  "$venv/bin/python" -m pip --disable-pip-version-check -q install "${wheel}[fastapi]"
  "$venv/bin/python" -m pip --disable-pip-version-check -q install --force-reinstall --no-deps "$wheel"
}

# The napi addon and the compiled TypeScript layer in bindings-node/.
om_build_node() {
  (cd "$ROOT/bindings-node" &&
    { [ -d node_modules ] || npm ci --no-audit --no-fund --silent; } &&
    npx napi build --platform --release --output-dir native >/dev/null &&
    npm run --silent build:ts)
}

# liboathmesh.a for cgo.
om_build_go() {
  (cd "$ROOT" && cargo build --release --quiet -p oathmesh-c)
}
