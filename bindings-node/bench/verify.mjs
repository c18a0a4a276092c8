// Times `verifier.verify` against jose's `jwtVerify` on the same EdDSA tokens, in the same
// run, and prints the ratio. Not a test: numbers depend on the machine.
//
//   node bench/verify.mjs [tokens=20000]
//
// OathMesh does strictly more per call: strict Ed25519, every claim rule, policy evaluation,
// replay check-and-record, and an audit event delivered to a JS callback. jose checks the
// signature, iss, aud, typ and times. jose is async (WebCrypto), so it is awaited per call,
// as applications use it.
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Issuer, Verifier, generateKey } from '@oathmesh/sdk';

const COUNT = Number(process.argv[2] ?? 20000);
const ISSUER = 'https://issuer.bench';
const AUDIENCE = 'https://api.bench';

const key = generateKey();
const issuer = Issuer.fromPem(key.privatePem, { issuer: ISSUER });
const policy = {
  version: 1,
  rules: [
    { name: 'no-deletes', allow: false, match: { act: 'delete' } },
    { name: 'ci', allow: true, match: { sub: 'job://github/acme/*', src: { type: 'github_actions' } } },
    { name: 'checkout', allow: true, match: { sub: 'svc://checkout', act: 'charge', scope: ['payments'] } },
  ],
};
const mint = () =>
  issuer.mint({ sub: 'svc://checkout', aud: AUDIENCE, act: 'charge', scope: ['payments'], env: 'prod' }).token;

let audited = 0;
const full = new Verifier({
  audience: AUDIENCE,
  trustedIssuers: [ISSUER],
  jwks: issuer.jwks(),
  policy,
  replayCache: { type: 'memory', capacity: 4 * COUNT },
  audit: () => {
    audited += 1;
  },
});
const jwks = createLocalJWKSet(issuer.jwks());
const joseOptions = { issuer: ISSUER, audience: AUDIENCE, typ: 'om+jwt', algorithms: ['EdDSA'] };

// Tokens are single-use for OathMesh, so each timed call gets a fresh one (minted untimed).
const tokens = (n) => Array.from({ length: n }, mint);

/** `fn` returning a promise is awaited per call; a synchronous one is not. */
async function time(label, list, fn) {
  const start = process.hrtime.bigint();
  for (const token of list) {
    const pending = fn(token);
    if (pending) await pending;
  }
  const ns = Number(process.hrtime.bigint() - start);
  const usPerOp = ns / 1000 / list.length;
  console.log(`${label.padEnd(44)} ${usPerOp.toFixed(2).padStart(8)} µs/op ${Math.round(1e6 / usPerOp).toString().padStart(9)} ops/s`);
  return usPerOp;
}

const syncVerify = (token) => {
  full.verify(token);
};
const joseVerify = (token) => jwtVerify(token, jwks, joseOptions);

// Warm up both (JIT, caches).
await time('warm-up oathmesh', tokens(2000), syncVerify);
await time('warm-up jose', tokens(2000), joseVerify);

const shared = tokens(COUNT);
const ours = await time('oathmesh verify (policy+replay+audit cb)', shared, syncVerify);
const theirs = await time('jose jwtVerify (EdDSA, local JWKS)', shared, joseVerify);
if (audited !== 2000 + COUNT) throw new Error(`expected ${2000 + COUNT} audit events, saw ${audited}`);

console.log(`\nnode ${process.version}, ${COUNT} tokens, same claims, same run`);
console.log(`ratio: oathmesh is ${(theirs / ours).toFixed(2)}x faster than jose (target >= 2.5x)`);
