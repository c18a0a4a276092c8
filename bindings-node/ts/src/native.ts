// The napi-rs addon. `native/index.js` is the loader napi-rs generates (it picks the `.node`
// file for this platform); `native/index.d.ts` is generated from the Rust doc comments.
// The relative path is the same from `ts/src/` and from `dist/{esm,cjs}/`.
import * as native from '../../native/index.js';

export const { NativeVerifier, NativeIssuer, NativeClient } = native;
export const nativeGenerateKey = native.generateKey;
export const nativeCanonicalRequestHash = native.canonicalRequestHash;
export type {
  CallerSource,
  BindTo,
  GeneratedKey,
  IssuerFailure,
  IssuerKeys,
  MintOutcome,
  MintedToken,
  NativeCaller,
  PublicJwk,
  RequestPartsInput,
} from '../../native/index.js';
