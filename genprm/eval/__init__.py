"""Evaluation of scored files: benchmark metrics, Best-of-N reranking, plots and the HTML report.

Everything here reads what `genprm verify --out` writes and never loads a model. The modules, in data-flow order:
`scored` (read results + gold), `metrics` (definitions), `benchmarks` (the benchmarks per subset, and the threshold
tuned for them), `rerank` (Best-of-N), `table` (markdown), `plots` (matplotlib), `report` (HTML), `files` (files in,
files out; what the CLI calls).
"""

from genprm.eval.benchmarks import evaluate
from genprm.eval.files import eval_files, report_files, rerank_files
from genprm.eval.rerank import rerank
from genprm.eval.scored import load_scored

__all__ = ["eval_files", "evaluate", "load_scored", "report_files", "rerank", "rerank_files"]
