"""Monte-Carlo step labels (Math-Shepherd), optionally with GenPRM's relative progress estimate.

For each prefix steps[:k+1] of a solution, a policy model (any backend) writes `k_samples` completions; v_k is the
fraction that reach the gold answer. Labels:
    hard   step k is correct when some completion from it reaches the gold answer (v_k > 0)
    soft   v_k itself (kept in meta for the record; the first-error label uses the hard rule)
    rpe    GenPRM's relative progress estimate: step k is correct when v_k / v_{k-1} >= `rpe_threshold`, where v_{-1}
           is estimated from the problem alone; a step that makes success much less likely is an error even if
           success is still possible
The first step labelled wrong becomes `meta.mc_label`; `filter`'s consensus rule keeps a critique only when the
teacher agrees with it. A solution without a gold label takes `mc_label` as its label.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from genprm.backends.base import GenerateRequest
from genprm.types import Solution

# The policy's task statement. The policy is not the verifier, so this is not a protocol template: only the
# continuation of the solution matters, and the answer line is what `final_answer` reads.
POLICY_INSTRUCTION = "Solve the problem step by step, one step per line. End with \"The answer is N.\"\n\nProblem: "


def final_answer(text: str) -> str | None:
    m = re.findall(r"answer is\s*\$?\s*(-?[\d,]*\.?\d+)", text)
    if m:
        return m[-1].replace(",", "")
    numbers = re.findall(r"-?\d[\d,]*\.?\d*", text)
    return numbers[-1].replace(",", "").rstrip(".") if numbers else None


def _same(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    try:
        return abs(float(a) - float(b.replace(",", ""))) < 1e-6
    except ValueError:
        return a.strip() == b.strip()


def mc_values(backend: Any, solution: Solution, k_samples: int = 4, max_new_tokens: int = 256,
              temperature: float = 0.7, seed: int = 0) -> list[float]:
    """v_{-1}, v_0, ..., v_{n-1}: success rate of completions from the empty prefix and after each step."""
    if solution.answer is None:
        raise ValueError(f"solution {solution.id!r} has no gold answer to compare completions with")
    head = backend.chat([{"role": "user", "content": POLICY_INSTRUCTION + solution.problem}])
    requests = []
    for k in range(-1, len(solution.steps)):
        prefix = head + "".join(s + "\n" for s in solution.steps[: k + 1])
        requests += [GenerateRequest(prefix, max_new_tokens, (), temperature, seed * 1000 + (k + 1) * 31 + j)
                     for j in range(k_samples)]
    outs = backend.generate(requests)
    values = []
    for k in range(len(solution.steps) + 1):
        chunk = outs[k * k_samples:(k + 1) * k_samples]
        # A completion after the last step has nothing left to say: the solution's own answer is judged.
        texts = [(solution.steps[-1] if k == len(solution.steps) else "") + g.text for g in chunk]
        values.append(sum(_same(final_answer(t), solution.answer) for t in texts) / k_samples)
    return values


def label_from_values(values: Sequence[float], rule: str = "hard", rpe_threshold: float = 0.5) -> list[bool]:
    """Per-step correctness from v_{-1..n-1} (see the module docstring)."""
    if rule not in ("hard", "rpe"):
        raise ValueError(f"rule must be 'hard' or 'rpe', got {rule!r}")
    labels = []
    for k in range(1, len(values)):
        if rule == "hard":
            labels.append(values[k] > 0)
        else:
            labels.append(values[k] / values[k - 1] >= rpe_threshold if values[k - 1] > 0 else values[k] > 0)
    return labels


def mc_label(backend: Any, solutions: Sequence[Solution], k_samples: int = 4, rule: str = "hard",
             rpe_threshold: float = 0.5, max_new_tokens: int = 256, seed: int = 0) -> list[Solution]:
    out = []
    for solution in solutions:
        values = mc_values(backend, solution, k_samples, max_new_tokens, seed=seed)
        labels = label_from_values(values, rule, rpe_threshold)
        first = next((i for i, ok in enumerate(labels) if not ok), -1)
        meta = {**solution.meta, "mc_values": values, "mc_step_labels": labels, "mc_label": first, "mc_rule": rule}
        label = solution.label if solution.label is not None else first
        out.append(replace(solution, meta=meta, label=label))
    return out
