"""The HTTP side the tests' OpenAI-compatible servers share: `GET /v1/models`, `POST /v1/completions`, JSON
replies, no request log on stderr. A server gives its `model_name` and `complete(body) -> (status, payload)`."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any


class CompletionsHandler(BaseHTTPRequestHandler):
    server: Any  # the test server: `model_name` and `complete`

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self.reply(200, {"object": "list", "data": [{"id": self.server.model_name, "object": "model",
                                                         "created": 0, "owned_by": "genprm-tests"}]})
        else:
            self.reply(404, {"error": {"message": f"no route {self.path}", "type": "NotFoundError", "code": 404}})

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/completions":
            self.reply(404, {"error": {"message": f"no route {self.path}", "type": "NotFoundError", "code": 404}})
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.reply(*self.server.complete(body))

    def reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would flood the test log
