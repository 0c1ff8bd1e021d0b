"""The `genprm` command. Thin: flags become config dataclasses, the library does the work, rich renders it."""

from __future__ import annotations

import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from genprm.batch import BatchReport, ResultWriter, done_ids, parse_shard, select
from genprm.config import VerifierConfig
from genprm.data import FORMATS
from genprm.distill.commands import distill_app
from genprm.errors import GenPRMError
from genprm.search.config import SearchConfig

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Generative process reward models: verify math solutions step by step.")
out_console = Console()
err_console = Console(stderr=True)

Mode = Enum("Mode", {m: m for m in ("direct", "critique", "code")}, type=str)  # type: ignore[misc]
Agg = Enum("Agg", {a: a for a in ("min", "last", "prod", "mean")}, type=str)  # type: ignore[misc]
Format = Enum("Format", {f: f for f in FORMATS}, type=str)  # type: ignore[misc]
app.add_typer(distill_app, name="distill")
_help = {name: f.metadata["help"] for name, f in VerifierConfig.__dataclass_fields__.items()}
_defaults = VerifierConfig()
_search_help = {name: f.metadata["help"] for name, f in SearchConfig.__dataclass_fields__.items()}
_search_defaults = SearchConfig()


@app.command()
def verify(
    path: Annotated[Path, typer.Argument(help="A solution file: JSON object, JSON list or JSONL.")],
    # -- who does it
    model: Annotated[str | None, typer.Option(help="Model or adapter directory, .gguf file or hub id (default: "
                                                   "genprm-smollm2-135m-lora, the distilled verifier, offline; "
                                                   "SmolLM2-135M-Instruct is its base).")] = None,
    backend: Annotated[str, typer.Option(help="Backend: hf (transformers), vllm (offline vLLM) or openai (an "
                                              "OpenAI-compatible server; key from $OPENAI_API_KEY).")] = "hf",
    dtype: Annotated[str, typer.Option(help="Weight dtype for the hf and vllm backends.")] = "bfloat16",
    base_url: Annotated[str | None, typer.Option(help="openai backend: the server, e.g. http://127.0.0.1:8000/v1 "
                                                      "(default: $OPENAI_BASE_URL).")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="openai backend: a local tokenizer whose chat template "
                                                       "renders prompts (default: --model if it is a directory, "
                                                       "else ChatML).")] = None,
    tensor_parallel_size: Annotated[int, typer.Option(help="vllm backend: GPUs to shard the model over.")] = 1,
    gpu_memory_utilization: Annotated[float, typer.Option(help="vllm backend: fraction of GPU memory vLLM may "
                                                              "use.")] = 0.9,
    # -- what to do: one flag per VerifierConfig field
    prompt: Annotated[str, typer.Option(help=_help["prompt"])] = _defaults.prompt,
    mode: Annotated[Mode, typer.Option(help=_help["mode"])] = _defaults.mode,  # type: ignore[assignment]
    samples: Annotated[int, typer.Option(help=_help["samples"])] = _defaults.samples,
    temperature: Annotated[float, typer.Option(help=_help["temperature"])] = _defaults.temperature,
    max_tokens: Annotated[int, typer.Option(help=_help["max_tokens"])] = _defaults.max_tokens,
    max_code_blocks: Annotated[int, typer.Option(help=_help["max_code_blocks"])] = _defaults.max_code_blocks,
    code_timeout: Annotated[float, typer.Option(help=_help["code_timeout"])] = _defaults.code_timeout,
    agg: Annotated[Agg, typer.Option(help=_help["agg"])] = _defaults.agg,  # type: ignore[assignment]
    threshold: Annotated[float, typer.Option(help=_help["threshold"])] = _defaults.threshold,
    batch_size: Annotated[int, typer.Option(help=_help["batch_size"])] = _defaults.batch_size,
    seed: Annotated[int, typer.Option(help=_help["seed"])] = _defaults.seed,
    # -- input and output
    format: Annotated[Format, typer.Option("--format", help="Input format.")] = "auto",  # type: ignore[assignment]
    json_out: Annotated[bool, typer.Option("--json", help="Print full results as JSON (one line each).")] = False,
    out: Annotated[Path | None, typer.Option(help="Append results to this JSONL file; a rerun skips ids "
                                                  "already there.")] = None,
    limit: Annotated[int | None, typer.Option(help="Verify at most this many solutions.")] = None,
    shard: Annotated[str | None, typer.Option(help="i/n: verify only every n-th solution, from the i-th.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Full critiques and code outputs.")] = False,
) -> None:
    """Verify each step of one solution or a batch; print a table, JSON, or append JSONL."""
    from genprm.render import batch_view, print_result
    from genprm.verifier import Verifier

    config = VerifierConfig(prompt=prompt, mode=str(mode.value), samples=samples, temperature=temperature,
                            max_tokens=max_tokens, max_code_blocks=max_code_blocks, code_timeout=code_timeout,
                            agg=str(agg.value), threshold=threshold, batch_size=batch_size, seed=seed)
    report = BatchReport()
    skip = done_ids(out) if out else set()
    # Read the whole selection first: a broken file fails before the model loads, and the bar knows its total.
    solutions = list(select(path, str(format.value), skip, limit, parse_shard(shard), report=report))
    if not solutions and len(report.bad_rows) == 1 and not report.skipped_done:
        raise report.bad_rows[0]
    for error in report.bad_rows:
        _say(f"skipped: {error}")
    if report.duplicates:
        _say(f"skipped {len(report.duplicates)} repeated ids (first: {report.duplicates[0]!r}); each id is verified "
             "once")
    if not solutions:
        if report.skipped_done:
            _say(f"all {report.skipped_done} solutions are already in {out}; nothing to do")
            raise typer.Exit(2 if report.bad_rows else 0)
        raise GenPRMError(f"{path}: no solution to verify ({len(report.bad_rows)} bad rows)")
    if report.skipped_done:
        _say(f"resuming: {report.skipped_done} already in {out}, {len(solutions)} to go")

    options = _backend_options(backend, dtype, base_url, tokenizer, tensor_parallel_size, gpu_memory_utilization)
    verifier = Verifier.from_pretrained(model, backend=backend, config=config, **options)
    writer = ResultWriter(out) if out else None
    results = []
    single = len(solutions) == 1
    try:
        with _progress(disable=single) as progress:
            task = progress.add_task("verifying", total=len(solutions), steps=0, rate="")
            started, steps = time.perf_counter(), 0
            for result in verifier.iter_verify(solutions):
                if writer:
                    writer.write(result)
                steps += len(result.steps)
                elapsed = time.perf_counter() - started
                rate = f"{(len(results) + 1) / elapsed:.2f} solutions/s, {steps / elapsed:.2f} steps/s"
                progress.update(task, advance=1, steps=steps, rate=rate)
                if json_out:
                    out_console.print_json(result.to_json()) if single else print(result.to_json(), flush=True)
                elif single or verbose:
                    print_result(out_console, result, verbose)
                results.append(result)
    finally:
        verifier.close()
        if writer:
            writer.close()
    if not json_out and not single and not verbose:
        out_console.print(batch_view(results))
    if out:
        _say(f"{len(results)} results appended to {out}")
    if report.bad_rows:
        raise typer.Exit(2)


