// What every framework adapter shares: the request id and the failure response.

import { randomUUID } from 'node:crypto';
import type { OathMeshError } from './errors.js';

/** `X-Request-Id` when the caller sent a usable one, else a fresh UUID. */
export function requestIdFrom(header: string | string[] | null | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  // Only echo ids that are safe in a JSON body and a log line.
  if (value && value.length <= 200 && /^[\x21-\x7e]+$/.test(value)) return value;
  return randomUUID();
}

/** Status, headers and JSON text of the PROTOCOL §2 failure response. */
export function failure(err: OathMeshError): { status: number; headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
  // RFC 9110 §11.6.1: a 401 names the scheme the client should use.
  if (err.status === 401) headers['www-authenticate'] = `OathMesh error="${err.code}"`;
  return { status: err.status, headers, body: JSON.stringify(err) };
}
