"""`genprm review` in a real headless chromium, driven by real key presses: label with the keyboard, reload, two
tabs on one file, a server killed with SIGKILL, export, `genprm eval` and `genprm distill real` + one training step
on the labels, and bad inputs said in the page and the terminal with nothing lost."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers.browser import Tab, chromium
from helpers.cli import genprm, one_line_error
from helpers.genprm_review import EXAMPLE_SCORED, GSM8K_SCORED, copy_scored, genprm_review
from PIL import Image

from genprm.labels import read_labels

STEPS = "[...document.querySelectorAll('li.step')]"
ROOT = Path(__file__).parents[2]
# Choose a filter's value as a person does (a change event); the number of solutions it leaves.
FILTER = "((id, v) => { const f = document.getElementById(id); f.value = v; f.dispatchEvent(new Event('change')); " \
         "return S.view.length; })"


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def step_states(tab: Tab) -> list[tuple[str, str]]:
    """(mark, save state) of each step of the solution on screen."""
    return [tuple(x) for x in tab.eval(f"{STEPS}.map(l => [l.dataset.mark, l.dataset.save])")]


def on_screen(tab: Tab) -> str:
    return tab.eval("current().id")


def settled(tab: Tab) -> None:
    """Wait until no action of the page is still being saved."""
    tab.wait("!Object.values(S.save).some(s => s.state === 'saving')")


def page_marks(tab: Tab) -> dict[str, list]:
    """Every solution's marks as the page holds them."""
    return tab.eval("Object.fromEntries(Object.entries(S.labels).map(([k, v]) => [k, v.marks]))")


def test_label_with_the_keyboard_reload_and_two_tabs(browser, tmp_path) -> None:
    scored, labels = copy_scored(tmp_path), tmp_path / "labels.jsonl"
    with genprm_review(scored, labels) as server:
        tab = browser.tab(server.url)
        # The order rule is stated, and followed: the answer check's disagreements (answer wrong, no error found)
        # first, then the least-sure step's distance from the threshold, smallest first.
        assert "disagree" in tab.eval("document.getElementById('rule').textContent")
        queue = tab.eval("S.view.map(i => [i.disagree, i.margin])")
        assert [d for d, _ in queue] == [True] * 3 + [False] * 5
        assert all(queue[i][1] <= queue[i + 1][1] for i in (0, 1, 3, 4, 5, 6))
        first = on_screen(tab)
        tab.keys("110")  # step 1 right, step 2 right, step 3 wrong: the cursor moves on after each
        settled(tab)
        assert step_states(tab)[:3] == [("right", "saved"), ("right", "saved"), ("wrong", "saved")]
        tab.keys("kkn")  # back to step 2, write a note
        tab.type("the quarter is of 20, not added to it")
        tab.key("Enter")
        tab.wait(f"{STEPS}[1].dataset.save === 'saved' && S.labels['{first}'].notes['1']")
        tab.keys("J")  # next solution; accept the verifier up to step 2, then undo it
        second = on_screen(tab)
        tab.keys("ja")
        settled(tab)
        assert step_states(tab)[:3] == [("right", "saved"), ("right", "saved"), ("", "")]
        tab.key("u")
        tab.wait(f"{STEPS}.every(l => l.dataset.mark === '')")
        tab.keys("?")
        settled(tab)
        assert step_states(tab)[0] == ("unsure", "saved")
        assert tab.eval("document.getElementById('progress').textContent") == (
            "1/8 solutions done · 4/32 steps labelled")
        assert tab.eval("document.getElementById('agreement').textContent").startswith(
            "you and the verifier agree on 2/3 steps (67%) · it missed 1 wrong, flagged 0 right")

        # The filters: the verifier's disagreements with the answer check; solutions done.
        assert tab.eval(f"{FILTER}('f-verifier', 'disagree')") == 3
        assert tab.eval(f"{FILTER}('f-state', 'done')") == 1 and on_screen(tab) == first
        assert tab.eval(f"{FILTER}('f-verifier', '')") == 1 and tab.eval(f"{FILTER}('f-state', '')") == 8
        assert on_screen(tab) == first
        tab.keys("J")

        # A second tab on the same file: its label reaches the first tab, and neither loses the other's.
        other = browser.tab(server.url)
        assert on_screen(other) == second  # it opens on the first solution not done
        other.keys("0")  # step 2 wrong: the cursor starts on the first unlabelled step
        settled(other)
        tab.wait(f"S.labels['{second}'].marks[1] === 'wrong'", timeout=10)  # the first tab polls it in
        tab.keys("j1")  # the first tab labels step 3
        tab.wait(f"S.labels['{second}'].marks[2] === 'right'")
        for t in (tab, other):
            t.reload()
            assert page_marks(t) == {first: ["right", "right", "wrong", None],
                                     second: ["unsure", "wrong", "right"]}
        assert on_screen(tab) == tab.eval("S.view[2].id")  # reopening resumes at the first solution not done
        assert tab.eval(f"S.labels['{first}'].notes['1']") == "the quarter is of 20, not added to it"
        shot = tab.screenshot(tmp_path / "review.png")
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (900, 1366, 3) and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200
    if os.environ.get("GENPRM_REVIEW_SHOT"):
        shutil.copy(shot, os.environ["GENPRM_REVIEW_SHOT"])
    rows = [json.loads(line) for line in labels.read_text().splitlines()]
    assert [r["meta"]["review"]["action"]["kind"] for r in rows] == [
        "label", "label", "label", "note", "accept", "undo", "label", "label", "label"]


