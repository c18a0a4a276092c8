// Interoperability with panva/jose, an independent JOSE implementation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { SignJWT, createLocalJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { AUDIENCE, ISSUER, setup } from './helpers';

test('a token minted by Issuer.mint verifies with jose.jwtVerify against the exported JWKS', async () => {
  const { issuer, mint } = setup();
  const token = mint({ scope: ['payments'] });
  const jwks = createLocalJWKSet(issuer.jwks());
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: ISSUER,
    audience: AUDIENCE,
    typ: 'om+jwt',
    algorithms: ['EdDSA'],
  });
  assert.equal(protectedHeader.kid, issuer.kid);
  assert.equal(protectedHeader.typ, 'om+jwt');
  assert.equal(payload.sub, 'svc://checkout');
  assert.equal(payload.act, 'charge');
  assert.deepEqual(payload.scope, ['payments']);
  // And jose refuses it when one byte of the payload changes.
  const [h, p, s] = token.split('.');
  const forged = [h, p.slice(0, -2) + (p.endsWith('A') ? 'B' : 'A') + p.slice(-1), s].join('.');
  await assert.rejects(jwtVerify(forged, jwks, { issuer: ISSUER, audience: AUDIENCE }));
});

/** The core writes PKCS#8 v2 (RFC 5958, with the public key), which the OpenSSL 3.0 behind
 * Node 20 refuses; re-wrap the same 32-byte seed as PKCS#8 v1 for jose. */
function pkcs8v1(pem: string): Buffer {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const seedAt = der.indexOf(Buffer.from('04220420', 'hex')) + 4;
  return Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), der.subarray(seedAt, seedAt + 32)]);
}

test('a token signed by jose with the same key verifies with the OathMesh verifier', async () => {
  const { key, verifier } = setup();
  const privateKey = createPrivateKey({ key: pkcs8v1(key.privatePem), format: 'der', type: 'pkcs8' });
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ act: 'charge' })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'om+jwt', kid: key.kid })
    .setIssuer(ISSUER)
    .setSubject('svc://jose-client')
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .setJti('jose-1')
    .sign(privateKey);
  assert.equal(decodeProtectedHeader(token).typ, 'om+jwt');
  const caller = verifier.verify(token);
  assert.equal(caller.subject, 'svc://jose-client');
  assert.equal(caller.tokenId, 'jose-1');
  // The lifetime cap is the verifier's, not only the issuer's: jose will sign anything.
  const tooLong = await new SignJWT({ act: 'charge' })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'om+jwt', kid: key.kid })
    .setIssuer(ISSUER)
    .setSubject('svc://jose-client')
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .setJti('jose-2')
    .sign(privateKey);
  assert.throws(() => verifier.verify(tooLong), { code: 'claim_invalid:exp' });
});
