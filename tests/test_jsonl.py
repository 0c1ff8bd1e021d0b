"""genprm.jsonl: the one reader and writer of rows; bad rows name file and row, writes survive a kill."""

import gzip
import json
import os

import pytest

from genprm.errors import InputError
from genprm.jsonl import JsonlWriter, done_ids, iter_rows, parse_rows, read_rows, write_rows
from genprm.types import Solution, VerificationResult


def test_jsonl_list_and_single_object_read_alike(tmp_path):
    rows = [{"id": "a"}, {"id": "b"}]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    (tmp_path / "b.json").write_text(json.dumps(rows, indent=2))
    (tmp_path / "c.json").write_text(json.dumps(rows[0], indent=2))
    assert list(read_rows(tmp_path / "a.jsonl")) == rows
    assert list(read_rows(tmp_path / "b.json")) == rows
    assert list(read_rows(tmp_path / "c.json")) == rows[:1]


def test_gzip_is_read_through(tmp_path):
    p = tmp_path / "rows.jsonl.gz"
    p.write_bytes(gzip.compress(b'{"id": 1}\n{"id": 2}\n'))
    assert [r["id"] for r in read_rows(p)] == [1, 2]


def test_bad_rows_are_values_in_iter_rows_and_raise_in_read_rows(tmp_path):
    p = tmp_path / "mix.jsonl"
    p.write_text('{"id": 1}\n{oops\n[1, 2]\n{"id": 4}\n')
    kinds = [(row, type(r).__name__) for row, r in iter_rows(p)]
    assert kinds == [(1, "dict"), (2, "InputError"), (3, "InputError"), (4, "dict")]
    with pytest.raises(InputError, match="invalid JSON") as e:
        list(read_rows(p))
    assert str(e.value).startswith(f"{p}, row 2: ")


def test_parse_rows_names_the_row_a_parser_refuses(tmp_path):
    def parse(row):
        if "n" not in row:
            raise InputError("row has no 'n'")
        return [row["n"]] * row["n"]

    p = tmp_path / "n.jsonl"
    p.write_text('{"n": 2}\n{"m": 1}\n{"n": 1}\n')
    items = list(parse_rows(p, parse))
    assert items[:2] == [2, 2] and items[3] == 1
    assert isinstance(items[2], InputError) and str(items[2]) == f"{p}, row 2: row has no 'n'"


@pytest.mark.parametrize(("content", "message"), [(b"", "file is empty"), (b"\xe9", "not UTF-8"),
                                                  (b"[1, 2", "invalid JSON")])
def test_file_level_errors_are_one_line(tmp_path, content, message):
    p = tmp_path / "f.json"
    p.write_bytes(content)
    with pytest.raises(InputError, match=message) as e:
        list(read_rows(p))
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_empty_ok_and_missing(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    assert list(read_rows(tmp_path / "empty.jsonl", empty_ok=True)) == []
    with pytest.raises(InputError, match="no such file"):
        list(read_rows(tmp_path / "nope.jsonl"))
    with pytest.raises(InputError, match="is a directory"):
        list(read_rows(tmp_path))


def test_write_rows_replaces_or_appends_and_takes_results(tmp_path):
    p = tmp_path / "sub" / "out.jsonl"
    result = VerificationResult(Solution("p", ("a",), id="r"), (), -1, 1.0, "min", 0.5)
    assert write_rows(p, [{"id": "x", "text": "café"}]) == 1
    assert write_rows(p, [result], append=True) == 1
    assert p.read_text(encoding="utf-8") == '{"id": "x", "text": "café"}\n' + result.to_json() + "\n"
    write_rows(p, [{"id": "y"}])
    assert done_ids(p) == {"y"}


def test_torn_last_line_is_cut_and_redone(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"id": "a"}\n{"id": "b"}\n{"id": "c", "solut')
    assert done_ids(out) == {"a", "b"}
    assert out.read_bytes() == b'{"id": "a"}\n{"id": "b"}\n'


def test_short_write_is_taken_back(tmp_path, monkeypatch):
    out = tmp_path / "out.jsonl"
    result = VerificationResult(Solution("p", ("a",), id="a"), (), -1, 1.0, "min", 0.5)
    writer = JsonlWriter(out)
    writer.write(result)
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, data[: len(data) // 2]))
    with pytest.raises(OSError, match="short write"):
        writer.write(result)
    monkeypatch.undo()
    writer.close()
    assert out.read_text() == result.to_json() + "\n"
