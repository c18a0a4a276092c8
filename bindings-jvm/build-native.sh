#!/usr/bin/env bash
# Builds the uniffi cdylib (release) and generates its Kotlin glue, for the Maven build.
#   build-native.sh <generated-kotlin-dir> <native-resources-dir>
# Reuses a built library when it is newer than every Rust source it depends on (cargo
# decides that itself; a no-op build takes about a second). OATHMESH_JVM_LIB may name a
# prebuilt library to pack instead (the test script builds once and passes it).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
GENERATED="$1"
NATIVE="$2"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

cd "$ROOT"
if [ -z "${OATHMESH_JVM_LIB:-}" ]; then
  cargo build --quiet --release -p oathmesh-jvm --lib --bin uniffi-bindgen
  OATHMESH_JVM_LIB="$TARGET/release/liboathmesh_jvm.so"
fi
BINDGEN="${OATHMESH_JVM_BINDGEN:-$TARGET/release/uniffi-bindgen}"

rm -rf "$GENERATED"
mkdir -p "$GENERATED" "$NATIVE/linux-x86-64"
"$BINDGEN" generate --library "$OATHMESH_JVM_LIB" --language kotlin \
  --out-dir "$GENERATED" --no-format >/dev/null
cp "$OATHMESH_JVM_LIB" "$NATIVE/linux-x86-64/liboathmesh_jvm.so"
