"""The CLI on bad input: one line, exit code 2, no traceback, and never before checking everything it can."""

import json

import pytest
from helpers.cli import genprm, one_line_error


def test_missing_file(tmp_path):
    one_line_error(genprm("verify", str(tmp_path / "nope.json")), "nope.json", "no such file")


def test_invalid_json(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"problem": "p", "steps": [')
    one_line_error(genprm("verify", str(p)), "bad.json", "invalid JSON")


def test_non_utf8(tmp_path):
    p = tmp_path / "latin1.json"
    p.write_bytes(b'{"problem": "caf\xe9", "steps": ["a"]}')
    one_line_error(genprm("verify", str(p)), "latin1.json", "not UTF-8")


@pytest.mark.parametrize(
    ("row", "needle"),
    [({"steps": ["a"]}, "no problem"), ({"problem": "p", "steps": []}, "no steps"),
     ({"problem": "p", "steps": ["x" * 1_000_000]}, "characters long")],
)
def test_bad_single_row(tmp_path, row, needle):
    p = tmp_path / "row.json"
    p.write_text(json.dumps(row))
    proc = genprm("verify", str(p))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{p}, row 1" in proc.stderr and needle in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--mode", "fast"], "fast"), (["--agg", "max"], "max"), (["--threshold", "2"], "threshold must be in [0, 1]"),
     (["--protocol", "nope"], "protocol must be one of"), (["--shard", "3/2"], "shard"),
     (["--samples", "0"], "samples must be >= 1"), (["--dtype", "bf16"], "bf16")],
)
def test_bad_options(tmp_path, args, needle):
    p = tmp_path / "ok.json"
    p.write_text(json.dumps({"problem": "p", "steps": ["a"]}))
    proc = genprm("verify", str(p), *args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and needle in proc.stderr, proc.stderr


def test_bad_rows_are_skipped_and_good_rows_verified(tmp_path):
    """A JSONL batch with bad rows: each is reported with its row, the good ones are scored (real model)."""
    p = tmp_path / "batch.jsonl"
    p.write_text("\n".join([json.dumps({"id": "good1", "problem": "What is 2 + 2?", "steps": ["2 + 2 = 4"]}),
                            "{not json",
                            json.dumps({"id": "empty", "problem": "p", "steps": []}),
                            json.dumps({"id": "good2", "problem": "What is 3 * 3?", "steps": ["3 * 3 = 9"]})]) + "\n")
    out = tmp_path / "scored.jsonl"
    proc = genprm("verify", str(p), "--mode", "direct", "--out", str(out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "row 2: invalid JSON" in proc.stderr and "row 3: row has no steps" in proc.stderr
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == ["good1", "good2"]
    # Rerun: the work done is kept and skipped.
    again = genprm("verify", str(p), "--mode", "direct", "--out", str(out))
    assert "already in" in again.stderr and len(out.read_text().splitlines()) == 2


def test_a_fields_older_flag_still_works_with_a_deprecation_note(tmp_path):
    # --arithmetic-check became --claim-check (issue 23): the old name is parsed as the new one, hidden from --help.
    proc = genprm("verify", str(tmp_path / "nope.json"), "--arithmetic-check", "off")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "genprm: --arithmetic-check is deprecated: use --claim-check" in proc.stderr
    assert "no such file" in proc.stderr
    bad = genprm("verify", str(tmp_path / "nope.json"), "--arithmetic-check", "maybe")
    assert bad.returncode == 2 and "maybe" in bad.stderr
    helped = genprm("verify", "--help", COLUMNS="400")
    assert "--claim-check" in helped.stdout and "--arithmetic-check" not in helped.stdout


def test_a_bool_fields_older_flag_reads_as_the_field(monkeypatch, capsys):
    # `genprm distill eval --code-evidence` is now --claim-check.
    from genprm.cli import main
    from genprm.distill import heldout

    seen = []
    monkeypatch.setattr(heldout, "eval_stage", lambda config, log=print: seen.append(config))
    assert main(["distill", "eval", "--code-evidence", "--n", "1"]) == 0
    assert main(["distill", "eval", "--claim-check", "--n", "1"]) == 0
    assert main(["distill", "eval", "--n", "1"]) == 0
    assert [c.claim_check for c in seen] == [True, True, False]
    assert capsys.readouterr().err.count("--code-evidence is deprecated: use --claim-check") == 1


@pytest.mark.parametrize("command", ["verify", "serve", "search"])
def test_every_config_field_is_a_flag_with_the_same_name_in_every_command(command):
    from dataclasses import fields

    from genprm.backends.base import BackendConfig
    from genprm.config import VerifierConfig

    proc = genprm(command, "--help", COLUMNS="400")  # wide enough that rich cuts no flag name
    assert proc.returncode == 0
    for config in (VerifierConfig, BackendConfig):
        for f in fields(config):
            assert f"--{f.name.replace('_', '-')}" in proc.stdout, (command, f.name)
