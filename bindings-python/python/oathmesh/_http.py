"""What every framework adapter shares: the request id, the request target exactly as
sent, and the PROTOCOL §2 error body. No token checks here: those are the core's."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

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
    """The request target as the client sent it. Servers that keep it (gunicorn, uWSGI,
    mod_wsgi, Werkzeug) put it in ``RAW_URI`` / ``REQUEST_URI``; otherwise it is rebuilt
    from the decoded ``PATH_INFO`` by re-quoting, which is exact for ordinary paths."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return origin_form(raw)
    path = _quote_path(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def origin_form(target: str) -> str:
    # A proxy may send the absolute form (`http://host/path?q`); binding covers path + query.
    for scheme in ("http://", "https://"):
        if target[: len(scheme)].lower() == scheme:
            slash = target.find("/", len(scheme))
            return target[slash:] if slash >= 0 else "/"
    return target


def _quote_path(path: str) -> str:
    # WSGI/ASGI decoded paths are latin-1 strings of the original bytes.
    return quote(path.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=")
