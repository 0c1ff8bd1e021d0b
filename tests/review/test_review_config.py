"""ReviewConfig: the labels file's default place, the checks that protect the scored file, the token rule."""

from __future__ import annotations

import pytest

from genprm.errors import ConfigError
from genprm.review.review_config import TOKEN_ENV, ReviewConfig


def test_labels_default_beside_the_scored_file_and_never_the_scored_file_itself() -> None:
    assert ReviewConfig(scored="runs/x.scored.jsonl").labels == "runs/x.labels.jsonl"
    with pytest.raises(ConfigError, match="labels must be another file than the scored one"):
        ReviewConfig(scored="runs/x.jsonl", labels="runs/../runs/x.jsonl")
    with pytest.raises(ConfigError, match=r"port must be in \[0, 65535\], got 70000"):
        ReviewConfig(scored="x.jsonl", port=70000)


def test_a_token_is_needed_off_the_loopback_and_read_from_the_environment(monkeypatch) -> None:
    assert not ReviewConfig(scored="x.jsonl").needs_token
    assert ReviewConfig(scored="x.jsonl", host="0.0.0.0").needs_token
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    assert ReviewConfig(scored="x.jsonl").token == "from-env"
    assert ReviewConfig(scored="x.jsonl", token="given").token == "given"
