"""URLconf for the Django tests: plain views (guarded by the middleware) and views guarded
by the ``require`` decorator."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

import oathmesh.django


def answer(request: HttpRequest) -> JsonResponse:
    caller = request.oathmesh_caller  # type: ignore[attr-defined]
    return JsonResponse({"subject": caller.subject, "action": caller.action, "body": request.body.decode()})


def transfer(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"to": request.GET.get("to")})


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("", oathmesh.django.require(transfer)),
    path("charge", answer),
    path("healthz", healthz),
    path("decorated/charge", oathmesh.django.require(answer)),
    path("decorated/charge-only", oathmesh.django.require(action="charge")(answer)),
]
