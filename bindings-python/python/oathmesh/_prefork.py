"""One warning, once per process, when a verifier with an in-memory replay cache is built
inside a pre-fork server. Each worker would keep its own memory of spent tokens, so one
token could be accepted once per worker: more than one process needs the Redis replay
cache (``redis_url`` or ``replay_cache={"type": "redis", ...}``)."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sys

_logger = logging.getLogger("oathmesh")
_warned = False


def prefork_server() -> str | None:
    """The pre-fork server this process runs under, when that is cheap to see."""
    if "gunicorn.arbiter" in sys.modules:
        return "gunicorn"
    workers = os.environ.get("WEB_CONCURRENCY", "")
    if workers.isdigit() and int(workers) > 1:
        return f"WEB_CONCURRENCY={workers}"
    # `uvicorn --workers N` (and `--reload`) serve from a multiprocessing child.
    if "uvicorn" in sys.modules and multiprocessing.parent_process() is not None:
        return "uvicorn worker process"
    return None


def uses_memory_replay_cache(config_text: str) -> bool:
    try:
        config = json.loads(config_text)
    except ValueError:
        return False  # the core has already refused it
    if not isinstance(config, dict):
        return False
    cache = config.get("replay_cache")
    if isinstance(cache, dict):
        return cache.get("type") == "memory"
    return "redis_url" not in config


def warn_if_memory_cache(config_text: str) -> None:
    global _warned
    if _warned:
        return
    server = prefork_server()
    if server is None or not uses_memory_replay_cache(config_text):
        return
    _warned = True
    _logger.warning(
        "oathmesh: this verifier keeps spent tokens in process memory, but it runs under %s: "
        "with more than one worker process a token can be accepted once per worker. "
        "Use the Redis replay cache (redis_url or replay_cache={'type': 'redis', ...}).",
        server,
    )
