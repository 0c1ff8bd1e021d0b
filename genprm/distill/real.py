"""Real supervision: solutions whose steps were judged by people (PRM800K, Mr-Ben) or by a strong critic
(MathCritique), read into labelled `Solution`s and rendered as training records in the verifier's own protocol.

The records have the shape `genprm distill synth` writes (a solution, a critique per step up to its first error,
`predicted` = the gold label), so `filter` and `train` take them unchanged. Two objectives, per source:
    critique   the step is restated and, where it calculates, checked with SymPy in the sandbox (the symbolic
               teacher's code); then the human verdict: a right step gets a sentence that checks its reasoning, a
               wrong one its human explanation (or, for PRM800K, its error category) in one of several paraphrases
               (prompts/distill/real_critiques.jinja), so the student does not learn one fixed sentence
    direct     the verdict question follows the step at once (`--mode direct`'s transcript): loss on the verdict
               token only, the cheapest signal per token on this CPU
Sources (see ../shared/data/SOURCES.md):
    prm800k        one rated candidate step after the prefix the raters continued; the prefix's verdicts are
                   context (no loss). Candidates rated -1 and +1 after the same prefix come as pairs (hard negatives);
                   other wrong steps are taken round-robin over the error categories. Rating 0 counts as right.
    mrben          first wrong step and two human explanations; split by question (fixed seed) into train, dev
                   (threshold calibration) and held-out test (evaluation only)
    mathcritique   a GPT-4 verdict and explanation per step
    labelled       any labelled solutions (e.g. `corrupt`'s error-injected GSM8K), so one mix can keep what the
                   injected errors teach; no explanations, so only the direct objective (or code checks) fits them.
                   A `genprm review` labels file is read with its own reader (`read_labelled`)
Mixing: `total` solutions, shared among the sources by their weights (a source short of its share gives all it has).
"""

from __future__ import annotations

import functools
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from genprm.distill.teachers import Critique, SymbolicTeacher
from genprm.errors import ConfigError
from genprm.jsonl import read_rows
from genprm.protocols import VerificationProtocol
from genprm.types import Solution

SOURCES = ("prm800k", "mrben", "mathcritique", "labelled")
OBJECTIVES = ("critique", "direct", "both")
_DATA = "../shared/data/real"


