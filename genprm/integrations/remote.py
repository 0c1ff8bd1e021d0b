"""`RemoteVerifier`: the `Verifier` API over HTTP, so a script moves from a local model to `genprm serve` by
changing one line:

    verifier = Verifier.from_pretrained()                       # local
    verifier = RemoteVerifier("http://127.0.0.1:8000")          # served (batched with every other client)
    verifier = RemoteVerifier(["http://a:8000", "http://b:8000"])  # several servers: fails over between them

Retrying is safe: verifying has no side effect, and a request's results are kept once, from the one answer that
succeeded, so a client that retries ends with every result exactly once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from genprm.errors import GenPRMError
from genprm.types import Solution, VerificationResult

RETRY_STATUS = (502, 503, 504)  # 503: busy or draining (Retry-After); 502/504: that server's backend or replica


def parse_urls(url: str | Sequence[str]) -> list[str]:
    """One URL, a comma-separated string of them, or a list: the servers, without trailing slashes."""
    urls = url.split(",") if isinstance(url, str) else list(url)
    urls = [u.strip().rstrip("/") for u in urls if u.strip()]
    if not urls:
        raise ValueError("RemoteVerifier needs a server URL")
    return urls


class RemoteError(GenPRMError):
    """The server refused a request (the message is its one-line error) or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RemoteVerifier:
    """A client of `genprm serve` with the `Verifier` API.

    Args:
        url: the server, e.g. "http://127.0.0.1:8000"; or several (a list, or comma-separated): each request goes
            to the one that last answered, and moves to the next when a server cannot be reached or answers
            502/503/504.
        api_key: its bearer token (default: $GENPRM_API_KEY).
        chunk_size: solutions per HTTP request; `iter_verify` keeps `concurrency` requests in flight and yields a
            chunk's results as soon as it is back, so the server batches them with everyone else's.
        timeout: seconds one request may take.
        retries: how often a request is sent again after a 503 (queue full, draining: Retry-After honoured), a
            502/504 (with several servers) or a dropped connection.
    """

    def __init__(self, url: str | Sequence[str], api_key: str | None = None, chunk_size: int = 32,
                 concurrency: int = 4, timeout: float = 600.0, retries: int = 5) -> None:
        import httpx

        api_key = api_key if api_key is not None else os.environ.get("GENPRM_API_KEY")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.urls = parse_urls(url)
        self.url = self.urls[0]
        self._current = 0  # the server that answered last
        self.chunk_size, self.concurrency, self.retries = chunk_size, concurrency, retries
        self._client = httpx.Client(headers=headers, timeout=timeout)

    def verify(self, problem: str | Solution, steps: Sequence[str] | None = None) -> VerificationResult:
        """Verify one solution: `verify(problem, steps)` or `verify(Solution(...))`."""
        if not isinstance(problem, Solution):
            if steps is None:
                raise TypeError("verify(problem, steps) needs the steps")
            problem = Solution(problem=problem, steps=tuple(steps))
        return VerificationResult.from_dict(self.post("/v1/verify", _body(problem)))

    def verify_many(self, solutions: Iterable[Solution]) -> list[VerificationResult]:
        """Verify solutions; results in input order."""
        solutions = list(solutions)
        results = dict(self.iter_verify(solutions, with_index=True))
        return [results[i] for i in range(len(solutions))]

    def iter_verify(self, solutions: Iterable[Solution], with_index: bool = False) -> Iterator[Any]:
        """Yield results as their chunk comes back (completion order); `(index, result)` with `with_index`."""
        solutions = list(solutions)
        chunks = [range(i, min(i + self.chunk_size, len(solutions))) for i in range(0, len(solutions),
                                                                                      self.chunk_size)]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            running: dict[Future[dict[str, Any]], range] = {}
            for chunk in chunks:
                body = {"solutions": [_body(solutions[i]) for i in chunk]}
                running[pool.submit(self.post, "/v1/verify", body)] = chunk
            try:
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        chunk = running.pop(future)
                        for i, d in zip(chunk, future.result()["results"], strict=True):
                            result = VerificationResult.from_dict(d)
                            yield (i, result) if with_index else result
            finally:
                for future in running:
                    future.cancel()

    def health(self) -> dict[str, Any]:
        return self._client.get(f"{self.urls[self._current]}/health").json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST JSON; on a dropped connection or a 502/503/504, send it again (to the next server, if there are
        several; after Retry-After or a backoff once every server was tried); raise RemoteError otherwise."""
        import httpx

        start, n = self._current, len(self.urls)
        tried: set[int] = set()
        for attempt in range(self.retries + 1):
            i = (start + attempt) % n
            url = self.urls[i]
            tried.add(i)
            last = attempt == self.retries
            try:
                response = self._client.post(f"{url}{path}", json=body)
            except httpx.TransportError as e:
                if last:
                    raise RemoteError(f"cannot reach {_named(self.urls)}: {type(e).__name__}: {e}") from None
                tried = self._pause(tried, min(2**attempt, 10))
                continue
            retry = response.status_code == 503 or (response.status_code in RETRY_STATUS and n > 1)
            if retry and not last:
                tried = self._pause(tried, float(response.headers.get("retry-after", 1)))
                continue
            if response.status_code >= 400:
                try:
                    message = response.json()["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    message = response.text[:200]
                raise RemoteError(f"{url}{path}: HTTP {response.status_code}: {message}", response.status_code)
            self._current = i
            return response.json()
        raise AssertionError("unreachable")

    def _pause(self, tried: set[int], seconds: float) -> set[int]:
        """Wait `seconds` once every server has been tried in this round (the next server is tried at once)."""
        if len(tried) < len(self.urls):
            return tried
        time.sleep(seconds)
        return set()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _named(urls: list[str]) -> str:
    return urls[0] if len(urls) == 1 else f"any of {', '.join(urls)}"


def _body(solution: Solution) -> dict[str, Any]:
    return {k: v for k, v in solution.to_dict().items() if v is not None and v != {}}
