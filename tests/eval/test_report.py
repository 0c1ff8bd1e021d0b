"""`genprm report`: the HTML page, rendered in a real headless Chromium, shows the steps and their scores."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers.chromium import chromium_binary
from helpers.cli import genprm
from helpers.scored_results import make_result, write_scored
from PIL import Image

from genprm.types import CodeRun, StepVerdict

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


@pytest.fixture(scope="module")
def chromium() -> str:
    """The chromium binary (tests/helpers/chromium.py installs it where it may)."""
    try:
        return chromium_binary()
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture
def report_html(tmp_path) -> Path:
    good = make_result("bakery-ok", [0.97, 0.91, 0.88], problem="Maria buys 4 muffins at $3 and 5 cookies at $2.",
                       steps=["Muffins cost 4 * 3 = 12 dollars.", "Cookies cost 5 * 2 = 10 dollars.",
                              "She spends 12 + 10 = 22 dollars."], label=-1)
    bad = make_result("bakery-bad", [0.93, 0.12, 0.40], problem="Maria buys 4 muffins at $3 and 5 cookies at $2.",
                      steps=["Muffins cost 4 * 3 = 12 dollars.", "Cookies cost 5 * 2 = 12 dollars.",
                             "She spends 12 + 12 = 24 dollars."], label=1)
    # Give the wrong step a code run, to check it is folded in a <details>.
    steps = list(bad.steps)
    steps[1] = StepVerdict(1, steps[1].text, 0.12, False, "5 * 2 is 10, not 12.",
                           code_runs=(CodeRun("print(5 * 2)", "ok", "10\n", wall_s=0.02),))
    bad = type(bad)(**{**bad.__dict__, "steps": tuple(steps)})
    scored = write_scored(tmp_path / "bakery.scored.jsonl", [good, bad])
    out = tmp_path / "report.html"
    proc = genprm("report", scored, "-o", out)
    assert proc.returncode == 0, proc.stderr
    return out


def test_report_is_one_self_contained_page(report_html):
    html = report_html.read_text()
    assert "Cookies cost 5 * 2 = 12 dollars." in html and "0.120" in html and "0.970" in html
    assert "first error" in html and "<details>" in html and "print(5 * 2)" in html
    assert "ProcessBench" in html and "data:image/png;base64," in html
    assert "<script src" not in html and 'rel="stylesheet"' not in html  # nothing fetched from elsewhere


def test_report_renders_in_headless_chromium(chromium, report_html, tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory() as profile:
            return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
                                   report_html.as_uri()], capture_output=True, text=True, timeout=120)

    dom = run("--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Cookies cost 5 * 2 = 12 dollars." in dom.stdout and "0.120" in dom.stdout
    assert dom.stdout.count('<li class="step') == 6

    shot = tmp_path / "report.png"
    proc = run(f"--screenshot={shot}", "--window-size=1280,2000")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (2000, 1280, 3)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200, "blank or near-blank screenshot"
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    assert ((g - r > 40) & (g - b > 40)).sum() > 1000, "no green (high-score) step visible"
    assert ((r - g > 40) & (r - b > 40)).sum() > 1000, "no red (low-score) step visible"
    shutil.copy(shot, Path(os.environ.get("GENPRM_REPORT_SHOT", tmp_path / "kept.png")))
