// Issue 6 options against the real services: Redis shared by two verifiers, a JWKS server on
// loopback, a policy file rewritten while in use, a .pkl policy through the real pkl, and an
// HMAC-chained audit file checked by `oathmesh audit verify`. The options only rename keys;
// each test proves the renamed key reached the core by a behaviour only that key causes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Issuer, OathMeshConfigError, OathMeshError, Verifier, generateKey, type AuditEvent, type VerifierOptions } from '@oathmesh/sdk';
import { AUDIENCE, ISSUER, setup } from './helpers';
import { freePort, oathmeshBin, pklPath, redisCli, redisUrl, tempDir } from './services';

const code = (f: () => unknown): string => {
  try {
    f();
    return 'allow';
  } catch (e) {
    assert.ok(e instanceof OathMeshError, String(e));
    return e.code;
  }
};

const unique = (prefix: string) => `svc://${prefix}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

test('redisUrl: two verifiers share the replay cache and see a revocation at once', () => {
  const a = setup({ redisUrl: redisUrl() });
  const b = new Verifier({ audience: AUDIENCE, trustedIssuers: [ISSUER], jwks: a.issuer.jwks(), redisUrl: redisUrl() });
  const sub = unique('shared');
  const token = a.mint({ sub });
  assert.equal(a.verifier.verify(token).subject, sub);
  assert.equal(code(() => b.verify(token)), 'replay_detected');
  // A fresh token for the same subject, revoked in Redis between mint and verify.
  const next = a.mint({ sub });
  redisCli('HSET', 'oathmesh:revocations', sub, new Date().toISOString());
  assert.equal(code(() => b.verify(next)), 'subject_revoked');
  redisCli('HDEL', 'oathmesh:revocations', sub);
  assert.equal(code(() => b.verify(a.mint({ sub }))), 'allow');
});

test('replayCache/revocation redis forms: camelCase onError and timeoutMs reach the core', async () => {
  const url = redisUrl();
  const shared: Partial<VerifierOptions> = { replayCache: { type: 'redis', url, onError: 'reject', timeoutMs: 200 }, revocation: { type: 'redis', url, timeoutMs: 200 } };
  const a = setup(shared);
  const b = new Verifier({ audience: AUDIENCE, trustedIssuers: [ISSUER], jwks: a.issuer.jwks(), ...shared });
  const sub = unique('explicit');
  const token = a.mint({ sub });
  assert.equal(code(() => b.verify(token)), 'allow');
  assert.equal(code(() => a.verifier.verify(token)), 'replay_detected');
  redisCli('HSET', 'oathmesh:revocations', sub, new Date().toISOString());
  assert.equal(code(() => a.verifier.verify(a.mint({ sub }))), 'subject_revoked');
  redisCli('HDEL', 'oathmesh:revocations', sub);

  // Redis down: `onError: 'reject'` answers 503, the default falls back to memory.
  const dead = `redis://127.0.0.1:${await freePort()}/`;
  const rejecting = setup({ replayCache: { type: 'redis', url: dead, onError: 'reject', timeoutMs: 100 } });
  assert.throws(() => rejecting.verifier.verify(rejecting.mint()), (e: unknown) => e instanceof OathMeshError && e.code === 'replay_cache_unavailable' && e.status === 503);
  const fallback = setup({ replayCache: { type: 'redis', url: dead, timeoutMs: 100 } });
  const once = fallback.mint();
  assert.equal(code(() => fallback.verifier.verify(once)), 'allow');
  assert.equal(code(() => fallback.verifier.verify(once)), 'replay_detected');
  const revocationDown = setup({ revocation: { type: 'redis', url: dead, timeoutMs: 100 } });
  assert.equal(code(() => revocationDown.verifier.verify(revocationDown.mint())), 'revocation_unavailable');
});

async function jwksServer(jwks: object) {
  const worker = new Worker(join(__dirname, 'fixtures', 'jwks-server.mjs'), { workerData: { jwks } });
  const [{ port }] = (await once(worker, 'message')) as [{ port: number }];
  return {
    url: `http://127.0.0.1:${port}`,
    serve: (next: object) => worker.postMessage({ jwks: next }),
    fetches: async () => {
      worker.postMessage({ count: true });
      return ((await once(worker, 'message')) as [{ fetches: number }])[0].fetches;
    },
    stop: () => worker.terminate(),
  };
}

test('JWKS fetching: keys from {iss}/.well-known/jwks.json, prewarmed, a rotated key refetched', async (t) => {
  const first = generateKey();
  const server = await jwksServer({ keys: [first.jwk] });
  t.after(() => server.stop());
  const iss = server.url;
  const verifier = new Verifier({ audience: AUDIENCE, trustedIssuers: [iss], jwksFetch: { freshnessSecs: 60, allowInsecureHttp: false } });
  assert.deepEqual(await verifier.prewarm(), [{ issuer: iss, ok: true, keys: 1 }]);
  assert.equal(await server.fetches(), 1);
  const mint = (pem: string) => Issuer.fromPem(pem, { issuer: iss }).mint({ sub: 'svc://fetched', aud: AUDIENCE, act: 'read' }).token;
  assert.equal(verifier.verify(mint(first.privatePem)).issuer, iss);
  assert.equal(await server.fetches(), 1, 'fresh keys are used without refetching');
  // The issuer rotates: a token with an unknown kid makes the verifier fetch again.
  const second = generateKey();
  server.serve({ keys: [first.jwk, second.jwk] });
  assert.equal(verifier.verify(mint(second.privatePem)).subject, 'svc://fetched');
  assert.equal(await server.fetches(), 2);
  // A key the issuer never published stays unknown.
  assert.equal(code(() => verifier.verify(mint(generateKey().privatePem))), 'key_not_found');
  // jwksFetch with static keys is refused by the core, by its document name.
  assert.throws(
    () => new Verifier({ audience: AUDIENCE, trustedIssuers: [iss], jwks: { keys: [first.jwk] }, jwksFetch: { freshnessSecs: 5 } }),
    (e: unknown) => e instanceof OathMeshConfigError && /jwks_fetch/.test(e.message),
  );
  // Unreachable issuer: prewarm reports it, verify answers jwks_unavailable (503).
  const down = new Verifier({ audience: AUDIENCE, trustedIssuers: [`http://127.0.0.1:${await freePort()}`] });
  const [report] = await down.prewarm();
  assert.equal(report?.ok, false);
  assert.ok(report?.error);
});

