// OathMesh demo service (Node, Express). Env:
//   PORT             port to listen on (loopback and all interfaces: 0.0.0.0)
//   SERVICE_NAME     echoed in every answer
//   OATHMESH_CONFIG  path of a verifier configuration JSON document, used as-is
// GET /healthz is open; everything under /api/ needs an Oath Token, checked by the
// @oathmesh/sdk Express middleware against the real request (method, path, exact body).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
// The binding as built by scripts/test-node.sh (bindings-node/dist); express comes from the
// binding's own node_modules, so the demo needs no install of its own.
import { Verifier } from '../../../bindings-node/dist/esm/index.js';
import { oathmesh } from '../../../bindings-node/dist/esm/express.js';

const express = createRequire(new URL('../../../bindings-node/package.json', import.meta.url))('express');

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return value;
}

const port = Number(required('PORT'));
const service = required('SERVICE_NAME');
const verifier = Verifier.fromConfig(readFileSync(required('OATHMESH_CONFIG'), 'utf8'));
await verifier.prewarm(); // with JWKS fetching, load the keys before serving (no-op for static keys)

const app = express();
app.disable('x-powered-by');
app.get('/healthz', (_req, res) => res.json({ ok: true }));
// express.raw keeps the exact body bytes, which request-bound tokens are checked against.
app.use('/api', express.raw({ type: () => true, limit: '1mb' }), oathmesh({ verifier }), (req, res) => {
  const caller = req.oathmesh;
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  res.json({
    service,
    subject: caller.subject,
    action: caller.action,
    token_id: caller.tokenId,
    policy_rule: caller.policyRule,
    body_sha256: createHash('sha256').update(body).digest('hex'),
  });
});

app.listen(port, '0.0.0.0', () => console.log(`${service} (node) listening on :${port}`));
