"""The labels file `genprm review` writes: an append-only log, one row per action, each row a whole solution.

Every row is a solution in genprm's `steps` shape (what `Solution.from_dict`, `genprm distill real --labelled` and
`genprm eval --gold` read), holding the person's labels of that solution *after* the action, plus what the action was:

    {"id", "problem", "steps", "answer", "outcome",
     "step_labels": [true | false | null, ...],      right / wrong / unsure or not yet labelled
     "label": 2,                                      first wrong step, -1 all right, null not known yet
     "meta": {"review": {"marks": ["right", "wrong", "unsure", null, ...], "notes": {"1": "text"},
                         "seq": 17, "at": "2026-...Z", "client": "tab id",
                         "action": {"kind": "label" | "accept" | "undo" | "note", "changes": [...]},
                         "scored": "scored.jsonl", "fingerprint": "sha256 of problem and steps"}}}

The last row of an id is its current state; earlier rows are the history (nothing is ever rewritten).
`read_labels` is the documented reader: one `Solution` per labelled id, its latest labels. `trainable` cuts one
to what training may use. A row is written with flush + fsync before the page is told "saved", under an exclusive
`flock`, after reading what other writers appended since (two servers on one file interleave without loss).
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from genprm.errors import InputError
from genprm.types import Solution

MARKS = ("right", "wrong", "unsure")
KINDS = ("label", "accept", "undo", "note")
MAX_NOTE_CHARS = 4000


def fingerprint(problem: str, steps: tuple[str, ...] | list[str]) -> str:
    """What ties labels to one solution: a changed problem or step text is another solution, whatever its id."""
    return hashlib.sha256(json.dumps([problem, list(steps)], ensure_ascii=False).encode()).hexdigest()[:16]


@dataclass
class Labels:
    """One solution's labels as they stand: a mark per step (None: not labelled) and notes by step."""

    marks: list[str | None]
    notes: dict[int, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"marks": list(self.marks), "notes": {str(k): v for k, v in sorted(self.notes.items())}}


def step_labels(marks: list[str | None]) -> tuple[bool | None, ...]:
    return tuple({"right": True, "wrong": False}.get(m) if m else None for m in marks)  # type: ignore[misc]


def first_wrong(marks: list[str | None]) -> int | None:
    """The gold `label`: the first step marked wrong when every step before it is marked right; -1 when every step
    is marked right; None while it is not known (an unsure or unlabelled step comes first)."""
    for k, mark in enumerate(marks):
        if mark == "wrong":
            return k
        if mark != "right":
            return None
    return -1


def row(solution: Solution, labels: Labels, review: dict[str, Any]) -> dict[str, Any]:
    """The row written for `solution` after an action: the solution with the person's labels, and the action."""
    meta = {"review": {**labels.to_dict(), **review}}
    return {"id": solution.id, "problem": solution.problem, "steps": list(solution.steps),
            "step_labels": list(step_labels(labels.marks)), "label": first_wrong(labels.marks),
            "answer": solution.answer, "outcome": solution.outcome, "meta": meta}


def labels_of(record: dict[str, Any]) -> Labels:
    review = record["meta"]["review"]
    return Labels(list(review["marks"]), {int(k): v for k, v in (review.get("notes") or {}).items()})


def _check_row(record: Any, path: Path, line: int) -> dict[str, Any]:
    review = record.get("meta", {}).get("review") if isinstance(record, dict) else None
    if not isinstance(review, dict) or not isinstance(record.get("steps"), list) or "marks" not in review:
        raise InputError("not a genprm review labels file (a row without meta.review.marks); it is left as it is: "
                         "pass another --labels path", str(path), line)
    if len(review["marks"]) != len(record["steps"]) or any(m not in (*MARKS, None) for m in review["marks"]):
        raise InputError("malformed labels row (marks do not match the steps)", str(path), line)
    return record


