"""`genprm serve` refuses bad server options with one line and exit code 2, before it loads a model."""

from __future__ import annotations

import pytest
from cli_run import genprm, one_line_error


@pytest.mark.parametrize(("flags", "needle"), [
    (["--step-split", "regex:("], "step_split must be a valid regular expression"),
    (["--max-queue", "4", "--max-solutions", "8"], "max_solutions must be <= max_queue (4)"),
])
def test_bad_server_options(flags, needle):
    one_line_error(genprm("serve", *flags), needle)
