// Next.js: App Router handlers called with real Web `Request` objects; the Pages Router
// wrapper served over real HTTP (supertest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { canonicalRequestHash } from '@oathmesh/sdk';
import type { ServerResponse } from 'node:http';
import { verifyRequest, withOathMesh, withOathMeshApi, type ApiRequest } from '@oathmesh/sdk/next';
import { POLICY, nowSecs, setup } from './helpers';

const URL_BASE = 'http://localhost:3000';

function routes() {
  const ctx = setup({ policy: POLICY });
  const POST = withOathMesh<{ params: Promise<{ id: string }> }>(
    ctx.verifier,
    async (req, { oathmesh, params }) =>
      Response.json({ subject: oathmesh.subject, id: (await params).id, body: await req.text() }),
    { action: 'charge' },
  );
  return { ...ctx, POST };
}

const post = (path: string, token: string | null, body = '{"amount":5}', headers: Record<string, string> = {}) =>
  new Request(URL_BASE + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `OathMesh ${token}` } : {}), ...headers },
    body,
  });
const ctx = { params: Promise.resolve({ id: 'ch_1' }) };

test('App Router: allow passes the caller and Next context; the handler can still read the body', async () => {
  const { POST, mint } = routes();
  const res = await POST(post('/api/charges/ch_1', mint()), ctx);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { subject: 'svc://checkout', id: 'ch_1', body: '{"amount":5}' });
});

test('App Router: failures are PROTOCOL §2 responses', async () => {
  const { POST, mint, mintAt } = routes();
  const missing = await POST(post('/api/charges/ch_1', null, undefined, { 'x-request-id': 'rid-9' }), ctx);
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.deepEqual(await missing.json(), {
    error: 'claim_missing:token',
    message: 'no `Authorization: OathMesh <token>` header was sent',
    fix: 'Send the header `Authorization: OathMesh <token>` with a freshly minted token.',
    step: '00',
    request_id: 'rid-9',
  });
  const expired = await POST(post('/api/charges/ch_1', mintAt(nowSecs() - 900)), ctx);
  assert.equal(expired.status, 401);
  assert.equal((await expired.json()).error, 'token_expired');
  const wrongAction = await POST(post('/api/charges/ch_1', mint({ act: 'read' })), ctx);
  assert.equal(wrongAction.status, 403);
  const token = mint();
  assert.equal((await POST(post('/api/charges/ch_1', token), ctx)).status, 200);
  const replay = await POST(post('/api/charges/ch_1', token), ctx);
  assert.equal((await replay.json()).error, 'replay_detected');
});

test('App Router: request binding against the exact body and path', async () => {
  const { POST, mint } = routes();
  const body = '{"amount":5}';
  const rqh = canonicalRequestHash('POST', '/api/charges/ch_1?z=1&a=2', body);
  const ok = await POST(post('/api/charges/ch_1?z=1&a=2', mint({ rqh }), body), ctx);
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).body, body, 'the original body is still readable');
  const tampered = await POST(post('/api/charges/ch_1?z=1&a=2', mint({ rqh }), '{"amount":500}'), ctx);
  assert.equal(tampered.status, 401);
  assert.equal((await tampered.json()).error, 'binding_mismatch');
});

test('middleware-style verifyRequest returns the caller or a ready response', async () => {
  const { verifier, mint } = setup();
  const good = await verifyRequest(verifier, new Request(`${URL_BASE}/x`, { headers: { authorization: `OathMesh ${mint()}` } }));
  assert.ok(good.ok);
  assert.equal(good.caller.subject, 'svc://checkout');
  const bad = await verifyRequest(verifier, new Request(`${URL_BASE}/x`));
  assert.ok(!bad.ok);
  assert.equal(bad.response.status, 401);
  assert.equal(bad.error.code, 'claim_missing:token');
});

test('Pages Router API route wrapper (bodyParser: false for bound tokens)', async () => {
  const { verifier, mint } = setup({ policy: POLICY });
  // Plain Node response (no Next helpers): name the types.
  const handler = withOathMeshApi<ApiRequest, ServerResponse>(verifier, (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ subject: req.oathmesh.subject, body: Buffer.isBuffer(req.body) ? req.body.toString() : null }));
  });
  const ok = await request(handler).get('/api/hello').set('Authorization', `OathMesh ${mint({ act: 'read' })}`).expect(200);
  assert.deepEqual(ok.body, { subject: 'svc://checkout', body: null });
  const body = 'payload';
  const rqh = canonicalRequestHash('POST', '/api/hello?x=1', body);
  const bound = await request(handler).post('/api/hello?x=1').set('Authorization', `OathMesh ${mint({ rqh })}`).send(body).expect(200);
  assert.equal(bound.body.body, body);
  const mismatch = await request(handler).post('/api/hello?x=1').set('Authorization', `OathMesh ${mint({ rqh })}`).send('other').expect(401);
  assert.equal(mismatch.body.error, 'binding_mismatch');
  const denied = await request(handler).get('/api/hello').set('Authorization', `OathMesh ${mint({ act: 'delete' })}`).expect(403);
  assert.equal(denied.body.error, 'policy_denied');
});
