"""Interop with PyJWT and `cryptography`, independent JOSE and Ed25519 implementations:
tokens minted by oathmesh verify with PyJWT from the JWKS oathmesh exports, tokens PyJWT
signs verify with oathmesh, and keys written by `cryptography` (the OpenSSL PKCS#8 form)
load into an oathmesh issuer."""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import oathmesh
from conftest import AUDIENCE, ISSUER


def test_oathmesh_token_verifies_with_pyjwt(issuer: oathmesh.Issuer) -> None:
    minted = issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="charge", scope=["a"])
    jwk = jwt.PyJWKSet.from_json(issuer.jwks_json())[issuer.kid]
    header = jwt.get_unverified_header(minted.token)
    assert header == {"alg": "EdDSA", "typ": "om+jwt", "kid": issuer.kid}
    claims = jwt.decode(minted.token, jwk.key, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER)
    assert (claims["sub"], claims["act"], claims["jti"], claims["scope"]) == ("svc://checkout", "charge", minted.token_id, ["a"])
    assert claims["exp"] - claims["iat"] == 120
    # And a tampered one does not.
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(minted.token[:-3] + "AAA", jwk.key, algorithms=["EdDSA"], audience=AUDIENCE)


@pytest.fixture(scope="module")
def openssl_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_pyjwt_token_verifies_with_oathmesh(openssl_key: Ed25519PrivateKey) -> None:
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(openssl_key.public_key()))
    jwk["kid"] = "k1"
    verifier = oathmesh.Verifier(audience=AUDIENCE, trusted_issuers=[ISSUER], jwks={"keys": [jwk]})
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "svc://checkout", "aud": AUDIENCE, "act": "charge", "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    token = jwt.encode(claims, openssl_key, algorithm="EdDSA", headers={"typ": "om+jwt", "kid": "k1"})
    caller = verifier.verify(token)
    assert caller.token_id == claims["jti"] and caller.subject == "svc://checkout"
    # PyJWT's default `typ: JWT` is not an Oath Token.
    other = jwt.encode({**claims, "jti": str(uuid.uuid4())}, openssl_key, algorithm="EdDSA", headers={"kid": "k1"})
    with pytest.raises(oathmesh.TokenMalformed):
        verifier.verify(other)
    # Nor is an HMAC token, whatever its claims.
    hs = jwt.encode({**claims, "jti": str(uuid.uuid4())}, "secret" * 6, algorithm="HS256", headers={"typ": "om+jwt", "kid": "k1"})
    with pytest.raises(oathmesh.AlgorithmNotAllowed):
        verifier.verify(hs)


def test_issuer_loads_an_openssl_pkcs8_key(openssl_key: Ed25519PrivateKey) -> None:
    pem = openssl_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    issuer = oathmesh.Issuer.from_pem(ISSUER, pem)
    minted = issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="charge")
    claims = jwt.decode(minted.token, openssl_key.public_key(), algorithms=["EdDSA"], audience=AUDIENCE)
    assert claims["jti"] == minted.token_id
