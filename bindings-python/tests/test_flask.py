"""Flask: the ``require`` decorator through Flask's test client, and once over real HTTP on
loopback (Werkzeug's server), where the request target comes from the socket."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator

import flask
import pytest
from werkzeug.serving import make_server

import oathmesh
import oathmesh.flask
from framework_contract import BODY, Response, RouteActionContract


def make_app(verifier: oathmesh.Verifier) -> flask.Flask:
    app = flask.Flask(__name__)

    def answer() -> dict[str, str]:
        caller = flask.g.oathmesh_caller
        return {"subject": caller.subject, "action": caller.action, "body": flask.request.get_data().decode()}

    app.post("/charge")(oathmesh.flask.require(verifier)(answer))
    charge_only = oathmesh.flask.require(verifier, action="charge")(lambda: answer())
    app.add_url_rule("/charge-only", "charge_only", charge_only, methods=["POST"])
    return app


class TestFlask(RouteActionContract):
    @pytest.fixture(autouse=True)
    def _app(self, verifier: oathmesh.Verifier) -> None:
        self.client = make_app(verifier).test_client()

    def send(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        r = self.client.post(path, headers=headers, data=body)
        return Response(r.status_code, r.get_data(), dict(r.headers))


@pytest.fixture
def server(verifier: oathmesh.Verifier) -> Iterator[int]:
    srv = make_server("127.0.0.1", 0, make_app(verifier), threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_port
    srv.shutdown()


def test_real_http_on_loopback(server: int, mint: Callable[..., oathmesh.MintedToken]) -> None:
    path = "/charge?note=a%20b&x=%2F"
    token = mint(rqh=oathmesh.canonical_request_hash("POST", path, BODY))
    for expected_status in (200, 401):  # the second use is a replay
        conn = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
        conn.request("POST", path, body=BODY, headers={"Authorization": token.authorization})
        resp = conn.getresponse()
        payload = json.loads(resp.read())
        conn.close()
        assert resp.status == expected_status, payload
    assert payload["error"] == "replay_detected"
