"""Flask integration (``pip install oathmesh[flask]``)::

    @app.post("/charge")
    @oathmesh.flask.require(verifier, action="charge")
    def charge():
        caller = flask.g.oathmesh_caller
        ...

Failures are answered with the PROTOCOL §2 JSON body and status. The request binding is
computed from the real method, the request target as sent and the raw body (which stays
readable by the view).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, g, request

from . import _http
from ._native import Caller
from ._verifier import Verifier
from .errors import OathMeshError

__all__ = ["require", "verify_request"]

F = TypeVar("F", bound=Callable[..., Any])


def verify_request(verifier: Verifier, action: str | None = None) -> Caller | Response:
    """Verifies the current request: the caller (also set as ``g.oathmesh_caller``), or
    the error response to return."""
    rid = _http.request_id(request.headers.get(_http.REQUEST_ID_HEADER))
    try:
        caller = verifier.verify_authorization(
            request.headers.get("Authorization"),
            method=request.method,
            path=_http.wsgi_path_and_query(request.environ),
            body=request.get_data(cache=True),
            request_id=rid,
            action=action,
        )
    except OathMeshError as err:
        return Response(
            _http.error_body(err, rid),
            status=err.http_status,
            headers=_http.error_headers(err, rid),
        )
    g.oathmesh_caller = caller
    return caller


def require(verifier: Verifier, action: str | None = None) -> Callable[[F], F]:
    """A view decorator: the view runs only for a verified caller (``g.oathmesh_caller``)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            outcome = verify_request(verifier, action)
            if isinstance(outcome, Response):
                return outcome
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
