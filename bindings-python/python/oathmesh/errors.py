"""Exceptions raised by :mod:`oathmesh`.

A refused token raises a subclass of :class:`OathMeshError` (``except oathmesh.TokenExpired``),
carrying the core's ``code``, ``step``, ``message``, ``fix`` and ``http_status``. The class is
chosen once, from the core's stable error-kind numbers (``_BY_KIND`` below); nobody needs to
match on message text.

Configuration and minting problems are not token failures, so they are deliberately *not*
``OathMeshError`` subclasses (a handler that turns ``OathMeshError`` into a 401 must never
swallow a broken deployment): :class:`ConfigError` and :class:`MintError` are
``ValueError`` subclasses, and :class:`InternalError` (a bug in the core) is a
``RuntimeError``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "OathMeshError",
    "TokenMalformed",
    "AlgorithmNotAllowed",
    "ClaimMissing",
    "ClaimInvalid",
    "IssuerUntrusted",
    "KeyNotFound",
    "SignatureInvalid",
    "TokenExpired",
    "TokenNotYetValid",
    "AudienceMismatch",
    "BindingRequired",
    "BindingMismatch",
    "SubjectRevoked",
    "PolicyDenied",
    "ReplayDetected",
    "Unavailable",
    "JwksUnavailable",
    "RevocationUnavailable",
    "ReplayCacheUnavailable",
    "ConfigError",
    "MintError",
    "IssuerError",
    "IssuerUnavailable",
    "InternalError",
]


class OathMeshError(Exception):
    """A token was refused by the verification pipeline (PROTOCOL §2).

    Attributes:
        code: the stable code, e.g. ``token_expired`` or ``claim_missing:sub``.
        step: the pipeline step, ``"00"`` to ``"14"`` or ``"13.5"``.
        message: what was wrong; never contains the token or a key.
        fix: one actionable sentence.
        http_status: 401, 403 or 503.
        policy_rule: for ``policy_denied``, the rule that denied the call.
    """

    code: str
    step: str
    message: str
    fix: str
    http_status: int
    policy_rule: str | None

    def __init__(
        self,
        code: str,
        step: str,
        message: str,
        fix: str,
        http_status: int,
        policy_rule: str | None = None,
    ) -> None:
        super().__init__(f"{code} (step {step}): {message}")
        self.code = code
        self.step = step
        self.message = message
        self.fix = fix
        self.http_status = http_status
        self.policy_rule = policy_rule

    @property
    def claim(self) -> str | None:
        """The claim named by ``claim_missing:<claim>`` / ``claim_invalid:<claim>``."""
        _, sep, claim = self.code.partition(":")
        return claim if sep else None

    def to_dict(self, request_id: str | None = None) -> dict[str, Any]:
        """The HTTP error body: ``{"error", "message", "fix", "step", "request_id"}``."""
        body: dict[str, Any] = {
            "error": self.code,
            "message": self.message,
            "fix": self.fix,
            "step": self.step,
        }
        if request_id is not None:
            body["request_id"] = request_id
        return body

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (self.code, self.step, self.message, self.fix, self.http_status, self.policy_rule),
        )


class TokenMalformed(OathMeshError):
    """The token is not a well-formed Oath Token (size, segments, base64url, JSON, header)."""


class AlgorithmNotAllowed(OathMeshError):
    """The token or key names an algorithm other than EdDSA (Ed25519)."""


class ClaimMissing(OathMeshError):
    """A required claim is absent or empty; ``claim_missing:token`` means no usable header."""


class ClaimInvalid(OathMeshError):
    """A claim has the wrong type or format."""


class IssuerUntrusted(OathMeshError):
    """The token's issuer is not in ``trusted_issuers``."""


class KeyNotFound(OathMeshError):
    """The issuer's key set has no key with the token's ``kid``."""


class SignatureInvalid(OathMeshError):
    """The signature does not verify."""


class TokenExpired(OathMeshError):
    """``exp`` (plus leeway) is in the past."""


