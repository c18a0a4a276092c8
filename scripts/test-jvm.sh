#!/usr/bin/env bash
# JVM (Kotlin and Java): builds the uniffi cdylib and its pinned uniffi-bindgen once
# (release, reused when up to date), then `mvn verify` on bindings-jvm: Kotlin generated from
# the library, the jar with the library under linux-x86-64/, and the JUnit 5 suites (every
# conformance vector, the API, 16 threads, 100k create/close cycles with flat RSS, JDK Ed25519
# interop, the Servlet filter under Spring Boot on a random port over real HTTP, the
# HttpClient wrapper). Then the jar as a user gets it: installed into a throwaway local Maven
# repository, the README's plain-Java quickstart compiled and run in a fresh folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
JVM="$ROOT/bindings-jvm"

# --- tools: Java 17 and Maven (Debian packages); Maven fetches the rest -----------------
missing=()
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
MVN=(mvn -B -q -ntp)

# --- native library and generator, once ------------------------------------------------
cargo build --quiet --release -p oathmesh-jvm --lib --bin uniffi-bindgen
export OATHMESH_JVM_LIB="$CARGO_TARGET_DIR/release/liboathmesh_jvm.so"
export OATHMESH_JVM_BINDGEN="$CARGO_TARGET_DIR/release/uniffi-bindgen"
cargo fmt -p oathmesh-jvm -- --check
cargo test --quiet --release -p oathmesh-jvm --lib

# --- the jar and its suites ------------------------------------------------------------
(cd "$JVM" && "${MVN[@]}" verify)
JAR="$JVM/target/oathmesh-0.2.0.jar"
jar tf "$JAR" | grep -q 'linux-x86-64/liboathmesh_jvm.so' || { echo "the jar lacks the native library" >&2; exit 1; }
grep -rq 'package io.oathmesh.ffi' "$JVM/target/generated-sources/uniffi" || { echo "no generated Kotlin" >&2; exit 1; }

# --- the jar as a user gets it ---------------------------------------------------------
# A throwaway local repository: only the jar's declared dependencies reach the app.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"${MVN[@]}" -Dmaven.repo.local="$WORK/m2" install:install-file \
  -Dfile="$JAR" -DpomFile="$JVM/pom.xml"
APP="$WORK/app"
mkdir -p "$APP/src/main/java"
cat > "$APP/pom.xml" <<'XML'
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>example</groupId><artifactId>quickstart</artifactId><version>1</version>
  <properties><maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <dependencies>
    <dependency><groupId>io.oathmesh</groupId><artifactId>oathmesh</artifactId><version>0.2.0</version></dependency>
  </dependencies>
  <build><plugins><plugin><groupId>org.apache.maven.plugins</groupId>
    <artifactId>maven-compiler-plugin</artifactId><version>3.13.0</version></plugin></plugins></build>
</project>
XML
# The README's Java quickstart, exactly as written.
awk '/<!-- quickstart-java -->/{f=1;next} f&&/^```java/{g=1;next} g&&/^```/{exit} g' \
  "$JVM/README.md" > "$APP/src/main/java/Quickstart.java"
[ -s "$APP/src/main/java/Quickstart.java" ] || { echo "no quickstart in bindings-jvm/README.md" >&2; exit 1; }
(cd "$APP" && "${MVN[@]}" -Dmaven.repo.local="$WORK/m2" compile \
  dependency:build-classpath -Dmdep.outputFile=cp.txt)
OUT="$(cd "$APP" && java -cp "target/classes:$(cat cp.txt)" Quickstart)"
echo "$OUT"
[ "$(echo "$OUT" | tail -1)" = "verified svc://checkout charge" ] || { echo "quickstart output unexpected" >&2; exit 1; }
echo "JVM suite passed."
