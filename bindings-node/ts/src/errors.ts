// Errors users branch on by `code`, never by message text.

/** Every verification error family (the code without a `:<claim>` suffix). The numbers in
 * docs/configuration.md are available as `OathMeshError.kind`. */
export type ErrorFamily =
  | 'token_malformed'
  | 'algorithm_not_allowed'
  | 'claim_missing'
  | 'claim_invalid'
  | 'issuer_untrusted'
  | 'key_not_found'
  | 'jwks_unavailable'
  | 'signature_invalid'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'audience_mismatch'
  | 'binding_required'
  | 'binding_mismatch'
  | 'subject_revoked'
  | 'revocation_unavailable'
  | 'policy_denied'
  | 'replay_detected'
  | 'replay_cache_unavailable';

/** A stable code: a family, or `claim_missing:<claim>` / `claim_invalid:<claim>`. */
export type ErrorCode = Exclude<ErrorFamily, 'claim_missing' | 'claim_invalid'> | `claim_missing:${string}` | `claim_invalid:${string}`;

/** The HTTP error body of PROTOCOL §2. */
export interface ErrorBody {
  error: string;
  message: string;
  fix: string;
  step: string;
  request_id?: string;
}

interface VerifyErrorFields {
  code: string;
  step: string;
  fix: string;
  status: number;
  kind: number;
  policyRule: string | null;
}

/** A failed verification. `code` is stable (`token_expired`, `claim_missing:sub`); `step` is
 * the pipeline step (`"06"`, `"13.5"`, `"00"` for the Authorization header); `status` is the
 * HTTP status to answer with (401, 403, 503); `fix` is one actionable sentence. */
export class OathMeshError extends Error {
  override readonly name = 'OathMeshError';
  readonly code: ErrorCode;
  readonly step: string;
  readonly fix: string;
  readonly status: number;
  /** The stable number of the error family (docs/configuration.md). */
  readonly kind: number;
  /** For `policy_denied`: the rule that denied (`default`, `required_action`, ...). */
  readonly policyRule: string | null;
  /** The request id given to `verify`, echoed in `toJSON()`. */
  readonly requestId: string | undefined;

  constructor(message: string, fields: VerifyErrorFields, requestId?: string) {
    super(message);
    this.code = fields.code as ErrorCode;
    this.step = fields.step;
    this.fix = fields.fix;
    this.status = fields.status;
    this.kind = fields.kind;
    this.policyRule = fields.policyRule ?? null;
    this.requestId = requestId;
  }

  /** The code without the `:<claim>` suffix, for `switch` statements. */
  get family(): ErrorFamily {
    return this.code.split(':', 1)[0] as ErrorFamily;
  }

  /** True for backend failures (503): retrying later may succeed. */
  get isUnavailable(): boolean {
    return this.status === 503;
  }

  /** The PROTOCOL §2 HTTP body: `{error, message, fix, step, request_id}`. */
  toJSON(): ErrorBody {
    const body: ErrorBody = { error: this.code, message: this.message, fix: this.fix, step: this.step };
    if (this.requestId !== undefined) body.request_id = this.requestId;
    return body;
  }
}

/** A verifier or issuer configuration the core refused (unknown key, two key sources, bad
 * PEM, unreadable file). The message is the core's and names the offending key. Thrown at
 * construction, never by `verify`. */
export class OathMeshConfigError extends Error {
  override readonly name = 'OathMeshConfigError';
  readonly code = 'config_invalid' as const;
}

/** The issuer refused a mint request (`claim_invalid:<claim>`) or could not sign
 * (`signer_failed`). */
export class OathMeshMintError extends Error {
  override readonly name = 'OathMeshMintError';
  readonly code: string;

  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/** The issuer did not mint (`Client.mint`, `Client.fetch`): its own `code` (`mint_denied`,
 * `invalid_client`, `rate_limited`, `invalid_request`, ...) and HTTP `status`, or
 * `issuer_unavailable` with status 503 when it could not be reached. Retry only the 503s and
 * `rate_limited`; the others need a configuration change. */
export class OathMeshIssuerError extends Error {
  override readonly name = 'OathMeshIssuerError';
  readonly code: string;
  readonly status: number;
  readonly fix: string;

  constructor(message: string, fields: { code: string; status: number; fix: string }) {
    super(message);
    this.code = fields.code;
    this.status = fields.status;
    this.fix = fields.fix;
  }

  /** True when retrying later may succeed (issuer down or overloaded, or rate limited). */
  get isRetryable(): boolean {
    return this.status === 503 || this.status === 429;
  }

  toJSON(): { error: string; message: string; fix: string; status: number } {
    return { error: this.code, message: this.message, fix: this.fix, status: this.status };
  }
}

interface NativeErrorShape {
  message: string;
  code?: unknown;
  step?: unknown;
  fix?: unknown;
  status?: unknown;
  kind?: unknown;
  policyRule?: unknown;
}

function isNativeError(e: unknown): e is NativeErrorShape {
  return e instanceof Error && typeof (e as NativeErrorShape).code === 'string';
}

/** Turns what the addon threw into the public error classes. Anything else (a bug, an
 * argument of the wrong type) is rethrown unchanged. */
export function translateError(e: unknown, requestId?: string): unknown {
  if (!isNativeError(e)) return e;
  if (e.code === 'config_invalid') return new OathMeshConfigError(e.message);
  if (typeof e.step === 'string') {
    return new OathMeshError(e.message, e as unknown as VerifyErrorFields, requestId);
  }
  if (e.code === 'signer_failed' || String(e.code).startsWith('claim_invalid:')) {
    return new OathMeshMintError(e.message, String(e.code));
  }
  return e;
}
