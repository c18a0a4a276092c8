"""``Issuer``: mints Oath Tokens with the core (tests, tools, Python issuers)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, Union

from . import _native

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["Issuer", "MintedToken", "GeneratedKey", "generate_key", "canonical_request_hash"]


@dataclasses.dataclass(frozen=True)
class MintedToken:
    """A signed token. ``repr`` never shows the token itself."""

    token: str = dataclasses.field(repr=False)
    expires_in: int
    token_type: str
    token_id: str
    expires_at: datetime

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value: ``OathMesh <token>``."""
        return f"{self.token_type} {self.token}"


@dataclasses.dataclass(frozen=True, eq=False)
class GeneratedKey:
    """A new Ed25519 key pair. ``repr`` never shows the private key."""

    private_pem: str = dataclasses.field(repr=False)
    public_pem: str
    kid: str
    jwk: dict[str, Any]

    @property
    def jwks(self) -> dict[str, Any]:
        """A JWKS document holding just this key."""
        return {"keys": [dict(self.jwk)]}


def generate_key() -> GeneratedKey:
    """A fresh Ed25519 key from the OS RNG; ``kid`` is its RFC 7638 thumbprint."""
    private_pem, public_pem, kid, jwk = _native.generate_key()
    return GeneratedKey(private_pem, public_pem, kid, json.loads(jwk))


def canonical_request_hash(method: str, path_and_query: str, body: bytes | str = b"") -> str:
    """``sha256:<hex>`` of the canonical request (PROTOCOL §4), the value of ``rqh``."""
    if isinstance(body, str):
        body = body.encode()
    return _native.canonical_request_hash(method, path_and_query, bytes(body))


def mint_request(
    *,
    sub: str,
    aud: str,
    act: str,
    ttl_hint: int | None = None,
    scope: Iterable[str] | None = None,
    reason: str | None = None,
    env: str | None = None,
    tenant: str | None = None,
    rqh: str | None = None,
    src: Mapping[str, str] | None = None,
    delegated_by: str | None = None,
) -> dict[str, Any]:
    """The mint-request document (docs/configuration.md); the core checks every value."""
    request: dict[str, Any] = {"sub": sub, "aud": aud, "act": act}
    optional: dict[str, Any] = {
        "ttl_hint": ttl_hint,
        # A lone string goes through untouched so the core reports the wrong type.
        "scope": None if scope is None else (scope if isinstance(scope, str) else list(scope)),
        "reason": reason,
        "env": env,
        "tenant": tenant,
        "rqh": rqh,
        "src": None if src is None else dict(src),
        "delegated_by": delegated_by,
    }
    request.update((k, v) for k, v in optional.items() if v is not None)
    return request


class Issuer:
    """Signs Oath Tokens for one issuer URL with an Ed25519 key."""

    __slots__ = ("_native",)

    def __init__(
        self,
        *,
        issuer: str,
        private_key_pem: str | None = None,
        private_key_file: PathLike | None = None,
        kid: str | None = None,
    ) -> None:
        config: dict[str, Any] = {"issuer": issuer}
        if private_key_pem is not None:
            config["private_key_pem"] = private_key_pem
        if private_key_file is not None:
            config["private_key_file"] = os.fspath(private_key_file)
        if kid is not None:
            config["kid"] = kid
        self._native = _native.NativeIssuer(json.dumps(config))

    @classmethod
    def from_pem(cls, issuer: str, private_key_pem: str, *, kid: str | None = None) -> Issuer:
        """An issuer with a PKCS#8 PEM Ed25519 private key."""
        return cls(issuer=issuer, private_key_pem=private_key_pem, kid=kid)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str) -> Issuer:
        """An issuer from the issuer configuration document exactly as given."""
        self = cls.__new__(cls)
        self._native = _native.NativeIssuer(config if isinstance(config, str) else json.dumps(config))
        return self

    @property
    def issuer(self) -> str:
        return self._native.issuer

    @property
    def kid(self) -> str:
        return self._native.kid

    def jwks_json(self) -> str:
        """The JWKS document to publish at ``{issuer}/.well-known/jwks.json``."""
        return self._native.jwks_json()

    def jwks(self) -> dict[str, Any]:
        """The JWKS document as a dict."""
        result: dict[str, Any] = json.loads(self._native.jwks_json())
        return result

    def mint(
        self,
        *,
        sub: str,
        aud: str,
        act: str,
        ttl_hint: int | None = None,
        scope: Iterable[str] | None = None,
        reason: str | None = None,
        env: str | None = None,
        tenant: str | None = None,
        rqh: str | None = None,
        src: Mapping[str, str] | None = None,
        delegated_by: str | None = None,
    ) -> MintedToken:
        """Mints a token; the core checks every claim and raises :class:`oathmesh.MintError`
        if one is outside the protocol's rules. ``iat``, ``exp`` and ``jti`` are never chosen
        by the caller."""
        request = mint_request(
            sub=sub, aud=aud, act=act, ttl_hint=ttl_hint, scope=scope, reason=reason, env=env,
            tenant=tenant, rqh=rqh, src=src, delegated_by=delegated_by,
        )
        token, expires_in, token_type, token_id, expires_at = self._native.mint(json.dumps(request))
        return MintedToken(
            token, expires_in, token_type, token_id, datetime.fromtimestamp(expires_at, tz=timezone.utc)
        )

    def __repr__(self) -> str:
        return f"Issuer(issuer={self.issuer!r}, kid={self.kid!r})"
