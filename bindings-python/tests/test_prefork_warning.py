"""A verifier with an in-memory replay cache built inside a pre-fork server logs one
warning: under ``uvicorn --workers 2`` (real processes), not under a single uvicorn."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import AUDIENCE, ISSUER
from services import free_port, wait_for_http

APP = f'''
import oathmesh
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

key = oathmesh.generate_key()
verifier = oathmesh.Verifier(audience={AUDIENCE!r}, trusted_issuers=[{ISSUER!r}], jwks=key.jwks)

async def ready(request):
    return PlainTextResponse("ok")

app = Starlette(routes=[Route("/ready", ready)])
'''

WARNING = "keeps spent tokens in process memory"


def run_uvicorn(tmp_path: Path, *extra: str) -> str:
    (tmp_path / "prefork_app.py").write_text(APP)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
    log = open(tmp_path / "uvicorn.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "prefork_app:app", "--host", "127.0.0.1", "--port", str(port), *extra],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ready")
        time.sleep(0.5)  # let the second worker import the app too
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    return (tmp_path / "uvicorn.log").read_text()


def test_uvicorn_workers_warn_about_the_memory_cache(tmp_path: Path) -> None:
    output = run_uvicorn(tmp_path, "--workers", "2")
    assert WARNING in output, output
    assert "Redis replay cache" in output


def test_single_uvicorn_process_does_not_warn(tmp_path: Path) -> None:
    output = run_uvicorn(tmp_path)
    assert WARNING not in output, output
