"""`genprm serve` refuses bad server (and Ray) options with one line and exit code 2, before it loads a model."""

from __future__ import annotations

import pytest
from helpers.cli import genprm, one_line_error


@pytest.mark.parametrize(("flags", "needle"), [
    (["--step-split", "regex:("], "step_split must be a valid regular expression"),
    (["--max-queue", "4", "--max-solutions", "8"], "max_solutions must be <= max_queue (4)"),
    (["--ray", "--min-replicas", "2"], "min_replicas must be given together with max_replicas"),
    (["--ray", "--min-replicas", "3", "--max-replicas", "2"], "min_replicas must be in [1, max_replicas (2)]"),
])
def test_bad_server_options(flags, needle):
    one_line_error(genprm("serve", *flags), needle)
