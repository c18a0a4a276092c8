// `Verifier`: camelCase options in, the core's snake_case configuration document out. No
// option is checked here: the core validates the document, so every language accepts the
// same options and reports the same errors.

import { NativeVerifier, type NativeCaller } from './native.js';
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
  onEvent?: AuditCallback;
}

export interface VerifierOptions {
  /** This service's audience; a token's `aud` must equal it exactly. */
  audience: string;
  /** Issuer URLs accepted in `iss`, compared exactly. */
  trustedIssuers: readonly string[];
  /** Static keys shared by every trusted issuer: a JWKS document... */
  jwks?: { keys: readonly object[] } | string;
  /** ...or a JWKS file read once at construction... */
  jwksFile?: string;
  /** ...or SPKI PEM public keys. */
  publicKeysPem?: readonly string[];
  /** Keys for one issuer; an issuer listed here never falls back to the shared keys. */
  issuerJwks?: Record<string, { keys: readonly object[] }>;
  /** Clock-skew allowance in seconds, 0..60 (default 10). */
  leeway?: number;
  /** PROTOCOL §5 policy document. Without one, every valid token is allowed. */
  policy?: object | string;
  policyFile?: string;
  /** `{type: 'memory', capacity}` (the default). */
  replayCache?: { type: 'memory'; capacity?: number };
  /** Subjects refused at step 13.5. */
  revocation?: { subjects: readonly string[] };
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
        doc.revoked_subjects = (value as { subjects?: unknown }).subjects ?? value;
        break;
      case 'audit': {
        if (typeof value === 'function') {
          onAudit = value as AuditCallback;
        } else {
          const { onEvent, ...sinks } = value as AuditOptions;
          onAudit = onEvent;
          doc.audit = sinks;
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
