"""Readers: turn files in the common PRM data formats into `Solution`s.

Formats (auto-detected from the first good row's keys, or forced with `format=`):
    steps        {problem, steps[, id, label]}            genprm's own; ProcessBench rows are this shape too
    prmbench     {modified_question, modified_process, error_steps (1-based)[, idx, classification]}
    trl          {prompt, completions, labels}              TRL's stepwise-supervision rows
    gsm8k        {question, answer}                          one step per line, `<<a*b=c>>` annotations stripped
    gsm8k-model  {question, ground_truth, <name>: {is_correct, solution}, ...}   one Solution per model solution

A file is a single JSON object, a JSON list, or JSONL (read by `genprm.jsonl`). File-level problems (missing, not
UTF-8, not JSON) raise `InputError`; row-level problems are yielded as `InputError` values by `read_solutions`, so a
batch can report a bad row and go on with the good ones.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from genprm.errors import InputError
from genprm.jsonl import parse_rows
from genprm.types import Solution

FORMATS = ("auto", "steps", "prmbench", "trl", "gsm8k", "gsm8k-model")
# A step longer than this is not a reasoning step (and would not fit the model's context anyway).
MAX_STEP_CHARS = 20_000
_ANNOTATION = re.compile(r"<<[^<>]*>>")


def read_solutions(path: str | Path, format: str = "auto") -> Iterator[Solution | InputError]:
    """Yield one `Solution` per good row and one `InputError` per bad row of `path`.

    Raises:
        InputError: the file cannot be read at all (missing, not UTF-8, not JSON, unknown format).
    """
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}", str(path))
    fmt = None if format == "auto" else format

    def parse(record: dict[str, Any]) -> list[Solution]:
        nonlocal fmt
        fmt = fmt or detect_format(record)  # the first good row's keys decide for the whole file
        return parse_record(record, fmt, default_id=None)

    yield from parse_rows(path, parse)


def load_solutions(path: str | Path, format: str = "auto") -> list[Solution]:
    """Read every solution of `path`; the first bad row raises `InputError`."""
    solutions = []
    for item in read_solutions(path, format):
        if isinstance(item, InputError):
            raise item
        solutions.append(item)
    return solutions


def detect_format(record: dict[str, Any]) -> str:
    keys = set(record)
    if {"problem", "steps"} <= keys:
        return "steps"
    if {"modified_question", "modified_process"} <= keys:
        return "prmbench"
    if {"prompt", "completions"} <= keys:
        return "trl"
    if {"question", "ground_truth"} <= keys:
        return "gsm8k-model"
    if {"question", "answer"} <= keys:
        return "gsm8k"
    if keys & {"problem", "steps"}:
        return "steps"  # half a steps row: parsing it names what is missing
    raise InputError(f"cannot tell the format from keys {sorted(keys)[:8]}; a row needs 'problem' and 'steps'")


def parse_record(record: dict[str, Any], fmt: str, default_id: str | None = None) -> list[Solution]:
    """Turn one record of format `fmt` into solutions (one, except for gsm8k-model rows)."""
    if fmt == "steps":
        label = record.get("label")
        step_labels = record.get("step_labels")
        return [
            _solution(
                record.get("problem"),
                record.get("steps"),
                id=record.get("id", default_id),
                label=label,
                step_labels=tuple(step_labels) if step_labels is not None else None,
                answer=record.get("answer"),
                outcome=record.get("outcome"),
            )
        ]
    if fmt == "prmbench":
        steps = record.get("modified_process")
        errors = [int(i) for i in record.get("error_steps") or []]
        n = len(steps) if isinstance(steps, list) else 0
        # error_steps are 1-based; an index past the end (151 records of PRMBench) is kept in meta for the
        # evaluator to report, and left out of the per-step labels.
        step_labels = tuple(i + 1 not in errors for i in range(n))
        return [
            _solution(
                record.get("modified_question"),
                steps,
                id=_prmbench_id(record, default_id),
                label=min(errors) - 1 if errors else -1,
                step_labels=step_labels,
                meta={"error_steps": errors, "classification": record.get("classification")},
            )
        ]
    if fmt == "trl":
        labels = record.get("labels")
        step_labels = tuple(bool(x) for x in labels) if isinstance(labels, list) else None
        label = None
        if step_labels is not None:
            label = next((i for i, ok in enumerate(step_labels) if not ok), -1)
        return [_solution(record.get("prompt"), record.get("completions"), id=record.get("id", default_id),
                          label=label, step_labels=step_labels)]
    if fmt == "gsm8k":
        answer = record.get("answer")
        if not isinstance(answer, str):
            raise InputError("'answer' must be a string")
        steps, final = split_gsm8k(answer, final_marker="####")
        return [_solution(record.get("question"), steps, id=record.get("id", default_id), label=-1,
                          step_labels=tuple(True for _ in steps), answer=final, outcome=True)]
    if fmt == "gsm8k-model":
        question = record.get("question")
        truth = record.get("ground_truth")
        gold = split_gsm8k(truth, final_marker="A:")[1] if isinstance(truth, str) else None
        solutions = []
        for name, value in record.items():
            if isinstance(value, dict) and "solution" in value:
                steps, _ = split_gsm8k(value["solution"], final_marker="A:")
                base = _content_id(question, steps) if default_id is None else default_id
                solutions.append(_solution(question, steps, id=f"{base}:{name}", answer=gold,
                                           outcome=value.get("is_correct"), meta={"policy": name}))
        if not solutions:
            raise InputError("a gsm8k-model row needs at least one {is_correct, solution} entry")
        return solutions
    raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _prmbench_id(record: dict[str, Any], default_id: str | None) -> str | None:
    """PRMBench's `idx` repeats across its classification files; like its own evaluator, key on both."""
    idx, cls = record.get("idx"), record.get("classification")
    if idx is None:
        return default_id
    return f"{cls}:{idx}" if cls else str(idx)


