"""Batch resume hardening without the model: repeated input ids, torn last lines, short writes."""

import json
import os

import pytest

from genprm.batch import BatchReport, ResultWriter, done_ids, select
from genprm.types import Solution, VerificationResult


def test_repeated_input_ids_are_verified_once(tmp_path):
    p = tmp_path / "in.jsonl"
    rows = [{"id": i, "problem": "p", "steps": ["a"]} for i in ("x", "y", "x", "z", "y")]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = BatchReport()
    assert [s.id for s in select(p, report=report)] == ["x", "y", "z"]
    assert report.duplicates == ["x", "y"]
    assert [s.id for s in select(p, skip_ids={"y"})] == ["x", "z"]


def test_torn_last_line_is_cut_and_redone(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"id": "a"}\n{"id": "b"}\n{"id": "c", "solut')
    assert done_ids(out) == {"a", "b"}
    assert out.read_bytes() == b'{"id": "a"}\n{"id": "b"}\n'


def test_short_write_is_taken_back(tmp_path, monkeypatch):
    out = tmp_path / "out.jsonl"
    result = VerificationResult(Solution("p", ("a",), id="a"), (), -1, 1.0, "min", 0.5)
    writer = ResultWriter(out)
    writer.write(result)
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, data[: len(data) // 2]))
    with pytest.raises(OSError, match="short write"):
        writer.write(result)
    monkeypatch.undo()
    writer.close()
    assert out.read_text() == result.to_json() + "\n"
