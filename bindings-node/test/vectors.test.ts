// Every conformance vector through the public JS API: the same answers as the core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OathMeshError, Verifier, type Caller } from '@oathmesh/sdk';

interface Vector {
  name: string;
  token?: string;
  authorization?: string | null;
  request?: { method: string; path_and_query: string; body: string } | null;
  config: object;
  expect:
    | { outcome: 'allow'; caller: Record<string, unknown> }
    | { outcome: 'deny'; code: string; step: string; http_status: number };
}

const file = join(__dirname, '..', '..', 'conformance-vectors', 'vectors.json');
const { format, vectors } = JSON.parse(readFileSync(file, 'utf8')) as { format: number; vectors: Vector[] };

const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The caller in the core's JSON shape: snake_case keys, absent `source` members omitted. */
function asCoreJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asCoreJson);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [snake(k), asCoreJson(v)]),
  );
}

test('the vector file is the documented format with at least 40 vectors', () => {
  assert.equal(format, 1);
  assert.ok(vectors.length >= 40, `only ${vectors.length} vectors`);
});

for (const vector of vectors) {
  test(`vector ${vector.name}`, () => {
    const verifier = Verifier.fromConfig(vector.config);
    const request = vector.request
      ? { method: vector.request.method, pathAndQuery: vector.request.path_and_query, body: vector.request.body }
      : undefined;
    let caller: Caller | undefined;
    let error: unknown;
    try {
      caller =
        'token' in vector && vector.token !== undefined
          ? verifier.verify(vector.token, request)
          : verifier.verifyAuthorization(vector.authorization ?? null, request);
    } catch (e) {
      error = e;
    }
    if (vector.expect.outcome === 'allow') {
      assert.equal(error, undefined, `expected allow, got ${String(error)}`);
      assert.deepStrictEqual(asCoreJson(caller), vector.expect.caller);
    } else {
      assert.ok(error instanceof OathMeshError, `expected deny ${vector.expect.code}, got ${caller ? 'allow' : String(error)}`);
      assert.deepStrictEqual(
        { code: error.code, step: error.step, http_status: error.status },
        { code: vector.expect.code, step: vector.expect.step, http_status: vector.expect.http_status },
      );
    }
  });
}
