"""A backend that answers from a script, for exact tests of the verification loop."""

from __future__ import annotations

from collections.abc import Sequence

from genprm.backends.base import GenerateRequest, Generation, ScoreRequest


class ScriptedBackend:
    """A backend that answers from a script, for testing the verification loop exactly.

    `generations` are returned in order, each cut at the first stop string of its request (like a real backend);
    `logprobs` are the (positive, negative) logprobs returned by successive score requests (default: equal).
    Every request is recorded in `calls`.
    """

    name = "scripted"

    def __init__(self, generations: Sequence[str] = (), logprobs: Sequence[tuple[float, float]] = ()) -> None:
        self.generations = list(generations)
        self.logprobs = list(logprobs)
        self.calls: list[GenerateRequest | ScoreRequest] = []

    def chat(self, messages, add_generation_prompt: bool = True) -> str:
        text = "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages)
        return text + ("<assistant>" if add_generation_prompt else "")

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        out = []
        for r in requests:
            self.calls.append(r)
            text = self.generations.pop(0) if self.generations else ""
            hits = [(text.find(s) + len(s), s) for s in r.stop if s in text]
            if hits:
                end, stop = min(hits)
                out.append(Generation(text[:end], "stop", stop, num_tokens=len(text[:end].split())))
            else:
                out.append(Generation(text, "eos", None, num_tokens=len(text.split())))
        return out

    def score(self, requests: Sequence[ScoreRequest]) -> list[dict[str, float]]:
        out = []
        for r in requests:
            self.calls.append(r)
            pos, neg = self.logprobs.pop(0) if self.logprobs else (-1.0, -1.0)
            out.append({r.candidates[0]: pos, r.candidates[1]: neg})
        return out

    def close(self) -> None:
        pass