@dataclass(frozen=True)
class RealConfig:
    """What `genprm distill real` reads and how it mixes it; the [real] table of a `distill run` config."""

    out: str = field(default="runs/distill/real.jsonl", metadata={"help": "Training records (JSONL, synth's shape)."})
    protocol: str = field(default="", metadata={"help": "Protocol to render in (default: the train default).",
                                                "aliases": ("--prompt",)})
    prm800k: str = field(default=f"{_DATA}/prm800k_phase1_train_steps.jsonl.gz",
                         metadata={"help": "PRM800K phase-1 train steps ('' to skip)."})
    mrben: str = field(default=f"{_DATA}/mrben_math.jsonl", metadata={"help": "Mr-Ben math ('' to skip)."})
    mathcritique: str = field(default=f"{_DATA}/mathcritique_gsm8k.jsonl,{_DATA}/mathcritique_math.jsonl",
                              metadata={"help": "MathCritique files, comma-separated ('' to skip)."})
    labelled: str = field(default="", metadata={"help": "Labelled solutions JSONL, e.g. corrupt's output or a "
                                                        "`genprm review` labels file ('' to skip)."})
    prm800k_weight: float = field(default=1.0, metadata={"help": "Share of PRM800K in the mix."})
    mrben_weight: float = field(default=1.0, metadata={"help": "Share of Mr-Ben (train split) in the mix."})
    mathcritique_weight: float = field(default=1.0, metadata={"help": "Share of MathCritique in the mix."})
    labelled_weight: float = field(default=1.0, metadata={"help": "Share of the labelled file in the mix."})
    total: int = field(default=2000, metadata={"help": "Solutions drawn in all (before objectives double them)."})
    prm800k_objective: str = field(default="direct", metadata={"help": "critique, direct or both."})
    mrben_objective: str = field(default="both", metadata={"help": "critique, direct or both."})
    mathcritique_objective: str = field(default="both", metadata={"help": "critique, direct or both."})
    labelled_objective: str = field(default="direct", metadata={"help": "critique, direct or both."})
    max_prefix_steps: int = field(default=6, metadata={"help": "PRM800K: longest prefix kept (CPU time)."})
    mrben_dev_fraction: float = field(default=0.1, metadata={"help": "Mr-Ben questions kept for calibration."})
    mrben_test_fraction: float = field(default=0.2, metadata={"help": "Mr-Ben questions held out for evaluation."})
    split_seed: int = field(default=0, metadata={"help": "Seed of the Mr-Ben question split (eval uses it too)."})
    code_timeout: float = field(default=5.0, metadata={"help": "Sandbox limit of a calculation check (s)."})
    seed: int = field(default=0, metadata={"help": "Seed of the sampling and the paraphrase choice."})

    def __post_init__(self) -> None:
        for source in SOURCES:
            if getattr(self, f"{source}_objective") not in OBJECTIVES:
                raise ConfigError(f"{source}_objective", f"one of {', '.join(OBJECTIVES)}",
                                  getattr(self, f"{source}_objective"))
            if getattr(self, f"{source}_weight") < 0:
                raise ConfigError(f"{source}_weight", ">= 0", getattr(self, f"{source}_weight"))
        if self.total < 1:
            raise ConfigError("total", ">= 1", self.total)
        if not 0 <= self.mrben_dev_fraction + self.mrben_test_fraction < 1:
            raise ConfigError("mrben_dev_fraction + mrben_test_fraction", "in [0, 1)",
                              self.mrben_dev_fraction + self.mrben_test_fraction)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


# -- readers -----------------------------------------------------------------------------------------------------


def read_prm800k(path: str | Path, max_prefix_steps: int = 6) -> list[Solution]:
    """One solution per rated step: the prefix (taken as right: the raters continued it) and the candidate step,
    labelled wrong when rated -1. Unrated rows and longer prefixes are skipped."""
    out = []
    for r in read_rows(path, empty_ok=True):
        if r.get("rating") is None or len(r["prefix"]) > max_prefix_steps or not r["step"].strip():
            continue
        wrong = r["rating"] == -1
        k = len(r["prefix"])
        out.append(Solution(problem=r["problem"], steps=(*r["prefix"], r["step"]), id=r["id"],
                            label=k if wrong else -1, step_labels=(True,) * k + (not wrong,),
                            meta={"source": "prm800k", "error_reason": r.get("error_reason"),
                                  "context_steps": k, "node": f"{r['problem']}\x00{k}\x00{'|'.join(r['prefix'])}"}))
    return out


def read_mrben(path: str | Path) -> list[Solution]:
    """Mr-Ben solutions: the first wrong step and the annotators' explanations of it."""
    out = []
    for r in read_rows(path, empty_ok=True):
        label = int(r["label"])
        steps = tuple(r["steps"])
        labels = tuple(True if i < label or label < 0 else (False if i == label else None) for i in range(len(steps)))
        reasons = [e for e in (r.get("error_reasons") or []) if e and e.strip()]
        out.append(Solution(problem=r["problem"], steps=steps, id=r["id"], label=label, step_labels=labels,
                            answer=r.get("ground_truth"), outcome=bool(r.get("solution_correct")),
                            meta={"source": "mrben", "explanations": {str(label): reasons} if label >= 0 else {}}))
    return out


