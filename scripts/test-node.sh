#!/usr/bin/env bash
# Node binding (@oathmesh/sdk): install, build the napi-rs addon and the TS layer, run the
# tests, then check that the packed tarball installs into a fresh folder and verifies a token.
# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT/bindings-node"

command -v node >/dev/null && command -v npm >/dev/null || om_apt_install nodejs npm
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "Node.js >= 20 is required (found $(node --version))" >&2
  exit 1
fi

# Real services for the shared-state, client and demo tests: the `oathmesh` CLI (issuer
# server, `audit verify`), a private redis-server and the pkl CLI.
source "$ROOT/scripts/lib/redis.sh"
source "$ROOT/scripts/lib/pkl.sh"
work="$(mktemp -d)"
trap 'oathmesh_redis_stop; rm -rf "$work"' EXIT

# shellcheck source=lib/build.sh
source "$ROOT/scripts/lib/build.sh"
om_build_cli
oathmesh_redis_start
oathmesh_pkl_install "$ROOT"

# npm ci, the addon and the ESM/CJS layer, once per run (scripts/lib/build.sh).
om_build_node
echo "==> tsc: type check of the tests"
npx tsc -p tsconfig.test.json

echo "==> node --test"
node --import tsx --test test/*.test.ts

echo "==> tsc: type check of the README blocks the tests just ran"
npx tsc -p tsconfig.readme.json

echo "==> npm pack: install the tarball into a fresh folder and verify a token"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --offline "$work/$tarball" >/dev/null
cat > check.mjs <<'JS'
import { Issuer, Verifier, generateKey, OathMeshError } from '@oathmesh/sdk';
import { oathmesh } from '@oathmesh/sdk/express';
import { withOathMesh } from '@oathmesh/sdk/next';
const key = generateKey();
const issuer = Issuer.fromPem(key.privatePem, { issuer: 'https://issuer.example' });
const verifier = new Verifier({ audience: 'https://api.example', trustedIssuers: ['https://issuer.example'], jwks: issuer.jwks() });
const { token } = issuer.mint({ sub: 'svc://packed', aud: 'https://api.example', act: 'read' });
const caller = verifier.verifyAuthorization(`OathMesh ${token}`);
if (caller.subject !== 'svc://packed' || typeof oathmesh !== 'function' || typeof withOathMesh !== 'function') process.exit(1);
try { verifier.verify(token); process.exit(1); } catch (e) { if (!(e instanceof OathMeshError) || e.code !== 'replay_detected') process.exit(1); }
console.log(`packed ESM: verified ${caller.subject}`);
JS
cat > check.cjs <<'JS'
const { Issuer, Verifier, generateKey } = require('@oathmesh/sdk');
const key = generateKey();
const issuer = Issuer.fromPem(key.privatePem, { issuer: 'https://issuer.example' });
const verifier = new Verifier({ audience: 'https://api.example', trustedIssuers: ['https://issuer.example'], jwks: issuer.jwks() });
const caller = verifier.verify(issuer.mint({ sub: 'svc://packed', aud: 'https://api.example', act: 'read' }).token);
if (caller.subject !== 'svc://packed') process.exit(1);
console.log(`packed CJS: verified ${caller.subject}`);
JS
node check.mjs
node check.cjs
echo "Node binding: all tests passed."
