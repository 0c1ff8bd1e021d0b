"""Problems with gold answers, in the formats users have them:

    gsm8k   {question, answer}             gold = what follows "####" in the answer
    math    {problem, solution[, answer]}  gold = `answer`, else the last \\boxed{...} of the solution
    plain   {problem, answer}

Rows may carry an `id`; without one the id is a hash of the problem text, so a resumed run recognises it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from genprm.errors import InputError
from genprm.jsonl import parse_rows


@dataclass(frozen=True)
class Problem:
    id: str
    problem: str
    gold: str


def read_problems(path: str | Path) -> Iterator[Problem | InputError]:
    """Yield one `Problem` per good row and one `InputError` per bad row of `path`.

    Raises:
        InputError: the file cannot be read at all (missing, not UTF-8, not JSON).
    """
    yield from parse_rows(path, lambda record: [problem_of(record)])


def problem_of(record: dict) -> Problem:
    """One row -> a `Problem`; `InputError` naming what is missing."""
    text = record.get("problem", record.get("question"))
    if not isinstance(text, str) or not text.strip():
        raise InputError("row has no 'problem' (or GSM8K 'question') text")
    gold = record.get("answer")
    if isinstance(gold, str) and "####" in gold:
        gold = gold.rsplit("####", 1)[1].replace(",", "")  # GSM8K: the worked solution, then "#### 1,200"
    elif gold is None and isinstance(record.get("solution"), str):
        gold = last_boxed(record["solution"])
    if isinstance(gold, int | float) and not isinstance(gold, bool):
        gold = str(gold)
    if not isinstance(gold, str) or not gold.strip():
        raise InputError("row has no gold answer ('answer', or a \\boxed{} answer in 'solution')")
    text = text.strip()
    row_id = record.get("id")
    if row_id is None:
        row_id = hashlib.sha1(text.encode()).hexdigest()[:12]
    return Problem(id=str(row_id), problem=text, gold=gold.strip())


def last_boxed(text: str) -> str | None:
    """The contents of the last \\boxed{...} in `text` (braces balanced), or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed{") - 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j]
    return None
