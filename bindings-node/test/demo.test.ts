// demo/services/node: the Express demo service as the end-to-end demo starts it (run.sh with
// PORT, SERVICE_NAME, OATHMESH_CONFIG), over real HTTP on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Issuer, canonicalRequestHash, generateKey } from '@oathmesh/sdk';
import { freePort, tempDir, waitForHttp } from './services';

const RUN = join(__dirname, '..', '..', 'demo', 'services', 'node', 'run.sh');

test('demo service: /healthz open, /api/ allows a bound token and answers denials with PROTOCOL §2', async (t) => {
  const key = generateKey();
  const issuer = Issuer.fromPem(key.privatePem, { issuer: 'https://issuer.demo.test' });
  const config = join(tempDir(), 'verifier.json');
  writeFileSync(
    config,
    JSON.stringify({
      audience: 'https://orders.demo.test',
      trusted_issuers: ['https://issuer.demo.test'],
      jwks: issuer.jwks(),
      policy: { version: 1, rules: [{ name: 'checkout-creates-orders', allow: true, match: { sub: 'svc://checkout', act: 'create' } }] },
    }),
  );
  const port = await freePort();
  const child = spawn(RUN, [], { env: { ...process.env, PORT: String(port), SERVICE_NAME: 'orders', OATHMESH_CONFIG: config }, stdio: ['ignore', 'ignore', 'inherit'] });
  t.after(() => child.kill());
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/healthz`, child);
  assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { ok: true });

  const body = '{"item":"book","qty":2}';
  const mint = (act: string, rqh?: string) => issuer.mint({ sub: 'svc://checkout', aud: 'https://orders.demo.test', act, rqh }).token;
  const bound = mint('create', canonicalRequestHash('POST', '/api/orders?src=demo', body));
  const ok = await fetch(`${base}/api/orders?src=demo`, { method: 'POST', body, headers: { authorization: `OathMesh ${bound}`, 'content-type': 'application/json' } });
  assert.equal(ok.status, 200);
  const caller = await ok.json();
  assert.deepEqual(
    { ...caller, token_id: typeof caller.token_id },
    {
      service: 'orders',
      subject: 'svc://checkout',
      action: 'create',
      token_id: 'string',
      policy_rule: 'checkout-creates-orders',
      body_sha256: createHash('sha256').update(body).digest('hex'),
    },
  );
  // Tokens are single-use; a fresh bound token with another body is refused too.
  const replayed = await fetch(`${base}/api/orders?src=demo`, { method: 'POST', body, headers: { authorization: `OathMesh ${bound}` } });
  assert.equal(replayed.status, 401);
  assert.equal((await replayed.json()).error, 'replay_detected');
  const tampered = await fetch(`${base}/api/orders?src=demo`, {
    method: 'POST',
    body: '{"item":"book","qty":200}',
    headers: { authorization: `OathMesh ${mint('create', canonicalRequestHash('POST', '/api/orders?src=demo', body))}` },
  });
  assert.equal(tampered.status, 401);
  assert.equal((await tampered.json()).error, 'binding_mismatch');
  const denied = await fetch(`${base}/api/orders/1`, { method: 'DELETE', headers: { authorization: `OathMesh ${mint('delete')}`, 'x-request-id': 'demo-1' } });
  assert.equal(denied.status, 403);
  assert.deepEqual(Object.keys(await denied.clone().json()).sort(), ['error', 'fix', 'message', 'request_id', 'step']);
  assert.deepEqual({ ...(await denied.json()), message: undefined, fix: undefined }, { error: 'policy_denied', step: '14', request_id: 'demo-1', message: undefined, fix: undefined });
  const missing = await fetch(`${base}/api/orders`);
  assert.equal(missing.status, 401);
  assert.equal((await missing.json()).error, 'claim_missing:token');
});
