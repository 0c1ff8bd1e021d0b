import json

import pytest

from genprm.data import MAX_STEP_CHARS, load_solutions, read_solutions, split_gsm8k
from genprm.errors import InputError


def write(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


def test_single_object(tmp_path):
    p = write(tmp_path, "s.json", json.dumps({"problem": "1+1?", "steps": ["1+1=2", "So 2."]}))
    [s] = load_solutions(p)
    assert s.problem == "1+1?" and s.steps == ("1+1=2", "So 2.") and s.id  # content id when none is given
    assert load_solutions(p)[0].id == s.id  # stable across reads


def test_json_list_and_jsonl_are_the_same_solutions(tmp_path):
    rows = [{"id": "a", "problem": "p1", "steps": ["x"]}, {"id": "b", "problem": "p2", "steps": ["y", "z"]}]
    as_list = load_solutions(write(tmp_path, "l.json", json.dumps(rows)))
    as_jsonl = load_solutions(write(tmp_path, "l.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n"))
    assert as_list == as_jsonl and [s.id for s in as_list] == ["a", "b"]


def test_processbench_row(tmp_path):
    row = {"id": "gsm8k-0", "generator": "m", "problem": "p", "steps": ["a", "b", "c"], "label": 1,
           "final_answer_correct": False}
    [s] = load_solutions(write(tmp_path, "pb.jsonl", json.dumps(row)))
    assert s.id == "gsm8k-0" and s.label == 1


def test_prmbench_row_uses_modified_fields_and_one_based_error_steps(tmp_path):
    row = {"original_question": "orig", "modified_question": "mod", "original_process": ["o"],
           "modified_process": ["s1", "s2", "s3"], "error_steps": [2, 3], "idx": 7, "classification": "circular"}
    [s] = load_solutions(write(tmp_path, "prm.jsonl", json.dumps(row)))
    assert s.problem == "mod" and s.steps == ("s1", "s2", "s3")
    assert s.label == 1 and s.step_labels == (True, False, False) and s.id == "circular:7"
    assert s.meta["classification"] == "circular"


def test_trl_stepwise_row(tmp_path):
    row = {"prompt": "q", "completions": ["a", "b", "c"], "labels": [True, False, True]}
    [s] = load_solutions(write(tmp_path, "trl.jsonl", json.dumps(row)))
    assert s.steps == ("a", "b", "c") and s.label == 1 and s.step_labels == (True, False, True)


def test_gsm8k_row_strips_annotations_and_keeps_final_answer_as_a_step(tmp_path):
    row = {"question": "q", "answer": "She sold 48/2 = <<48/2=24>>24 clips.\nIn all 48+24 = <<48+24=72>>72.\n#### 72"}
    [s] = load_solutions(write(tmp_path, "g.jsonl", json.dumps(row)))
    assert s.steps == ("She sold 48/2 = 24 clips.", "In all 48+24 = 72.", "The answer is 72.")
    assert s.answer == "72" and s.label == -1


def test_gsm8k_model_solutions_row_gives_one_solution_per_model(tmp_path):
    row = {"question": "q", "ground_truth": "2 + 2 = <<2+2=4>>4\nA: 4",
           "6b": {"is_correct": False, "solution": "2 + 2 = 5\nA: 5"},
           "175b": {"is_correct": True, "solution": "2 + 2 = 4\nA: 4"}}
    sols = load_solutions(write(tmp_path, "m.jsonl", json.dumps(row)))
    assert [s.outcome for s in sols] == [False, True] and all(s.answer == "4" for s in sols)
    assert sols[0].steps == ("2 + 2 = 5", "The answer is 5.") and sols[0].id != sols[1].id


def test_shared_data_files_read_cleanly():
    from pathlib import Path

    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not shared.exists():
        pytest.skip("../shared/data is not beside the checkout")
    for path, fmt in [(shared / "gsm8k" / "train.jsonl", "gsm8k"),
                      (shared / "prmbench" / "prm800k_test_p1_4o_circular.jsonl", "prmbench")]:
        items = list(read_solutions(path))
        assert items and not [i for i in items if isinstance(i, InputError)], path
        assert all(s.meta.get("classification") or fmt == "gsm8k" for s in items)


def test_split_gsm8k():
    assert split_gsm8k("a <<1+1=2>>2\n\n#### 2", "####") == (["a 2", "The answer is 2."], "2")


# -- bad input: one clear error naming file and row -----------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", '{"problem": "p", "steps": ["a"', "invalid JSON"),
        ("bad.json", b'{"problem": "caf\xe9", "steps": ["a"]}', "not UTF-8"),
        ("empty.json", "", "file is empty"),
        ("list.json", "[1, 2", "invalid JSON"),
    ],
)
def test_file_level_errors_raise(tmp_path, name, content, message):
    p = write(tmp_path, name, content)
    with pytest.raises(InputError, match=message) as e:
        load_solutions(p)
    assert str(p) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_solutions(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"steps": ["a"]}, "no problem"),
        ({"problem": "", "steps": ["a"]}, "no problem"),
        ({"problem": "p"}, "no steps"),
        ({"problem": "p", "steps": []}, "no steps"),
        ({"problem": "p", "steps": ["a", "  "]}, "step 2 is empty"),
        ({"problem": "p", "steps": "a"}, "must be a list of strings"),
        ({"problem": "p", "steps": ["x" * (MAX_STEP_CHARS + 1)]}, "characters long"),
        ({"problem": "p", "steps": ["a"], "label": "wrong"}, "label"),
    ],
)
def test_row_errors_name_the_row(tmp_path, row, message):
    p = write(tmp_path, "rows.jsonl", json.dumps({"problem": "ok", "steps": ["fine"]}) + "\n" + json.dumps(row))
    items = list(read_solutions(p))
    assert len(items) == 2
    error = items[1]
    assert isinstance(error, InputError) and error.row == 2 and message in str(error)
    assert f"{p}, row 2" in str(error)


def test_a_1mb_step_is_a_row_error_not_a_crash(tmp_path):
    p = write(tmp_path, "big.json", json.dumps({"problem": "p", "steps": ["1" * 1_000_000]}))
    with pytest.raises(InputError, match="step 1 is 1,000,000 characters long"):
        load_solutions(p)


def test_bad_jsonl_line_is_reported_and_good_rows_still_read(tmp_path):
    p = write(tmp_path, "mix.jsonl", '{"problem": "p", "steps": ["a"]}\n{oops\n{"problem": "q", "steps": ["b"]}\n')
    items = list(read_solutions(p))
    assert [type(i).__name__ for i in items] == ["Solution", "InputError", "Solution"]
    assert items[1].row == 2


def test_a_row_in_no_known_format(tmp_path):
    with pytest.raises(InputError, match="cannot tell the format"):
        load_solutions(write(tmp_path, "a.jsonl", json.dumps({"text": "hello"})))


def test_unknown_format(tmp_path):
    with pytest.raises(InputError, match="unknown format"):
        list(read_solutions(write(tmp_path, "a.json", "{}"), format="csv"))
