"""Many threads verifying at once share one verifier and get correct answers: every fresh
token is allowed exactly once, every replay and every tampered token is refused."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import oathmesh

THREADS = 8
PER_THREAD = 200


def test_eight_threads(make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]) -> None:
    events: list[str] = []
    lock = threading.Lock()

    def audit(event: dict[str, object]) -> None:
        with lock:
            events.append(str(event["outcome"]))

    verifier = make_verifier(audit=audit)
    tokens = [[mint(sub=f"svc://worker-{t}", act="refund" if i % 10 == 0 else "charge") for i in range(PER_THREAD)] for t in range(THREADS)]
    # Every thread also tries to replay the first token of the next thread.
    barrier = threading.Barrier(THREADS)

    def work(t: int) -> list[str]:
        barrier.wait()
        seen = []
        for i, token in enumerate(tokens[t]):
            try:
                caller = verifier.verify(token.token)
                assert caller.subject == f"svc://worker-{t}" and caller.token_id == token.token_id
                seen.append("allow")
            except oathmesh.PolicyDenied:
                assert i % 10 == 0
                seen.append("deny")
            tampered = token.token[:-2] + ("AA" if not token.token.endswith("AA") else "BA")
            try:
                verifier.verify(tampered)
                seen.append("tampered-allowed")
            except oathmesh.SignatureInvalid:
                pass
        return seen

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))
    for seen in results:
        assert seen.count("allow") == PER_THREAD * 9 // 10
        assert seen.count("deny") == PER_THREAD // 10
        assert "tampered-allowed" not in seen
    assert len(events) == THREADS * PER_THREAD * 2

    # The same fresh token raced by all threads: exactly one wins.
    token = mint()
    barrier = threading.Barrier(THREADS)

    def race(_: int) -> bool:
        barrier.wait()
        try:
            verifier.verify(token.token)
            return True
        except oathmesh.ReplayDetected:
            return False

    with ThreadPoolExecutor(THREADS) as pool:
        assert sum(pool.map(race, range(THREADS))) == 1


def test_verify_releases_the_gil(make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]) -> None:
    """While one thread is inside the core, another thread's Python code runs: the audit
    callback (which runs inside verify) waits for an event that only the main thread,
    running Python, can set."""
    released = threading.Event()
    reached = threading.Event()

    def audit(event: dict[str, object]) -> None:
        reached.set()
        assert released.wait(10)

    verifier = make_verifier(audit=audit)
    worker = threading.Thread(target=verifier.verify, args=(mint().token,))
    worker.start()
    assert reached.wait(10)
    released.set()
    worker.join(10)
    assert not worker.is_alive()
