#!/usr/bin/env bash
# Starts the Node demo service in the foreground. Needs PORT, SERVICE_NAME, OATHMESH_CONFIG
# and the binding built by scripts/test-node.sh (bindings-node/dist and native/).
set -euo pipefail
exec node "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/server.mjs"
