"""A plain upstream for the gateway demo: knows nothing of OathMesh, and answers every
request with what it received (method, path, the identity headers the gateway injected,
and whether an Authorization header reached it)."""

import hashlib
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        doc = {
            "service": "plain-upstream",
            "method": self.command,
            "path": self.path,
            "authorization_seen": "Authorization" in self.headers,
            "oathmesh": {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("x-oathmesh-")},
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        out = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args) -> None:  # quiet: the demo prints its own table
        pass


if __name__ == "__main__":
    port = int(os.environ.get("PORT", sys.argv[1] if len(sys.argv) > 1 else "8099"))
    ThreadingHTTPServer(("127.0.0.1", port), Echo).serve_forever()
