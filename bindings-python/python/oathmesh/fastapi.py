"""FastAPI / Starlette integration (``pip install oathmesh[fastapi]``).

Per route, as a dependency::

    app = FastAPI()
    oathmesh.fastapi.install(app)

    @app.post("/charge")
    async def charge(caller: Caller = Depends(oathmesh.fastapi.require(verifier, action="charge"))):
        ...

Or for a whole app, as ASGI middleware (the caller lands in ``request.state.oathmesh_caller``)::

    app.add_middleware(oathmesh.fastapi.OathMeshMiddleware, verifier=verifier)

The middleware also verifies WebSocket handshakes (a refused one is closed with code
1008 and the core's error code as the reason) and passes ``lifespan`` through untouched;
the ``require`` dependency is for HTTP routes only.

Both compute the request binding from the real method, raw path, query and body. The
body is read without blocking the event loop; the only synchronous work is the core's CPU
verification (tens of microseconds) and your audit callback, if any.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import _http
from ._native import Caller
from ._verifier import Verifier
from .errors import OathMeshError

__all__ = ["OathMeshHTTPException", "OathMeshMiddleware", "current_caller", "install", "require"]

STATE_KEY = "oathmesh_caller"
# RFC 6455 §7.4.1: the endpoint refuses a message (here: the handshake) against its policy.
WS_POLICY_VIOLATION = 1008


class OathMeshHTTPException(HTTPException):
    """Raised by :func:`require` on failure. With :func:`install`, the response is the
    PROTOCOL §2 body; without it FastAPI still answers with the right status (and the
    body under ``detail``)."""

    def __init__(self, error: OathMeshError, request_id: str) -> None:
        super().__init__(
            status_code=error.http_status,
            detail=error.to_dict(request_id),
            headers=_http.error_headers(error, request_id),
        )
        self.error = error
        self.request_id = request_id


async def _exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OathMeshHTTPException)
    return Response(
        _http.error_body(exc.error, exc.request_id),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def install(app: FastAPI) -> None:
    """Makes failures from :func:`require` answer with the PROTOCOL §2 JSON body."""
    app.add_exception_handler(OathMeshHTTPException, _exception_handler)


def require(verifier: Verifier, action: str | None = None) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency that verifies the request's ``Authorization`` header and returns the
    :class:`~oathmesh.Caller`. ``action``: the token's ``act`` must equal it."""

    async def oathmesh_caller(request: Request) -> Caller:
        rid = _http.request_id(request.headers.get(_http.REQUEST_ID_HEADER))
        body = await request.body()  # Starlette caches it: the route can still read it.
        try:
            caller = verifier.verify_authorization(
                request.headers.get("authorization"),
                method=request.method,
                path=_http.asgi_path_and_query(request.scope),
                body=body,
                request_id=rid,
                action=action,
            )
        except OathMeshError as err:
            raise OathMeshHTTPException(err, rid) from None
        request.state.oathmesh_caller = caller
        return caller

    return oathmesh_caller


def current_caller(request: Request) -> Caller:
    """A dependency for routes behind :class:`OathMeshMiddleware`."""
    caller: Caller | None = getattr(request.state, STATE_KEY, None)
    if caller is None:
        raise RuntimeError("no OathMesh caller: is OathMeshMiddleware installed for this path?")
    return caller


class OathMeshMiddleware:
    """Pure ASGI middleware: verifies every HTTP request and WebSocket handshake (except
    ``exclude_paths``), answers failures with the PROTOCOL §2 body, and stores the caller
    in ``scope["state"]["oathmesh_caller"]`` (``request.state.oathmesh_caller``)."""

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        action: str | None = None,
        exclude_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.action = action
        self.exclude_paths = frozenset(exclude_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            # `lifespan` (and any future non-request scope) carries no request to verify.
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        if kind == "websocket":
            await self._websocket(scope, receive, send)
            return
        headers = _headers(scope)
        rid = _http.request_id(headers.get("x-request-id"))
        body, replay = await _buffer_body(receive)
        try:
            caller = self.verifier.verify_authorization(
                headers.get("authorization"),
                method=scope["method"],
                path=_http.asgi_path_and_query(scope),
                body=body,
                request_id=rid,
                action=self.action,
            )
        except OathMeshError as err:
            await _send_error(send, err, rid)
            return
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        state[STATE_KEY] = caller
        await self.app(scope, replay, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket is verified on its handshake: the ``Authorization`` header and the
        binding over the handshake's method (``GET``), path and query, with an empty body.
        A refused handshake is accepted only to be closed at once with 1008 (policy
        violation) and the core's error code as the reason, so the client learns why; the
        application never sees it."""
        headers = _headers(scope)
        rid = _http.request_id(headers.get("x-request-id"))
        try:
            caller = self.verifier.verify_authorization(
                headers.get("authorization"),
                method="GET",
                path=_http.asgi_path_and_query(scope),
                body=b"",
                request_id=rid,
                action=self.action,
            )
        except OathMeshError as err:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": err.code})
            return
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        state[STATE_KEY] = caller
        await self.app(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    # Last value wins for repeated headers; Authorization and X-Request-Id are single-valued.
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    """Reads the whole body (binding hashes it) and returns a ``receive`` that replays it."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _send_error(send: Send, err: OathMeshError, rid: str) -> None:
    payload = _http.error_body(err, rid)
    headers = _http.error_headers(err, rid)
    headers["Content-Length"] = str(len(payload))
    await send(
        {
            "type": "http.response.start",
            "status": err.http_status,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": payload})
