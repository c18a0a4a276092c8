// `Issuer`: mints Oath Tokens with a local Ed25519 key (tests, tools, services that issue
// their own tokens). Production callers usually get tokens from the issuer service instead.

import { NativeIssuer, nativeCanonicalRequestHash, nativeGenerateKey, type GeneratedKey, type MintedToken, type PublicJwk } from './native.js';
import { translateError } from './errors.js';
import { toBuffer, type BodyInput } from './body.js';

export type { GeneratedKey, MintedToken, PublicJwk };

export interface IssuerOptions {
  /** The issuer URL placed in `iss`. */
  issuer: string;
  /** Defaults to the RFC 7638 thumbprint of the key. */
  kid?: string;
}

/** What to mint. The issuer sets `iss`, `iat`, `nbf`, `exp` and `jti` itself. */
export interface MintRequest {
  sub: string;
  aud: string;
  act: string;
  /** Seconds; absent or <= 0 gives 120, at most 300. */
  ttlHint?: number;
  scope?: readonly string[];
  reason?: string;
  env?: string;
  tenant?: string;
  /** `canonicalRequestHash(...)` of the one request this token may be used for. */
  rqh?: string;
  src?: { type?: string; repo?: string; workflow?: string; runId?: string; sha?: string };
  /** A `user://` subject this call is made on behalf of. */
  delegatedBy?: string;
}

/** The snake_case mint request document of docs/configuration.md. */
export function mintDocument(request: MintRequest): string {
  const { ttlHint, delegatedBy, src, ...rest } = request;
  const doc: Record<string, unknown> = { ...rest, ttl_hint: ttlHint, delegated_by: delegatedBy };
  if (src !== undefined) {
    const { runId, ...srcRest } = src;
    doc.src = { ...srcRest, run_id: runId };
  }
  return JSON.stringify(doc); // undefined members are dropped by JSON.stringify
}

export class Issuer {
  readonly #native: InstanceType<typeof NativeIssuer>;

  private constructor(native: InstanceType<typeof NativeIssuer>) {
    this.#native = native;
  }

  /** An issuer signing with a PKCS#8 PEM Ed25519 private key. */
  static fromPem(privateKeyPem: string, options: IssuerOptions): Issuer {
    return Issuer.fromConfig({ issuer: options.issuer, private_key_pem: privateKeyPem, kid: options.kid });
  }

  /** An issuer signing with the key in a PEM file. */
  static fromFile(privateKeyFile: string, options: IssuerOptions): Issuer {
    return Issuer.fromConfig({ issuer: options.issuer, private_key_file: privateKeyFile, kid: options.kid });
  }

  /** The snake_case issuer document of docs/configuration.md, as-is. */
  static fromConfig(doc: object | string): Issuer {
    try {
      return new Issuer(NativeIssuer.fromJson(typeof doc === 'string' ? doc : JSON.stringify(doc)));
    } catch (e) {
      throw translateError(e);
    }
  }

  get issuer(): string {
    return this.#native.issuer;
  }

  get kid(): string {
    return this.#native.kid;
  }

  /** The JWKS this issuer publishes (`{keys: [...]}`), for verifiers. */
  jwks(): { keys: PublicJwk[] } {
    return JSON.parse(this.#native.jwksJson()) as { keys: PublicJwk[] };
  }

  /** Signs a token. Throws `OathMeshMintError` (`claim_invalid:<claim>`) for a request the
   * verifier would refuse. */
  mint(request: MintRequest): MintedToken {
    try {
      return this.#native.mint(mintDocument(request));
    } catch (e) {
      throw translateError(e);
    }
  }
}

/** A fresh Ed25519 key pair from the OS RNG: PEMs, kid and public JWK. */
export function generateKey(): GeneratedKey {
  return nativeGenerateKey();
}

/** `sha256:<hex>` of the canonical request (PROTOCOL §4): the `rqh` to mint for a request. */
export function canonicalRequestHash(method: string, pathAndQuery: string, body?: BodyInput): string {
  return nativeCanonicalRequestHash(method, pathAndQuery, toBuffer(body));
}
