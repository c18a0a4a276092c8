// The Client SDK against a real `oathmesh serve` process: one fresh token per call, the
// issuer's refusals as typed errors, request binding checked by a real verifier over HTTP,
// and a mint that leaves the event loop free.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Client, OathMeshConfigError, OathMeshError, OathMeshIssuerError, Verifier, generateKey } from '@oathmesh/sdk';
import { oathmesh } from '@oathmesh/sdk/express';
import { freePort, startIssuer, type RunningIssuer } from './services';

const AUD = 'https://api.oathmesh.test';
const SECRET = 'node-client-secret-0123456789abcdef';
const clientKey = generateKey();
let issuer: RunningIssuer;
let verifier: Verifier;
const claims = { sub: 'svc://node-app', aud: AUD, act: 'read' };

before(async () => {
  issuer = await startIssuer([
    { id: 'node-app', secret: SECRET, allowedSub: ['svc://node-app'], allowedAud: [AUD], allowedAct: ['read', 'charge'] },
    { id: 'node-keyed', publicKeyPem: clientKey.publicPem, allowedSub: ['svc://node-keyed'], allowedAud: [AUD], allowedAct: ['read'] },
  ]);
  // Keys come from the issuer's own JWKS endpoint (JWKS fetching), loaded off the JS thread.
  verifier = new Verifier({ audience: AUD, trustedIssuers: [issuer.url] });
  const [keys] = await verifier.prewarm();
  assert.deepEqual({ issuer: keys?.issuer, ok: keys?.ok, error: keys?.error }, { issuer: issuer.url, ok: true, error: undefined });
  assert.ok(keys!.keys > 0);
});

after(() => issuer.stop());

const client = (options: Partial<ConstructorParameters<typeof Client>[0]> = {}) =>
  new Client({ issuerUrl: issuer.url, clientId: 'node-app', clientSecret: SECRET, ...options });

test('mint: a fresh token per call, sequential or concurrent, each accepted once', async () => {
  const c = client();
  const sequential = [await c.mint(claims), await c.mint(claims)];
  const concurrent = await Promise.all(Array.from({ length: 6 }, () => c.mint(claims)));
  const minted = [...sequential, ...concurrent];
  assert.equal(new Set(minted.map((m) => m.token)).size, minted.length);
  for (const m of minted) {
    assert.equal(m.tokenType, 'OathMesh');
    assert.ok(m.expiresIn > 0 && m.expiresIn <= 300);
  }
  const callers = minted.map((m) => verifier.verify(m.token));
  assert.equal(new Set(callers.map((c) => c.tokenId)).size, minted.length);
  assert.deepEqual(new Set(callers.map((c) => `${c.issuer} ${c.subject} ${c.audience} ${c.action}`)), new Set([`${issuer.url} svc://node-app ${AUD} read`]));
  assert.throws(() => verifier.verify(minted[0]!.token), (e: unknown) => e instanceof OathMeshError && e.code === 'replay_detected');
});

test('mint with a client key: a signed assertion instead of a secret', async () => {
  const keyed = new Client({ issuerUrl: issuer.url, clientId: 'node-keyed', clientKeyPem: clientKey.privatePem });
  const first = await keyed.mint({ sub: 'svc://node-keyed', aud: AUD, act: 'read' });
  const second = await keyed.mint({ sub: 'svc://node-keyed', aud: AUD, act: 'read' });
  assert.equal(verifier.verify(first.token).subject, 'svc://node-keyed');
  assert.equal(verifier.verify(second.token).subject, 'svc://node-keyed');
});

test('a mint outside the allow-list: 403 mint_denied', async () => {
  await assert.rejects(client().mint({ ...claims, sub: 'svc://someone-else' }), (e: unknown) => {
    assert.ok(e instanceof OathMeshIssuerError);
    assert.equal(e.code, 'mint_denied');
    assert.equal(e.status, 403);
    assert.match(e.message, /sub/);
    assert.ok(e.fix.length > 0);
    assert.equal(e.isRetryable, false);
    assert.deepEqual(Object.keys(e.toJSON()).sort(), ['error', 'fix', 'message', 'status']);
    return true;
  });
});

test('a wrong secret: 401 invalid_client', async () => {
  await assert.rejects(client({ clientSecret: 'not-the-secret-0123456789abcdef' }).mint(claims), (e: unknown) => {
    assert.ok(e instanceof OathMeshIssuerError);
    assert.equal(e.code, 'invalid_client');
    assert.equal(e.status, 401);
    return true;
  });
});

test('issuer down: issuer_unavailable (503), retryable', async () => {
  const closed = await freePort();
  const down = new Client({ issuerUrl: `http://127.0.0.1:${closed}`, clientId: 'node-app', clientSecret: SECRET, timeoutMs: 2000 });
  await assert.rejects(down.mint(claims), (e: unknown) => {
    assert.ok(e instanceof OathMeshIssuerError);
    assert.equal(e.code, 'issuer_unavailable');
    assert.equal(e.status, 503);
    assert.equal(e.isRetryable, true);
    return true;
  });
});

