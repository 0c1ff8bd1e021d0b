"""A scripted policy and a scripted verifier model for exact tests of the search strategies.

The policy answers by the steps written so far (the prefilled part of the assistant's turn): `tree` maps those
steps to the continuations it proposes, in order (the i-th ask of a prefix gets the i-th, cycling). Like a real
backend it cuts a continuation after its first stop string; a continuation without one ends the turn (eos).
So "x\\n\\n" proposes the step "x", "\\n\\n" is a dead end, and "" ends the solution where it is.

The verifier model (for the real `Verifier`) scores the step being judged (the last "Step k: ..." line of the
prompt) with `scores[step]` (default 0.5), and writes `critiques[step]` when asked for a critique.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from genprm.backends.base import GenerateRequest, Generation, ScoreRequest
from genprm.search import Problem, SearchConfig
from helpers.scripted_backend import ScriptedBackend

_STEP = re.compile(r"Step \d+: (.*?)(?:</user>|\n|$)")


class ScriptedPolicy(ScriptedBackend):
    name = "scripted-policy"

    def __init__(self, tree: dict[tuple[str, ...], Sequence[str]], delimiter: str = "\n\n") -> None:
        super().__init__()
        self.tree, self.delimiter = tree, delimiter
        self.asked: dict[tuple[str, ...], int] = {}
        self.batches: list[list[GenerateRequest]] = []

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        self.batches.append(list(requests))
        out = []
        for r in requests:
            written = r.prompt.rsplit("<assistant>", 1)[1]
            steps = tuple(s for s in written.split(self.delimiter) if s)
            options = self.tree.get(steps, [""])
            n = self.asked.get(steps, 0)
            self.asked[steps] = n + 1
            self.generations = [options[n % len(options)]]
            out += super().generate([r])
        return out


class ScriptedVerifierModel(ScriptedBackend):
    name = "scripted-verifier"

    def __init__(self, scores: dict[str, float], critiques: dict[str, str] | None = None) -> None:
        super().__init__()
        self.scores, self.critiques = scores, critiques or {}

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        out = []
        for r in requests:
            step = _STEP.findall(r.prompt)[-1]
            self.generations = [self.critiques.get(step, "It looks fine.") + " " + r.stop[0]]
            out += super().generate([r])
        return out

    def score(self, requests: Sequence[ScoreRequest]) -> list[dict[str, float]]:
        out = []
        for r in requests:
            self.calls.append(r)
            p = self.scores.get(_STEP.findall(r.prompt)[-1], 0.5)
            out.append({r.candidates[0]: math.log(p), r.candidates[1]: math.log(1 - p)})
        return out


PROBLEM = Problem(id="p", problem="Ann has 3 pens and buys 4 more. How many pens does she have?", gold="7")


def beam_config(**overrides) -> SearchConfig:
    return SearchConfig(strategy="beam", **{"beam_width": 2, "expand": 2, "max_steps": 4, **overrides})
