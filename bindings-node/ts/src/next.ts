// Next.js integrations.
//
// - App Router route handlers: `withOathMesh(verifier, handler)` (Web Request -> Response).
// - Pages Router API routes: `withOathMeshApi(verifier, handler)`.
// - `middleware.ts` on the Node.js runtime: `verifyRequest(verifier, request)`.
// The Edge runtime cannot load native addons, so none of this runs there; put the OathMesh
// gateway in front of Edge deployments instead.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Caller, Verifier } from './verifier.js';
import { OathMeshConfigError, OathMeshError } from './errors.js';
import { readStream } from './body.js';
import { failure, requestIdFrom } from './http.js';

export interface OathMeshRouteOptions {
  /** The action this route serves: the token's `act` must equal it (`policy_denied`). */
  action?: string;
}

export type VerifyResult = { ok: true; caller: Caller; requestId: string } | { ok: false; error: OathMeshError; response: Response };

/** The PROTOCOL §2 failure as a Web `Response`. */
export function errorResponse(error: OathMeshError): Response {
  const { status, headers, body } = failure(error);
  return new Response(body, { status, headers });
}

/** Verifies a Web `Request` (route handler or Node.js-runtime middleware). Reads a clone of
 * the body only when the token is bound or binding is required, so the handler can still
 * read the original. */
export async function verifyRequest(verifier: Verifier, request: Request, options: OathMeshRouteOptions = {}): Promise<VerifyResult> {
  const requestId = requestIdFrom(request.headers.get('x-request-id'));
  const header = request.headers.get('authorization');
  let parts = {};
  if (verifier.wantsRequest(header)) {
    const url = new URL(request.url);
    const body = request.body === null ? Buffer.alloc(0) : Buffer.from(await request.clone().arrayBuffer());
    parts = { method: request.method, pathAndQuery: url.pathname + url.search, body };
  }
  try {
    const caller = verifier.verifyAuthorization(header, { ...parts, requestId, action: options.action });
    return { ok: true, caller, requestId };
  } catch (e) {
    if (e instanceof OathMeshError) return { ok: false, error: e, response: errorResponse(e) };
    throw e;
  }
}

/** What an App Router handler wrapped by `withOathMesh` receives as its second argument:
 * Next's context (`params`) plus the verified caller. */
export type OathMeshContext<C> = C & { oathmesh: Caller };

/** Next's route handler context when none is named: dynamic segments as `params`. */
export type RouteContext = { params: Promise<Record<string, string | string[]>> };

/** Wraps an App Router route handler: verifies first, answers failures with PROTOCOL §2's
 * JSON, and passes the caller as `context.oathmesh` beside Next's own context (`params`).
 * Name a route's params with the type argument: `withOathMesh<{ params: Promise<{ id: string }> }>(...)`. */
export function withOathMesh<C = RouteContext, R extends Request = Request>(
  verifier: Verifier,
  handler: (request: R, context: OathMeshContext<C>) => Response | Promise<Response>,
  options: OathMeshRouteOptions = {},
): (request: R, context: C) => Promise<Response> {
  return async (request, context) => {
    const result = await verifyRequest(verifier, request, options);
    if (!result.ok) return result.response;
    return handler(request, { ...(context ?? ({} as C)), oathmesh: result.caller });
  };
}

/** The parts of Next's `NextApiRequest` the Pages Router wrapper uses. */
export type ApiRequest = IncomingMessage & { body?: unknown; oathmesh?: Caller };

/** The parts of Next's `NextApiResponse` a handler typically uses (structural, so this
 * package needs no dependency on `next`; annotate with `NextApiResponse` for the rest). */
export interface ApiResponse extends ServerResponse {
  status(statusCode: number): ApiResponse;
  json(body: unknown): void;
  send(body: unknown): void;
}

/** Wraps a Pages Router API route (`pages/api/*.ts`). The caller is set on `req.oathmesh`.
 * For request-bound tokens, export `config = { api: { bodyParser: false } }` from the route so
 * the wrapper can read the exact bytes; they are then left in `req.body` as a Buffer. */
export function withOathMeshApi<Req extends ApiRequest = ApiRequest, Res extends ServerResponse = ApiResponse>(
  verifier: Verifier,
  handler: (req: Req & { oathmesh: Caller }, res: Res) => unknown,
  options: OathMeshRouteOptions = {},
): (req: Req, res: Res) => Promise<void> {
  return async (req, res) => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const header = req.headers.authorization ?? null;
    let parts = {};
    if (verifier.wantsRequest(header)) {
      let body: Buffer;
      if (Buffer.isBuffer(req.body)) {
        body = req.body;
      } else if (req.body !== undefined || req.readableEnded) {
        throw new OathMeshConfigError(
          "OathMesh: the token is bound to its request (rqh) but Next's body parser consumed the body; export config = { api: { bodyParser: false } } from this API route",
        );
      } else {
        body = await readStream(req);
        req.body = body;
      }
      parts = { method: req.method ?? 'GET', pathAndQuery: req.url ?? '/', body };
    }
    try {
      req.oathmesh = verifier.verifyAuthorization(header, { ...parts, requestId, action: options.action });
    } catch (e) {
      if (!(e instanceof OathMeshError)) throw e;
      const { status, headers, body } = failure(e);
      res.writeHead(status, headers).end(body);
      return;
    }
    await handler(req as Req & { oathmesh: Caller }, res);
  };
}
