"""`oathmesh.Client` / `AsyncClient` against a real `oathmesh serve` process: one fresh
token per call, request binding checked by a verifier that fetches the issuer's JWKS,
typed issuer errors, and an event loop that keeps running while a mint waits."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import AUDIENCE
from services import IssuerProcess, free_port, issuer_server, sha256_hex

import oathmesh

SECRET = "checkout-secret-0123456789abcdef"
CLIENT_KEY = oathmesh.generate_key()


def clients_toml() -> str:
    return f"""
[[clients]]
id = "checkout"
secret_sha256 = "{sha256_hex(SECRET)}"
allowed_sub = ["svc://checkout"]
allowed_aud = ["{AUDIENCE}"]
allowed_act = ["charge", "refund"]

[[clients]]
id = "keyed"
public_key_pem = '''{CLIENT_KEY.public_pem}'''
allowed_sub = ["svc://keyed"]
allowed_aud = ["{AUDIENCE}"]
allowed_act = ["charge"]
"""


@pytest.fixture(scope="module")
def issuer_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IssuerProcess]:
    with issuer_server(tmp_path_factory.mktemp("issuer"), clients_toml(), SECRET) as process:
        yield process


@pytest.fixture
def client(issuer_process: IssuerProcess) -> oathmesh.Client:
    return oathmesh.Client(issuer_url=issuer_process.url, client_id="checkout", client_secret=SECRET)


@pytest.fixture
def receiver(issuer_process: IssuerProcess) -> oathmesh.Verifier:
    # No static keys: the receiver fetches the running issuer's JWKS.
    return oathmesh.Verifier(audience=AUDIENCE, trusted_issuers=[issuer_process.url])


def test_every_mint_is_a_fresh_single_use_token(client: oathmesh.Client, receiver: oathmesh.Verifier) -> None:
    tokens = [client.mint(sub="svc://checkout", aud=AUDIENCE, act="charge") for _ in range(5)]
    assert len({t.token for t in tokens}) == 5
    assert tokens[0].token_type == "OathMesh" and 0 < tokens[0].expires_in <= 300
    assert tokens[0].headers == {"Authorization": f"OathMesh {tokens[0].token}"}
    assert tokens[0].token not in repr(tokens[0])
    callers = [receiver.verify(t.token, action="charge") for t in tokens]
    assert {c.subject for c in callers} == {"svc://checkout"}
    assert len({c.token_id for c in callers}) == 5
    with pytest.raises(oathmesh.ReplayDetected):
        receiver.verify(tokens[0].token)


def test_a_bound_token_is_accepted_for_its_request_only(client: oathmesh.Client, receiver: oathmesh.Verifier) -> None:
    body = b'{"amount": 1200}'
    token = client.mint_for_request("POST", "/charge?order=7", body, sub="svc://checkout", aud=AUDIENCE, act="charge")
    caller = receiver.verify(token.token, method="POST", path="/charge?order=7", body=body)
    assert caller.action == "charge"
    # An absolute URL is cut to the path and query that are actually sent.
    tampered = client.mint_for_request(
        "POST", "https://payments.internal/charge?order=7", body, sub="svc://checkout", aud=AUDIENCE, act="charge"
    )
    with pytest.raises(oathmesh.BindingMismatch) as denied:
        receiver.verify(tampered.token, method="POST", path="/charge?order=7", body=b'{"amount": 9999}')
    assert denied.value.code == "binding_mismatch"
    strict = oathmesh.Verifier(audience=AUDIENCE, trusted_issuers=[client.issuer_url], require_binding=True)
    with pytest.raises(oathmesh.BindingRequired):
        strict.verify(client.mint(sub="svc://checkout", aud=AUDIENCE, act="charge").token, method="GET", path="/")


def test_a_mint_outside_the_allow_list_is_denied(client: oathmesh.Client) -> None:
    with pytest.raises(oathmesh.IssuerError) as denied:
        client.mint(sub="svc://someone-else", aud=AUDIENCE, act="charge")
    err = denied.value
    assert (err.code, err.status, err.http_status) == ("mint_denied", 403, 403)
    assert not isinstance(err, oathmesh.IssuerUnavailable) and err.fix


def test_a_wrong_secret_is_an_invalid_client(issuer_process: IssuerProcess) -> None:
    wrong = "not-the-secret-0123456789abcdef"
    bad = oathmesh.Client(issuer_url=issuer_process.url, client_id="checkout", client_secret=wrong)
    with pytest.raises(oathmesh.IssuerError) as denied:
        bad.mint(sub="svc://checkout", aud=AUDIENCE, act="charge")
    assert (denied.value.code, denied.value.status) == ("invalid_client", 401)
    assert wrong not in str(denied.value) and wrong not in denied.value.fix


def test_a_down_issuer_is_issuer_unavailable() -> None:
    down = oathmesh.Client(
        issuer_url="https://issuer.internal", token_url=f"http://127.0.0.1:{free_port()}",
        client_id="checkout", client_secret=SECRET, timeout_ms=2000,
    )
    with pytest.raises(oathmesh.IssuerUnavailable) as denied:
        down.mint(sub="svc://checkout", aud=AUDIENCE, act="charge")
    assert (denied.value.code, denied.value.status) == ("issuer_unavailable", 503)
    assert SECRET not in str(denied.value)


def test_an_ed25519_client_key_authenticates_without_a_secret(
    issuer_process: IssuerProcess, receiver: oathmesh.Verifier
) -> None:
    keyed = oathmesh.Client(issuer_url=issuer_process.url, client_id="keyed", client_key_pem=CLIENT_KEY.private_pem)
    first = keyed.mint(sub="svc://keyed", aud=AUDIENCE, act="charge")
    second = keyed.mint(sub="svc://keyed", aud=AUDIENCE, act="charge")  # a fresh assertion each time
    assert receiver.verify(first.token).subject == receiver.verify(second.token).subject == "svc://keyed"
    impostor = oathmesh.Client(
        issuer_url=issuer_process.url, client_id="keyed", client_key_pem=oathmesh.generate_key().private_pem
    )
    with pytest.raises(oathmesh.IssuerError) as denied:
        impostor.mint(sub="svc://keyed", aud=AUDIENCE, act="charge")
    assert (denied.value.code, denied.value.status) == ("invalid_client", 401)


def test_bad_client_configurations_are_config_errors() -> None:
    with pytest.raises(oathmesh.ConfigError, match="exactly one"):
        oathmesh.Client(issuer_url="https://issuer.internal", client_id="x")
    with pytest.raises(oathmesh.ConfigError, match="exactly one"):
        oathmesh.Client(
            issuer_url="https://issuer.internal", client_id="x", client_secret="s", client_key_pem=CLIENT_KEY.private_pem
        )
    with pytest.raises(oathmesh.ConfigError, match="http"):
        oathmesh.Client(issuer_url="ftp://issuer.internal", client_id="x", client_secret="s")


def test_a_bad_mint_request_is_a_mint_error(client: oathmesh.Client) -> None:
    with pytest.raises(oathmesh.MintError):
        client.mint(sub="svc://checkout", aud=AUDIENCE, act="charge", scope="not-a-list")


def test_async_client_mints_concurrently(issuer_process: IssuerProcess, receiver: oathmesh.Verifier) -> None:
    async def main() -> list[oathmesh.ClientToken]:
        client = oathmesh.AsyncClient(issuer_url=issuer_process.url, client_id="checkout", client_secret=SECRET)
        bound = await client.mint_for_request("GET", "/orders", sub="svc://checkout", aud=AUDIENCE, act="charge")
        assert receiver.verify(bound.token, method="GET", path="/orders").subject == "svc://checkout"
        return list(await asyncio.gather(*(client.mint(sub="svc://checkout", aud=AUDIENCE, act="charge") for _ in range(6))))

    tokens = asyncio.run(main())
    assert len({t.token for t in tokens}) == 6
    for token in tokens:
        receiver.verify(token.token)


def test_async_errors_are_the_same_typed_errors(client: oathmesh.Client) -> None:
    async def main() -> None:
        aclient = oathmesh.AsyncClient(issuer_url=client.issuer_url, client_id="checkout", client_secret=SECRET)
        await aclient.mint(sub="svc://nobody", aud=AUDIENCE, act="charge")

    with pytest.raises(oathmesh.IssuerError) as denied:
        asyncio.run(main())
    assert denied.value.code == "mint_denied"


class SilentServer:
    """Accepts connections and never answers: an issuer that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_the_event_loop_keeps_running_while_a_mint_waits() -> None:
    server = SilentServer()
    try:
        client = oathmesh.AsyncClient(
            issuer_url="https://issuer.internal", token_url=f"http://127.0.0.1:{server.port}",
            client_id="checkout", client_secret=SECRET, timeout_ms=1500,
        )

        async def main() -> tuple[int, float, BaseException | None]:
            ticks = 0
            stop = asyncio.Event()

            async def ticker() -> None:
                nonlocal ticks
                while not stop.is_set():
                    await asyncio.sleep(0.02)
                    ticks += 1

            task = asyncio.create_task(ticker())
            started = time.monotonic()
            error: BaseException | None = None
            try:
                await client.mint(sub="svc://checkout", aud=AUDIENCE, act="charge")
            except oathmesh.IssuerUnavailable as err:
                error = err
            stop.set()
            await task
            return ticks, time.monotonic() - started, error

        ticks, elapsed, error = asyncio.run(main())
    finally:
        server.close()
    assert isinstance(error, oathmesh.IssuerUnavailable) and error.status == 503
    assert elapsed >= 1.0  # the mint really waited for the timeout...
    assert ticks >= 25  # ...while the loop kept ticking every 20 ms (about 75 times)