def test_a_killed_server_loses_no_label_the_page_showed_as_saved(browser, tmp_path) -> None:
    scored, labels = copy_scored(tmp_path), tmp_path / "labels.jsonl"
    with genprm_review(scored, labels) as server:
        tab = browser.tab(server.url)
        tab.keys("1011J10")  # past the last step, the cursor goes on to the next solution; J skips one
        settled(tab)
        shown = page_marks(tab)
        server.process.kill()  # SIGKILL: no shutdown handler runs
        server.process.wait()
        tab.keys("1")  # the page must not claim this one
        tab.wait(f"{STEPS}.some(l => l.dataset.save === 'error')")
        assert "Not saved: the review server cannot be reached" in tab.eval(
            "document.getElementById('banner').textContent")
    assert sum(m is not None for marks in shown.values() for m in marks) == 6
    with genprm_review(scored, labels) as restarted:
        assert "2 with labels" in restarted.line
        tab.goto(restarted.url)
        assert page_marks(tab) == shown
    assert {s.id: list(s.meta["marks"]) for s in read_labels(labels)} == shown


def test_export_eval_and_one_training_step_on_the_labels(browser, tmp_path) -> None:
    scored, labels = copy_scored(tmp_path), tmp_path / "labels.jsonl"
    with genprm_review(scored, labels) as server:
        tab = browser.tab(server.url)
        tab.keys("1111")  # a solution right throughout; the cursor goes on to the next one
        tab.keys("11J0")  # two right steps (the rest left); then, in the solution after, a wrong first step
        settled(tab)
        export = tab.eval("fetch(document.getElementById('export').href).then(r => r.text())")
    (tmp_path / "export.jsonl").write_text(export)
    exported = read_labels(tmp_path / "export.jsonl")
    assert len(exported) == 3 and [s.step_labels for s in exported] == [s.step_labels for s in read_labels(labels)]

    # genprm eval scores the verifier against the person's labels (only the solutions they labelled).
    proc = genprm("eval", scored, "--gold", labels, "--by", "none", "--out-dir", tmp_path / "eval", "--no-plots")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    # Known first errors: the all-right solution (the verifier agrees) and the wrong first step (it finds none).
    assert metrics["n"] == 3 and metrics["processbench"]["subsets"]["all"] == {
        "n_err": 1, "n_ok": 1, "acc_err": 0.0, "acc_ok": 100.0, "f1": 0.0}

    # distill real reads the labels file as it is; one tiny training step runs on its records.
    (tmp_path / "tiny.jinja").write_text(TINY_PROTOCOL)
    proc = genprm("distill", "real", "--labelled", labels, "--prm800k", "", "--mrben", "", "--mathcritique", "",
                  "--prompt", tmp_path / "tiny.jinja", "--out", tmp_path / "real.jsonl")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in (tmp_path / "real.jsonl").read_text().splitlines()]
    assert sorted((len(r["steps"]), r["label"]) for r in records) == [(1, 0), (2, -1), (4, -1)]
    proc = genprm("distill", "train", tmp_path / "real.jsonl", "--output-dir", tmp_path / "model", "--prompt",
                  tmp_path / "tiny.jinja", "--max-steps", "1", "--grad-accum", "1", "--warmup-steps", "0",
                  "--eval-fraction", "0", "--num-proc", "1", "--threads", "1", "--autocast", "off")
    assert proc.returncode == 0, proc.stderr
    log = [json.loads(line) for line in (tmp_path / "model" / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 1 and log[-1]["loss"] > 0


def test_bad_inputs_are_said_in_the_page_and_the_terminal_and_nothing_is_lost(browser, tmp_path) -> None:
    # Not a results file: a data file that was never scored.
    data = Path(shutil.copy(ROOT / "bench/data/gsm8k_real_labelled.jsonl", tmp_path / "data.jsonl"))
    with genprm_review(data, tmp_path / "labels.jsonl") as server:
        assert "has no scores (it is a steps data file): score it first with `genprm verify" in server.line
        tab = browser.tab(server.url)
        assert "has no scores" in tab.eval("document.getElementById('banner').textContent")
        reply = httpx.post(server.url + "api/action", json={"id": "x", "kind": "label", "changes": []})
        assert reply.status_code == 409 and reply.json()["error"]["type"] == "bad_input"
    assert not (tmp_path / "labels.jsonl").exists()

    # A labels file from another run: refused, left byte for byte as it was.
    labels = tmp_path / "example.labels.jsonl"
    with genprm_review(copy_scored(tmp_path, EXAMPLE_SCORED), labels) as server:
        tab.goto(server.url)
        tab.keys("10")
        settled(tab)
    before = labels.read_bytes()
    with genprm_review(copy_scored(tmp_path), labels) as server:
        assert "error:" in server.line and "this labels file is from another run; it is left as it is" in server.line
        tab.goto(server.url)
        assert "from another run" in tab.eval("document.getElementById('banner').textContent")
        assert tab.eval("document.body.dataset.state") == "error"
        tab.keys("1")  # the keyboard does nothing on a page that cannot label
    assert labels.read_bytes() == before

    # The scored file given as --labels: refused before anything starts.
    one_line_error(genprm("review", GSM8K_SCORED, "--labels", GSM8K_SCORED), "labels must be another file")


def test_a_token_guards_the_labels(tmp_path) -> None:
    with genprm_review(copy_scored(tmp_path), tmp_path / "labels.jsonl", "--token", "s3cret") as server:
        assert server.url.endswith("/?token=s3cret")
        base = server.url.split("?")[0]
        refused = httpx.get(base + "api/queue")
        assert refused.status_code == 401 and "wrong token" in refused.json()["error"]["message"]
        assert httpx.get(base + "api/queue", headers={"X-Review-Token": "s3cret"}).status_code == 200


# A per-step protocol with a one-line preamble (shared with tests/distill): one training step in seconds.
TINY_PROTOCOL = (Path(__file__).parents[1] / "tiny_protocol.jinja").read_text()
