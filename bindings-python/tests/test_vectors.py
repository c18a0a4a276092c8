"""Every conformance vector, through the Python API: same outcome, code, step and status,
or the same caller, field by field."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import oathmesh

VECTORS = Path(__file__).resolve().parents[2] / "conformance-vectors" / "vectors.json"


def load() -> list[dict[str, Any]]:
    doc = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert doc["format"] == 1
    return list(doc["vectors"])


def test_the_vector_file_is_complete() -> None:
    vectors = load()
    assert len(vectors) >= 40, f"only {len(vectors)} vectors"
    assert len({v["name"] for v in vectors}) == len(vectors)


def run(vector: dict[str, Any]) -> oathmesh.Caller:
    verifier = oathmesh.Verifier.from_config(vector["config"])
    request = vector.get("request") or {}
    kwargs: dict[str, Any] = {}
    if request:
        kwargs = {"method": request["method"], "path": request["path_and_query"], "body": request["body"].encode()}
    if "token" in vector:
        return verifier.verify(vector["token"], **kwargs)
    return verifier.verify_authorization(vector["authorization"], **kwargs)


def check_caller(caller: oathmesh.Caller, want: dict[str, Any]) -> None:
    assert caller.to_dict() == want
    for field in ("issuer", "subject", "audience", "action", "token_id", "env", "tenant", "reason",
                  "delegated_by", "policy_rule"):
        assert getattr(caller, field) == want[field], field
    assert caller.scope == tuple(want["scope"])
    assert caller.issued_at == datetime.fromtimestamp(want["issued_at"], tz=timezone.utc)
    assert caller.expires_at == datetime.fromtimestamp(want["expires_at"], tz=timezone.utc)
    if want["source"] is None:
        assert caller.source is None
    else:
        assert caller.source is not None
        assert caller.source.to_dict() == want["source"]
        for field in ("repo", "workflow", "run_id", "sha"):
            assert getattr(caller.source, field) == want["source"].get(field)
        assert caller.source.type == want["source"].get("type")


@pytest.mark.parametrize("vector", load(), ids=lambda v: v["name"])
def test_vector(vector: dict[str, Any]) -> None:
    expect = vector["expect"]
    if expect["outcome"] == "allow":
        check_caller(run(vector), expect["caller"])
        return
    with pytest.raises(oathmesh.OathMeshError) as caught:
        run(vector)
    err = caught.value
    assert (err.code, err.step, err.http_status) == (expect["code"], expect["step"], expect["http_status"])
    # The family class agrees with the code.
    base = expect["code"].split(":")[0]
    assert type(err).__name__ == "".join(part.capitalize() for part in base.split("_"))
