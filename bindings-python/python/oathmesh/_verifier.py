"""``Verifier``: keyword arguments in, the core's configuration document out."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, Union

from . import _prefork
from ._native import Caller, NativeVerifier
from .errors import ConfigError

AuditEvent = dict[str, Any]
AuditTarget = Union[Callable[[AuditEvent], object], logging.Logger, logging.LoggerAdapter]  # type: ignore[type-arg]
PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["Verifier", "AuditEvent", "PrewarmResult"]


class PrewarmResult(NamedTuple):
    """One trusted issuer's JWKS fetch, from :meth:`Verifier.prewarm`."""

    issuer: str
    ok: bool
    keys: int
    error: str | None


def _audit_callback(audit: AuditTarget | None) -> Callable[[AuditEvent], object] | None:
    """A callable stays as it is; a logger gets one record per verification."""
    if audit is None:
        return None
    if isinstance(audit, (logging.Logger, logging.LoggerAdapter)):
        logger = audit

        def log_event(event: AuditEvent) -> None:
            # Allowed calls at INFO, refusals at WARNING; the message is the NDJSON line,
            # and the dict rides along as `record.oathmesh` for structured handlers.
            level = logging.INFO if event["outcome"] == "allow" else logging.WARNING
            if logger.isEnabledFor(level):
                logger.log(level, "%s", json.dumps(event, separators=(",", ":")), extra={"oathmesh": event})

        return log_event
    if callable(audit):
        return audit
    raise TypeError("audit must be a callable taking one dict, a logging.Logger, or None")


def _json_document(value: Mapping[str, Any] | str, name: str) -> Any:
    """JSON text is parsed so the document nests in the configuration; the core checks it."""
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError as err:
            raise ConfigError(f"{name}: not valid JSON ({err})") from None
    return value


def _list(value: Iterable[str] | str) -> Any:
    # A lone string is passed on untouched so the core reports the wrong type, instead of
    # being split into characters here.
    return value if isinstance(value, str) else list(value)


