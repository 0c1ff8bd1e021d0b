"""Synthesis: a teacher critiques labelled solutions in the verifier's protocol; one readable JSONL record each.

A record is the solution (as `Solution.to_dict()`, gold label included for the filter; the teacher never reads
it) plus the teacher's name and one critique per step (see `teachers.Critique`). Records are appended as each chunk
finishes, and a re-run skips ids already in the output, so an interrupted synthesis resumes where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from genprm.distill.teachers import Critique
from genprm.jsonl import done_ids, write_rows
from genprm.types import Solution


def first_predicted_error(critiques: Sequence[Critique]) -> int:
    return next((i for i, c in enumerate(critiques) if not c.verdict), -1)


def synth_record(solution: Solution, teacher: str, critiques: Sequence[Critique]) -> dict[str, Any]:
    return {**solution.to_dict(), "teacher": teacher, "predicted": first_predicted_error(critiques),
            "critiques": [c.to_dict() for c in critiques]}


def synthesize(solutions: Sequence[Solution], teacher: Any, out: str | Path, chunk: int = 64,
               on_chunk: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Critique every solution not yet in `out` with `teacher`; returns counts and timing.

    Args:
        solutions: labelled solutions (`corrupt`'s output or any labelled reader's).
        teacher: a `SymbolicTeacher` or `BackendTeacher` (anything with `name` and `critique_many`).
        out: the JSONL file records are appended to.
        chunk: solutions per teacher call (the symbolic teacher runs a chunk's code blocks concurrently).
        on_chunk: called with (done, total) after each chunk, for a progress bar.
    """
    skip = done_ids(Path(out))
    todo = [s for s in solutions if s.id not in skip]
    started, written = time.perf_counter(), 0
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        critiques = teacher.critique_many(part)
        written += write_rows(out, (synth_record(s, teacher.name, c) for s, c in zip(part, critiques, strict=True)),
                              append=True)
        if on_chunk:
            on_chunk(written, len(todo))
    return {"skipped_done": len(solutions) - len(todo), "written": written,
            "seconds": round(time.perf_counter() - started, 1)}