def iter_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) of every complete row; a last line without its newline (a write cut by a crash, never
    acknowledged) is left out."""
    path = Path(path)
    data = path.read_bytes()
    lines = data.split(b"\n")
    for number, raw in enumerate(lines[:-1], 1):  # lines[-1]: b"" after a final newline, else a torn write
        if raw.strip():
            try:
                record = json.loads(raw)
            except ValueError:
                raise InputError("not a genprm review labels file (a line that is not JSON); it is left as it is: "
                                 "pass another --labels path", str(path), number) from None
            yield number, _check_row(record, path, number)


def is_labels_file(path: str | Path) -> bool:
    """Whether `path` is a `genprm review` labels file (its first row says so)."""
    try:
        with open(path, "rb") as f:
            first = json.loads(f.readline())
    except (OSError, ValueError):
        return False
    return isinstance(first, dict) and isinstance(first.get("meta"), dict) and "review" in first["meta"]


def read_labels(path: str | Path) -> list[Solution]:
    """The documented reader: one `Solution` per labelled id, with its latest labels, in first-labelled order.

    `step_labels` are True (right), False (wrong) or None (unsure, or not labelled); `label` is the first wrong step
    when the steps before it are all marked right, -1 when all are right, else None; `meta` keeps the marks and
    notes (meta["marks"], meta["notes"]; the notes also as meta["explanations"], the human explanations
    `genprm distill real` writes into critiques) and meta["source"] = "review".

    Raises:
        InputError: missing file, or not a labels file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", str(path))
    latest: dict[str, dict[str, Any]] = {}
    for _, record in iter_rows(path):
        latest[str(record["id"])] = record
    out = []
    for record in latest.values():
        review = record["meta"]["review"]
        solution = Solution.from_dict({**record, "meta": {}})
        notes = review.get("notes") or {}
        # A note is the person's explanation of the step: `distill real`'s critique objective writes it in.
        out.append(replace(solution, meta={"source": "review", "marks": review["marks"], "notes": notes,
                                           "explanations": {k: [v] for k, v in notes.items()},
                                           "scored": review.get("scored")}))
    return out


def trainable(solution: Solution) -> Solution | None:
    """What training may use of a reviewed solution: its steps up to (and with) the first one marked wrong, every
    step before it marked right; or, with no wrong step reached, the longest prefix marked right (all right, label
    -1). Steps after an unsure or unlabelled one are not known to follow a right prefix, so they are cut. None: nothing
    usable (the first step is unsure or unlabelled)."""
    labels = solution.step_labels or ()
    for k, ok in enumerate(labels):
        if ok is False:
            return replace(solution, steps=solution.steps[:k + 1], label=k, step_labels=(True,) * k + (False,))
        if ok is None:
            if k == 0:
                return None
            return replace(solution, steps=solution.steps[:k], label=-1, step_labels=(True,) * k)
    return replace(solution, label=-1, step_labels=(True,) * len(labels)) if labels else None


