"""Start, drain, stop: the server's life, and what a request in flight gets when it ends.

On SIGTERM uvicorn stops accepting and sets `should_exit`; requests in flight go on until `--shutdown-timeout`. At
that deadline the ones still unfinished are answered here, each with a one-line JSON 503 and Retry-After (their
work is withdrawn), and the log says so in one line; uvicorn's own deadline is set a little later
(`GRACE_S`), so it never has to cancel a handler (a plain-text 500 and a traceback).
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from genprm.serve.api_errors import APIError, retry_later
from genprm.serve.server_config import ServeConfig

if TYPE_CHECKING:
    from fastapi import FastAPI

    from genprm.serve.engine import Engine

GRACE_S = 5.0  # after our deadline: time to write the 503s and let the batching thread end


def say(message: str) -> None:
    print(f"genprm: {message}", file=sys.stderr, flush=True)


class Lifecycle:
    """Whether the server is draining, and when the deadline for requests in flight has passed."""

    def __init__(self, shutdown_timeout: float) -> None:
        self.shutdown_timeout = shutdown_timeout
        self.server: Any = None  # the uvicorn.Server, when one runs the app (it owns the SIGTERM handling)
        self.on_ready: Callable[[], None] | None = None
        self._draining_since: float | None = None
        self.cut_requests = self.cut_solutions = 0

    @property
    def draining(self) -> bool:
        if self.server is None or not self.server.should_exit:
            return False
        if self._draining_since is None:
            self._draining_since = time.monotonic()
        return True

    def refusal(self) -> APIError:
        return retry_later("draining", "the server is shutting down; retry (another replica, or after restart)")

    def past_deadline(self) -> bool:
        return self.draining and time.monotonic() - self._draining_since > self.shutdown_timeout  # type: ignore[operator]

    def cut(self, solutions: int) -> APIError:
        """The answer for a request still unfinished at the deadline (counted for the one log line)."""
        self.cut_requests += 1
        self.cut_solutions += solutions
        return retry_later("draining", f"the server shut down before this request finished (--shutdown-timeout "
                                       f"{self.shutdown_timeout:g} s); retry")

    def lifespan(self, engine: Engine) -> Callable[[FastAPI], Any]:
        @asynccontextmanager
        async def run(app: FastAPI) -> AsyncIterator[None]:
            engine.start()
            if self.on_ready:
                self.on_ready()
            yield
            await engine.stop(GRACE_S if self.cut_requests else self.shutdown_timeout)
            if self.cut_requests:
                say(f"shut down at the --shutdown-timeout deadline ({self.shutdown_timeout:g} s): "
                    f"{self.cut_requests} unfinished requests ({self.cut_solutions} solutions) got 503")

        return run


def serve_app(app: FastAPI, lifecycle: Lifecycle, config: ServeConfig) -> None:
    """Run `app` on uvicorn until SIGTERM/SIGINT, then drain. Prints `genprm: serving on http://HOST:PORT` once
    it accepts."""
    import uvicorn

    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))  # bound here, so --port 0 can print the port it got
    sock.listen(2048)
    url = f"http://{host_in_url(config.host)}:{sock.getsockname()[1]}"
    lifecycle.on_ready = lambda: say(f"serving on {url}")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=int(config.shutdown_timeout + GRACE_S)))
    lifecycle.server = server
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def host_in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host
