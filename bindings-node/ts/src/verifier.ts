// `Verifier`: camelCase options in, the core's snake_case configuration document out. No
// option is checked here: the core validates the document, so every language accepts the
// same options and reports the same errors.

import { NativeVerifier, type IssuerKeys, type NativeCaller } from './native.js';

export type { IssuerKeys };
import { translateError } from './errors.js';
import { toBuffer, type BodyInput } from './body.js';

/** The verified caller. `scope` is `[]` when the token has none; optional claims are `null`. */
export type Caller = NativeCaller;

/** One audit event, in the documented NDJSON shape (snake_case, as log pipelines expect).
 * Never contains the token or a key. */
export interface AuditEvent {
  event: 'oathmesh.verify';
  outcome: 'allow' | 'deny';
  code: string | null;
  step: string | null;
  policy_rule: string | null;
  /** False when the claims below were decoded but their signature was not verified. */
  claims_verified: boolean;
  iss: string | null;
  sub: string | null;
  aud: string | null;
  act: string | null;
  jti: string | null;
  env: string | null;
  tenant: string | null;
  src: Record<string, string> | null;
  request_id: string | null;
  timestamp: string;
  latency_us: number;
}

export type AuditCallback = (event: AuditEvent) => void;

/** Built-in audit sinks (run in Rust) and/or a JS callback. */
export interface AuditOptions {
  stdout?: boolean;
  file?: string;
  /** HMAC-chains the built-in outputs (`file`/`stdout`): each line gains `seq`, `prev_hash`
   * and `hmac`; check a file with `oathmesh audit verify --key-file KEY FILE`. At least 16
   * bytes. The callback receives the plain event. */
  hmacKey?: string;
  /** ...or the key in a file (one trailing newline is ignored). */
  hmacKeyFile?: string;
  onEvent?: AuditCallback;
}

/** The in-process replay cache (the default). */
export interface MemoryReplayCacheOptions {
  type: 'memory';
  capacity?: number;
}

/** A replay cache shared by every receiver through Redis (`SET NX PX`), with a circuit
 * breaker. */
export interface RedisReplayCacheOptions {
  type: 'redis';
  /** `redis://host:port/db` or `unix:///path`; defaults to `redisUrl`. */
  url?: string;
  /** While Redis fails: `'fallback'` (default) answers from the in-process cache,
   * `'reject'` answers `replay_cache_unavailable` (503). Never fails open. */
  onError?: 'fallback' | 'reject';
  /** Connect, read and write timeout of each command (default 250). */
  timeoutMs?: number;
  /** The in-process cache kept beside Redis (default 1000000). */
  capacity?: number;
}

/** A fixed list of revoked subjects (`revoked_subjects`). */
export interface StaticRevocationOptions {
  subjects: readonly string[];
}

/** Revocations read from the Redis hash `oathmesh:revocations` (field = subject) on every
 * verification; `oathmesh revoke --redis URL SUBJECT` writes it. */
export interface RedisRevocationOptions {
  type: 'redis';
  /** Defaults to `redisUrl`. */
  url?: string;
  /** Default 250. */
  timeoutMs?: number;
}

/** Tuning of JWKS fetching, which is on when no static keys are given. */
export interface JwksFetchOptions {
  /** Keys are used this long before a background refresh (1..86400, default 60). */
  freshnessSecs?: number;
  /** Allow `http://` to hosts that are not loopback (default false). */
  allowInsecureHttp?: boolean;
}

