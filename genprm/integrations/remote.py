"""`RemoteVerifier`: the `Verifier` API over HTTP, so a script moves from a local model to `genprm serve` by
changing one line:

    verifier = Verifier.from_pretrained()                       # local
    verifier = RemoteVerifier("http://127.0.0.1:8000")          # served (batched with every other client)
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from genprm.errors import GenPRMError
from genprm.types import Solution, VerificationResult


class RemoteError(GenPRMError):
    """The server refused a request (the message is its one-line error) or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RemoteVerifier:
    """A client of `genprm serve` with the `Verifier` API.

    Args:
        url: the server, e.g. "http://127.0.0.1:8000".
        api_key: its bearer token (default: $GENPRM_API_KEY).
        chunk_size: solutions per HTTP request; `iter_verify` keeps `concurrency` requests in flight and yields a
            chunk's results as soon as it is back, so the server batches them with everyone else's.
        timeout: seconds one request may take.
        retries: how often a 503 (queue full, Retry-After honoured) or a dropped connection is retried.
    """

    def __init__(self, url: str, api_key: str | None = None, chunk_size: int = 32, concurrency: int = 4,
                 timeout: float = 600.0, retries: int = 5) -> None:
        import httpx

        api_key = api_key if api_key is not None else os.environ.get("GENPRM_API_KEY")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self.chunk_size, self.concurrency, self.retries = chunk_size, concurrency, retries
        self._client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

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
        return self._client.get("/health").json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST JSON; retry 503s (after Retry-After) and dropped connections; raise RemoteError otherwise."""
        import httpx

        for attempt in range(self.retries + 1):
            try:
                response = self._client.post(path, json=body)
            except httpx.TransportError as e:
                if attempt == self.retries:
                    raise RemoteError(f"cannot reach {self.url}: {type(e).__name__}: {e}") from None
                time.sleep(min(2**attempt, 10))
                continue
            if response.status_code == 503 and attempt < self.retries:
                time.sleep(float(response.headers.get("retry-after", 1)))
                continue
            if response.status_code >= 400:
                try:
                    message = response.json()["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    message = response.text[:200]
                raise RemoteError(f"{self.url}{path}: HTTP {response.status_code}: {message}", response.status_code)
            return response.json()
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _body(solution: Solution) -> dict[str, Any]:
    return {k: v for k, v in solution.to_dict().items() if v is not None and v != {}}
