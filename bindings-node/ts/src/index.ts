// @oathmesh/sdk: verify and mint Oath Tokens. Every check runs in the Rust core; this
// package renames options and translates errors.

export { Verifier, toConfigDocument } from './verifier.js';
export type {
  AuditCallback,
  AuditEvent,
  AuditOptions,
  Caller,
  IssuerKeys,
  JwksFetchOptions,
  MemoryReplayCacheOptions,
  RedisReplayCacheOptions,
  RedisRevocationOptions,
  StaticRevocationOptions,
  VerifierOptions,
  VerifyRequest,
} from './verifier.js';
export { Client } from './client.js';
export type { ClientOptions, FetchClaims } from './client.js';
export { Issuer, generateKey, canonicalRequestHash } from './issuer.js';
export type { GeneratedKey, IssuerOptions, MintRequest, MintedToken, PublicJwk } from './issuer.js';
export { OathMeshError, OathMeshConfigError, OathMeshIssuerError, OathMeshMintError } from './errors.js';
export type { ErrorBody, ErrorCode, ErrorFamily } from './errors.js';
export type { CallerSource } from './native.js';
export type { BodyInput } from './body.js';
