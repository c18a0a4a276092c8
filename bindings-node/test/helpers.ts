// Real keys, real signatures: every test mints with the core's issuer.
import { Issuer, Verifier, generateKey, type MintRequest, type VerifierOptions } from '@oathmesh/sdk';

export const ISSUER = 'https://issuer.oathmesh.test';
export const AUDIENCE = 'https://billing.oathmesh.test';

export const POLICY = {
  version: 1,
  rules: [
    { name: 'no-deletes', allow: false, match: { act: 'delete' } },
    { name: 'checkout-charges', allow: true, match: { sub: 'svc://checkout', act: 'charge' } },
    { name: 'reads', allow: true, match: { act: 'read' } },
  ],
};

export function setup(options: Partial<VerifierOptions> = {}) {
  const key = generateKey();
  const issuer = Issuer.fromPem(key.privatePem, { issuer: ISSUER });
  const verifier = new Verifier({ audience: AUDIENCE, trustedIssuers: [ISSUER], jwks: issuer.jwks(), ...options });
  const mint = (request: Partial<MintRequest> = {}): string =>
    issuer.mint({ sub: 'svc://checkout', aud: AUDIENCE, act: 'charge', ...request }).token;
  /** A token minted by the same key with the clock at `now` (Unix seconds). */
  const mintAt = (now: number, request: Partial<MintRequest> = {}): string =>
    Issuer.fromConfig({ issuer: ISSUER, private_key_pem: key.privatePem, testing: { now } })
      .mint({ sub: 'svc://checkout', aud: AUDIENCE, act: 'charge', ...request }).token;
  return { key, issuer, verifier, mint, mintAt };
}

export const nowSecs = (): number => Math.floor(Date.now() / 1000);
