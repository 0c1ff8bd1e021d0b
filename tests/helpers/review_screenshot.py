"""The README's picture of `genprm review`: the test data's scored files in one queue, a few steps labelled with the
keyboard, the bakery example (the claim check's evidence) on screen; saved by headless chromium.

    PYTHONPATH=$PWD python tests/helpers/review_screenshot.py docs/review.png
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `helpers.*` imports as under pytest

from helpers.browser import chromium  # noqa: E402
from helpers.genprm_review import EXAMPLE_SCORED, GSM8K_SCORED, genprm_review  # noqa: E402


def main(out: Path) -> None:
    out = out.resolve()
    os.environ["PYTHONPATH"] = str(Path(__file__).parents[2])
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the page shows the files as they were given: short names, as a person types them
        Path("scored.jsonl").write_text(GSM8K_SCORED.read_text() + EXAMPLE_SCORED.read_text())
        with genprm_review(Path("scored.jsonl"), Path("labels.jsonl")) as server, chromium() as browser:
            tab = browser.tab(server.url)
            tab.keys("1110J1?")  # a few labels, as a person makes them
            tab.wait("!Object.values(S.save).some(s => s.state === 'saving')")
            tab.eval("document.querySelector('#queue li[data-id=\"example-bakery\"]').click()")
            tab.keys("11")
            tab.wait("!Object.values(S.save).some(s => s.state === 'saving')")
            tab.screenshot(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
