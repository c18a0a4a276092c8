"""OathMesh: short-lived, Ed25519-signed Oath Tokens for service-to-service calls.

Every check runs in the Rust core (``oathmesh._native``); this package gives it Pythonic
constructors, exception classes, framework adapters (``oathmesh.fastapi``,
``oathmesh.flask``, ``oathmesh.django``) and the issuer client (``Client``, ``AsyncClient``).
"""

from ._client import AsyncClient, Client, ClientToken
from ._issuer import GeneratedKey, Issuer, MintedToken, MintRequest, canonical_request_hash, generate_key
from ._native import Caller, Source
from ._native import __version__ as __version__
from ._verifier import AuditEvent, PrewarmResult, Verifier
from .errors import (
    AlgorithmNotAllowed,
    AudienceMismatch,
    BindingMismatch,
    BindingRequired,
    ClaimInvalid,
    ClaimMissing,
    ConfigError,
    InternalError,
    IssuerError,
    IssuerUnavailable,
    IssuerUntrusted,
    JwksUnavailable,
    KeyNotFound,
    MintError,
    OathMeshError,
    PolicyDenied,
    ReplayCacheUnavailable,
    ReplayDetected,
    RevocationUnavailable,
    SignatureInvalid,
    SubjectRevoked,
    TokenExpired,
    TokenMalformed,
    TokenNotYetValid,
    Unavailable,
)

__all__ = [
    "AsyncClient",
    "AuditEvent",
    "Caller",
    "Client",
    "ClientToken",
    "GeneratedKey",
    "Issuer",
    "MintedToken",
    "MintRequest",
    "PrewarmResult",
    "Source",
    "Verifier",
    "canonical_request_hash",
    "generate_key",
    "AlgorithmNotAllowed",
    "AudienceMismatch",
    "BindingMismatch",
    "BindingRequired",
    "ClaimInvalid",
    "ClaimMissing",
    "ConfigError",
    "InternalError",
    "IssuerError",
    "IssuerUnavailable",
    "IssuerUntrusted",
    "JwksUnavailable",
    "KeyNotFound",
    "MintError",
    "OathMeshError",
    "PolicyDenied",
    "ReplayCacheUnavailable",
    "ReplayDetected",
    "RevocationUnavailable",
    "SignatureInvalid",
    "SubjectRevoked",
    "TokenExpired",
    "TokenMalformed",
    "TokenNotYetValid",
    "Unavailable",
]
