"""``Client`` / ``AsyncClient``: mint Oath Tokens from the issuer over HTTP (PROTOCOL §9).

The core's issuer client does the work: it authenticates with the client's secret (HTTP
Basic) or Ed25519 key (a fresh signed assertion per call), mints **one token per call**
(tokens are single-use, so nothing is cached or reused) and, for ``mint_for_request``,
binds the token to the exact request about to be sent (``rqh``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from . import _native
from ._http import origin_form
from ._issuer import MintRequest, mint_request

__all__ = ["AsyncClient", "Client", "ClientToken"]


@dataclasses.dataclass(frozen=True)
class ClientToken:
    """A token minted by the issuer. ``repr`` never shows the token itself."""

    token: str = dataclasses.field(repr=False)
    expires_in: int
    token_type: str

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value: ``OathMesh <token>``."""
        return f"{self.token_type} {self.token}"

    @property
    def headers(self) -> dict[str, str]:
        """``{"Authorization": "OathMesh <token>"}``, to merge into a request's headers."""
        return {"Authorization": self.authorization}


def _body_bytes(body: bytes | bytearray | memoryview | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else bytes(body)


class Client:
    """Mints tokens from one issuer. Build it once and share it between threads: each
    call is one blocking HTTP request, made with the GIL released.

    Args:
        issuer_url: the issuer's URL, as in the tokens' ``iss``.
        client_id: this service's client id at the issuer.
        client_secret / client_key_pem: exactly one credential (an Ed25519 PKCS#8 PEM key
            signs a short assertion per call instead of sending a secret).
        timeout_ms: the whole mint call's timeout (default 5000).
        token_url: where the issuer is reached, when it differs from ``issuer_url`` (a
            sidecar, a test); ``/v1/token`` is appended.

    Raises :class:`oathmesh.ConfigError` for a bad configuration.
    """

    __slots__ = ("_native", "issuer_url", "client_id")

    def __init__(
        self,
        *,
        issuer_url: str,
        client_id: str,
        client_secret: str | None = None,
        client_key_pem: str | None = None,
        timeout_ms: int | None = None,
        token_url: str | None = None,
    ) -> None:
        config: dict[str, Any] = {"issuer_url": issuer_url, "client_id": client_id}
        optional = {
            "client_secret": client_secret,
            "client_key_pem": client_key_pem,
            "timeout_ms": timeout_ms,
            "token_url": token_url,
        }
        config.update((k, v) for k, v in optional.items() if v is not None)
        self._native = _native.NativeClient(json.dumps(config))
        self.issuer_url = issuer_url
        self.client_id = client_id

    def mint(self, request: MintRequest | None = None, /, **claims: Any) -> ClientToken:
        """Mints one fresh token from a :class:`~oathmesh.MintRequest` or its fields as
        keywords. Raises :class:`oathmesh.IssuerError` when the issuer refuses
        (``mint_denied``, ``invalid_client``, ``rate_limited``, ...) and
        :class:`oathmesh.IssuerUnavailable` when it cannot be reached."""
        document = mint_request(request, claims).to_document()
        return ClientToken(*self._native.mint(json.dumps(document)))

    def mint_for_request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        request: MintRequest | None = None,
        /,
        **claims: Any,
    ) -> ClientToken:
        """Mints one token bound to the request about to be sent: ``method``, ``path``
        (path and query exactly as they will be sent; an absolute URL is cut to its path
        and query) and the raw ``body``. The receiver refuses the token for any other
        request. The core computes ``rqh``: a request that sets it is refused."""
        minted_request = mint_request(request, claims)
        if minted_request.rqh is not None:
            raise TypeError("mint_for_request computes rqh from the request; do not set it")
        minted = self._native.mint_for_request(
            json.dumps(minted_request.to_document()), method, origin_form(path), _body_bytes(body)
        )
        return ClientToken(*minted)

    def __repr__(self) -> str:
        return f"Client(issuer_url={self.issuer_url!r}, client_id={self.client_id!r})"


class AsyncClient:
    """:class:`Client` for asyncio: the same arguments, with ``async`` ``mint`` and
    ``mint_for_request``. Each mint runs in a worker thread (``asyncio.to_thread``) with the
    GIL released, so the event loop keeps serving other tasks while the issuer answers."""

    __slots__ = ("_client",)

    def __init__(
        self,
        *,
        issuer_url: str,
        client_id: str,
        client_secret: str | None = None,
        client_key_pem: str | None = None,
        timeout_ms: int | None = None,
        token_url: str | None = None,
    ) -> None:
        self._client = Client(
            issuer_url=issuer_url, client_id=client_id, client_secret=client_secret,
            client_key_pem=client_key_pem, timeout_ms=timeout_ms, token_url=token_url,
        )

    @property
    def sync(self) -> Client:
        """The blocking :class:`Client` underneath (same connection settings)."""
        return self._client

    async def mint(self, request: MintRequest | None = None, /, **claims: Any) -> ClientToken:
        """See :meth:`Client.mint`."""
        return await asyncio.to_thread(self._client.mint, mint_request(request, claims))

    async def mint_for_request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        request: MintRequest | None = None,
        /,
        **claims: Any,
    ) -> ClientToken:
        """See :meth:`Client.mint_for_request`."""
        return await asyncio.to_thread(self._client.mint_for_request, method, path, body, mint_request(request, claims))

    def __repr__(self) -> str:
        return f"AsyncClient(issuer_url={self._client.issuer_url!r}, client_id={self._client.client_id!r})"
