// The public API: options renaming, errors, audit callback, issuer, helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Issuer,
  OathMeshConfigError,
  OathMeshError,
  OathMeshMintError,
  Verifier,
  canonicalRequestHash,
  generateKey,
  toConfigDocument,
  type AuditEvent,
} from '@oathmesh/sdk';
import { AUDIENCE, ISSUER, POLICY, nowSecs, setup } from './helpers';

test('a minted token verifies once and gives a camelCase caller', () => {
  const { verifier, mint } = setup({ policy: POLICY });
  const token = mint({ scope: ['payments'], env: 'prod', src: { type: 'github_actions', repo: 'acme/app', runId: '42' } });
  const caller = verifier.verify(token);
  assert.equal(caller.subject, 'svc://checkout');
  assert.equal(caller.issuer, ISSUER);
  assert.equal(caller.audience, AUDIENCE);
  assert.equal(caller.action, 'charge');
  assert.deepEqual(caller.scope, ['payments']);
  assert.equal(caller.env, 'prod');
  assert.equal(caller.tenant, null);
  assert.equal(caller.policyRule, 'checkout-charges');
  assert.equal(caller.source?.type, 'github_actions');
  assert.equal(caller.source?.runId, '42');
  assert.match(caller.tokenId, /^[0-9a-f-]{36}$/);
  assert.equal(caller.expiresAt - caller.issuedAt, 120);
  assert.throws(() => verifier.verify(token), (e: unknown) => e instanceof OathMeshError && e.code === 'replay_detected');
});

test('errors carry code, step, fix, status and the PROTOCOL §2 body', () => {
  const { verifier } = setup();
  const err = (() => {
    try {
      verifier.verifyAuthorization(null, { requestId: 'req-1' });
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof OathMeshError);
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'OathMeshError');
  assert.equal(err.code, 'claim_missing:token');
  assert.equal(err.family, 'claim_missing');
  assert.equal(err.step, '00');
  assert.equal(err.status, 401);
  assert.equal(err.kind, 3);
  assert.match(err.fix, /Authorization: OathMesh/);
  assert.deepEqual(JSON.parse(JSON.stringify(err)), {
    error: 'claim_missing:token',
    message: err.message,
    fix: err.fix,
    step: '00',
    request_id: 'req-1',
  });
  for (const header of ['Bearer abc', 'OathMesh', 'OathMesh  a.b.c', '']) {
    assert.throws(() => verifier.verifyAuthorization(header), { code: 'claim_missing:token' });
  }
});

test('time, audience, signature and issuer failures have their codes and steps', () => {
  const { verifier, mint, mintAt } = setup();
  const cases: [string, string, string, number][] = [
    [mintAt(nowSecs() - 1000), 'token_expired', '08', 401],
    [mintAt(nowSecs() + 1000), 'token_not_yet_valid', '09', 401],
    [mint({ aud: 'https://other.test' }), 'audience_mismatch', '10', 401],
    [mint().slice(0, -4) + 'AAAA', 'signature_invalid', '06', 401],
    ['not-a-token', 'token_malformed', '01', 401],
  ];
  for (const [token, code, step, status] of cases) {
    assert.throws(() => verifier.verify(token), (e: unknown) => {
      assert.ok(e instanceof OathMeshError);
      assert.deepEqual([e.code, e.step, e.status], [code, step, status]);
      assert.ok(!e.message.includes(token), 'messages never echo the token');
      return true;
    });
  }
  const other = setup();
  assert.throws(() => verifier.verify(other.mint()), { code: 'key_not_found', step: '05' });
});

test('policy, required action, revocation and binding', () => {
  const { verifier, mint } = setup({ policy: POLICY, revocation: { subjects: ['svc://revoked'] } });
  assert.throws(() => verifier.verify(mint({ act: 'delete' })), (e: unknown) => e instanceof OathMeshError && e.status === 403 && e.policyRule === 'no-deletes');
  assert.throws(() => verifier.verify(mint({ act: 'read' }), { action: 'charge' }), { code: 'policy_denied', policyRule: 'required_action' });
  assert.throws(() => verifier.verify(mint({ sub: 'svc://revoked' })), { code: 'subject_revoked', step: '13.5' });

  const body = '{"amount":100}';
  const rqh = canonicalRequestHash('POST', '/charge?b=2&a=1', body);
  assert.equal(canonicalRequestHash('post', '/charge?a=1&b=2', Buffer.from(body)), rqh);
  const request = { method: 'POST', pathAndQuery: '/charge?b=2&a=1', body: new TextEncoder().encode(body) };
  assert.equal(verifier.verify(mint({ rqh }), request).subject, 'svc://checkout');
  assert.throws(() => verifier.verify(mint({ rqh }), { ...request, body: '{"amount":1}' }), { code: 'binding_mismatch', step: '12' });
  assert.throws(() => verifier.verify(mint({ rqh })), { code: 'binding_mismatch' });
  assert.equal(verifier.wantsRequest(`OathMesh ${mint({ rqh })}`), true);
  assert.equal(verifier.wantsRequest(`OathMesh ${mint()}`), false);
  assert.equal(verifier.wantsRequest(null), false);

  const strict = setup({ requireBinding: true });
  assert.equal(strict.verifier.requireBinding, true);
  assert.equal(strict.verifier.wantsRequest(null), true);
  assert.throws(() => strict.verifier.verify(strict.mint()), { code: 'binding_required' });
});

test('audit events reach the callback synchronously, allow and deny, never the token', () => {
  const events: AuditEvent[] = [];
  const { verifier, mint } = setup({ audit: (event) => events.push(event) });
  const token = mint();
  verifier.verify(token, { requestId: 'r-1' });
  assert.equal(events.length, 1, 'delivered before verify returns');
  assert.throws(() => verifier.verify(token, { requestId: 'r-2' }));
  assert.throws(() => verifier.verifyAuthorization(undefined));
  assert.equal(events.length, 3);
  assert.deepEqual(
    events.map((e) => [e.outcome, e.code, e.request_id]),
    [
      ['allow', null, 'r-1'],
      ['deny', 'replay_detected', 'r-2'],
      ['deny', 'claim_missing:token', null],
    ],
  );
  assert.equal(events[0].event, 'oathmesh.verify');
  assert.equal(events[0].sub, 'svc://checkout');
  assert.match(events[0].timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(typeof events[0].latency_us, 'number');
  assert.ok(!JSON.stringify(events).includes(token.split('.')[2]));
});

test('a throwing audit callback never changes the result and is reported as a warning', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    const { verifier, mint } = setup({ audit: { onEvent: () => { throw new Error('sink down'); } } });
    assert.equal(verifier.verify(mint()).subject, 'svc://checkout');
    assert.throws(() => verifier.verify('x.y.z'), { code: 'token_malformed' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(warnings.some((w) => w.includes('sink down')), warnings.join());
  } finally {
    process.off('warning', onWarning);
  }
});

test('built-in file audit sink configured from camelCase options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oathmesh-audit-'));
  const file = join(dir, 'audit.ndjson');
  const { verifier, mint } = setup({ audit: { file } });
  verifier.verify(mint());
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0]).outcome, 'allow');
});