@app.command(name="prompts")
def list_prompts() -> None:
    """List the built-in prompt protocols."""
    from genprm.protocol import builtin_protocols

    for name in builtin_protocols():
        print(name)


# -- search: a policy model writes solutions, the verifier steers or ranks them ----------------------------------

Strategy = Enum("Strategy", {s: s for s in ("beam", "best-of-n", "refine")}, type=str)  # type: ignore[misc]


@app.command()
def search(
    path: Annotated[Path, typer.Argument(help="Problems with gold answers (JSONL/JSON): GSM8K {question, answer}, "
                                              "MATH {problem, solution|answer} or {problem, answer}.")],
    out: Annotated[Path | None, typer.Option(help="Append one JSON line per problem to this file; a rerun skips "
                                                  "problems already there.")] = None,
    limit: Annotated[int | None, typer.Option(help="Search at most the first this many problems.")] = None,
    # -- who does it: the policy and the verifier, each on any backend
    policy: Annotated[str | None, typer.Option(help="The policy model (default: SmolLM2-135M-Instruct, the base "
                                                    "model).")] = None,
    policy_backend: Annotated[str, typer.Option(help="The policy's backend: hf, vllm or openai.")] = "hf",
    policy_base_url: Annotated[str | None, typer.Option(help="openai policy backend: its server.")] = None,
    model: Annotated[str | None, typer.Option(help="The verifier (default: genprm-smollm2-135m-lora).")] = None,
    backend: Annotated[str, typer.Option(help="The verifier's backend: hf, vllm or openai.")] = "hf",
    base_url: Annotated[str | None, typer.Option(help="openai verifier backend: its server.")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="openai backends: a local tokenizer whose chat template "
                                                       "renders prompts.")] = None,
    dtype: Annotated[str, typer.Option(help="Weight dtype for the hf and vllm backends.")] = "bfloat16",
    tensor_parallel_size: Annotated[int, typer.Option(help="vllm backends: GPUs to shard a model over.")] = 1,
    gpu_memory_utilization: Annotated[float, typer.Option(help="vllm backends: fraction of GPU memory each "
                                                              "engine may use.")] = 0.9,
    # -- how the verifier verifies (a few of `genprm verify`'s flags)
    prompt: Annotated[str, typer.Option(help=_help["prompt"])] = _defaults.prompt,
    mode: Annotated[Mode, typer.Option(help=_help["mode"])] = _defaults.mode,  # type: ignore[assignment]
    samples: Annotated[int, typer.Option(help=_help["samples"])] = _defaults.samples,
    threshold: Annotated[float, typer.Option(help=_help["threshold"])] = _defaults.threshold,
    verifier_max_tokens: Annotated[int, typer.Option(help=_help["max_tokens"])] = _defaults.max_tokens,
    # -- what to search: one flag per SearchConfig field
    strategy: Annotated[Strategy, typer.Option(help=_search_help["strategy"])] = "beam",  # type: ignore[assignment]
    n: Annotated[int, typer.Option(help=_search_help["n"])] = _search_defaults.n,
    beam_width: Annotated[int, typer.Option(help=_search_help["beam_width"])] = _search_defaults.beam_width,
    expand: Annotated[int, typer.Option(help=_search_help["expand"])] = _search_defaults.expand,
    max_steps: Annotated[int, typer.Option(help=_search_help["max_steps"])] = _search_defaults.max_steps,
    rounds: Annotated[int, typer.Option(help=_search_help["rounds"])] = _search_defaults.rounds,
    step_tokens: Annotated[int, typer.Option(help=_search_help["step_tokens"])] = _search_defaults.step_tokens,
    max_tokens: Annotated[int, typer.Option(help=_search_help["max_tokens"])] = _search_defaults.max_tokens,
    temperature: Annotated[float, typer.Option(help=_search_help["temperature"])] = _search_defaults.temperature,
    agg: Annotated[Agg, typer.Option(help=_search_help["agg"])] = _search_defaults.agg,  # type: ignore[assignment]
    step_delimiter: Annotated[str, typer.Option(help=_search_help["step_delimiter"] + " Escapes such as \\n are "
                                                     "read.")] = "\\n\\n",
    batch_problems: Annotated[int, typer.Option(help=_search_help["batch_problems"])] = _search_defaults.batch_problems,
    seed: Annotated[int, typer.Option(help=_search_help["seed"])] = _search_defaults.seed,
) -> None:
    """Test-time scaling: a policy writes solutions, the verifier guides (beam), ranks (best-of-n) or critiques
    them (refine); answers are checked against the gold ones."""
    import codecs

    from genprm.batch import done_ids as searched_ids
    from genprm.search import SearchConfig, load_models, search_file, select_problems
    from genprm.search.run import SearchReport
    from genprm.search.run import search as run_search

    config = SearchConfig(strategy=str(strategy.value), n=n, beam_width=beam_width, expand=expand,
                          max_steps=max_steps, rounds=rounds, step_tokens=step_tokens, max_tokens=max_tokens,
                          temperature=temperature, agg=str(agg.value),
                          step_delimiter=codecs.decode(step_delimiter, "unicode_escape"),
                          batch_problems=batch_problems, seed=seed)
    verifier_config = VerifierConfig(prompt=prompt, mode=str(mode.value), samples=samples, threshold=threshold,
                                     max_tokens=verifier_max_tokens,
                                     batch_size=max(_defaults.batch_size, beam_width * expand, n))
    report = SearchReport()
    # Read the problems first: a broken file fails before the models load.
    problems = select_problems(path, searched_ids(out) if out else None, limit, report)
    if not problems and len(report.bad_rows) == 1 and not report.skipped_done:
        raise report.bad_rows[0]
    for error in report.bad_rows:
        _say(f"skipped: {error}")
    if not problems:
        if report.skipped_done:
            _say(f"all {report.skipped_done} problems are already in {out}; nothing to do")
            raise typer.Exit(2 if report.bad_rows else 0)
        raise GenPRMError(f"{path}: no problem to search ({len(report.bad_rows)} bad rows)")
    if report.skipped_done:
        _say(f"resuming: {report.skipped_done} already in {out}, {len(problems)} to go")
    policy_options = _backend_options(policy_backend, dtype, policy_base_url, tokenizer, tensor_parallel_size,
                                      gpu_memory_utilization)
    verifier_options = _backend_options(backend, dtype, base_url, tokenizer, tensor_parallel_size,
                                        gpu_memory_utilization)
    the_policy, scorer = load_models(policy, policy_backend, model, backend, verifier_config, policy_options,
                                     verifier_options, config.step_delimiter)
    results = []
    try:
        with _progress(disable=False) as progress:
            task = progress.add_task(f"searching ({config.strategy})", total=len(problems), rate="")

            def advance(result: object) -> None:
                results.append(result)
                correct = sum(r.correct for r in results)
                progress.update(task, advance=1, rate=f"{correct}/{len(results)} correct")

            if out:
                search_file(problems, out, the_policy, scorer, config, on_result=advance)
            else:
                for result in run_search(problems, the_policy, scorer, config):
                    print(result.to_json(), flush=True)
                    advance(result)
    finally:
        scorer.close()
    correct = sum(r.correct for r in results)
    tokens = sum(r.policy_tokens + r.verifier_tokens for r in results) / len(results)
    _say(f"{config.strategy}: {correct}/{len(results)} correct ({100 * correct / len(results):.1f}%), "
         f"{tokens:.0f} generated tokens per problem" + (f"; results appended to {out}" if out else ""))
    if report.bad_rows:
        raise typer.Exit(2)


