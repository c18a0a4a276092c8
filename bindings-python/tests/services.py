"""Real services for the shared-state, client and demo tests: the Redis, `pkl` and
`oathmesh` binary that scripts/test-python.sh provides, a JWKS server on loopback, and
`oathmesh serve` as a process. A missing service FAILS the test (CI installs them all);
nothing here skips."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


def required_env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run scripts/test-python.sh, which provides {what}")
    return value


def redis_url() -> str:
    return required_env("OATHMESH_TEST_REDIS_URL", "a private redis-server")


def redis_cli(*args: str) -> str:
    """Runs `redis-cli` against the test Redis (the same tool an operator would use)."""
    port = required_env("OATHMESH_TEST_REDIS_PORT", "a private redis-server")
    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.fail("redis-cli is not installed (scripts/lib/redis.sh installs it)")
    done = subprocess.run([cli, "-p", port, *args], capture_output=True, text=True, timeout=10, check=True)
    return done.stdout.strip()


def pkl_path() -> str:
    return required_env("OATHMESH_PKL", "the pkl CLI (scripts/lib/pkl.sh)")


def oathmesh_bin() -> str:
    return required_env("OATHMESH_BIN", "the oathmesh CLI (cargo build --release -p oathmesh-cli)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout} s")
        time.sleep(0.05)


class JwksServer:
    """Serves a JWKS document at `/.well-known/jwks.json` on loopback from a thread, and
    counts the fetches. `url` is the issuer URL (`http://127.0.0.1:<port>`)."""

    def __init__(self, jwks_json: str) -> None:
        self.jwks_json = jwks_json
        self.fetches = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                server.fetches += 1
                body = server.jwks_json.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass
class IssuerProcess:
    url: str
    secret: str
    dir: Path


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def issuer_server(tmp: Path, clients_toml: str, secret: str) -> Iterator[IssuerProcess]:
    """`oathmesh keys rotate` then `oathmesh serve` on a free loopback port; the issuer URL
    is its own address, so receivers can fetch its JWKS."""
    binary = oathmesh_bin()
    subprocess.run([binary, "keys", "rotate", "--dir", str(tmp / "keys")], check=True, capture_output=True, timeout=30)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = tmp / "issuer.toml"
    config.write_text(f'issuer = "{url}"\nlisten = "127.0.0.1:{port}"\nkey_dir = "keys"\n\n{clients_toml}')
    log = open(tmp / "issuer.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen([binary, "serve", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"{url}/healthz")
        yield IssuerProcess(url=url, secret=secret, dir=tmp)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def fetch_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())