test('camelCase options become the snake_case document; the core does the checking', () => {
  const { doc } = toConfigDocument({
    audience: 'a',
    trustedIssuers: ['i'],
    jwksFile: '/k.json',
    requireBinding: true,
    replayCache: { type: 'memory', capacity: 10 },
    revocation: { subjects: ['svc://x'] },
    testing: { now: 5, seenJtis: ['j'] },
  });
  assert.deepEqual(doc, {
    audience: 'a',
    trusted_issuers: ['i'],
    jwks_file: '/k.json',
    require_binding: true,
    replay_cache: { type: 'memory', capacity: 10 },
    revoked_subjects: ['svc://x'],
    testing: { now: 5, seen_jtis: ['j'] },
  });
  const { issuer } = setup();
  const config = (extra: object) => ({ audience: AUDIENCE, trustedIssuers: [ISSUER], jwks: issuer.jwks(), ...extra });
  assert.throws(() => new Verifier(config({ leeway: 99 })), (e: unknown) => e instanceof OathMeshConfigError && e.code === 'config_invalid' && /leeway/.test(e.message));
  assert.throws(() => new Verifier(config({ jwksFile: '/nope.json' })), OathMeshConfigError);
  assert.throws(() => new Verifier(config({ trustedIsuers: ['x'] } as object)), /trusted_isuers/);
  assert.throws(() => new Verifier(config({ policy: { version: 1, rules: [{ name: 'x' }] } })), OathMeshConfigError);
  assert.throws(() => Verifier.fromConfig('{"audience": "a", "audience": "b"}'), OathMeshConfigError);
});

test('key and policy files', () => {
  const { issuer, mint } = setup();
  const dir = mkdtempSync(join(tmpdir(), 'oathmesh-files-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(issuer.jwks()));
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(POLICY));
  const verifier = new Verifier({ audience: AUDIENCE, trustedIssuers: [ISSUER], jwksFile: join(dir, 'jwks.json'), policyFile: join(dir, 'policy.json') });
  assert.equal(verifier.verify(mint()).policyRule, 'checkout-charges');
  assert.throws(() => verifier.verify(mint({ sub: 'svc://other' })), { code: 'policy_denied', policyRule: 'default' });
});

test('issuer: kid, JWKS, mint validation', () => {
  const key = generateKey();
  assert.match(key.privatePem, /BEGIN PRIVATE KEY/);
  assert.match(key.publicPem, /BEGIN PUBLIC KEY/);
  assert.deepEqual({ ...key.jwk, x: '', kid: '' }, { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: '', x: '' });
  const issuer = Issuer.fromPem(key.privatePem, { issuer: ISSUER });
  assert.equal(issuer.kid, key.kid);
  assert.equal(issuer.issuer, ISSUER);
  assert.deepEqual(issuer.jwks(), { keys: [key.jwk] });
  assert.equal(Issuer.fromPem(key.privatePem, { issuer: ISSUER, kid: 'k1' }).kid, 'k1');
  const minted = issuer.mint({ sub: 'svc://a', aud: AUDIENCE, act: 'read', ttlHint: 9999 });
  assert.equal(minted.expiresIn, 300);
  assert.equal(minted.tokenType, 'OathMesh');
  assert.throws(() => issuer.mint({ sub: 'root://a', aud: AUDIENCE, act: 'read' }), (e: unknown) => e instanceof OathMeshMintError && e.code === 'claim_invalid:sub');
  assert.throws(() => issuer.mint({ sub: 'svc://a', aud: AUDIENCE, act: 'read', delegatedBy: 'svc://x' }), { code: 'claim_invalid:delegated_by' });
  assert.throws(() => Issuer.fromPem('not a pem', { issuer: ISSUER }), (e: unknown) => e instanceof OathMeshConfigError && !e.message.includes('not a pem'));
});

test('arguments of the wrong type throw, they never crash the process', () => {
  const { verifier } = setup();
  for (const bad of [undefined, 42, {}, Buffer.from('x')]) {
    assert.throws(() => verifier.verify(bad as unknown as string), (e: unknown) => e instanceof Error && !(e instanceof OathMeshError));
  }
  assert.throws(() => verifier.verify('a'.repeat(100_000)), { code: 'token_malformed' });
  assert.throws(() => new Verifier(undefined as unknown as never), TypeError);
});
