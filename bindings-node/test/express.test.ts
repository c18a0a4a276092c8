// The Express middleware through supertest (real HTTP on loopback).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { canonicalRequestHash } from '@oathmesh/sdk';
import { captureRawBody, oathmesh } from '@oathmesh/sdk/express';
import { POLICY, nowSecs, setup } from './helpers';

function app() {
  const ctx = setup({ policy: POLICY });
  const { verifier } = ctx;
  const app = express();
  const hello = (req: express.Request, res: express.Response) => {
    res.json({ subject: req.oathmesh?.subject, rule: req.oathmesh?.policyRule, body: (Buffer.isBuffer(req.body) ? req.body : req.rawBody)?.toString() });
  };
  // Raw bytes from express.raw().
  app.post('/raw/charge', express.raw({ type: '*/*' }), oathmesh({ verifier, action: 'charge' }), hello);
  // No parser: the middleware reads the stream itself.
  app.post('/plain/charge', oathmesh({ verifier }), hello);
  // express.json with the verify hook keeping the bytes.
  app.post('/json/charge', express.json({ verify: captureRawBody }), oathmesh({ verifier }), (req, res) => {
    res.json({ subject: req.oathmesh?.subject, amount: req.body.amount });
  });
  // express.json without the hook: bound tokens cannot be checked.
  app.post('/lossy/charge', express.json(), oathmesh({ verifier }), hello);
  app.get('/read', oathmesh({ verifier }), hello);
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ name: err.name, code: (err as { code?: string }).code });
  });
  return { ...ctx, app };
}

const auth = (token: string) => `OathMesh ${token}`;

test('allow: req.oathmesh is the verified caller', async () => {
  const { app: server, mint } = app();
  const res = await request(server).post('/raw/charge').set('Authorization', auth(mint())).send('hi').expect(200);
  assert.deepEqual(res.body, { subject: 'svc://checkout', rule: 'checkout-charges', body: 'hi' });
});

test('missing header: 401 with PROTOCOL §2 body, request id echoed or generated', async () => {
  const { app: server } = app();
  const res = await request(server).get('/read').set('X-Request-Id', 'abc-123').expect(401);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  assert.match(res.headers['www-authenticate'], /^OathMesh/);
  assert.deepEqual(Object.keys(res.body).sort(), ['error', 'fix', 'message', 'request_id', 'step']);
  assert.equal(res.body.error, 'claim_missing:token');
  assert.equal(res.body.step, '00');
  assert.equal(res.body.request_id, 'abc-123');
  const generated = await request(server).get('/read').set('Authorization', 'Bearer x').expect(401);
  assert.match(generated.body.request_id, /^[0-9a-f-]{36}$/);
});

test('expired token: 401 token_expired', async () => {
  const { app: server, mintAt } = app();
  const res = await request(server).get('/read').set('Authorization', auth(mintAt(nowSecs() - 600, { act: 'read' }))).expect(401);
  assert.equal(res.body.error, 'token_expired');
  assert.equal(res.body.step, '08');
});

test('wrong audience: 401 audience_mismatch', async () => {
  const { app: server, mint } = app();
  const res = await request(server).get('/read').set('Authorization', auth(mint({ aud: 'https://elsewhere.test', act: 'read' }))).expect(401);
  assert.equal(res.body.error, 'audience_mismatch');
});

test('replay: the second use of a token is refused', async () => {
  const { app: server, mint } = app();
  const token = mint({ act: 'read' });
  await request(server).get('/read').set('Authorization', auth(token)).expect(200);
  const res = await request(server).get('/read').set('Authorization', auth(token)).expect(401);
  assert.equal(res.body.error, 'replay_detected');
  assert.equal(res.body.step, '13');
});

test('policy deny: 403, and the route action is enforced', async () => {
  const { app: server, mint } = app();
  const denied = await request(server).get('/read').set('Authorization', auth(mint({ act: 'delete' }))).expect(403);
  assert.equal(denied.body.error, 'policy_denied');
  assert.equal(denied.body.step, '14');
  const wrongAction = await request(server).post('/raw/charge').set('Authorization', auth(mint({ act: 'read' }))).send('x').expect(403);
  assert.match(wrongAction.body.message, /requires the action `charge`/);
});

test('request binding: match and mismatch, with every body source', async () => {
  const { app: server, mint } = app();
  const body = '{"amount":100}';
  for (const route of ['/raw/charge', '/plain/charge', '/json/charge']) {
    const path = `${route}?b=2&a=1`;
    const rqh = canonicalRequestHash('POST', path, body);
    const ok = await request(server).post(path).set('Content-Type', 'application/json').set('Authorization', auth(mint({ rqh }))).send(body).expect(200);
    assert.equal(ok.body.subject, 'svc://checkout', route);
    if (route === '/json/charge') assert.equal(ok.body.amount, 100);
    else assert.equal(ok.body.body, body);
    const tampered = await request(server)
      .post(path)
      .set('Content-Type', 'application/json')
      .set('Authorization', auth(mint({ rqh })))
      .send('{"amount":100000}')
      .expect(401);
    assert.equal(tampered.body.error, 'binding_mismatch', route);
    const otherPath = await request(server).post(`${route}?a=1`).set('Authorization', auth(mint({ rqh }))).send(body).expect(401);
    assert.equal(otherPath.body.error, 'binding_mismatch', route);
  }
});

test('a parser that dropped the raw bytes is a server error, not a silent pass', async () => {
  const { app: server, mint } = app();
  const body = '{"amount":1}';
  const rqh = canonicalRequestHash('POST', '/lossy/charge', body);
  const res = await request(server).post('/lossy/charge').set('Content-Type', 'application/json').set('Authorization', auth(mint({ rqh }))).send(body).expect(500);
  assert.deepEqual(res.body, { name: 'OathMeshConfigError', code: 'config_invalid' });
  // Unbound tokens need no body and still pass there.
  await request(server).post('/lossy/charge').set('Content-Type', 'application/json').set('Authorization', auth(mint())).send(body).expect(200);
});
