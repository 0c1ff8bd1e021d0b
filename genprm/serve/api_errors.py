"""The server's errors: each is answered as one line of JSON, {"error": {"type": kind, "message": ...}}."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """An error answered as one line of JSON with `status`; `kind` labels it in the metrics."""

    def __init__(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.headers = status, kind, " ".join(message.split()), headers

    def to_dict(self) -> dict[str, Any]:
        """Plain data, so the error crosses a process boundary (a Ray replica to the ingress) as it is."""
        return {"status": self.status, "kind": self.kind, "message": self.message, "headers": self.headers}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> APIError:
        return cls(d["status"], d["kind"], d["message"], d.get("headers"))


class ClientGone(Exception):
    """The client disconnected before its results were ready."""


def retry_later(kind: str, message: str, seconds: int = 5) -> APIError:
    """A 503 the client should retry (on this server or another) after `seconds`."""
    return APIError(503, kind, message, headers={"Retry-After": str(seconds)})