/** Replaces the file atomically (write beside, rename over), as deploy tools do. */
function replace(path: string, text: string) {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** Verifies fresh tokens until `done()` holds; the policy file is looked at once a second. */
async function until(done: () => boolean, what: string) {
  const deadline = Date.now() + 5000;
  while (!done()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const policyAllowing = (act: string, name: string) => JSON.stringify({ version: 1, rules: [{ name, allow: true, match: { act } }] });

test('policyFile: a rewrite is picked up while verifying; a broken rewrite keeps the last good policy', async () => {
  const path = join(tempDir(), 'policy.json');
  replace(path, policyAllowing('read', 'reads'));
  const ctx = setup({ policyFile: path });
  const outcome = (act: string) => code(() => ctx.verifier.verify(ctx.mint({ act })));
  assert.equal(outcome('read'), 'allow');
  assert.equal(outcome('charge'), 'policy_denied');
  replace(path, policyAllowing('charge', 'charges'));
  await until(() => outcome('charge') === 'allow', 'the rewritten policy');
  assert.equal(ctx.verifier.policyReloads, 1);
  assert.equal(ctx.verifier.verify(ctx.mint({ act: 'charge' })).policyRule, 'charges');
  replace(path, '{"version": 1, "rules": [ broken');
  await until(() => (outcome('read'), ctx.verifier.policyReloadErrors === 1), 'the failed reload');
  assert.equal(outcome('charge'), 'allow');
  assert.equal(outcome('read'), 'policy_denied');
  assert.equal(ctx.verifier.policyReloads, 1);
});

test('policyFile .pkl: evaluated by the real pkl (pklPath)', async () => {
  const path = join(tempDir(), 'policy.pkl');
  const pkl = (act: string) =>
    `version = 1\nrules = new Listing {\n  new { name = "pkl-${act}"; allow = true; match = new Mapping { ["act"] = "${act}" } }\n}\n`;
  replace(path, pkl('read'));
  const ctx = setup({ policyFile: path, pklPath: pklPath() });
  assert.equal(ctx.verifier.verify(ctx.mint({ act: 'read' })).policyRule, 'pkl-read');
  assert.equal(code(() => ctx.verifier.verify(ctx.mint({ act: 'charge' }))), 'policy_denied');
  replace(path, pkl('charge'));
  await until(() => code(() => ctx.verifier.verify(ctx.mint({ act: 'charge' }))) === 'allow', 'the rewritten .pkl policy');
  assert.throws(() => setup({ policyFile: path, pklPath: '/nonexistent/pkl' }), (e: unknown) => e instanceof OathMeshConfigError && /pkl_path/.test(e.message));
});

test('audit hmacKey / hmacKeyFile: a chained file that `oathmesh audit verify` accepts, and tampering caught', () => {
  const dir = tempDir();
  const key = 'node-audit-hmac-key-0123456789';
  const keyFile = join(dir, 'audit.key');
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 }); // audit keys readable by others are refused
  const auditVerify = (file: string) => spawnSync(oathmeshBin(), ['audit', 'verify', '--key-file', keyFile, file], { encoding: 'utf8' });
  for (const [name, sinks] of [
    ['inline', { hmacKey: key }],
    ['file', { hmacKeyFile: keyFile }],
  ] as const) {
    const file = join(dir, `${name}.ndjson`);
    const events: AuditEvent[] = [];
    const ctx = setup({ audit: { file, ...sinks, onEvent: (e) => events.push(e) } });
    const token = ctx.mint();
    ctx.verifier.verify(token);
    code(() => ctx.verifier.verify(token));
    ctx.verifier.verify(ctx.mint({ act: 'read' }));
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => [l.seq, l.outcome]), [[1, 'allow'], [2, 'deny'], [3, 'allow']]);
    assert.equal(lines[0].prev_hash, '0'.repeat(64));
    assert.match(lines[2].hmac, /^[0-9a-f]{64}$/);
    // The callback gets the plain event, without the chain fields.
    assert.deepEqual(events.map((e) => e.outcome), ['allow', 'deny', 'allow']);
    assert.ok(!('hmac' in events[0]!));
    const ok = auditVerify(file);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /OK: 3 events/);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"outcome":"deny"', '"outcome":"allow"'));
    const tampered = auditVerify(file);
    assert.equal(tampered.status, 1);
    assert.match(tampered.stdout + tampered.stderr, /:2:/);
  }
});
