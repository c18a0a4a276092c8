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

__all__ = ["Issuer", "MintRequest", "MintedToken", "GeneratedKey", "generate_key", "canonical_request_hash"]


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


@dataclasses.dataclass(frozen=True)
class MintRequest:
    """The claims a caller chooses for a token (the mint-request document,
    docs/configuration.md). The core checks every value when it mints; ``iat``, ``exp`` and
    ``jti`` are never chosen by the caller.

    Every ``mint`` method takes either one ``MintRequest`` or these fields as keyword
    arguments (``issuer.mint(sub=..., aud=..., act=...)``); keywords given with a request
    replace its fields."""

    sub: str
    aud: str
    act: str
    ttl_hint: int | None = None
    scope: Iterable[str] | None = None
    reason: str | None = None
    env: str | None = None
    tenant: str | None = None
    rqh: str | None = None
    src: Mapping[str, str] | None = None
    delegated_by: str | None = None

    def to_document(self) -> dict[str, Any]:
        """The mint-request document: absent fields are left out."""
        document: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            if field.name == "scope" and not isinstance(value, str):
                value = list(value)  # a lone string goes through so the core reports the type
            elif field.name == "src":
                value = dict(value)
            document[field.name] = value
        return document


def mint_request(request: MintRequest | None, claims: Mapping[str, Any]) -> MintRequest:
    """One ``MintRequest`` from a ``mint`` call's arguments (a request, keywords, or both)."""
    if request is None:
        return MintRequest(**claims)
    if not isinstance(request, MintRequest):
        raise TypeError(f"expected a MintRequest, got {type(request).__name__}")
    return dataclasses.replace(request, **claims) if claims else request


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

    def mint(self, request: MintRequest | None = None, /, **claims: Any) -> MintedToken:
        """Mints a token from a :class:`MintRequest` or its fields as keywords; the core
        checks every claim and raises :class:`oathmesh.MintError` if one is outside the
        protocol's rules."""
        document = mint_request(request, claims).to_document()
        token, expires_in, token_type, token_id, expires_at = self._native.mint(json.dumps(document))
        return MintedToken(
            token, expires_in, token_type, token_id, datetime.fromtimestamp(expires_at, tz=timezone.utc)
        )

    def __repr__(self) -> str:
        return f"Issuer(issuer={self.issuer!r}, kid={self.kid!r})"
