// Four worker threads verifying at once give correct, independent results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { AUDIENCE, ISSUER, setup } from './helpers';

test('4 workers verify concurrently', async () => {
  const { issuer, mint } = setup();
  const config = { audience: AUDIENCE, trusted_issuers: [ISSUER], jwks: issuer.jwks() };
  const barrier = new SharedArrayBuffer(8);
  new Int32Array(barrier)[1] = 4;
  const runs = [0, 1, 2, 3].map((w) => {
    const tokens = Array.from({ length: 25 }, (_, i) => mint({ sub: `svc://worker-${w}-${i}` }));
    const good = mint();
    const tampered = good.slice(0, -6) + (good.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA');
    const worker = new Worker(join(__dirname, 'fixtures', 'verify-worker.mjs'), { workerData: { config, tokens, tampered, barrier } });
    return new Promise<{ w: number; results: string[] }>((resolve, reject) => {
      worker.once('message', (results: string[]) => resolve({ w, results }));
      worker.once('error', reject);
    });
  });
  for (const { w, results } of await Promise.all(runs)) {
    const expected = Array.from({ length: 25 }, (_, i) => `svc://worker-${w}-${i}`);
    assert.deepEqual(results.slice(0, 25), expected, `worker ${w} first round`);
    // Every later round is a replay within that worker's own verifier.
    assert.ok(results.slice(25, -1).every((r) => r === 'replay_detected'), `worker ${w} replays`);
    assert.equal(results.at(-1), 'signature_invalid');
  }
});
