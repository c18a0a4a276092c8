// The README's quickstarts, run as written: every block marked `<!-- tested: PATH -->` is
// written to test/.readme/PATH and exercised here.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import request from 'supertest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Issuer, Verifier, canonicalRequestHash, generateKey } from '@oathmesh/sdk';
import { startIssuer } from './services';

const OUT = join(__dirname, '.readme');
const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/<!-- tested: (\S+) -->\n```ts\n([\s\S]*?)```/g)].map((m) => ({ path: m[1], code: m[2] }));

const key = generateKey();
const issuer = Issuer.fromPem(key.privatePem, { issuer: 'https://issuer.internal' });
const mint = (act: string, rqh?: string) => issuer.mint({ sub: 'svc://checkout', aud: 'https://billing.internal', act, rqh }).token;
const load = async (path: string) => import(join(OUT, path));

before(() => {
  rmSync(OUT, { recursive: true, force: true });
  for (const { path, code } of blocks) {
    mkdirSync(dirname(join(OUT, path)), { recursive: true });
    writeFileSync(join(OUT, path), code);
  }
  const jwksFile = join(mkdtempSync(join(tmpdir(), 'oathmesh-readme-')), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(issuer.jwks()));
  process.env.OATHMESH_JWKS_FILE = jwksFile;
});

test('the README has the tested quickstarts', () => {
  assert.deepEqual(blocks.map((b) => b.path).sort(), [
    'app/api/charges/route.ts',
    'client.ts',
    'express-app.ts',
    'lib/oathmesh.ts',
    'middleware.ts',
    'pages/api/whoami.ts',
  ]);
});

test('README Express quickstart', async () => {
  const { app } = await load('express-app.ts');
  const body = '{"amount":100}';
  const bound = mint('charge', canonicalRequestHash('POST', '/charges', body));
  const ok = await request(app).post('/charges').set('Content-Type', 'application/json').set('Authorization', `OathMesh ${bound}`).send(body).expect(200);
  assert.deepEqual(ok.body, { chargedBy: 'svc://checkout', amount: 100 });
  const tampered = await request(app).post('/charges').set('Authorization', `OathMesh ${bound.replace(/.$/, '')}`).send('{"amount":9}').expect(401);
  assert.equal(tampered.body.error, 'signature_invalid');
  await request(app).post('/charges').set('Authorization', `OathMesh ${mint('read')}`).send('{}').expect(403);
  const who = await request(app).get('/whoami').set('Authorization', `OathMesh ${mint('read')}`).expect(200);
  assert.deepEqual(who.body, { subject: 'svc://checkout' });
  const missing = await request(app).get('/whoami').expect(401);
  assert.equal(missing.body.error, 'claim_missing:token');
});

test('README App Router quickstart', async () => {
  const route = await load('app/api/charges/route.ts');
  assert.equal(route.runtime, 'nodejs');
  const body = '{"amount":7}';
  const call = (token: string) =>
    route.POST(new Request('http://localhost:3000/api/charges', { method: 'POST', headers: { authorization: `OathMesh ${token}` }, body }), {
      params: Promise.resolve({}),
    });
  const ok: Response = await call(mint('charge', canonicalRequestHash('POST', '/api/charges', body)));
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { chargedBy: 'svc://checkout', amount: 7 });
  const denied: Response = await call(mint('refund'));
  assert.equal(denied.status, 403);
  assert.equal((await denied.json()).error, 'policy_denied');
});

test('README Pages Router quickstart', async () => {
  const page = await load('pages/api/whoami.ts');
  assert.deepEqual(page.config, { api: { bodyParser: false } });
  // Next's API resolver adds res.status() and res.json(); do the same here.
  const server = (req: unknown, res: ServerResponse & { status?: unknown; json?: unknown }) => {
    res.status = (code: number) => ((res.statusCode = code), res);
    res.json = (value: unknown) => res.setHeader('content-type', 'application/json').end(JSON.stringify(value));
    return page.default(req, res);
  };
  const ok = await request(server).post('/api/whoami?x=1').set('Authorization', `OathMesh ${mint('charge', canonicalRequestHash('POST', '/api/whoami?x=1', 'hello'))}`).send('hello').expect(200);
  assert.deepEqual(ok.body, { subject: 'svc://checkout' });
  const mismatch = await request(server).post('/api/whoami?x=1').set('Authorization', `OathMesh ${mint('charge', canonicalRequestHash('POST', '/api/whoami?x=1', 'hello'))}`).send('bye').expect(401);
  assert.equal(mismatch.body.error, 'binding_mismatch');
});

test('README middleware.ts (Node.js runtime)', async () => {
  const { middleware, config } = await load('middleware.ts');
  assert.equal(config.runtime, 'nodejs');
  const pass = await middleware(new Request('http://localhost/api/internal/x', { headers: { authorization: `OathMesh ${mint('read')}` } }));
  assert.equal(pass, undefined);
  const refused: Response = await middleware(new Request('http://localhost/api/internal/x', { headers: { 'x-request-id': 'mw-1' } }));
  assert.equal(refused.status, 401);
  assert.equal((await refused.json()).request_id, 'mw-1');
});

test('README Client quickstart: fetch with a bound token from a real issuer, and mint', async (t) => {
  const secret = 'readme-client-secret-0123456789ab';
  const issuerProcess = await startIssuer([
    { id: 'checkout', secret, allowedSub: ['svc://checkout'], allowedAud: ['https://billing.internal'], allowedAct: ['charge'] },
  ]);
  t.after(() => issuerProcess.stop());
  // The billing side: the README's Express app, but trusting this issuer (fetched keys).
  const verifier = new Verifier({ audience: 'https://billing.internal', trustedIssuers: [issuerProcess.url], requireBinding: true });
  await verifier.prewarm();
  const { default: express } = await import('express');
  const { oathmesh } = await import('@oathmesh/sdk/express');
  const app = express();
  app.post('/charges', express.raw({ type: '*/*' }), oathmesh({ verifier, action: 'charge' }), (req, res) => {
    res.json({ chargedBy: req.oathmesh!.subject, amount: JSON.parse(req.body.toString()).amount });
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  process.env.OATHMESH_ISSUER_URL = issuerProcess.url;
  process.env.OATHMESH_CLIENT_SECRET = secret;
  process.env.BILLING_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { charge, mintToken } = await load('client.ts');
  assert.deepEqual(await charge(42), { chargedBy: 'svc://checkout', amount: 42 });
  assert.deepEqual(await charge(43), { chargedBy: 'svc://checkout', amount: 43 });
  const plain = await mintToken();
  assert.throws(() => verifier.verify(plain), (e: unknown) => (e as { code?: string }).code === 'binding_required');
  const unbound = new Verifier({ audience: 'https://billing.internal', trustedIssuers: [issuerProcess.url] });
  await unbound.prewarm();
  assert.equal(unbound.verify(plain).subject, 'svc://checkout');
});
