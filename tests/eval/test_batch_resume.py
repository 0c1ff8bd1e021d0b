"""Batch resume hardening without the model: repeated input ids (torn lines, short writes: tests/test_jsonl.py)."""

import json

from genprm.batch import BatchReport, select


def test_repeated_input_ids_are_verified_once(tmp_path):
    p = tmp_path / "in.jsonl"
    rows = [{"id": i, "problem": "p", "steps": ["a"]} for i in ("x", "y", "x", "z", "y")]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = BatchReport()
    assert [s.id for s in select(p, report=report)] == ["x", "y", "z"]
    assert report.duplicates == ["x", "y"]
    assert [s.id for s in select(p, skip_ids={"y"})] == ["x", "z"]
