"""Problems with gold answers in the formats users have: GSM8K, MATH, plain; bad rows are reported, not fatal."""

from __future__ import annotations

import json

from helpers.cli import genprm, one_line_error

from genprm.batch import BatchReport
from genprm.errors import InputError
from genprm.search import read_problems, select_problems


def _write(tmp_path, rows, name="p.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_formats(tmp_path):
    path = _write(tmp_path, [
        {"question": "Q1?", "answer": "Half of 2,400 is 1,200.\n#### 1,200"},
        {"problem": "P2?", "solution": "So $x = \\boxed{\\frac{1}{2}}$.", "id": "m"},
        {"problem": "P3?", "answer": "\\frac{1}{2}", "solution": "... \\boxed{0.5}"},
        {"problem": "P4?", "answer": 12},
        {"problem": "no gold"},
        {"text": "no problem"},
    ])
    items = list(read_problems(path))
    assert [(p.problem, p.gold) for p in items[:4]] == [("Q1?", "1200"), ("P2?", "\\frac{1}{2}"),
                                                      ("P3?", "\\frac{1}{2}"), ("P4?", "12")]
    assert items[1].id == "m" and len(items[0].id) == 12
    assert isinstance(items[4], InputError) and "row 5" in str(items[4]) and "gold" in str(items[4])
    assert isinstance(items[5], InputError) and "row 6" in str(items[5])


def test_selection_takes_each_id_once_skips_done_ones_and_stops_at_the_limit(tmp_path):
    rows = [{"id": i, "problem": f"P{i}?", "answer": "1"} for i in ("a", "b", "a", "c", "d")]
    path = _write(tmp_path, [*rows[:2], {"problem": "no gold"}, *rows[2:]])
    report = BatchReport()
    assert [p.id for p in select_problems(path, skip_ids={"b"}, limit=3, report=report)] == ["a", "c"]
    assert (report.skipped_done, report.duplicates, len(report.bad_rows)) == (1, ["a"], 1)


def test_bad_input_is_one_line(tmp_path):
    one_line_error(genprm("search", tmp_path / "missing.jsonl"), "no such file")
    one_line_error(genprm("search", _write(tmp_path, [{"problem": "x"}])), "gold answer")
    one_line_error(genprm("search", _write(tmp_path, [{"problem": "x", "answer": "1"}]), "--beam-width", "0"),
                   "beam_width must be >= 1")