def test_the_gil_is_released_during_a_blocking_mint() -> None:
    server = SilentServer()
    try:
        client = oathmesh.Client(
            issuer_url="https://issuer.internal", token_url=f"http://127.0.0.1:{server.port}",
            client_id="checkout", client_secret=SECRET, timeout_ms=1000,
        )
        counted = 0
        done = threading.Event()

        def count() -> None:
            nonlocal counted
            while not done.is_set():
                counted += 1

        counter = threading.Thread(target=count)
        counter.start()
        time.sleep(0.05)
        before = counted
        with pytest.raises(oathmesh.IssuerUnavailable):
            client.mint(sub="svc://checkout", aud=AUDIENCE, act="charge")
        during = counted - before
        done.set()
        counter.join()
    finally:
        server.close()
    # A pure-Python thread only counts while this thread has let go of the GIL.
    assert during > 100_000


def test_client_repr_names_no_secret(tmp_path: Path) -> None:
    client = oathmesh.Client(issuer_url="https://issuer.internal", client_id="checkout", client_secret=SECRET)
    assert SECRET not in repr(client) and "checkout" in repr(client)
    aclient = oathmesh.AsyncClient(issuer_url="https://issuer.internal", client_id="checkout", client_secret=SECRET)
    assert SECRET not in repr(aclient) and aclient.sync.client_id == "checkout"
