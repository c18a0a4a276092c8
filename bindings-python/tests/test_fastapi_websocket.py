"""FastAPI's ASGI middleware under a real uvicorn server: WebSocket handshakes are verified
(Authorization and the binding over GET + path + query), a refused one is closed with 1008
and the core's code before the app sees it, and ``lifespan`` passes through untouched."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, WebSocket
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import oathmesh
import oathmesh.fastapi


def ws_app(verifier: oathmesh.Verifier, lifespan_ran: list[str]) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lifespan_ran.append("startup")
        yield
        lifespan_ran.append("shutdown")

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(oathmesh.fastapi.OathMeshMiddleware, verifier=verifier)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        caller: oathmesh.Caller = websocket.state.oathmesh_caller
        await websocket.accept()
        await websocket.send_json({"subject": caller.subject, "room": websocket.query_params.get("room")})
        await websocket.close()

    return app


@contextlib.contextmanager
def uvicorn_server(app: Any) -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def lifespan_ran() -> list[str]:
    return []


@pytest.fixture
def port(verifier: oathmesh.Verifier, lifespan_ran: list[str]) -> Iterator[int]:
    with uvicorn_server(ws_app(verifier, lifespan_ran)) as port:
        yield port


def talk(port: int, target: str, token: oathmesh.MintedToken | None) -> dict[str, Any]:
    headers = {"Authorization": token.authorization} if token is not None else {}
    with connect(f"ws://127.0.0.1:{port}{target}", additional_headers=headers, open_timeout=10) as ws:
        return dict(json.loads(ws.recv(timeout=10)))


def refused(port: int, target: str, token: oathmesh.MintedToken | None) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as caught:
        talk(port, target, token)
    assert caught.value.rcvd is not None
    return caught.value.rcvd.code, caught.value.rcvd.reason


def test_handshake_without_token_is_closed_1008(port: int) -> None:
    assert refused(port, "/ws", None) == (1008, "claim_missing:token")


def test_verified_handshake_reaches_the_app(port: int, mint: Callable[..., oathmesh.MintedToken]) -> None:
    assert talk(port, "/ws?room=1", mint()) == {"subject": "svc://checkout", "room": "1"}


def test_handshake_binding_and_replay(port: int, mint: Callable[..., oathmesh.MintedToken]) -> None:
    bound = mint(rqh=oathmesh.canonical_request_hash("GET", "/ws?room=1", b""))
    assert refused(port, "/ws?room=2", bound) == (1008, "binding_mismatch")
    assert talk(port, "/ws?room=1", bound)["room"] == "1"
    assert refused(port, "/ws?room=1", bound) == (1008, "replay_detected")


def test_policy_denial_closes_with_the_code(port: int, mint: Callable[..., oathmesh.MintedToken]) -> None:
    assert refused(port, "/ws", mint(act="refund")) == (1008, "policy_denied")


def test_lifespan_passes_through(verifier: oathmesh.Verifier) -> None:
    ran: list[str] = []
    with uvicorn_server(ws_app(verifier, ran)):
        assert ran == ["startup"]
    assert ran == ["startup", "shutdown"]
