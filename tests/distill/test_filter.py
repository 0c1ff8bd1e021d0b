"""The filter's rules, one record each, and what each rule reports removing."""

from __future__ import annotations

from genprm.distill.filter import FilterConfig, filter_records

ASK = "Is the step correct (Yes/No)?"


def _critique(ok: bool, text: str = "The output is 2, the same as the step.", status: str = "ok",
              forced: bool = False) -> dict:
    runs = [{"code": "print(1+1)", "status": status, "stdout": "2\n", "stderr": "", "wall_s": 0.0}]
    return {"segments": [[text + "\n" + ASK, True]], "verdict": ok, "score": float(ok), "code_runs": runs,
            "forced": forced}


def _record(id: str, label: int, verdicts: list[bool], **changes) -> dict:
    critiques = [_critique(v) for v in verdicts]
    predicted = next((i for i, v in enumerate(verdicts) if not v), -1)
    record = {"id": id, "problem": "p", "steps": ["a", "b", "c"], "label": label, "predicted": predicted,
              "critiques": critiques, "meta": {}}
    record.update(changes)
    return record


def test_each_rule_removes_its_record_and_counts_it(protocol) -> None:
    good_wrong = _record("w", 1, [True, False, True])
    good_right = _record("r", -1, [True, True, True])
    disagrees = _record("d", 2, [True, False, True])
    malformed = _record("m", -1, [True, True, True])
    malformed["critiques"][1] = _critique(True, forced=True)
    timed_out = _record("t", -1, [True, True, True])
    timed_out["critiques"][0] = {**_critique(True), "code_runs": [{**_critique(True)["code_runs"][0],
                                                                    "status": "timeout"}]}
    too_long = _record("l", -1, [True, True, True])
    too_long["critiques"][2] = _critique(True, text="x" * 2000)
    mc_disagrees = _record("c", 1, [True, False, True], meta={"mc_label": 2})
    extra_right = _record("r2", -1, [True, True, True])
    kept, removed = filter_records([good_wrong, good_right, disagrees, malformed, timed_out, too_long, mc_disagrees,
                                    extra_right], protocol, FilterConfig(max_critique_chars=1000))
    assert removed == {"well_formed": 1, "complete": 0, "agrees": 1, "code_ran": 1, "length": 1, "consensus": 1,
                       "balance": 1}
    assert sorted(r["label"] for r in kept) == [-1, 1]  # balanced: one of each
    wrong = next(r for r in kept if r["label"] == 1)
    assert len(wrong["critiques"]) == 2  # cut after the first error


def test_verdicts_after_the_first_error_do_not_matter(protocol) -> None:
    record = _record("w", 0, [False, False, True])
    kept, removed = filter_records([record], protocol, FilterConfig(balance=False))
    assert len(kept) == 1 and len(kept[0]["critiques"]) == 1
