# Source this file first from every script in scripts/: the shared preamble and helpers.
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# Sets strict mode, ROOT (the checkout), CARGO_TARGET_DIR (shared target/ unless set), and
# changes into ROOT.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"

# om_apt_install PKG...: installs Debian packages, as root directly or through sudo otherwise.
om_apt_install() {
  command -v apt-get >/dev/null 2>&1 || { echo "need $*, and apt-get is not available" >&2; return 1; }
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# om_need CMD PKG...: installs PKG... with apt when CMD is not on PATH.
om_need() {
  local cmd="$1"; shift
  command -v "$cmd" >/dev/null 2>&1 || om_apt_install "$@"
}

# om_free_port: a free loopback TCP port.
om_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# om_rust_components: rustfmt and clippy, when the toolchain lacks them.
om_rust_components() {
  rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add rustfmt clippy
}

# om_lint -p CRATE... [-- clippy args]: rustfmt --check and clippy -D warnings for the given
# crates. ./scripts/test.sh lints the whole workspace once up front and sets
# OATHMESH_LINTED=1, so the language scripts skip this step under it.
om_lint() {
  [ "${OATHMESH_LINTED:-0}" = 1 ] && return 0
  local pkgs=() extra=()
  while [ "$#" -gt 0 ]; do
    if [ "$1" = -- ]; then shift; extra=("$@"); break; fi
    pkgs+=("$1"); shift
  done
  om_rust_components
  cargo fmt "${pkgs[@]}" -- --check
  cargo clippy -q "${pkgs[@]}" --all-targets "${extra[@]}" -- -D warnings
}

# om_lint_workspace: the same for every crate at once (the features the tests enable).
om_lint_workspace() {
  om_rust_components
  cargo fmt --all -- --check
  cargo clippy -q --workspace --all-targets --features oathmesh-serving/test-pki -- -D warnings
}