test('bad client configuration: OathMeshConfigError from the core', () => {
  assert.throws(
    () => new Client({ issuerUrl: 'https://issuer.test', clientId: 'x', clientSecret: 's', clientKeyPem: clientKey.privatePem }),
    (e: unknown) => e instanceof OathMeshConfigError && /client_secret/.test(e.message),
  );
  assert.throws(() => new Client({ issuerUrl: 'ftp://issuer.test', clientId: 'x', clientSecret: 's' }), OathMeshConfigError);
});

test('mintForRequest: the token is accepted for exactly that request', async () => {
  const body = '{"amount":12}';
  const bound = await client().mintForRequest({ ...claims, act: 'charge' }, 'POST', '/charges?x=1', body);
  assert.throws(
    () => verifier.verify(bound.token, { method: 'POST', pathAndQuery: '/charges?x=1', body: '{"amount":99}' }),
    (e: unknown) => e instanceof OathMeshError && e.code === 'binding_mismatch',
  );
  const again = await client().mintForRequest({ ...claims, act: 'charge' }, 'POST', '/charges?x=1', body);
  assert.equal(verifier.verify(again.token, { method: 'POST', pathAndQuery: '/charges?x=1', body }).action, 'charge');
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('fetch: a fresh token per call; bind ties it to the exact method, path and body sent', async (t) => {
  const receiver = new Verifier({ audience: AUD, trustedIssuers: [issuer.url], requireBinding: true });
  await receiver.prewarm();
  const app = express();
  app.use(oathmesh({ verifier: receiver }), (req, res) => {
    res.json({ subject: req.oathmesh!.subject, tokenId: req.oathmesh!.tokenId, body: req.rawBody?.toString() ?? '' });
  });
  const server = createServer(app);
  const base = await listen(server);
  t.after(() => server.close());
  const c = client();
  const call = (path: string, init: RequestInit, bind = true) => c.fetch(`${base}${path}`, init, { ...claims, act: 'charge', bind });

  const first = await call('/charges?currency=eur', { method: 'POST', body: '{"amount":5}', headers: { 'content-type': 'application/json' } });
  assert.equal(first.status, 200);
  const second = await call('/charges?currency=eur', { method: 'POST', body: '{"amount":5}' });
  assert.equal(second.status, 200);
  const [a, b] = [await first.json(), await second.json()];
  assert.deepEqual({ ...a, tokenId: undefined }, { subject: 'svc://node-app', body: '{"amount":5}', tokenId: undefined });
  assert.notEqual(a.tokenId, b.tokenId);
  // Bytes the caller only describes (URLSearchParams, binary) are hashed as fetch encodes them.
  const form = await call('/form', { method: 'PUT', body: new URLSearchParams({ q: 'a b&c' }) });
  assert.equal((await form.json()).body, 'q=a+b%26c');
  const binary = await call('/bin', { method: 'POST', body: new Uint8Array([0, 255, 10]) });
  assert.equal(binary.status, 200);
  const get = await call('/items/%7Bid%7D?page=2', { method: 'GET' });
  assert.equal(get.status, 200);
  // The receiver requires binding, so an unbound token is refused.
  const unbound = await call('/charges', { method: 'POST', body: '{}' }, false);
  assert.equal(unbound.status, 401);
  assert.equal((await unbound.json()).error, 'binding_required');
});

test('fetch without bind sets only the Authorization header, keeping the caller headers', async (t) => {
  const app = express();
  app.get('/whoami', oathmesh({ verifier }), (req, res) => res.json({ subject: req.oathmesh!.subject, trace: req.headers['x-trace'] }));
  const server = createServer(app);
  const base = await listen(server);
  t.after(() => server.close());
  const res = await client().fetch(`${base}/whoami`, { headers: { 'x-trace': 't-1', authorization: 'Bearer stale' } }, claims);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { subject: 'svc://node-app', trace: 't-1' });
  const denied = await client().fetch(`${base}/whoami`, undefined, { ...claims, sub: 'svc://not-mine' }).catch((e: unknown) => e);
  assert.ok(denied instanceof OathMeshIssuerError && denied.code === 'mint_denied');
});

test('mint runs off the event loop: an issuer reached through this thread still answers', async (t) => {
  // A proxy on THIS event loop that holds each mint for 300 ms before passing it on. A mint
  // blocking the JS thread would starve the proxy and end in a timeout instead.
  const upstream = new URL(issuer.url);
  let ticks = 0;
  const proxy = createServer((req, res) => {
    setTimeout(() => {
      const forward = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      req.pipe(forward);
    }, 300);
  });
  const proxyUrl = await listen(proxy);
  t.after(() => proxy.close());
  const timer = setInterval(() => ticks++, 10);
  t.after(() => clearInterval(timer));
  const viaProxy = client({ tokenUrl: proxyUrl, timeoutMs: 3000 });
  const minted = await viaProxy.mint(claims);
  assert.ok(ticks >= 10, `the event loop ran ${ticks} timer ticks during the mint`);
  assert.equal(verifier.verify(minted.token).issuer, issuer.url);
});