class TokenNotYetValid(OathMeshError):
    """``iat`` or ``nbf`` is in the future."""


class AudienceMismatch(OathMeshError):
    """The token was minted for another audience."""


class BindingRequired(OathMeshError):
    """Binding is required and the token carries no ``rqh``."""


class BindingMismatch(OathMeshError):
    """The token is bound to a different request (method, path, query or body)."""


class SubjectRevoked(OathMeshError):
    """The token's subject has been revoked."""


class PolicyDenied(OathMeshError):
    """Policy (or the route's required action) denies the call: HTTP 403."""


class ReplayDetected(OathMeshError):
    """The token has already been used."""


class Unavailable(OathMeshError):
    """A backend (key set, revocation list, replay cache) failed: HTTP 503, retry later."""


class JwksUnavailable(Unavailable):
    """The issuer's key set could not be fetched."""


class RevocationUnavailable(Unavailable):
    """The revocation list could not be read."""


class ReplayCacheUnavailable(Unavailable):
    """The replay cache could not record the token."""


# The core's stable ErrorKind numbers (docs/configuration.md). The one mapping from core
# errors to classes; tests check it against the core's own list.
_BY_KIND: dict[int, type[OathMeshError]] = {
    1: TokenMalformed,
    2: AlgorithmNotAllowed,
    3: ClaimMissing,
    4: ClaimInvalid,
    5: IssuerUntrusted,
    6: KeyNotFound,
    7: JwksUnavailable,
    8: SignatureInvalid,
    9: TokenExpired,
    10: TokenNotYetValid,
    11: AudienceMismatch,
    12: BindingRequired,
    13: BindingMismatch,
    14: SubjectRevoked,
    15: RevocationUnavailable,
    16: PolicyDenied,
    17: ReplayDetected,
    18: ReplayCacheUnavailable,
}


def _from_core(
    kind: int,
    code: str,
    step: str,
    message: str,
    fix: str,
    http_status: int,
    policy_rule: str | None,
) -> OathMeshError:
    """Called by the native module to build the exception for a core error."""
    cls = _BY_KIND.get(kind)
    if cls is None:  # a kind added to the core after this package was built
        cls = Unavailable if http_status == 503 else OathMeshError
    return cls(code, step, message, fix, http_status, policy_rule)


class ConfigError(ValueError):
    """The verifier or issuer configuration was refused; ``message`` names the key."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MintError(ValueError):
    """A mint request was refused (``code`` is e.g. ``claim_invalid:sub``) or signing failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.message))


class IssuerError(Exception):
    """The issuer did not mint a token (:class:`oathmesh.Client`).

    Not an :class:`OathMeshError` (that is a refused *incoming* token) and not a
    ``ValueError``: the caller's outgoing call cannot proceed.

    Attributes:
        code: the issuer's error code (``mint_denied``, ``invalid_client``,
            ``rate_limited``, ...), or ``issuer_unavailable``.
        status: the issuer's HTTP status; 503 when it could not be reached.
        message: what went wrong; never contains a secret or a token.
        fix: one actionable sentence.
    """

    code: str
    status: int
    message: str
    fix: str

    def __init__(self, code: str, status: int, message: str, fix: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code = code
        self.status = status
        self.message = message
        self.fix = fix

    @property
    def http_status(self) -> int:
        """Same as ``status``, named like :attr:`OathMeshError.http_status`."""
        return self.status

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.status, self.message, self.fix))


class IssuerUnavailable(IssuerError):
    """The issuer could not be reached or gave no usable answer (``issuer_unavailable``):
    retry later."""


def _issuer_error(code: str, status: int, message: str, fix: str) -> IssuerError:
    """Called by the native module when a mint through the client fails."""
    cls = IssuerUnavailable if code == "issuer_unavailable" else IssuerError
    return cls(code, status, message, fix)


class InternalError(RuntimeError):
    """A bug in the OathMesh core (a Rust panic, contained). The request is refused."""