def split_gsm8k(text: str, final_marker: str) -> tuple[list[str], str | None]:
    """Split a GSM8K-style answer into steps (annotations stripped) and the final answer.

    The final answer becomes a last step of its own ("The answer is 72."), since a wrong final aggregation is an
    error a verifier must be able to flag.
    """
    steps, final = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith(final_marker):
            final = line[len(final_marker):].strip()
            steps.append(f"The answer is {final}.")
        else:
            steps.append(_ANNOTATION.sub("", line))
    return steps, final


def _solution(problem: Any, steps: Any, id: Any = None, **fields: Any) -> Solution:
    if not isinstance(problem, str) or not problem.strip():
        raise InputError("row has no problem text")
    if steps is None:
        raise InputError("row has no steps")
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise InputError("'steps' must be a list of strings")
    steps = [s.strip() for s in steps]
    if not steps or not any(steps):
        raise InputError("row has no steps")
    if any(not s for s in steps):
        raise InputError(f"step {next(i for i, s in enumerate(steps) if not s) + 1} is empty")
    for i, s in enumerate(steps):
        if len(s) > MAX_STEP_CHARS:
            raise InputError(f"step {i + 1} is {len(s):,} characters long (the limit is {MAX_STEP_CHARS:,})")
    label = fields.get("label")
    if label is not None and (not isinstance(label, int) or not -1 <= label):
        raise InputError(f"label must be -1 or a step index, got {label!r}")
    return Solution(problem=problem.strip(), steps=tuple(steps), id=str(id) if id is not None else
                    _content_id(problem, steps), **fields)


def _content_id(problem: str, steps: list[str]) -> str:
    # Stable across runs and row order, so a resumed batch recognises what it already scored.
    digest = hashlib.sha1(json.dumps([problem, steps], ensure_ascii=False).encode()).hexdigest()
    return digest[:12]


def as_solution(value: Solution | Mapping[str, Any], row: int | None = None) -> Solution:
    """What the Python API accepts as one solution: a `Solution`, or a dict with `problem` and `steps` (a list of
    strings; `id`, `label` and the other `Solution` fields are optional). Anything else is an `InputError` naming
    the problem, as the CLI would print it. A solution given without an id keeps the empty id (seeds derive from
    it, so the API and `genprm verify` of a file agree only where the file gives ids)."""
    if isinstance(value, Solution):
        try:
            _solution(value.problem, list(value.steps) if isinstance(value.steps, tuple | list) else value.steps)
        except InputError as e:
            raise InputError(e.message, row=row) from None
        return value
    if not isinstance(value, Mapping):
        raise InputError(f"a solution is a Solution or a dict with 'problem' and 'steps', got {type(value).__name__}",
                         row=row)
    known = {f.name for f in fields(Solution)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise InputError(f"unknown solution field(s) {', '.join(map(repr, unknown))}; expected {sorted(known)}",
                         row=row)
    try:
        _solution(value.get("problem"), value.get("steps"), label=value.get("label"))
    except InputError as e:
        raise InputError(e.message, row=row) from None
    return Solution.from_dict({**value, "id": value.get("id", "")})
