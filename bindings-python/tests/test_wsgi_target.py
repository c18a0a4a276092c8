"""The WSGI adapters bind what the application acts on (``SCRIPT_NAME`` + ``PATH_INFO``
and ``QUERY_STRING``), under a real WSGI server (Werkzeug's) on loopback. An absolute-form
target with an empty path (``GET http://host?to=mallory``) once bound as ``/`` with no
query, while the app read ``to=mallory``."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import django_setup  # noqa: F401  (configures settings before Django is used)
import flask
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings
from werkzeug.serving import make_server

import oathmesh
import oathmesh.flask


def flask_app(verifier: oathmesh.Verifier) -> flask.Flask:
    app = flask.Flask(__name__)

    @app.get("/")
    @oathmesh.flask.require(verifier)
    def transfer() -> dict[str, Any]:
        return {"to": flask.request.args.get("to")}

    return app


@contextlib.contextmanager
def serve(framework: str, verifier: oathmesh.Verifier) -> Iterator[int]:
    if framework == "flask":
        app: Any = flask_app(verifier)
        settings: Any = contextlib.nullcontext()
    else:
        app = WSGIHandler()
        settings = override_settings(OATHMESH={"VERIFIER": verifier}, MIDDLEWARE=[], ALLOWED_HOSTS=["*"])
    with settings:
        srv = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        try:
            yield srv.server_port
        finally:
            srv.shutdown()


@pytest.fixture(params=["flask", "django"])
def port(request: pytest.FixtureRequest, verifier: oathmesh.Verifier) -> Iterator[int]:
    with serve(request.param, verifier) as port:
        yield port


@pytest.fixture
def django_port(verifier: oathmesh.Verifier) -> Iterator[int]:
    # Werkzeug's router answers an empty PATH_INFO with a redirect to `/` before any Flask
    # view runs; Django serves it as `/`, which is where the bypass reproduced.
    with serve("django", verifier) as port:
        yield port


def get(port: int, target: str, token: oathmesh.MintedToken) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", target, headers={"Authorization": token.authorization})
    resp = conn.getresponse()
    raw = resp.read()
    payload = json.loads(raw) if resp.getheader("Content-Type", "").startswith("application/json") else {}
    conn.close()
    return resp.status, payload


def test_absolute_form_query_is_bound(django_port: int, mint: Callable[..., oathmesh.MintedToken]) -> None:
    port = django_port
    root_only = mint(rqh=oathmesh.canonical_request_hash("GET", "/", b""))
    status, body = get(port, f"http://127.0.0.1:{port}?to=mallory", root_only)
    assert (status, body.get("error")) == (401, "binding_mismatch"), body
    # The same target is accepted by a token bound to the query the app acts on.
    bound = mint(rqh=oathmesh.canonical_request_hash("GET", "/?to=mallory", b""))
    assert get(port, f"http://127.0.0.1:{port}?to=mallory", bound) == (200, {"to": "mallory"})


def test_flask_never_runs_the_view_for_an_empty_path(verifier: oathmesh.Verifier, mint: Callable[..., oathmesh.MintedToken]) -> None:
    with serve("flask", verifier) as port:
        root_only = mint(rqh=oathmesh.canonical_request_hash("GET", "/", b""))
        status, body = get(port, f"http://127.0.0.1:{port}?to=mallory", root_only)
    assert "to" not in body and status in (308, 401), (status, body)


def test_origin_form_keeps_percent_encoding(port: int, mint: Callable[..., oathmesh.MintedToken]) -> None:
    bound = mint(rqh=oathmesh.canonical_request_hash("GET", "/?to=%41", b""))
    assert get(port, "/?to=%41", bound) == (200, {"to": "A"})
