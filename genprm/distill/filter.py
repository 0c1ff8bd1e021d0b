"""Filtering: keep only critiques a student should imitate (ThinkPRM's rules, GenPRM's consensus rule).

Rules, applied in this order; each record is charged to the first rule it fails, so the counts add up:
    well_formed   every critique ends at the verdict question, reached by the critique itself (not forced)
    complete      a critique for every step up to the first predicted error (or every step)
    agrees        verdicts agree with the gold labels up to and including the first error
    code_ran      every code block ran to the end (no timeout, memory or output limit)
    length        no critique longer than `max_critique_chars`, the kept dialogue within `max_dialogue_chars`
    consensus     where Monte-Carlo labels exist (`meta.mc_label`), the teacher's first error equals theirs
    balance       as many correct as erroneous solutions (the larger class is subsampled, seeded)
A kept record's critiques end at its first error: the student learns to stop where the error is found.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from genprm.distill.teachers import Critique
from genprm.protocols import VerificationProtocol

RULES = ("well_formed", "complete", "agrees", "code_ran", "length", "consensus", "balance")


@dataclass(frozen=True)
class FilterConfig:
    max_critique_chars: int = 1200
    max_dialogue_chars: int = 6000
    balance: bool = True
    seed: int = 0


def first_failed_rule(record: dict[str, Any], protocol: VerificationProtocol, cfg: FilterConfig) -> str | None:
    critiques = [Critique.from_dict(c) for c in record["critiques"]]
    label, predicted = record.get("label"), record["predicted"]
    end = predicted if predicted >= 0 else len(record["steps"]) - 1
    kept = critiques[: end + 1]
    if any(c.forced or not c.text.endswith(protocol.verdict_prefix) for c in kept):
        return "well_formed"
    if len(kept) < end + 1 or (label is not None and label >= 0 and len(critiques) <= label):
        return "complete"
    if label is None or predicted != label:
        return "agrees"
    if any(r.status != "ok" for c in kept for r in c.code_runs):
        return "code_ran"
    if any(len(c.text) > cfg.max_critique_chars for c in kept) or \
            sum(len(c.text) + len(s) for c, s in zip(kept, record["steps"], strict=False)) > cfg.max_dialogue_chars:
        return "length"
    mc = (record.get("meta") or {}).get("mc_label")
    if mc is not None and mc != predicted:
        return "consensus"
    return None


def filter_records(records: Sequence[dict[str, Any]], protocol: VerificationProtocol,
                   cfg: FilterConfig | None = None) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Kept records (critiques cut after the first error) and how many records each rule removed."""
    cfg = cfg or FilterConfig()
    removed: Counter[str] = Counter({rule: 0 for rule in RULES})
    kept = []
    for record in records:
        rule = first_failed_rule(record, protocol, cfg)
        if rule is not None:
            removed[rule] += 1
            continue
        end = record["predicted"] if record["predicted"] >= 0 else len(record["steps"]) - 1
        kept.append({**record, "critiques": record["critiques"][: end + 1]})
    if cfg.balance:
        wrong = [r for r in kept if r["label"] >= 0]
        right = [r for r in kept if r["label"] < 0]
        n = min(len(wrong), len(right))
        rng = random.Random(cfg.seed)
        chosen = {id(r) for r in rng.sample(wrong, n) + rng.sample(right, n)}
        removed["balance"] = len(kept) - len(chosen)
        kept = [r for r in kept if id(r) in chosen]
    return kept, removed
