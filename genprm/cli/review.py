"""`genprm review`: check and correct the verifier's step verdicts in the browser."""

from __future__ import annotations

import typer

from genprm.cli.common import app
from genprm.cli.flags import command
from genprm.review.review_config import ReviewConfig


@command(app, review=ReviewConfig)
def review(review: ReviewConfig) -> None:
    """Check and correct the verifier's step verdicts in the browser; every label is appended to --labels at once."""
    from genprm.review.server import review as run_review

    raise typer.Exit(run_review(review))
