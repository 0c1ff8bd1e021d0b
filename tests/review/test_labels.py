"""The labels file on real files: rows in the shape the readers take, history kept, two writers interleaved, a
torn last row set aside, and files from elsewhere refused untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.genprm_review import GSM8K_SCORED

from genprm.errors import InputError
from genprm.eval.scored import load_results
from genprm.labels import LabelLog, first_wrong, is_labels_file, read_labels, trainable
from genprm.types import Solution

RESULTS = load_results(GSM8K_SCORED)
SOLUTIONS = {r.id: r.solution for r in RESULTS}
A, B = RESULTS[0].id, RESULTS[1].id  # four steps each


def mark(log: LabelLog, id: str, step: int, value: str | None, **extra) -> tuple[list, list]:
    return log.apply(id, "label", [{"step": step, "value": value, **extra}], client="test")


def test_every_action_is_a_row_in_the_steps_shape_and_the_last_row_of_an_id_wins(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    log = LabelLog(path, SOLUTIONS)
    mark(log, A, 0, "right")
    mark(log, A, 1, "wrong")
    log.apply(A, "note", [{"step": 1, "field": "note", "value": "20 + 1/4 is not a quarter more"}])
    mark(log, B, 0, "unsure")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 4 and [r["meta"]["review"]["seq"] for r in rows] == [1, 2, 3, 4]
    assert all(Solution.from_dict(r).steps == SOLUTIONS[r["id"]].steps for r in rows)  # each row reads alone
    assert rows[1]["step_labels"] == [True, False, None, None] and rows[1]["label"] == 1
    assert rows[1]["meta"]["review"]["action"] == {"kind": "label", "changes": [
        {"step": 1, "field": "mark", "from": None, "to": "wrong"}]}
    a, b = read_labels(path)
    assert (a.id, a.label, a.step_labels) == (A, 1, (True, False, None, None))
    assert a.meta["notes"] == {"1": "20 + 1/4 is not a quarter more"}
    assert a.meta["explanations"] == {"1": ["20 + 1/4 is not a quarter more"]}
    assert (b.label, b.step_labels[0], b.meta["marks"][0]) == (None, None, "unsure")
    assert is_labels_file(path) and not is_labels_file(GSM8K_SCORED)
    # Reopening resumes: the state is the file's.
    again = LabelLog(path, SOLUTIONS)
    assert again.current(A).marks == ["right", "wrong", None, None] and again.seq == 4


def test_accept_fills_only_unmarked_steps_and_undo_skips_a_step_another_tab_changed(tmp_path: Path) -> None:
    log = LabelLog(tmp_path / "labels.jsonl", SOLUTIONS)
    mark(log, A, 1, "wrong")
    applied, _ = log.apply(A, "accept", [{"step": k} for k in range(3)], accept=[True, True, False, True])
    assert [(c["step"], c["to"]) for c in applied] == [(0, "right"), (2, "wrong")]  # step 1 is the person's
    assert log.current(A).marks == ["right", "wrong", "wrong", None]
    mark(log, A, 2, "right")  # another tab relabels step 2 after the accept
    undone, skipped = log.apply(A, "undo", [{"step": c["step"], "value": c["from"], "expect": c["to"]}
                                            for c in applied])
    assert [c["step"] for c in undone] == [0] and skipped == [
        "step 3 was changed in another tab since; left as it is there"]
    assert log.current(A).marks == [None, "wrong", "right", None]
    assert mark(log, A, 1, "wrong") == ([], [])  # no change, no row
    assert log.seq == 4


def test_two_writers_on_one_file_lose_nothing(tmp_path: Path) -> None:
    """Two servers (or a server restarted beside a stale one) append to one file: each reads the other's rows
    under the lock before writing, so neither row undoes the other."""
    path = tmp_path / "labels.jsonl"
    one, two = LabelLog(path, SOLUTIONS), LabelLog(path, SOLUTIONS)
    mark(one, A, 0, "right")
    mark(two, A, 1, "wrong")  # two has not read one's row yet: it does so before writing
    mark(one, A, 2, "unsure")
    assert read_labels(path)[0].meta["marks"] == ["right", "wrong", "unsure", None]
    two.refresh()
    assert two.current(A).marks == one.current(A).marks and two.seq == one.seq == 3


def test_a_row_torn_by_a_crash_is_set_aside_and_the_saved_rows_kept(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    log = LabelLog(path, SOLUTIONS)
    mark(log, A, 0, "right")
    saved = path.read_bytes()
    path.write_bytes(saved + saved[:40])  # a crash in the middle of the next write
    assert read_labels(path)[0].meta["marks"][0] == "right"  # the readers skip the torn row
    reopened = LabelLog(path, SOLUTIONS)
    assert reopened.torn == 40 and path.read_bytes() == saved
    assert (tmp_path / "labels.jsonl.torn").read_bytes() == saved[:40] + b"\n"
    mark(reopened, A, 1, "wrong")
    assert read_labels(path)[0].meta["marks"][:2] == ["right", "wrong"]


def test_labels_of_another_run_and_files_that_are_not_labels_are_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    mark(LabelLog(path, SOLUTIONS), A, 0, "right")
    before = path.read_bytes()
    other = {B: SOLUTIONS[B]}  # a scored file without A
    with pytest.raises(InputError, match=f"labels of id '{A}', which is not in the scored file: this labels file "
                                         "is from another run; it is left as it is"):
        LabelLog(path, other)
    changed = {A: Solution(SOLUTIONS[A].problem, ("other", "steps", "x", "y"), id=A)}
    with pytest.raises(InputError, match="has other steps here than in the scored file"):
        LabelLog(path, changed)
    assert path.read_bytes() == before
    with pytest.raises(InputError, match="not a genprm review labels file"):
        LabelLog(GSM8K_SCORED, SOLUTIONS)  # the scored file passed as --labels
    assert (tmp_path / "labels.jsonl.torn").exists() is False


@pytest.mark.parametrize(("marks", "label", "kept"), [
    (["right", "wrong", None, None], 1, 2),
    (["right", "right", "unsure", "wrong"], None, 2),  # unsure before the wrong one: the right prefix only
    (["right", "right", "right", "right"], -1, 4),
    (["unsure", "wrong", None, None], None, 0),
    (["wrong", "right", None, None], 0, 1),
])
def test_label_and_what_training_may_use(marks: list, label: int | None, kept: int) -> None:
    assert first_wrong(marks) == label
    step_labels = tuple({"right": True, "wrong": False}.get(m) for m in marks)
    solution = Solution("p", ("a", "b", "c", "d"), id="x", label=label, step_labels=step_labels)
    cut = trainable(solution)
    if kept == 0:
        assert cut is None
        return
    assert cut.step_labels == step_labels[:kept] and len(cut.step_labels) == kept
    assert cut.label == (kept - 1 if step_labels[kept - 1] is False else -1)
    assert cut.steps == solution.steps[:kept]
