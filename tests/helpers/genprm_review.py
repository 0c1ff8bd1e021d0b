"""`genprm review` processes the review tests start on 127.0.0.1 (a free port) and stop; the scored files they
review: real `genprm verify --out` output, kept in tests/review/data (made with the default verifier and
`--arithmetic-check auto`, now `--claim-check auto`, from examples/solution.json and the first rows of
bench/data/gsm8k_real_labelled.jsonl; their critiques still say "Arithmetic check:", as the check wrote then)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers.processes import running

DATA = Path(__file__).resolve().parents[1] / "review" / "data"
GSM8K_SCORED = DATA / "gsm8k.scored.jsonl"
EXAMPLE_SCORED = DATA / "example.scored.jsonl"


@dataclass
class Reviewing:
    url: str
    """The page's URL, as printed (with ?token=... when there is one)."""
    line: str
    """The line the server printed on start."""
    process: subprocess.Popen[str]


@contextmanager
def genprm_review(scored: Path, labels: Path, *flags: str) -> Iterator[Reviewing]:
    """Run `genprm review SCORED --labels LABELS --port 0 FLAGS` until it prints its URL; stop it afterwards."""
    command = [sys.executable, "-m", "genprm.cli", "review", str(scored), "--labels", str(labels), "--port", "0",
               *flags]
    with running(command, r"genprm: (?:review on|error: .*the page at) (http://\S+)", timeout=120) as started:
        yield Reviewing(started.match.group(1), started.match.string.strip(), started.process)


def copy_scored(tmp_path: Path, source: Path = GSM8K_SCORED) -> Path:
    return Path(shutil.copy(source, tmp_path / source.name))
