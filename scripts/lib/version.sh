# Source this file: the release version and its drift check.
# The one place that holds the version is `[workspace.package] version` in Cargo.toml; every
# crate inherits it (the wheel through maturin, the C library and the CLI through
# CARGO_PKG_VERSION). The files below cannot read Cargo.toml, so they carry a copy that
# om_check_version compares; scripts/release.sh also checks the built artifacts.

om_version() {
  sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml"
}

# om_check_version: fails, naming each file, when a copy of the version disagrees.
om_check_version() {
  local v bad=0 f
  v="$(om_version)"
  [ -n "$v" ] || { echo "version: no [workspace.package] version in Cargo.toml" >&2; return 1; }
  check() { # file what expected-grep-pattern
    if ! grep -qF -- "$3" "$ROOT/$1"; then
      echo "version drift: $1 ($2) does not say $v; Cargo.toml says $v" >&2
      bad=1
    fi
  }
  check bindings-node/package.json "package version" "\"version\": \"$v\","
  [ "$(grep -cF "\"version\": \"$v\"," "$ROOT/bindings-node/package-lock.json")" -ge 2 ] \
    || { echo "version drift: bindings-node/package-lock.json (root package) is not $v" >&2; bad=1; }
  check bindings-c/go/oathmesh/verifier_test.go "TestVersion" "oathmesh.Version() != \"$v\""
  check bindings-c/tests/test_oathmesh.c "version check" "strcmp(version, \"$v\")"
  check cli/tests/cli.rs "--version test" "\"oathmesh $v\""
  [ ! -f "$ROOT/bindings-jvm/pom.xml" ] || check bindings-jvm/pom.xml "project version" "<version>$v</version>"
  for f in "$ROOT"/bindings-node/npm/*/package.json; do
    [ -f "$f" ] || continue
    check "${f#"$ROOT"/}" "platform package version" "\"version\": \"$v\","
  done
  [ "$bad" -eq 0 ] && echo "version: $v everywhere"
  return "$bad"
}
