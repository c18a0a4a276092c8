# Source this file: a private redis-server on a loopback port in a temporary directory.
#   oathmesh_redis_start   installs redis-server with apt when missing, starts it, exports
#                          OATHMESH_TEST_REDIS_URL (redis://127.0.0.1:PORT/) and
#                          OATHMESH_TEST_REDIS_PORT
#   oathmesh_redis_stop    stops it and removes its directory (safe to call twice)
# Callers usually do: oathmesh_redis_start; trap oathmesh_redis_stop EXIT

oathmesh_redis_install() {
  command -v redis-server >/dev/null 2>&1 && return 0
  om_apt_install redis-server
  # The package starts a system-wide instance on 6379; tests use their own.
}

oathmesh_redis_start() {
  oathmesh_redis_install || return 1
  OATHMESH_REDIS_DIR="$(mktemp -d)"
  OATHMESH_TEST_REDIS_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)))"
  redis-server --port "$OATHMESH_TEST_REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$OATHMESH_REDIS_DIR" --daemonize yes --pidfile "$OATHMESH_REDIS_DIR/redis.pid" \
    --logfile "$OATHMESH_REDIS_DIR/redis.log"
  local i
  for i in $(seq 1 100); do
    if redis-cli -p "$OATHMESH_TEST_REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
      export OATHMESH_TEST_REDIS_URL="redis://127.0.0.1:$OATHMESH_TEST_REDIS_PORT/"
      export OATHMESH_TEST_REDIS_PORT OATHMESH_REDIS_DIR
      echo "redis-server on $OATHMESH_TEST_REDIS_URL"
      return 0
    fi
    sleep 0.1
  done
  echo "redis-server did not start; log:" >&2
  cat "$OATHMESH_REDIS_DIR/redis.log" >&2 || true
  return 1
}

oathmesh_redis_stop() {
  [ -n "${OATHMESH_REDIS_DIR:-}" ] || return 0
  if [ -f "$OATHMESH_REDIS_DIR/redis.pid" ]; then
    kill "$(cat "$OATHMESH_REDIS_DIR/redis.pid")" 2>/dev/null || true
    sleep 0.2
  fi
  rm -rf "$OATHMESH_REDIS_DIR"
  unset OATHMESH_REDIS_DIR OATHMESH_TEST_REDIS_URL OATHMESH_TEST_REDIS_PORT
}
