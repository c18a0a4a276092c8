"""FastAPI: the dependency (with and without ``install``) and the ASGI middleware, through
Starlette's real TestClient (httpx)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

import oathmesh
import oathmesh.fastapi
from framework_contract import BODY, FrameworkContract, Response, RouteActionContract


def dependency_app(verifier: oathmesh.Verifier) -> FastAPI:
    app = FastAPI()
    oathmesh.fastapi.install(app)

    @app.post("/charge")
    async def charge(request: Request, caller: oathmesh.Caller = Depends(oathmesh.fastapi.require(verifier))) -> dict[str, str]:
        return {"subject": caller.subject, "action": caller.action, "body": (await request.body()).decode()}

    @app.post("/charge-only")
    async def charge_only(
        request: Request, caller: oathmesh.Caller = Depends(oathmesh.fastapi.require(verifier, action="charge"))
    ) -> dict[str, str]:
        return {"subject": caller.subject, "action": caller.action, "body": (await request.body()).decode()}

    return app


def middleware_app(verifier: oathmesh.Verifier) -> FastAPI:
    app = FastAPI()
    app.add_middleware(oathmesh.fastapi.OathMeshMiddleware, verifier=verifier, exclude_paths=["/healthz"])

    @app.post("/charge")
    async def charge(request: Request, caller: oathmesh.Caller = Depends(oathmesh.fastapi.current_caller)) -> dict[str, str]:
        assert request.state.oathmesh_caller is caller
        return {"subject": caller.subject, "action": caller.action, "body": (await request.body()).decode()}

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    return app


class _Client(FrameworkContract):
    client: TestClient

    def send(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        r = self.client.post(path, headers=headers, content=body)
        return Response(r.status_code, r.content, dict(r.headers))


class TestDependency(_Client, RouteActionContract):
    @pytest.fixture(autouse=True)
    def _app(self, verifier: oathmesh.Verifier) -> None:
        self.client = TestClient(dependency_app(verifier))


class TestMiddleware(_Client):

    @pytest.fixture(autouse=True)
    def _app(self, verifier: oathmesh.Verifier) -> None:
        self.client = TestClient(middleware_app(verifier))

    def test_excluded_path_needs_no_token(self) -> None:
        assert self.client.get("/healthz").json() == {"ok": True}


def test_dependency_without_install_keeps_the_status(
    verifier: oathmesh.Verifier, mint: Callable[..., oathmesh.MintedToken]
) -> None:
    app = FastAPI()

    @app.post("/charge")
    async def charge(caller: oathmesh.Caller = Depends(oathmesh.fastapi.require(verifier))) -> dict[str, str]:
        return {"subject": caller.subject}

    client = TestClient(app)
    r = client.post("/charge", headers={"Authorization": mint(act="refund").authorization}, content=BODY)
    assert r.status_code == 403
    assert r.json()["detail"]["error"] == "policy_denied"


def test_middleware_replays_a_chunked_body(verifier: oathmesh.Verifier, mint: Callable[..., oathmesh.MintedToken]) -> None:
    """The middleware reads every body chunk for the binding and hands them on intact."""
    app = middleware_app(verifier)
    body = b"x" * 100_000
    token = mint(rqh=oathmesh.canonical_request_hash("POST", "/charge", body))

    def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(body), 7_000):
            yield body[i : i + 7_000]

    r = TestClient(app).post("/charge", headers={"Authorization": token.authorization}, content=chunks())
    assert r.status_code == 200, r.text
    assert r.json()["body"] == body.decode()


def test_dependency_is_async_and_awaits_the_body(verifier: oathmesh.Verifier) -> None:
    """FastAPI runs sync dependencies in a thread pool; ours is a coroutine that awaits the
    body, so the only synchronous work on the event loop is the core's CPU verification."""
    import inspect

    dependency = oathmesh.fastapi.require(verifier)
    assert inspect.iscoroutinefunction(dependency)
    assert "await request.body()" in inspect.getsource(dependency)
