"""``Verifier``: keyword arguments in, the core's configuration document out."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Union

from ._native import Caller, NativeVerifier
from .errors import ConfigError

AuditEvent = dict[str, Any]
AuditTarget = Union[Callable[[AuditEvent], object], logging.Logger, logging.LoggerAdapter]  # type: ignore[type-arg]
PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["Verifier", "AuditEvent"]


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
        jwks / jwks_file / public_keys_pem / issuer_jwks: the issuers' public keys.
        leeway: clock-skew allowance in seconds (0..60).
        policy / policy_file: a PROTOCOL §5 policy (dict or JSON text) or its file.
        replay_cache: ``{"type": "memory", "capacity": N}``; default: in memory.
        revocation: revoked subjects (refused at step 13.5).
        require_binding: refuse tokens that are not bound to the request (``rqh``).
        audit: a callable receiving one dict per verification, or a ``logging.Logger``.
            It runs on the verifying thread: keep it quick. Its exceptions are reported to
            ``sys.unraisablehook`` and never change the result.
        audit_file: append NDJSON audit events to this file.
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
        leeway: int = 10,
        policy: Mapping[str, Any] | str | None = None,
        policy_file: PathLike | None = None,
        replay_cache: Mapping[str, Any] | None = None,
        revocation: Iterable[str] | None = None,
        require_binding: bool = False,
        audit: AuditTarget | None = None,
        audit_file: PathLike | None = None,
    ) -> None:
        config: dict[str, Any] = {
            "audience": audience,
            "trusted_issuers": _list(trusted_issuers),
            "leeway": leeway,
            "require_binding": require_binding,
        }
        if jwks is not None:
            config["jwks"] = _json_document(jwks, "jwks")
        if jwks_file is not None:
            config["jwks_file"] = os.fspath(jwks_file)
        if public_keys_pem is not None:
            config["public_keys_pem"] = _list(public_keys_pem)
        if issuer_jwks is not None:
            config["issuer_jwks"] = dict(issuer_jwks)
        if policy is not None:
            config["policy"] = _json_document(policy, "policy")
        if policy_file is not None:
            config["policy_file"] = os.fspath(policy_file)
        if replay_cache is not None:
            config["replay_cache"] = dict(replay_cache)
        if revocation is not None:
            config["revoked_subjects"] = _list(revocation)
        if audit_file is not None:
            config["audit"] = {"file": os.fspath(audit_file)}
        self._native = _build(config, audit)

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


def _build(config: Mapping[str, Any] | str, audit: AuditTarget | None) -> NativeVerifier:
    text = config if isinstance(config, str) else json.dumps(config)
    return NativeVerifier(text, _audit_callback(audit))