# -- evaluation: these read scored files (`verify --out`) and never load a model ------------------------------

_gold_help = "Labelled data file whose solutions' labels replace those in the scored files (matched by id)."


@app.command(name="eval")
def eval_command(
    paths: Annotated[list[Path], typer.Argument(help="Scored JSONL files (from `genprm verify --out`); "
                                                    "with --by file, each file is one subset. Or `genprm search "
                                                    "--out` results: accuracy against generated tokens.")],
    gold: Annotated[Path | None, typer.Option(help=_gold_help)] = None,
    gold_format: Annotated[Format, typer.Option(help="Format of --gold.")] = "auto",  # type: ignore[assignment]
    by: Annotated[str, typer.Option(help="Subsets: file (one per input file), none, or a solution meta key such "
                                         "as classification.")] = "file",
    threshold: Annotated[float, typer.Option(help="A step scoring below this is predicted wrong.")] = 0.5,
    tune_threshold: Annotated[list[Path] | None, typer.Option(
        help="Scored file(s) of a separate split to tune the threshold on (never the evaluated data).")] = None,
    out_dir: Annotated[Path, typer.Option(help="Where metrics.json and the PNG plots go.")] = Path("genprm-eval"),
    plots: Annotated[bool, typer.Option(help="Draw the PNG plots.")] = True,
) -> None:
    """Benchmark metrics of scored files: ProcessBench F1, PRMBench score, outcome AUROC; JSON, markdown, PNG."""
    from genprm.eval.commands import eval_files

    output = eval_files(paths, out_dir, gold, str(gold_format.value), by, threshold, tune_threshold or [], plots)
    for item in output.data["skipped"]:
        _say(f"skipped {item['id']} for {item['metric']}: {item['reason']}")
    print(output.markdown)
    _say("wrote " + ", ".join(str(f) for f in output.files))