class Verifier:
    """Verifies Oath Tokens. Build it once (keys and policy are parsed here) and share it
    between threads and requests.

    Every keyword maps to one key of the configuration document (docs/configuration.md);
    the core validates it and a bad value raises :class:`oathmesh.ConfigError`.

    Args:
        audience: this service's audience; a token's ``aud`` must equal it.
        trusted_issuers: issuer URLs accepted in ``iss``.
        jwks / jwks_file / public_keys_pem / issuer_jwks: the issuers' public keys. Give
            none of them to fetch each trusted issuer's ``{iss}/.well-known/jwks.json``.
        jwks_fetch: fetch tuning, ``{"freshness_secs": 60, "allow_insecure_http": False}``.
        leeway: clock-skew allowance in seconds (0..60); the core's default when omitted.
        policy / policy_file: a PROTOCOL §5 policy (dict or JSON text) or its file (JSON, or
            ``.pkl`` evaluated by the ``pkl`` CLI); a file is reloaded when it changes.
        pkl_path: the ``pkl`` binary (default: ``$OATHMESH_PKL``, then ``pkl`` on ``PATH``).
        redis_url: Redis for the replay cache and the revocation list, shared by every
            receiver (``redis://host:port/db``).
        replay_cache: ``{"type": "memory", "capacity": N}`` or ``{"type": "redis", "url",
            "on_error", "timeout_ms", "capacity"}``; default: in memory (or Redis with
            ``redis_url``).
        revocation: ``{"type": "redis", "url", "timeout_ms"}``, or (as before) a list of
            revoked subjects, the same as ``revoked_subjects``.
        revoked_subjects: subjects refused at step 13.5.
        require_binding: refuse tokens that are not bound to the request (``rqh``).
        audit: a callable receiving one dict per verification, or a ``logging.Logger``.
            It runs on the verifying thread: keep it quick. Its exceptions are reported to
            ``sys.unraisablehook`` and never change the result.
        audit_file: append NDJSON audit events to this file.
        audit_stdout: also write NDJSON audit events to standard output.
        audit_hmac_key / audit_hmac_key_file: chain the ``audit_file`` / ``audit_stdout``
            lines with HMAC-SHA256 (``seq``, ``prev_hash``, ``hmac``); check them with
            ``oathmesh audit verify``. The ``audit`` callable gets the plain event.
    """

    __slots__ = ("_native",)

    def __init__(
        self,
        *,
        audience: str,
        trusted_issuers: Iterable[str],
        jwks: Mapping[str, Any] | str | None = None,
        jwks_file: PathLike | None = None,
        public_keys_pem: Iterable[str] | None = None,
        issuer_jwks: Mapping[str, Any] | None = None,
        jwks_fetch: Mapping[str, Any] | None = None,
        leeway: int | None = None,
        policy: Mapping[str, Any] | str | None = None,
        policy_file: PathLike | None = None,
        pkl_path: PathLike | None = None,
        redis_url: str | None = None,
        replay_cache: Mapping[str, Any] | None = None,
        revocation: Mapping[str, Any] | Iterable[str] | None = None,
        revoked_subjects: Iterable[str] | None = None,
        require_binding: bool = False,
        audit: AuditTarget | None = None,
        audit_file: PathLike | None = None,
        audit_stdout: bool | None = None,
        audit_hmac_key: str | None = None,
        audit_hmac_key_file: PathLike | None = None,
    ) -> None:
        config: dict[str, Any] = {
            "audience": audience,
            "trusted_issuers": _list(trusted_issuers),
            "require_binding": require_binding,
        }
        if leeway is not None:
            config["leeway"] = leeway
        if jwks is not None:
            config["jwks"] = _json_document(jwks, "jwks")
        if jwks_file is not None:
            config["jwks_file"] = os.fspath(jwks_file)
        if public_keys_pem is not None:
            config["public_keys_pem"] = _list(public_keys_pem)
        if issuer_jwks is not None:
            config["issuer_jwks"] = dict(issuer_jwks)
        if jwks_fetch is not None:
            config["jwks_fetch"] = dict(jwks_fetch)
        if policy is not None:
            config["policy"] = _json_document(policy, "policy")
        if policy_file is not None:
            config["policy_file"] = os.fspath(policy_file)
        if pkl_path is not None:
            config["pkl_path"] = os.fspath(pkl_path)
        if redis_url is not None:
            config["redis_url"] = redis_url
        if replay_cache is not None:
            config["replay_cache"] = dict(replay_cache)
        if isinstance(revocation, Mapping):
            config["revocation"] = dict(revocation)
        elif revocation is not None:
            config["revoked_subjects"] = _list(revocation)
        # Both spellings at once: the key is written twice, and the core's strict parser
        # refuses the duplicate as it does for any document.
        repeated: list[tuple[str, Any]] = []
        if revoked_subjects is not None:
            if "revoked_subjects" in config:
                repeated.append(("revoked_subjects", _list(revoked_subjects)))
            else:
                config["revoked_subjects"] = _list(revoked_subjects)
        audit_doc: dict[str, Any] = {}
        if audit_file is not None:
            audit_doc["file"] = os.fspath(audit_file)
        if audit_stdout is not None:
            audit_doc["stdout"] = audit_stdout
        if audit_hmac_key is not None:
            audit_doc["hmac_key"] = audit_hmac_key
        if audit_hmac_key_file is not None:
            audit_doc["hmac_key_file"] = os.fspath(audit_hmac_key_file)
        if audit_doc:
            config["audit"] = audit_doc
        self._native = _build(_document_text(config, repeated), audit)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str, *, audit: AuditTarget | None = None) -> Verifier:
        """Builds a verifier from the configuration document exactly as given (a dict or
        JSON text), plus an optional Python audit target."""
        self = cls.__new__(cls)
        self._native = _build(config, audit)
        return self

    @property
    def audience(self) -> str:
        return self._native.audience

    @property
    def leeway(self) -> int:
        return self._native.leeway

    def prewarm(self) -> list[PrewarmResult]:
        """Fetches every trusted issuer's JWKS now (at startup, so the first request does
        not wait) and reports each result; empty with static keys. Never raises for a
        failed fetch: check ``ok``."""
        return [PrewarmResult(*r) for r in self._native.prewarm()]

    def reload_policy_now(self) -> bool | None:
        """Looks at ``policy_file`` now instead of at the next once-a-second check.
        ``True``: reloaded; ``False``: unchanged; ``None``: no policy file. A changed file
        that fails to load raises :class:`oathmesh.ConfigError`; the last good policy
        stays in force."""
        outcome = self._native.reload_policy_now()
        if outcome is None:
            return None
        state, reason = outcome
        if state == "failed":
            raise ConfigError(f"policy_file: {reason}")
        return state == "reloaded"

    @property
    def policy_reloads(self) -> int:
        """Successful reloads of ``policy_file``."""
        return self._native.policy_reloads

    @property
    def policy_reload_errors(self) -> int:
        """Changed policy files that failed to load (the last good policy stayed)."""
        return self._native.policy_reload_errors

    def verify(
        self,
        token: str,
        *,
        method: str | None = None,
        path: str | None = None,
        body: bytes | str | None = None,
        request_id: str | None = None,
        action: str | None = None,
    ) -> Caller:
        """Verifies a token and returns the :class:`Caller`; raises an
        :class:`oathmesh.OathMeshError` subclass if it is refused.

        Give ``method``, ``path`` (path and query exactly as sent) and ``body`` (raw bytes)
        to check a token bound to its request; ``action`` is the action this route serves.
        The GIL is released while the core works.
        """
        if body is not None and not isinstance(body, bytes):
            body = body.encode() if isinstance(body, str) else bytes(body)
        return self._native.verify(token, method, path, body, request_id, action)

    def verify_authorization(
        self,
        header: str | None,
        *,
        method: str | None = None,
        path: str | None = None,
        body: bytes | str | None = None,
        request_id: str | None = None,
        action: str | None = None,
    ) -> Caller:
        """Like :meth:`verify`, for the value of an ``Authorization: OathMesh <token>``
        header (``None`` when the request had none: ``claim_missing:token``)."""
        if body is not None and not isinstance(body, bytes):
            body = body.encode() if isinstance(body, str) else bytes(body)
        return self._native.verify_authorization(header, method, path, body, request_id, action)

    def __repr__(self) -> str:
        return f"Verifier(audience={self.audience!r})"


def _document_text(config: Mapping[str, Any], repeated: Iterable[tuple[str, Any]]) -> str:
    text = json.dumps(config)
    extra = "".join(f", {json.dumps(key)}: {json.dumps(value)}" for key, value in repeated)
    return text[:-1] + extra + "}" if extra else text


def _build(config: Mapping[str, Any] | str, audit: AuditTarget | None) -> NativeVerifier:
    text = config if isinstance(config, str) else json.dumps(config)
    native = NativeVerifier(text, _audit_callback(audit))
    _prefork.warn_if_memory_cache(text)
    return native
