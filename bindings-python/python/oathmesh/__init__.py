"""OathMesh: short-lived, Ed25519-signed Oath Tokens for service-to-service calls.

Every check runs in the Rust core (``oathmesh._native``); this package gives it Pythonic
constructors, exception classes and framework adapters (``oathmesh.fastapi``,
``oathmesh.flask``, ``oathmesh.django``).
"""

from ._issuer import GeneratedKey, Issuer, MintedToken, canonical_request_hash, generate_key
from ._native import Caller, Source
from ._native import __version__ as __version__
from ._verifier import AuditEvent, Verifier
from .errors import (
    AlgorithmNotAllowed,
    AudienceMismatch,
    BindingMismatch,
    BindingRequired,
    ClaimInvalid,
    ClaimMissing,
    ConfigError,
    InternalError,
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
    "AuditEvent",
    "Caller",
    "GeneratedKey",
    "Issuer",
    "MintedToken",
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
