"""A small real OpenAI-compatible server over HTTP: the transformers backend behind `/v1/completions`.

    python tests/helpers/hf_server.py --port 0 [--dtype auto] [--max-logprobs 5] [--no-logprobs]

Prints `listening on http://127.0.0.1:PORT/v1` once it serves. It implements what genprm's OpenAI backend uses:
`GET /v1/models`, and `POST /v1/completions` with `prompt`, `max_tokens`, `temperature`, `seed`, `stop` and
`logprobs` (top-k of the first generated token only; more than `--max-logprobs` is refused with HTTP 400, as vLLM
does past its cap). Like vLLM it reports the matched stop string as `stop_reason`. `--no-logprobs` makes it ignore
`logprobs`, as servers without logprob support do (e.g. `transformers serve`).
"""

from __future__ import annotations

import argparse
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import torch

from genprm.backends.base import GenerateRequest
from genprm.backends.hf import HFBackend
from genprm.backends.weights import BASE_MODEL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `helpers.*` imports as under pytest

from helpers.completions_http import CompletionsHandler  # noqa: E402


class CompletionServer(ThreadingHTTPServer):
    def __init__(self, port: int, backend: HFBackend, max_logprobs: int, logprobs: bool) -> None:
        super().__init__(("127.0.0.1", port), CompletionsHandler)
        self.backend, self.max_logprobs, self.logprobs = backend, max_logprobs, logprobs
        self.lock = threading.Lock()  # one model, one request at a time
        self.model_name = backend.name

    def complete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        stop = body.get("stop") or ()
        stop = (stop,) if isinstance(stop, str) else tuple(stop)
        k = body.get("logprobs")
        if k is not None and self.logprobs and k > self.max_logprobs:
            return 400, {"error": {"message": f"logprobs must be <= {self.max_logprobs}, got {k}",
                                   "type": "BadRequestError", "code": 400}}
        request = GenerateRequest(body["prompt"], int(body.get("max_tokens", 16)), stop,
                                  float(body.get("temperature", 1.0)), body.get("seed"))
        with self.lock:
            g = self.backend.generate([request])[0]
            top = self.top_logprobs(body["prompt"], k) if k is not None and self.logprobs else None
        text = g.text[: -len(g.stop)] if g.finish_reason == "stop" and g.stop else g.text  # OpenAI drops the stop
        choice = {"index": 0, "text": text, "finish_reason": "length" if g.finish_reason == "length" else "stop",
                  "stop_reason": g.stop, "logprobs": None}
        if top is not None:
            token = max(top, key=top.__getitem__)
            choice["logprobs"] = {"tokens": [token], "token_logprobs": [top[token]], "top_logprobs": [top],
                                  "text_offset": [0]}
        n_prompt = len(self.backend.tokenizer(body["prompt"], add_special_tokens=False)["input_ids"])
        return 200, {"id": "cmpl-test", "object": "text_completion", "created": 0, "model": body.get("model", ""),
                     "choices": [choice], "usage": {"prompt_tokens": n_prompt, "completion_tokens": g.num_tokens,
                                                    "total_tokens": n_prompt + g.num_tokens}}

    @torch.inference_mode()
    def top_logprobs(self, prompt: str, k: int) -> dict[str, float]:
        """{token text: logprob} of the k likeliest next tokens after `prompt` (a full forward pass, no cache)."""
        b = self.backend
        ids = b.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"].to(b.device)
        logprobs = torch.log_softmax(b.model(input_ids=ids).logits[0, -1].float(), dim=-1)
        values, tokens = logprobs.topk(max(k, 1))
        return {b.tokenizer.decode([int(t)]): float(v) for v, t in zip(values, tokens, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--model", default=BASE_MODEL, help="default: the base model (a plain language model)")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--max-logprobs", type=int, default=20)
    parser.add_argument("--no-logprobs", action="store_true")
    args = parser.parse_args()
    backend = HFBackend(args.model, dtype=args.dtype, max_batch=1)
    server = CompletionServer(args.port, backend, args.max_logprobs, not args.no_logprobs)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
