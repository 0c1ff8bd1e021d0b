"""`genprm review`: a person checks the verifier's step verdicts in the browser; every label is appended to a labels
file that `genprm distill real --labelled` trains on and `genprm eval --gold` scores the verifier against.

    review_config.py  ReviewConfig (one field per flag)
    (genprm/labels.py, below eval and distill, which read it: the labels file, append-only rows in the `steps`
    shape, its reader `read_labels` and writer)
    queue.py          the solutions in review order (the rule the page states)
    server.py         the FastAPI routes and `review(config)`, which serves them; page.html is the page (no build)

Importing this package loads neither FastAPI nor the model.
"""

from genprm.labels import read_labels, trainable
from genprm.review.review_config import ReviewConfig

__all__ = ["ReviewConfig", "read_labels", "trainable"]