def read_mathcritique(path: str | Path) -> list[Solution]:
    """MathCritique solutions: the critic's verdict and one-sentence explanation per step."""
    out = []
    for r in read_rows(path, empty_ok=True):
        verdicts = [bool(v) for v in r["step_verdicts"]]
        steps = tuple(r["steps"])
        if not steps or len(verdicts) != len(steps):
            continue
        label = next((i for i, ok in enumerate(verdicts) if not ok), -1)
        explanations = {str(i): [e] for i, e in enumerate(r["step_explanations"]) if e}
        out.append(Solution(problem=r["problem"], steps=steps, id=r["id"], label=label, step_labels=tuple(verdicts),
                            outcome=bool(r.get("final_answer_correct")),
                            meta={"source": "mathcritique", "explanations": explanations}))
    return out


def read_labelled(path: str | Path) -> list[Solution]:
    """Labelled solutions (rows in genprm's `steps` shape, e.g. corrupt's output), or a `genprm review` labels file:
    each solution's latest labels (`genprm.labels.read_labels`), cut to the steps a person judged, up to the
    first wrong one (`trainable`)."""
    from genprm.labels import is_labels_file, read_labels, trainable

    if is_labels_file(path):
        return [t for s in read_labels(path) if (t := trainable(s)) is not None]
    return [Solution.from_dict(r) for r in read_rows(path, empty_ok=True)]


def split_by_question(solutions: Sequence[Solution], dev: float, test: float,
                      seed: int = 0) -> dict[str, list[Solution]]:
    """train/dev/test by question (solutions of one problem stay together), fixed by `seed`."""
    problems = sorted({s.problem for s in solutions})
    random.Random(seed).shuffle(problems)
    n_test, n_dev = round(len(problems) * test), round(len(problems) * dev)
    part = {p: "test" if i < n_test else "dev" if i < n_test + n_dev else "train" for i, p in enumerate(problems)}
    out: dict[str, list[Solution]] = {"train": [], "dev": [], "test": []}
    for s in solutions:
        out[part[s.problem]].append(s)
    return out


def mrben_split(path: str | Path, dev: float = 0.1, test: float = 0.2, seed: int = 0) -> dict[str, list[Solution]]:
    return split_by_question(read_mrben(path), dev, test, seed)


# -- selection ---------------------------------------------------------------------------------------------------


