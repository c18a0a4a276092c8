"""Times `oathmesh.Verifier.verify` against PyJWT's `jwt.decode` (EdDSA) on the same tokens,
on the same machine, in the same run, and prints the ratio.

oathmesh does more work per call than PyJWT: the in-memory replay cache (check and record
the `jti`), a 10-rule policy (the matching rule is the last one, so all ten are evaluated),
the full claim checks, and, in the second variant, one audit event per call delivered to a
Python callback. PyJWT checks the signature, `exp`/`iat`/`nbf`, `aud` and `iss`.
Both parse the key once, up front.

Run: python bench/bench_verify.py [--tokens N] [--rounds R]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import jwt

import oathmesh

ISSUER = "https://issuer.bench.test"
AUDIENCE = "https://payments.bench.test"


def policy() -> dict[str, Any]:
    rules: list[dict[str, Any]] = [
        {"name": f"team-{i}", "allow": True, "match": {"sub": f"svc://team-{i}/*", "act": "charge", "env": "prod"}}
        for i in range(9)
    ]
    rules.append({"name": "checkout", "allow": True, "match": {"sub": "svc://checkout*", "act": "charge", "scope": ["payments"]}})
    return {"version": 1, "rules": rules}


def per_call_us(fn: Callable[[str], object], tokens: Sequence[str]) -> float:
    start = time.perf_counter()
    for token in tokens:
        fn(token)
    return (time.perf_counter() - start) / len(tokens) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=5000, help="tokens per round (each is verified once)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    key = oathmesh.generate_key()
    issuer = oathmesh.Issuer.from_pem(ISSUER, key.private_pem)
    claims = {"sub": "svc://checkout", "aud": AUDIENCE, "act": "charge", "scope": ["payments"], "env": "prod", "ttl_hint": 300}
    rounds = [[issuer.mint(**claims).token for _ in range(args.tokens)] for _ in range(args.rounds)]

    sink: deque[dict[str, Any]] = deque(maxlen=1000)
    plain = oathmesh.Verifier(audience=AUDIENCE, trusted_issuers=[ISSUER], jwks=issuer.jwks(), policy=policy())
    audited = oathmesh.Verifier(audience=AUDIENCE, trusted_issuers=[ISSUER], jwks=issuer.jwks(), policy=policy(), audit=sink.append)
    public_key = jwt.PyJWKSet.from_json(issuer.jwks_json())[issuer.kid].key

    def pyjwt_decode(token: str) -> object:
        return jwt.decode(token, public_key, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER)

    # Sanity: all three accept the tokens (a separate token, so replay state stays clean).
    probe = issuer.mint(**claims).token
    assert plain.verify(probe).policy_rule == "checkout"
    assert pyjwt_decode(probe)["sub"] == "svc://checkout"  # type: ignore[index]

    results: dict[str, list[float]] = {"oathmesh": [], "oathmesh+audit": [], "pyjwt": []}
    for tokens in rounds:
        # Each token is fresh for each verifier (the two oathmesh verifiers keep separate
        # replay caches), so every call runs the whole pipeline and records its jti.
        results["pyjwt"].append(per_call_us(pyjwt_decode, tokens))
        results["oathmesh"].append(per_call_us(plain.verify, tokens))
        results["oathmesh+audit"].append(per_call_us(audited.verify, tokens))
    assert len(sink) == min(1000, args.rounds * args.tokens)

    best = {name: min(times) for name, times in results.items()}
    median = {name: statistics.median(times) for name, times in results.items()}
    print(f"python {platform.python_version()}, oathmesh {oathmesh.__version__}, PyJWT {jwt.__version__}, "
          f"{args.rounds} rounds x {args.tokens} tokens")
    for name in results:
        print(f"{name:>15}: best {best[name]:7.2f} us/verify   median {median[name]:7.2f} us/verify   "
              f"({1e6 / best[name]:,.0f}/s)")
    print(f"ratio pyjwt/oathmesh        (replay + 10-rule policy, no audit): {best['pyjwt'] / best['oathmesh']:.2f}x")
    print(f"ratio pyjwt/oathmesh+audit  (replay + 10-rule policy + Python audit callback): "
          f"{best['pyjwt'] / best['oathmesh+audit']:.2f}x")


if __name__ == "__main__":
    main()
