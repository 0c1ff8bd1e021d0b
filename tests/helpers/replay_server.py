"""A real OpenAI-compatible server that replays scripted completions and logs every request it receives.

    python tests/helpers/replay_server.py --script script.json --log requests.jsonl [--model NAME] [--port 0]

Prints `listening on http://127.0.0.1:PORT/v1` once it serves. `script.json` holds {"completions": [...],
"logprobs": [...]}: a `/v1/completions` request with `logprobs` gets the next entry of "logprobs" (a {token:
logprob} dict, returned as the top logprobs of one generated token); any other request gets the next completion,
cut before the first of the request's stop strings it contains and reported with that string as `stop_reason`, as
vLLM does. Each request body is appended to the log as one JSON line, so tests compare the exact prompts and stop
strings a client sent. Stdlib only: it runs no model.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `helpers.*` imports as under pytest

from helpers.completions_http import CompletionsHandler  # noqa: E402


class ReplayServer(ThreadingHTTPServer):
    def __init__(self, port: int, script: dict[str, list[Any]], log: Path, model: str) -> None:
        super().__init__(("127.0.0.1", port), CompletionsHandler)
        self.completions, self.logprobs = list(script.get("completions", [])), list(script.get("logprobs", []))
        self.log, self.model_name = log, model
        self.lock = threading.Lock()

    def complete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            with self.log.open("a", encoding="utf-8") as f:
                f.write(json.dumps(body) + "\n")
            if body.get("logprobs") is not None:
                top = self.logprobs.pop(0) if self.logprobs else {}
                token = max(top, key=top.__getitem__) if top else ""
                return 200, _choice(token, "length", None, {"tokens": [token], "token_logprobs": [top.get(token, 0.0)],
                                                       "top_logprobs": [top], "text_offset": [0]})
            text = self.completions.pop(0) if self.completions else ""
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        hits = sorted((text.find(s), s) for s in stop if s in text)
        if hits:
            at, matched = hits[0]
            return 200, _choice(text[:at], "stop", matched)
        return 200, _choice(text, "stop", None)


def _choice(text: str, finish: str, stop_reason: str | None, logprobs: Any = None) -> dict[str, Any]:
    n = max(1, len(text.split()))
    return {"id": "cmpl-replay", "object": "text_completion", "created": 0, "model": "",
            "choices": [{"index": 0, "text": text, "finish_reason": finish, "stop_reason": stop_reason,
                         "logprobs": logprobs}],
            "usage": {"prompt_tokens": 0, "completion_tokens": n, "total_tokens": n}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--model", default="replay")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ReplayServer(args.port, json.loads(args.script.read_text(encoding="utf-8")), args.log, args.model)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