def select_prm800k(solutions: Sequence[Solution], n: int, seed: int = 0) -> list[Solution]:
    """`n` candidates, half wrong and half right where possible: first pairs of a wrong and a right candidate after
    the same prefix (hard negatives: the same context, one step apart), then wrong ones round-robin over the error
    categories (so frequent categories do not crowd out the rest), then right ones."""
    rng = random.Random(seed)
    by_node: dict[str, list[Solution]] = defaultdict(list)
    for s in solutions:
        by_node[s.meta["node"]].append(s)
    pairs = []
    for node in sorted(by_node):
        wrong = [s for s in by_node[node] if s.label >= 0]  # type: ignore[operator]
        right = [s for s in by_node[node] if s.label < 0]  # type: ignore[operator]
        if wrong and right:
            pairs.append((rng.choice(wrong), rng.choice(right)))
    rng.shuffle(pairs)
    chosen = [s for pair in pairs[: n // 2] for s in pair]
    taken = {s.id for s in chosen}
    by_category: dict[str, list[Solution]] = defaultdict(list)
    for s in solutions:
        if s.label >= 0 and s.id not in taken:  # type: ignore[operator]
            by_category[s.meta.get("error_reason") or ""].append(s)
    for group in by_category.values():
        rng.shuffle(group)
    queues = [by_category[c] for c in sorted(by_category)]
    n_wrong = n // 2 - sum(s.label >= 0 for s in chosen)  # type: ignore[operator]
    while n_wrong > 0 and any(queues):
        for q in queues:
            if q and n_wrong > 0:
                chosen.append(q.pop())
                n_wrong -= 1
    right = [s for s in solutions if s.label < 0 and s.id not in taken]  # type: ignore[operator]
    rng.shuffle(right)
    chosen += right[: max(0, n - len(chosen))]
    return chosen[:n]


def mix(config: RealConfig) -> dict[str, list[Solution]]:
    """The solutions of each source, sized by the weights (Mr-Ben: its train split only)."""
    available: dict[str, list[Solution]] = {}
    if config.prm800k and config.prm800k_weight > 0:
        available["prm800k"] = read_prm800k(config.prm800k, config.max_prefix_steps)
    if config.mrben and config.mrben_weight > 0:
        available["mrben"] = mrben_split(config.mrben, config.mrben_dev_fraction, config.mrben_test_fraction,
                                         config.split_seed)["train"]
    if config.mathcritique and config.mathcritique_weight > 0:
        available["mathcritique"] = [s for p in config.mathcritique.split(",") if p for s in read_mathcritique(p)]
    if config.labelled and config.labelled_weight > 0:
        available["labelled"] = read_labelled(config.labelled)
    weights = {s: getattr(config, f"{s}_weight") for s in available}
    total_weight = sum(weights.values()) or 1.0
    out = {}
    for source, items in available.items():
        n = round(config.total * weights[source] / total_weight)
        if source == "prm800k":
            out[source] = select_prm800k(items, min(n, len(items)), config.seed)
        else:
            out[source] = random.Random(f"{config.seed}:{source}").sample(items, min(n, len(items)))
    return out


# -- rendering ---------------------------------------------------------------------------------------------------


@functools.cache
def critique_templates() -> Any:
    """The paraphrase macros of prompts/distill/real_critiques.jinja."""
    source = (resources.files("genprm.prompts") / "distill" / "real_critiques.jinja").read_text(encoding="utf-8")
    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False).from_string(source).module


def explanation_sentence(raw: str, max_chars: int = 300) -> str:
    """A human explanation as a sentence about "the step": the annotators' meta-talk ("In this step, the model
    mistakenly ...", "The error in step 2 is ...") rewritten, cut to whole sentences within `max_chars`."""
    text = " ".join(raw.split())
    text = re.sub(r"^(?:The error (?:in|of) (?:step|this step)\s*\w*\s*(?:is|lies in|:)\s*(?:that\s*)?)", "", text,
                  flags=re.IGNORECASE)
    text = re.sub(r"^In (?:this|the) step,?\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\b(?:the model|the student|the solver|the solution)\b", "the step", text, flags=re.IGNORECASE)
    sentences = re.split(r"(?<=[.!?])\s+", text)
    out = ""
    for sentence in sentences:
        if out and len(out) + len(sentence) + 1 > max_chars:
            break
        out = f"{out} {sentence}".strip()
    if len(out) > max_chars:
        out = out[: max_chars].rsplit(" ", 1)[0] + "..."
    out = out[:1].upper() + out[1:] if out else out
    return out if out.endswith((".", "!", "?", "...")) else out + "."


def category_sentence(reason: str | None, variant: int) -> str:
    """A PRM800K error category ("incorrect_basic_arithmetic") as a sentence, by the first keyword it contains."""
    sentences = critique_templates().category_sentences
    name = (reason or "").lower()
    key = next((k for k in sentences if k and k in name), "")
    return sentences[key][variant % len(sentences[key])]


class RealCritiques:
    """Renders labelled real solutions into critiques (the `critique` objective) and bare verdicts (`direct`).

    Calculating steps keep the symbolic teacher's SymPy check (run in `sandbox`); the verdict and the sentence after
    the check come from the gold label and its explanation."""

    def __init__(self, protocol: VerificationProtocol, sandbox: Any | None = None, seed: int = 0) -> None:
        self.protocol = protocol
        self.symbolic = SymbolicTeacher(protocol, sandbox, check_quantities=False) if sandbox is not None else None
        self.seed = seed
        self.templates = critique_templates()

    def _explanation(self, solution: Solution, k: int, variant: int) -> str:
        reasons = (solution.meta.get("explanations") or {}).get(str(k)) or []
        if reasons:
            return explanation_sentence(reasons[variant % len(reasons)])
        return category_sentence(solution.meta.get("error_reason"), variant)

    def _variant(self, solution: Solution, k: int) -> int:
        return random.Random(f"{self.seed}:{solution.id}:{k}").randrange(1 << 16)

    def direct(self, solution: Solution) -> list[Critique]:
        """The verdict right after each step, up to the first error; context steps carry no loss."""
        context = int(solution.meta.get("context_steps", 0))
        end = solution.label if solution.label is not None and solution.label >= 0 else len(solution.steps) - 1
        return [Critique(segments=[(self.protocol.forced_verdict(k).lstrip("\n"), False)],
                         verdict=bool(solution.step_labels[k]) if solution.step_labels else k != solution.label,
                         score=1.0, train_verdict=k >= context)
                for k in range(end + 1)]

    def critique_many(self, solutions: Sequence[Solution]) -> list[list[Critique]]:
        """Critiques up to each solution's first error (context steps carry no loss)."""
        if self.symbolic is None:
            raise ValueError("the critique objective needs a sandbox for the calculation checks")
        checks = self.symbolic.critique_many(solutions)
        out = []
        for solution, checked in zip(solutions, checks, strict=True):
            end = solution.label if solution.label is not None and solution.label >= 0 else len(solution.steps) - 1
            context = int(solution.meta.get("context_steps", 0))
            critiques = []
            for k in range(end + 1):
                c = self._render(solution, k, checked[k])
                critiques.append(c if k >= context else replace(
                    c, segments=[(t, False) for t, _ in c.segments], train_verdict=False))
            out.append(critiques)
        return out

    def _render(self, solution: Solution, k: int, check: Critique) -> Critique:
        t, variant = self.templates, self._variant(solution, k)
        ok = k != solution.label
        ask = "\n" + self.protocol.verdict_prefix
        restated = f'The step says: "{solution.steps[k]}"'
        verdict_text = str(t.right(variant)) if ok else None
        if not check.code_runs or (ok and not check.verdict):
            # No calculation (or a check that contradicts the gold "right", e.g. rounding): judge the reasoning.
            lead = f"{restated} It has no calculation to check." if not check.code_runs else restated
            body = verdict_text if ok else str(t.wrong(self._explanation(solution, k, variant), variant))
            return Critique(segments=[(f"{lead} {body}{ask}", True)], verdict=ok, score=float(ok))
        *head, (conclusion, _) = check.segments
        conclusion = conclusion.removesuffix(ask)
        if ok:
            text = f"{conclusion} {verdict_text}"
        elif not check.verdict:  # the code found the error: keep its finding, add the human reason
            reason = t.wrong(self._explanation(solution, k, variant), variant)
            text = f"{conclusion.removesuffix(' The step is wrong.')} {reason}"
        else:
            text = f"{conclusion} {t.wrong_after_right_calculation(self._explanation(solution, k, variant), variant)}"
        return Critique(segments=[*head, (text + ask, True)], verdict=ok, score=float(ok),
                        code_runs=list(check.code_runs))


def records(solutions: Sequence[Solution], objective: str, renderer: RealCritiques) -> list[dict[str, Any]]:
    """Training records in synth's shape; with objective "both", two per solution (ids suffixed)."""
    from genprm.distill.synth import synth_record

    out = []
    if objective in ("critique", "both"):
        for s, critiques in zip(solutions, renderer.critique_many(solutions), strict=True):
            rec = synth_record(s, "real", critiques)
            out.append({**rec, "id": f"{s.id}#critique" if objective == "both" else s.id, "predicted": s.label})
    if objective in ("direct", "both"):
        for s in solutions:
            rec = synth_record(s, "real", renderer.direct(s))
            out.append({**rec, "id": f"{s.id}#direct" if objective == "both" else s.id, "predicted": s.label})
    return out