export interface VerifierOptions {
  /** This service's audience; a token's `aud` must equal it exactly. */
  audience: string;
  /** Issuer URLs accepted in `iss`, compared exactly. */
  trustedIssuers: readonly string[];
  /** Static keys shared by every trusted issuer: a JWKS document... Give no static keys at
   * all to fetch each trusted issuer's `{iss}/.well-known/jwks.json` instead. */
  jwks?: { keys: readonly object[] } | string;
  /** ...or a JWKS file read once at construction... */
  jwksFile?: string;
  /** ...or SPKI PEM public keys. */
  publicKeysPem?: readonly string[];
  /** Keys for one issuer; an issuer listed here never falls back to the shared keys. */
  issuerJwks?: Record<string, { keys: readonly object[] }>;
  /** JWKS fetching tuning (only without static keys). */
  jwksFetch?: JwksFetchOptions;
  /** Clock-skew allowance in seconds, 0..60 (default 10). */
  leeway?: number;
  /** PROTOCOL §5 policy document. Without one, every valid token is allowed. */
  policy?: object | string;
  /** A `.json` policy, or a `.pkl` one evaluated by the `pkl` CLI. Re-read when it changes
   * (checked at most once a second); a changed file that fails to load keeps the last good
   * policy and counts in `policyReloadErrors`. */
  policyFile?: string;
  /** The `pkl` binary for `.pkl` policies (default: `$OATHMESH_PKL`, then `pkl` on PATH). */
  pklPath?: string;
  /** Shorthand: a Redis replay cache (`onError: 'fallback'`) and Redis revocation, unless
   * `replayCache` / `revocation` say otherwise; also their default `url`. */
  redisUrl?: string;
  /** `{type: 'memory', capacity}` (the default) or `{type: 'redis', ...}`. */
  replayCache?: MemoryReplayCacheOptions | RedisReplayCacheOptions;
  /** Subjects refused at step 13.5: a fixed list, or the Redis revocation list. */
  revocation?: StaticRevocationOptions | RedisRevocationOptions;
  /** Refuse tokens without `rqh` (request binding). */
  requireBinding?: boolean;
  /** A callback for every verification's audit event, or built-in sinks. The callback runs
   * synchronously on the verifying thread right after the check; exceptions it throws are
   * reported as a process warning and never change the result. */
  audit?: AuditCallback | AuditOptions;
  /** Test only: a fixed clock and pre-recorded token ids. Never set in production. */
  testing?: { now?: number; seenJtis?: readonly string[] };
}

/** What `verify` may be told about the request (all optional). */
export interface VerifyRequest {
  /** With `pathAndQuery` (and `body`): the request the token may be bound to. */
  method?: string;
  /** The request target exactly as received (`/pay?x=1`), percent-encoding untouched. */
  pathAndQuery?: string;
  /** The raw body bytes (a string is taken as UTF-8). */
  body?: BodyInput;
  /** Correlates the audit event and the error body with your logs (`X-Request-Id`). */
  requestId?: string;
  /** The action this endpoint serves: the token's `act` must equal it. */
  action?: string;
}

const snakeCase = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Renames the keys of a nested option object (`{onError, timeoutMs}` -> `{on_error,
 * timeout_ms}`). Only for objects whose keys are option names, never for user data such
 * as JWKS documents, policies or issuer URLs. */
const snakeKeys = (value: object): Record<string, unknown> =>
  Object.fromEntries(Object.entries(value).map(([k, v]) => [snakeCase(k), v]));

/** Renames the camelCase options to the configuration document. Keys it does not know are
 * renamed the same way and passed on, so the core reports them by their documented name. */
export function toConfigDocument(options: VerifierOptions): { doc: Record<string, unknown>; onAudit?: AuditCallback } {
  const doc: Record<string, unknown> = {};
  let onAudit: AuditCallback | undefined;
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    switch (key) {
      case 'jwks':
      case 'policy':
        doc[key] = typeof value === 'string' ? JSON.parse(value) : value;
        break;
      case 'revocation':
        // The static form is the document's `revoked_subjects`; the Redis form is its
        // `revocation` object. Which one is used is the core's decision, not checked here.
        if ('subjects' in (value as object)) doc.revoked_subjects = (value as StaticRevocationOptions).subjects;
        else doc.revocation = snakeKeys(value as object);
        break;
      case 'replayCache':
      case 'jwksFetch':
        doc[snakeCase(key)] = snakeKeys(value as object);
        break;
      case 'audit': {
        if (typeof value === 'function') {
          onAudit = value as AuditCallback;
        } else {
          const { onEvent, ...sinks } = value as AuditOptions;
          onAudit = onEvent;
          doc.audit = snakeKeys(sinks);
        }
        break;
      }
      case 'testing': {
        const { seenJtis, ...rest } = value as NonNullable<VerifierOptions['testing']>;
        doc.testing = seenJtis === undefined ? rest : { ...rest, seen_jtis: seenJtis };
        break;
      }
      default:
        doc[snakeCase(key)] = value;
    }
  }
  return { doc, onAudit };
}

