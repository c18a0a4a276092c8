"""OathMesh demo service (Python, FastAPI under uvicorn). Env:

  PORT             port to listen on (read by run.sh, which starts uvicorn)
  SERVICE_NAME     echoed in every answer
  OATHMESH_CONFIG  path of a verifier configuration JSON document, used as-is

GET /healthz is open; every method and path under /api/ needs an Oath Token, checked by
the `oathmesh.fastapi` dependency against the real request (method, raw path and query,
exact body bytes).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from fastapi import Depends, FastAPI, Request

import oathmesh
import oathmesh.fastapi


def required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set")
    return value


SERVICE = required("SERVICE_NAME")
verifier = oathmesh.Verifier.from_config(Path(required("OATHMESH_CONFIG")).read_text(encoding="utf-8"))
# JWKS fetching: load the issuers' keys before serving. A failure is reported, not fatal:
# requests fail closed (503 jwks_unavailable) until a later fetch succeeds.
for result in verifier.prewarm():
    if not result.ok:
        print(f"oathmesh: prewarm {result.issuer}: {result.error}", file=sys.stderr)

app = FastAPI(title=SERVICE, docs_url=None, redoc_url=None, openapi_url=None)
oathmesh.fastapi.install(app)  # failures answer with the PROTOCOL §2 body and status


@app.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


@app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def api(
    request: Request, caller: oathmesh.Caller = Depends(oathmesh.fastapi.require(verifier))
) -> dict[str, object]:
    body = await request.body()  # the same bytes the token's binding was checked against
    return {
        "service": SERVICE,
        "subject": caller.subject,
        "action": caller.action,
        "token_id": caller.token_id,
        "policy_rule": caller.policy_rule,
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
