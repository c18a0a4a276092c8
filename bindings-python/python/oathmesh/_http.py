"""What every framework adapter shares: the request id, the request target exactly as
sent, and the PROTOCOL §2 error body. No token checks here: those are the core's."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from .errors import OathMeshError

REQUEST_ID_HEADER = "X-Request-Id"
# Longer or odd request ids are replaced, so a caller cannot stuff the audit log.
_MAX_REQUEST_ID = 128


def request_id(header_value: str | None) -> str:
    """The caller's ``X-Request-Id`` if it is sane, else a new random one."""
    if (
        header_value
        and len(header_value) <= _MAX_REQUEST_ID
        and header_value.isascii()
        and header_value.isprintable()
    ):
        return header_value
    return uuid.uuid4().hex


def error_body(err: OathMeshError, request_id: str) -> bytes:
    """``{"error", "message", "fix", "step", "request_id"}`` as JSON bytes."""
    return json.dumps(err.to_dict(request_id)).encode()


def error_headers(err: OathMeshError, request_id: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json", REQUEST_ID_HEADER: request_id}
    if err.http_status == 401:
        headers["WWW-Authenticate"] = "OathMesh"
    return headers


def asgi_path_and_query(scope: Mapping[str, Any]) -> str:
    """The request target as the client sent it: ASGI ``raw_path`` (percent-encoding
    untouched) plus the raw query string."""
    raw = scope.get("raw_path")
    path = _latin1(raw) if raw else _quote_path(scope.get("root_path", "") + scope.get("path", ""))
    query = _latin1(scope.get("query_string", b""))
    return f"{path}?{query}" if query else path


def _latin1(value: bytes | str) -> str:
    # The ASGI spec says bytes; some servers and test clients (Django's) hand over str.
    return value.decode("latin-1") if isinstance(value, bytes) else value


def wsgi_path_and_query(environ: Mapping[str, Any]) -> str:
    """The request target the application acts on: ``SCRIPT_NAME`` + ``PATH_INFO`` and
    ``QUERY_STRING`` (issue 18.7). The path keeps the client's percent-encoding when the
    server kept the raw target (``RAW_URI`` / ``REQUEST_URI``: gunicorn, uWSGI, mod_wsgi,
    Werkzeug) and that raw path decodes to exactly the path the app sees; otherwise it is
    the decoded path re-quoted. The query is always ``QUERY_STRING``, never the raw
    target's, so an absolute-form target (``GET http://host?to=mallory``) cannot bind to a
    query other than the one the app parses."""
    decoded = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    path = _raw_path_if_same(environ.get("RAW_URI") or environ.get("REQUEST_URI"), decoded)
    if path is None:
        path = _quote_path(decoded)
    path = path or "/"
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def _raw_path_if_same(raw: str | None, decoded: str) -> str | None:
    """The path part of the raw target, if it decodes to ``decoded`` (WSGI's latin-1
    string of the path bytes)."""
    if not raw:
        return None
    path = _strip_authority(raw).split("?", 1)[0].split("#", 1)[0]
    if unquote_to_bytes(path).decode("latin-1") != decoded:
        return None
    return path


def _strip_authority(target: str) -> str:
    # The absolute form (`http://host/path?q`, sent to proxies) starts with a scheme; the
    # binding covers what follows the authority. An empty path stays empty here.
    for scheme in ("http://", "https://"):
        if target[: len(scheme)].lower() == scheme:
            rest = target[len(scheme) :]
            cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
            return rest[cut:]
    return target


def origin_form(target: str) -> str:
    """``path?query`` of a target given in absolute form (``http://host/path?q``); an empty
    path is ``/`` and the query is kept (``http://host?q`` is ``/?q``); a fragment is never
    sent, so it is dropped."""
    rest = _strip_authority(target).split("#", 1)[0]
    return rest if rest.startswith("/") else "/" + rest


def _quote_path(path: str) -> str:
    # WSGI/ASGI decoded paths are latin-1 strings of the original bytes.
    return quote(path.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=")