@app.command()
def rerank(
    paths: Annotated[list[Path], typer.Argument(help="Scored JSONL files with several candidates per problem.")],
    gold: Annotated[Path | None, typer.Option(help=_gold_help)] = None,
    gold_format: Annotated[Format, typer.Option(help="Format of --gold.")] = "auto",  # type: ignore[assignment]
    out_dir: Annotated[Path, typer.Option(help="Where rerank.json and accuracy_vs_n.png go.")] = Path("genprm-eval"),
    seed: Annotated[int, typer.Option(help="Seed of the random subsets drawn when N candidates can be chosen in "
                                           "many ways.")] = 0,
) -> None:
    """Best-of-N: accuracy against N for the verifier, reward-weighted vote, majority vote and a random pick."""
    from genprm.eval.commands import rerank_files

    output = rerank_files(paths, out_dir, gold, str(gold_format.value), seed)
    print(output.markdown)
    _say("wrote " + ", ".join(str(f) for f in output.files))


@app.command()
def report(
    paths: Annotated[list[Path], typer.Argument(help="Scored JSONL files.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    gold: Annotated[Path | None, typer.Option(help=_gold_help)] = None,
    gold_format: Annotated[Format, typer.Option(help="Format of --gold.")] = "auto",  # type: ignore[assignment]
    by: Annotated[str, typer.Option(help="Subsets, as in `genprm eval`.")] = "file",
    threshold: Annotated[float, typer.Option(help="A step scoring below this is predicted wrong.")] = 0.5,
    max_solutions: Annotated[int, typer.Option(help="Show at most this many solutions on the page.")] = 500,
) -> None:
    """One self-contained HTML page: metrics and plots on top, then every solution's steps coloured by score."""
    from genprm.eval.commands import report_files

    output = report_files(paths, out, gold, str(gold_format.value), by, threshold, max_solutions)
    _say(f"wrote {output.files[0]}")


def _backend_options(backend: str, dtype: str, base_url: str | None, tokenizer: str | None,
                     tensor_parallel_size: int, gpu_memory_utilization: float) -> dict[str, object]:
    """The flags that concern the chosen backend, as its keyword arguments."""
    if backend == "openai":
        return {"base_url": base_url, "tokenizer": tokenizer}
    if backend == "vllm":
        return {"dtype": dtype, "tensor_parallel_size": tensor_parallel_size,
                "gpu_memory_utilization": gpu_memory_utilization}
    return {"dtype": dtype}


def _say(message: str) -> None:
    """One plain line on stderr: never wrapped, so each message stays one greppable line."""
    print(f"genprm: {message}", file=sys.stderr, flush=True)


def _progress(disable: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=err_console, disable=disable, transient=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 2 with one line on bad input or options, never a traceback for the user's mistakes."""
    try:
        app(args=argv, prog_name="genprm")  # standalone: usage errors print and exit 2 (click's convention)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    except GenPRMError as e:
        _say(f"error: {e}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted; results written so far are kept")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
