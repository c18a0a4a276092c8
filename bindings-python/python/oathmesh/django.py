"""Django integration (``pip install oathmesh[django]``).

Settings::

    OATHMESH = {  # keyword arguments of oathmesh.Verifier, or "VERIFIER": a Verifier
        "audience": "https://billing.internal",
        "trusted_issuers": ["https://issuer.internal"],
        "jwks_file": "/etc/oathmesh/jwks.json",
    }
    OATHMESH_EXEMPT_PATHS = ["/healthz"]      # optional, for the middleware
    MIDDLEWARE = [..., "oathmesh.django.OathMeshMiddleware"]

or, per view, ``@oathmesh.django.require(action="charge")``. Either way the view sees
``request.oathmesh_caller``, and failures are answered with the PROTOCOL §2 JSON body.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from . import _http
from ._native import Caller
from ._verifier import Verifier
from .errors import OathMeshError

__all__ = ["OathMeshMiddleware", "get_verifier", "require", "verify_request"]

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
_cached: tuple[Any, Verifier] | None = None


def get_verifier() -> Verifier:
    """The verifier from ``settings.OATHMESH``, built once (rebuilt if the setting object
    is replaced, e.g. by ``override_settings`` in tests)."""
    global _cached
    conf = getattr(settings, "OATHMESH", None)
    if conf is None:
        raise ImproperlyConfigured("oathmesh: set OATHMESH in settings (Verifier keyword arguments)")
    with _lock:
        if _cached is None or _cached[0] is not conf:
            if isinstance(conf, Verifier):
                verifier = conf
            elif "VERIFIER" in conf:
                verifier = conf["VERIFIER"]
            else:
                verifier = Verifier(**conf)
            _cached = (conf, verifier)
        return _cached[1]


def _path_and_query(request: HttpRequest) -> str:
    scope = getattr(request, "scope", None)  # ASGIRequest keeps the raw ASGI scope
    if scope is not None:
        return _http.asgi_path_and_query(scope)
    return _http.wsgi_path_and_query(request.META)


def verify_request(
    request: HttpRequest, verifier: Verifier | None = None, action: str | None = None
) -> Caller | HttpResponse:
    """Verifies a request: the caller (also set as ``request.oathmesh_caller``), or the
    error response to return."""
    verifier = verifier or get_verifier()
    rid = _http.request_id(request.headers.get(_http.REQUEST_ID_HEADER))
    try:
        caller = verifier.verify_authorization(
            request.headers.get("Authorization"),
            method=request.method or "GET",
            path=_path_and_query(request),
            body=request.body,
            request_id=rid,
            action=action,
        )
    except OathMeshError as err:
        response = HttpResponse(_http.error_body(err, rid), status=err.http_status)
        for name, value in _http.error_headers(err, rid).items():
            response[name] = value
        return response
    request.oathmesh_caller = caller  # type: ignore[attr-defined,unused-ignore]
    return caller


def require(action: str | F | None = None, verifier: Verifier | None = None) -> Any:
    """A view decorator, bare (``@require``) or with arguments
    (``@require(action="charge")``); uses ``settings.OATHMESH`` unless ``verifier`` is
    given. The middleware leaves views decorated with it to the decorator, so a token is
    verified (and spent) once."""
    if callable(action):
        return require()(action)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            outcome = verify_request(request, verifier, action)
            if isinstance(outcome, HttpResponse):
                return outcome
            return view(request, *args, **kwargs)

        wrapper.oathmesh_required = True  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


class OathMeshMiddleware:
    """Verifies every request at entry, before any other middleware below it or the view
    runs, except paths in ``settings.OATHMESH_EXEMPT_PATHS`` and paths routed to views
    decorated with :func:`require` (which verify with their own action). A path that routes
    to no view is verified too, so a response made later by response-phase middleware (a
    flatpages fallback, a redirect) is never served to an unverified caller."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info not in getattr(settings, "OATHMESH_EXEMPT_PATHS", ()) and not _routes_to_require(request):
            outcome = verify_request(request)
            if isinstance(outcome, HttpResponse):
                return outcome
        return self.get_response(request)


def _routes_to_require(request: HttpRequest) -> bool:
    """Whether the URL resolves to a view wrapped by :func:`require` (resolved against the
    request's URLconf, as Django's handler will)."""
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return bool(getattr(match.func, "oathmesh_required", False))