class LabelLog:
    """The labels file of one review: its current state, and the only way to change it (append an action).

    Thread-safe; and process-safe through `flock`: before each append it reads what others appended."""

    def __init__(self, path: str | Path, solutions: dict[str, Solution], scored: str = "") -> None:
        self.path, self.solutions, self.scored = Path(path), solutions, scored
        self.state: dict[str, Labels] = {}
        self.changed: dict[str, int] = {}  # id -> seq of its last row, for the pages' polling
        self.seq = 0  # rows read so far
        self._offset = 0
        self._lock = threading.Lock()
        self.torn = self._set_aside_torn_tail()
        with self._lock:
            self._catch_up()

    def _set_aside_torn_tail(self) -> int:
        """A crash can cut the last row short; that write was never acknowledged. Move its bytes to
        `<labels>.torn` (kept, not deleted) so the next row starts on a line of its own. Returns the bytes moved."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0
        with open(self.path, "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            data = f.read()
            if data.endswith(b"\n"):
                return 0
            keep = data.rfind(b"\n") + 1
            with open(self.path.with_name(self.path.name + ".torn"), "ab") as torn:
                torn.write(data[keep:] + b"\n")
            f.truncate(keep)
            return len(data) - keep

    def _catch_up(self) -> None:
        """Fold rows appended since the last read (by this process or another). Caller holds the lock."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a row still being written by another process is read next time
        base_line = self.seq
        for i, raw in enumerate(data[:end].split(b"\n")[:-1]):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                raise InputError("not a genprm review labels file (a line that is not JSON); it is left as it is: "
                                 "pass another --labels path", str(self.path), base_line + i + 1) from None
            record = _check_row(record, self.path, base_line + i + 1)
            self._check_matches(record, base_line + i + 1)
            self.seq += 1
            self.state[str(record["id"])] = labels_of(record)
            self.changed[str(record["id"])] = self.seq
        self._offset += end

    def _check_matches(self, record: dict[str, Any], line: int) -> None:
        solution = self.solutions.get(str(record["id"]))
        if solution is None:
            raise InputError(f"labels of id {record['id']!r}, which is not in the scored file: this labels file is "
                             "from another run; it is left as it is: pass another --labels path", str(self.path),
                             line)
        if fingerprint(solution.problem, solution.steps) != fingerprint(record["problem"], record["steps"]):
            raise InputError(f"id {record['id']!r} has other steps here than in the scored file: this labels file "
                             "is from another run; it is left as it is: pass another --labels path", str(self.path),
                             line)

    def current(self, id: str) -> Labels:
        return self.state.get(id) or Labels([None] * len(self.solutions[id].steps))

    def refresh(self) -> None:
        with self._lock:
            self._catch_up()

    def apply(self, id: str, kind: str, changes: list[dict[str, Any]], client: str = "",
              accept: list[bool] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
        """Apply one action and append its row (flushed and fsynced before returning).

        `changes`: [{"step", "field": "mark"|"note", "value", "expect"?}]; a change whose `expect` differs from the
        step's current value (another tab changed it since) is skipped and named in the second list. `accept` (kind
        "accept"): the verifier's verdicts, filled into the unmarked steps named by `changes`.
        Returns (applied changes with their old values, skipped messages); nothing applied: no row is written.
        """
        with self._lock, open(self.path, "ab") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # released when f closes
            self._catch_up()
            labels = self.current(id)
            labels = Labels(list(labels.marks), dict(labels.notes))
            applied, skipped = [], []
            for change in changes:
                step, name = int(change["step"]), change.get("field", "mark")
                old = labels.marks[step] if name == "mark" else labels.notes.get(step, "")
                value = change.get("value")
                if kind == "accept":
                    if old is not None:
                        continue  # accepting the verifier's verdicts never overwrites a person's mark
                    value = "right" if accept and accept[step] else "wrong"
                if "expect" in change and change["expect"] != old:
                    skipped.append(f"step {step + 1} was changed in another tab since; left as it is there")
                    continue
                if value == old:
                    continue
                if name == "mark":
                    labels.marks[step] = value
                elif value:
                    labels.notes[step] = value
                else:
                    labels.notes.pop(step, None)
                applied.append({"step": step, "field": name, "from": old, "to": value})
            if not applied:
                return applied, skipped
            solution = self.solutions[id]
            review = {"seq": self.seq + 1, "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                      "client": client, "action": {"kind": kind, "changes": applied}, "scored": self.scored,
                      "fingerprint": fingerprint(solution.problem, solution.steps)}
            f.write((json.dumps(row(solution, labels, review), ensure_ascii=False) + "\n").encode())
            f.flush()
            os.fsync(f.fileno())
            self._catch_up()  # reads our own row back: state, seq and offset move on together
            return applied, skipped

    def export(self) -> list[dict[str, Any]]:
        """One row per labelled solution, its latest state (the history left out)."""
        with self._lock:
            self._catch_up()
            return [row(self.solutions[id], labels, {"scored": self.scored})
                    for id, labels in self.state.items()]
