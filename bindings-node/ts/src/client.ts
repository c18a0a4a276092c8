// `Client`: gets tokens from the issuer service (PROTOCOL §9), one fresh token per call.
// The HTTP call is the core's; it runs on the libuv thread pool, so `mint()` returns a
// Promise and never holds the event loop.

import { NativeClient, type MintOutcome, type MintedToken } from './native.js';
import { OathMeshIssuerError, translateError } from './errors.js';
import { mintDocument, type MintRequest } from './issuer.js';
import { toBuffer, type BodyInput } from './body.js';

export interface ClientOptions {
  /** The issuer's URL: its `iss`, and where `/v1/token` is found. */
  issuerUrl: string;
  clientId: string;
  /** HTTP Basic `clientId:clientSecret`... */
  clientSecret?: string;
  /** ...or a PKCS#8 PEM Ed25519 key signing a fresh assertion per call. */
  clientKeyPem?: string;
  /** Whole-request timeout in milliseconds (default 5000). */
  timeoutMs?: number;
  /** Where the issuer is reached when it differs from `issuerUrl` (a sidecar, a proxy). */
  tokenUrl?: string;
}

/** What `client.fetch` mints for each call: the claims, and `bind: true` to tie the token to
 * the exact method, path, query and body being sent (`rqh`). */
export type FetchClaims = Omit<MintRequest, 'rqh'> & { bind?: boolean };

type NativeClientInstance = InstanceType<typeof NativeClient>;

function settle(outcome: MintOutcome): MintedToken {
  if (outcome.token) return outcome.token;
  const error = outcome.error!;
  throw new OathMeshIssuerError(error.message, error);
}

/** Mints Oath Tokens from the issuer service. Build one per process and share it. Tokens are
 * single-use, so nothing is cached: every `mint` and every `fetch` is a new token. */
export class Client {
  readonly #native: NativeClientInstance;

  constructor(options: ClientOptions) {
    const doc = {
      issuer_url: options.issuerUrl,
      client_id: options.clientId,
      client_secret: options.clientSecret,
      client_key_pem: options.clientKeyPem,
      timeout_ms: options.timeoutMs,
      token_url: options.tokenUrl,
    };
    try {
      this.#native = NativeClient.fromJson(JSON.stringify(doc));
    } catch (e) {
      throw translateError(e);
    }
  }

  /** Mints one token. Rejects with `OathMeshIssuerError` when the issuer refuses or cannot
   * be reached. */
  async mint(request: MintRequest): Promise<MintedToken> {
    let pending: Promise<MintOutcome>;
    try {
      pending = this.#native.mint(mintDocument(request));
    } catch (e) {
      throw translateError(e);
    }
    return settle(await pending);
  }

  /** Mints one token bound to this request (`rqh`): the receiver accepts it only for exactly
   * this method, path and query (as sent on the wire) and body bytes. */
  async mintForRequest(request: Omit<MintRequest, 'rqh'>, method: string, pathAndQuery: string, body?: BodyInput): Promise<MintedToken> {
    let pending: Promise<MintOutcome>;
    try {
      pending = this.#native.mint(mintDocument(request), { method, pathAndQuery, body: toBuffer(body) });
    } catch (e) {
      throw translateError(e);
    }
    return settle(await pending);
  }

  /** `fetch` with a fresh token in `Authorization: OathMesh <token>`. With `bind: true` the
   * request is built first and its exact bytes are hashed into the token and then sent. */
  async fetch(input: string | URL | Request, init: RequestInit | undefined, claims: FetchClaims): Promise<Response> {
    const { bind, ...request } = claims;
    if (!bind) {
      const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
      const { token } = await this.mint(request);
      headers.set('authorization', `OathMesh ${token}`);
      return fetch(input, { ...init, headers });
    }
    // Let fetch's own Request normalise the URL, method and body (FormData boundaries,
    // URLSearchParams encoding), then send exactly the bytes that were hashed.
    const prepared = new Request(input, init);
    const body = prepared.body === null ? undefined : Buffer.from(await prepared.arrayBuffer());
    const url = new URL(prepared.url);
    const { token } = await this.mintForRequest(request, prepared.method, url.pathname + url.search, body);
    const headers = new Headers(prepared.headers);
    headers.set('authorization', `OathMesh ${token}`);
    return fetch(url, { ...init, method: prepared.method, headers, body, signal: prepared.signal });
  }
}