/** Calls the user's callback without letting it break verification (PROTOCOL §8: a failing
 * sink never changes the result), but without hiding the bug either. */
function guarded(callback: AuditCallback): (event: Record<string, unknown>) => void {
  return (event) => {
    try {
      callback(event as unknown as AuditEvent);
    } catch (e) {
      process.emitWarning(`OathMesh audit callback threw: ${e instanceof Error ? e.message : String(e)}`, 'OathMeshAuditWarning');
    }
  };
}

/** A configuration document already in its final form (`Verifier.fromConfig`). */
class ConfigDocument {
  constructor(
    readonly json: string,
    readonly onAudit: AuditCallback | undefined,
  ) {}
}

/** Verifies Oath Tokens. Build one per process (keys and policy are parsed once) and share
 * it; `verify` is synchronous and takes tens of microseconds. */
export class Verifier {
  readonly #native: InstanceType<typeof NativeVerifier>;

  constructor(options: VerifierOptions);
  constructor(options: VerifierOptions | ConfigDocument) {
    let document: ConfigDocument;
    if (options instanceof ConfigDocument) {
      document = options;
    } else {
      const { doc, onAudit } = toConfigDocument(options);
      document = new ConfigDocument(JSON.stringify(doc), onAudit);
    }
    try {
      this.#native = new NativeVerifier(document.json, document.onAudit ? guarded(document.onAudit) : null);
    } catch (e) {
      throw translateError(e);
    }
  }

  /** Builds a verifier from the snake_case configuration document of
   * docs/configuration.md, passed to the core as-is (conformance vectors, shared config
   * files). */
  static fromConfig(doc: object | string, options: { audit?: AuditCallback } = {}): Verifier {
    const json = typeof doc === 'string' ? doc : JSON.stringify(doc);
    return new Verifier(new ConfigDocument(json, options.audit) as unknown as VerifierOptions);
  }

  get audience(): string {
    return this.#native.audience;
  }

  get requireBinding(): boolean {
    return this.#native.requireBinding;
  }

  /** Loads every trusted issuer's JWKS now (JWKS fetching), off the JS thread. Await it at
   * startup: a `verify` that has no keys yet fetches them synchronously, holding the event
   * loop for up to the 5 s fetch timeout. Later refreshes run in the background. Resolves to
   * one result per issuer (`[]` for static keys); a failed fetch is reported, not thrown. */
  prewarm(): Promise<IssuerKeys[]> {
    return this.#native.prewarm();
  }

  /** Successful reloads of `policyFile` since construction. */
  get policyReloads(): number {
    return this.#native.policyReloads;
  }

  /** Changed policy files that failed to load (the last good policy stayed in force). */
  get policyReloadErrors(): number {
    return this.#native.policyReloadErrors;
  }

  /** Verifies a token. Throws `OathMeshError` on any failure. */
  verify(token: string, request?: VerifyRequest): Caller {
    try {
      return this.#native.verify(token, parts(request), request?.requestId, request?.action);
    } catch (e) {
      throw translateError(e, request?.requestId);
    }
  }

  /** Verifies the value of an `Authorization: OathMesh <token>` header; `null` or
   * `undefined` means no header was sent (`claim_missing:token`). */
  verifyAuthorization(header: string | null | undefined, request?: VerifyRequest): Caller {
    try {
      return this.#native.verifyAuthorization(header ?? null, parts(request), request?.requestId, request?.action);
    } catch (e) {
      throw translateError(e, request?.requestId);
    }
  }

  /** Whether verifying this header needs the request's method, path and body (binding is
   * required, or the token carries `rqh`): adapters read the body only then. */
  wantsRequest(header: string | null | undefined): boolean {
    return this.#native.wantsRequest(header ?? null);
  }
}

function parts(request: VerifyRequest | undefined) {
  if (request?.method === undefined || request.pathAndQuery === undefined) return null;
  return { method: request.method, pathAndQuery: request.pathAndQuery, body: toBuffer(request.body) };
}
