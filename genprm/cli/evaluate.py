"""`genprm eval | rerank | report`: these read scored files (`genprm verify --out`) and never load a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from genprm.cli.common import app, say
from genprm.cli.flags import command
from genprm.data import FORMATS


@dataclass(frozen=True)
class Gold:
    """Where the gold labels come from when the scored files do not carry them."""

    gold: Path | None = field(default=None, metadata={"help": "Labelled data file whose solutions' labels replace "
                                                              "those in the scored files (matched by id)."})
    gold_format: str = field(default="auto", metadata={"help": "Format of --gold.", "choices": FORMATS})


@dataclass(frozen=True)
class EvalArgs:
    paths: tuple[Path, ...] = field(metadata={
        "help": "Scored JSONL files (from `genprm verify --out`); with --by file, each file is one subset. Or "
                "`genprm search --out` results: accuracy against generated tokens.", "argument": True})
    by: str = field(default="file", metadata={"help": "Subsets: file (one per input file), none, or a solution meta "
                                                      "key such as classification."})
    threshold: float = field(default=0.5, metadata={"help": "A step scoring below this is predicted wrong."})
    tune_threshold: tuple[Path, ...] = field(default=(), metadata={
        "help": "Scored file(s) of a separate split to tune the threshold on (never the evaluated data)."})
    out_dir: Path = field(default=Path("genprm-eval"), metadata={"help": "Where metrics.json and the PNG plots go."})
    plots: bool = field(default=True, metadata={"help": "Draw the PNG plots."})


@dataclass(frozen=True)
class RerankArgs:
    paths: tuple[Path, ...] = field(metadata={"help": "Scored JSONL files with several candidates per problem.",
                                              "argument": True})
    out_dir: Path = field(default=Path("genprm-eval"), metadata={"help": "Where rerank.json and accuracy_vs_n.png "
                                                                         "go."})
    seed: int = field(default=0, metadata={"help": "Seed of the random subsets drawn when N candidates can be "
                                                   "chosen in many ways."})


@dataclass(frozen=True)
class ReportArgs:
    paths: tuple[Path, ...] = field(metadata={"help": "Scored JSONL files.", "argument": True})
    out: Path = field(default=Path("report.html"), metadata={"help": "The HTML file to write.", "short": ("-o",)})
    by: str = field(default="file", metadata={"help": "Subsets, as in `genprm eval`."})
    threshold: float = field(default=0.5, metadata={"help": "A step scoring below this is predicted wrong."})
    max_solutions: int = field(default=500, metadata={"help": "Show at most this many solutions on the page."})


@command(app, name="eval", args=EvalArgs, gold=Gold)
def eval_command(args: EvalArgs, gold: Gold) -> None:
    """Benchmark metrics of scored files: ProcessBench F1, PRMBench score, outcome AUROC; JSON, markdown, PNG."""
    from genprm.eval.files import eval_files

    output = eval_files(args.paths, args.out_dir, gold.gold, gold.gold_format, args.by, args.threshold,
                        args.tune_threshold, args.plots)
    for item in output.data["skipped"]:
        say(f"skipped {item['id']} for {item['metric']}: {item['reason']}")
    print(output.markdown)
    say("wrote " + ", ".join(str(f) for f in output.files))


@command(app, args=RerankArgs, gold=Gold)
def rerank(args: RerankArgs, gold: Gold) -> None:
    """Best-of-N: accuracy against N for the verifier, reward-weighted vote, majority vote and a random pick."""
    from genprm.eval.files import rerank_files

    output = rerank_files(args.paths, args.out_dir, gold.gold, gold.gold_format, args.seed)
    print(output.markdown)
    say("wrote " + ", ".join(str(f) for f in output.files))


@command(app, args=ReportArgs, gold=Gold)
def report(args: ReportArgs, gold: Gold) -> None:
    """One self-contained HTML page: metrics and plots on top, then every solution's steps coloured by score."""
    from genprm.eval.files import report_files

    output = report_files(args.paths, args.out, gold.gold, gold.gold_format, args.by, args.threshold,
                          args.max_solutions)
    say(f"wrote {output.files[0]}")
