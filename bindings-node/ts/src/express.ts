// Express middleware: verifies `Authorization: OathMesh <token>` and sets `req.oathmesh`.
//
// Request binding needs the exact body bytes. Body parsers consume the stream and keep only
// the parsed value, so the middleware looks for raw bytes in this order:
//   1. `req.rawBody` (a Buffer), e.g. set by `express.json({ verify: captureRawBody })`;
//   2. `req.body` when it is a Buffer (`express.raw()`);
//   3. the request stream itself when no parser has read it: the middleware reads it and
//      leaves the bytes in `req.rawBody` (and `req.body`), so later handlers can parse them.
// If a parser consumed the body without keeping the bytes, a bound token cannot be checked:
// the middleware passes an `OathMeshConfigError` to `next()` instead of guessing.
// The body is only read when the token carries `rqh` or the verifier requires binding.

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { IncomingMessage } from 'node:http';
import type { Caller, Verifier } from './verifier.js';
import { OathMeshConfigError, OathMeshError } from './errors.js';
import { readStream } from './body.js';
import { failure, requestIdFrom } from './http.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified caller, set by the `oathmesh()` middleware. */
      oathmesh?: Caller;
      /** The exact body bytes, when a body parser's `verify` hook or the middleware kept them. */
      rawBody?: Buffer;
    }
  }
}

export interface OathMeshMiddlewareOptions {
  verifier: Verifier;
  /** The action this route serves: the token's `act` must equal it (`policy_denied`). */
  action?: string;
}

/** For `express.json({ verify: captureRawBody })` (or `urlencoded`, `text`): keeps the exact
 * bytes in `req.rawBody` so request binding can be checked after parsing. */
export function captureRawBody(req: IncomingMessage, _res: unknown, buf: Buffer): void {
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buf;
}

/** Whether a body parser has already read the stream. */
function streamConsumed(req: Request): boolean {
  return (req as Request & { _body?: boolean })._body === true || req.readableEnded || req.readableDidRead;
}

async function rawBodyOf(req: Request): Promise<Buffer> {
  if (Buffer.isBuffer(req.rawBody)) return req.rawBody;
  if (Buffer.isBuffer(req.body)) return req.body;
  if (streamConsumed(req)) {
    throw new OathMeshConfigError(
      'OathMesh: the token is bound to its request (rqh) but a body parser consumed the body without keeping the raw bytes; ' +
        'mount express.raw() or express.json({ verify: captureRawBody }) before oathmesh(), or oathmesh() before the parser',
    );
  }
  const body = await readStream(req);
  req.rawBody = body;
  req.body = body;
  // Tell body-parser middleware mounted later that the body has been read.
  (req as Request & { _body?: boolean })._body = true;
  return body;
}

/** Express middleware: verifies the caller or answers with PROTOCOL §2's JSON error
 * (401/403/503) and `request_id` from `X-Request-Id` (or a fresh one). */
export function oathmesh(options: OathMeshMiddlewareOptions): RequestHandler {
  const { verifier, action } = options;
  return (req: Request, res: Response, next: NextFunction): void => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const header = req.headers.authorization ?? null;
    const verify = (body?: Buffer): void => {
      try {
        const request = body === undefined ? { requestId, action } : { method: req.method, pathAndQuery: req.originalUrl, body, requestId, action };
        req.oathmesh = verifier.verifyAuthorization(header, request);
      } catch (e) {
        if (e instanceof OathMeshError) {
          const { status, headers, body: json } = failure(e);
          res.status(status).set(headers).send(json);
          return;
        }
        next(e);
        return;
      }
      next();
    };
    if (!verifier.wantsRequest(header)) {
      verify();
      return;
    }
    rawBodyOf(req).then(verify, next);
  };
}
