#!/usr/bin/env bash
# Starts the Python demo service (FastAPI under uvicorn) in the foreground. Needs PORT,
# SERVICE_NAME, OATHMESH_CONFIG, and the binding installed in bindings-python/.venv by
# scripts/test-python.sh (with its test extra, which includes FastAPI and uvicorn).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="$HERE/../../../bindings-python/.venv/bin/python"
: "${PORT:?PORT is not set}" "${SERVICE_NAME:?SERVICE_NAME is not set}" "${OATHMESH_CONFIG:?OATHMESH_CONFIG is not set}"
exec "$PYTHON" -m uvicorn --app-dir "$HERE" --host 127.0.0.1 --port "$PORT" --no-access-log app:app
