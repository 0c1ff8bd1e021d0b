"""The `genprm` command. Thin: flags become config dataclasses, the library does the work, rich renders it."""

from __future__ import annotations

import json
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
from genprm.distributed import flags as ray_flags
from genprm.errors import GenPRMError
from genprm.search.config import SearchConfig
from genprm.serve.config import ServeConfig

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
_serve_help = {name: f.metadata["help"] for name, f in ServeConfig.__dataclass_fields__.items()}
_serve_defaults = ServeConfig()

# The model, backend and VerifierConfig flags, shared by `verify` and `serve`.
ModelOption = Annotated[str | None, typer.Option(
    "--model", help="Model or adapter directory, .gguf file or hub id (default: genprm-smollm2-135m-lora, the "
                    "distilled verifier, offline; SmolLM2-135M-Instruct is its base).")]
BackendOption = Annotated[str, typer.Option(
    "--backend", help="Backend: hf (transformers), vllm (offline vLLM) or openai (an OpenAI-compatible server; key "
                      "from $OPENAI_API_KEY).")]
DtypeOption = Annotated[str, typer.Option(
    "--dtype", help="Weight dtype for the hf and vllm backends: auto (bfloat16 where the device runs it natively, "
                    "else float32), bfloat16, float16, float32.")]
BaseUrlOption = Annotated[str | None, typer.Option(
    "--base-url", help="openai backend: the server, e.g. http://127.0.0.1:8000/v1 (default: $OPENAI_BASE_URL).")]
TokenizerOption = Annotated[str | None, typer.Option(
    "--tokenizer", help="openai backend: a local tokenizer whose chat template renders prompts (default: --model "
                        "if it is a directory, else ChatML).")]
TensorParallelOption = Annotated[int, typer.Option("--tensor-parallel-size",
                                                   help="vllm backend: GPUs to shard the model over.")]
GpuMemoryOption = Annotated[float, typer.Option("--gpu-memory-utilization",
                                                help="vllm backend: fraction of GPU memory vLLM may use.")]
PromptOption = Annotated[str | None, typer.Option("--prompt", help=_help["prompt"])]
ModeOption = Annotated[Mode | None, typer.Option("--mode", help=_help["mode"], show_default=False)]
SamplesOption = Annotated[int, typer.Option("--samples", help=_help["samples"])]
TemperatureOption = Annotated[float | None, typer.Option("--temperature", help=_help["temperature"])]
MaxTokensOption = Annotated[int | None, typer.Option("--max-tokens", help=_help["max_tokens"])]
MaxCodeBlocksOption = Annotated[int, typer.Option("--max-code-blocks", help=_help["max_code_blocks"])]
CodeTimeoutOption = Annotated[float, typer.Option("--code-timeout", help=_help["code_timeout"])]
AggOption = Annotated[Agg, typer.Option("--agg", help=_help["agg"])]
ThresholdOption = Annotated[float | None, typer.Option("--threshold", help=_help["threshold"], show_default=False)]
Switch = Enum("Switch", {v: v for v in ("auto", "on", "off")}, type=str)  # type: ignore[misc]
ArithmeticCheckOption = Annotated[Switch, typer.Option("--arithmetic-check", help=_help["arithmetic_check"] + " "
                                                       "auto: the model's; on; off.")]
BatchSizeOption = Annotated[int, typer.Option("--batch-size", help=_help["batch_size"])]
SeedOption = Annotated[int, typer.Option("--seed", help=_help["seed"])]
ThinkingRoundsOption = Annotated[int, typer.Option("--thinking-rounds", help=_help["thinking_rounds"])]

_search_help = {name: f.metadata["help"] for name, f in SearchConfig.__dataclass_fields__.items()}
_search_defaults = SearchConfig()


def _value(choice: Enum | None) -> str | None:
    return None if choice is None else str(choice.value)


def _switch(choice: Enum) -> bool | None:
    """auto|on|off -> None (the model's), True, False."""
    return {"auto": None, "on": True, "off": False}[str(choice.value)]


@app.command()
def verify(
    path: Annotated[Path, typer.Argument(help="A solution file: JSON object, JSON list or JSONL.")],
    # -- who does it
    model: ModelOption = None,
    backend: BackendOption = "hf",
    dtype: DtypeOption = "auto",
    base_url: BaseUrlOption = None,
    tokenizer: TokenizerOption = None,
    tensor_parallel_size: TensorParallelOption = 1,
    gpu_memory_utilization: GpuMemoryOption = 0.9,
    # -- what to do: one flag per VerifierConfig field
    prompt: PromptOption = _defaults.prompt,
    mode: ModeOption = _defaults.mode,  # type: ignore[assignment]
    samples: SamplesOption = _defaults.samples,
    temperature: TemperatureOption = _defaults.temperature,
    max_tokens: MaxTokensOption = _defaults.max_tokens,
    max_code_blocks: MaxCodeBlocksOption = _defaults.max_code_blocks,
    code_timeout: CodeTimeoutOption = _defaults.code_timeout,
    agg: AggOption = _defaults.agg,  # type: ignore[assignment]
    threshold: ThresholdOption = _defaults.threshold,
    batch_size: BatchSizeOption = _defaults.batch_size,
    seed: SeedOption = _defaults.seed,
    thinking_rounds: ThinkingRoundsOption = _defaults.thinking_rounds,
    arithmetic_check: ArithmeticCheckOption = "auto",  # type: ignore[assignment]
    # -- input and output
    format: Annotated[Format, typer.Option("--format", help="Input format.")] = "auto",  # type: ignore[assignment]
    json_out: Annotated[bool, typer.Option("--json", help="Print full results as JSON (one line each).")] = False,
    out: Annotated[Path | None, typer.Option(help="Append results to this JSONL file; a rerun skips ids "
                                                  "already there.")] = None,
    limit: Annotated[int | None, typer.Option(help="Verify at most this many solutions.")] = None,
    shard: Annotated[str | None, typer.Option(help="i/n: verify only every n-th solution, from the i-th.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Full critiques and code outputs.")] = False,
    # -- where: a Ray cluster (one flag per RayConfig field)
    use_ray: ray_flags.UseRay = False,
    ray_address: ray_flags.Address = None,
    replicas: ray_flags.Replicas = ray_flags.DEFAULTS.replicas,
    gpus_per_replica: ray_flags.GpusPerReplica = ray_flags.DEFAULTS.gpus_per_replica,
    cpus_per_replica: ray_flags.CpusPerReplica = ray_flags.DEFAULTS.cpus_per_replica,
    rows_per_task: ray_flags.RowsPerTask = ray_flags.DEFAULTS.rows_per_task,
) -> None:
    """Verify each step of one solution or a batch; print a table, JSON, or append JSONL."""
    from genprm.render import batch_view, print_result
    from genprm.verifier import Verifier

    config = VerifierConfig(prompt=prompt, mode=_value(mode), samples=samples, temperature=temperature,
                            max_tokens=max_tokens, max_code_blocks=max_code_blocks, code_timeout=code_timeout,
                            agg=str(agg.value), threshold=threshold, batch_size=batch_size, seed=seed,
                            thinking_rounds=thinking_rounds, arithmetic_check=_switch(arithmetic_check))
    ray = ray_flags.ray_config(use_ray, ray_address, replicas, gpus_per_replica, cpus_per_replica, rows_per_task)
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
    if ray:
        from genprm.distributed import RayVerifier

        verifier = RayVerifier(model, backend, config, ray, log=_say, **options)
    else:
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


@app.command()
def serve(
    # -- who does it, and what to do: the same flags as `verify`
    model: ModelOption = None,
    backend: BackendOption = "hf",
    dtype: DtypeOption = "auto",
    base_url: BaseUrlOption = None,
    tokenizer: TokenizerOption = None,
    tensor_parallel_size: TensorParallelOption = 1,
    gpu_memory_utilization: GpuMemoryOption = 0.9,
    prompt: PromptOption = _defaults.prompt,
    mode: ModeOption = _defaults.mode,  # type: ignore[assignment]
    samples: SamplesOption = _defaults.samples,
    temperature: TemperatureOption = _defaults.temperature,
    max_tokens: MaxTokensOption = _defaults.max_tokens,
    max_code_blocks: MaxCodeBlocksOption = _defaults.max_code_blocks,
    code_timeout: CodeTimeoutOption = _defaults.code_timeout,
    agg: AggOption = _defaults.agg,  # type: ignore[assignment]
    threshold: ThresholdOption = _defaults.threshold,
    batch_size: BatchSizeOption = _defaults.batch_size,
    seed: SeedOption = _defaults.seed,
    thinking_rounds: ThinkingRoundsOption = _defaults.thinking_rounds,
    arithmetic_check: ArithmeticCheckOption = "auto",  # type: ignore[assignment]
    # -- the server: one flag per ServeConfig field
    host: Annotated[str, typer.Option(help=_serve_help["host"])] = _serve_defaults.host,
    port: Annotated[int, typer.Option(help=_serve_help["port"])] = _serve_defaults.port,
    api_key: Annotated[str | None, typer.Option(help=_serve_help["api_key"])] = None,
    max_queue: Annotated[int, typer.Option(help=_serve_help["max_queue"])] = _serve_defaults.max_queue,
    max_body_bytes: Annotated[int, typer.Option(help=_serve_help["max_body_bytes"])] = _serve_defaults.max_body_bytes,
    max_solutions: Annotated[int, typer.Option(help=_serve_help["max_solutions"])] = _serve_defaults.max_solutions,
    max_steps: Annotated[int, typer.Option(help=_serve_help["max_steps"])] = _serve_defaults.max_steps,
    max_step_chars: Annotated[int, typer.Option(help=_serve_help["max_step_chars"])] = _serve_defaults.max_step_chars,
    step_split: Annotated[str, typer.Option(help=_serve_help["step_split"])] = _serve_defaults.step_split,
    shutdown_timeout: Annotated[float, typer.Option(
        help=_serve_help["shutdown_timeout"])] = _serve_defaults.shutdown_timeout,
    # -- where: Ray Serve replicas (one flag per RayConfig field)
    use_ray: ray_flags.UseRay = False,
    ray_address: ray_flags.Address = None,
    replicas: ray_flags.Replicas = ray_flags.DEFAULTS.replicas,
    min_replicas: ray_flags.MinReplicas = None,
    max_replicas: ray_flags.MaxReplicas = None,
    gpus_per_replica: ray_flags.GpusPerReplica = ray_flags.DEFAULTS.gpus_per_replica,
    cpus_per_replica: ray_flags.CpusPerReplica = ray_flags.DEFAULTS.cpus_per_replica,
) -> None:
    """Serve the verifier over HTTP for RL trainers and search loops: /v1/verify, OpenRLHF's /get_reward, /metrics."""
    from genprm.serve.app import serve as run_server
    from genprm.verifier import Verifier

    config = VerifierConfig(prompt=prompt, mode=_value(mode), samples=samples, temperature=temperature,
                            max_tokens=max_tokens, max_code_blocks=max_code_blocks, code_timeout=code_timeout,
                            agg=str(agg.value), threshold=threshold, batch_size=batch_size, seed=seed,
                            thinking_rounds=thinking_rounds, arithmetic_check=_switch(arithmetic_check))
    serve_config = ServeConfig(host=host, port=port, api_key=api_key, max_queue=max_queue,
                               max_body_bytes=max_body_bytes, max_solutions=max_solutions, max_steps=max_steps,
                               max_step_chars=max_step_chars, step_split=step_split,
                               shutdown_timeout=shutdown_timeout)
    if serve_config.host not in ("127.0.0.1", "localhost", "::1") and not serve_config.api_key:
        _say(f"warning: serving on {serve_config.host} without --api-key: anyone who reaches it can use it")
    options = _backend_options(backend, dtype, base_url, tokenizer, tensor_parallel_size, gpu_memory_utilization)
    if use_ray:
        from genprm.distributed import RayConfig, VerifyJob
        from genprm.verifier import with_model_settings

        ray = RayConfig(address=ray_address, replicas=replicas, min_replicas=min_replicas, max_replicas=max_replicas,
                        gpus_per_replica=gpus_per_replica, cpus_per_replica=cpus_per_replica)
        from genprm.serve.ray_app import serve_on_ray

        return serve_on_ray(VerifyJob(model, backend, with_model_settings(config, model), options), serve_config, ray)
    verifier = Verifier.from_pretrained(model, backend=backend, config=config, **options)
    try:
        run_server(verifier, serve_config)
    finally:
        verifier.close()


@app.command(name="prompts")
def list_prompts() -> None:
    """List the built-in prompt protocols."""
    from genprm.protocol import builtin_protocols

    for name in builtin_protocols():
        print(name)


@app.command(name="models")
def list_models(json_out: Annotated[bool, typer.Option("--json", help="One JSON object per model.")] = False) -> None:
    """Known verifiers: hub id, size, protocol, verdict, recommended sampling, published ProcessBench F1 (offline)."""
    from rich.table import Table

    from genprm.registry import KNOWN

    if json_out:
        for entry in KNOWN:
            print(json.dumps(entry.to_dict()), flush=True)
        return
    sources = list(dict.fromkeys(e.source for e in KNOWN))
    table = Table("model", "size", "protocol", "ProcessBench F1")
    for e in KNOWN:
        f1 = "-" if e.processbench_f1 is None else f"{e.processbench_f1:.1f}"
        table.add_row(e.hub_id, e.size, e.protocol, f"{f1} [{sources.index(e.source) + 1}]")
    out_console.print(table)
    for protocol in dict.fromkeys(e.protocol for e in KNOWN):
        e = next(e for e in KNOWN if e.protocol == protocol)
        out_console.print(f"{protocol}: verdict {e.verdict}; sampling {e.sampling}", highlight=False, soft_wrap=True)
    for i, source in enumerate(sources, 1):
        out_console.print(f"[{i}] {source}", highlight=False, markup=False, soft_wrap=True)


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
    dtype: DtypeOption = "auto",
    tensor_parallel_size: Annotated[int, typer.Option(help="vllm backends: GPUs to shard a model over.")] = 1,
    gpu_memory_utilization: Annotated[float, typer.Option(help="vllm backends: fraction of GPU memory each "
                                                              "engine may use.")] = 0.9,
    # -- how the verifier verifies (a few of `genprm verify`'s flags)
    prompt: PromptOption = _defaults.prompt,
    mode: ModeOption = _defaults.mode,  # type: ignore[assignment]
    samples: SamplesOption = _defaults.samples,
    threshold: ThresholdOption = _defaults.threshold,
    arithmetic_check: ArithmeticCheckOption = "auto",  # type: ignore[assignment]
    verifier_max_tokens: Annotated[int | None, typer.Option(help=_help["max_tokens"])] = _defaults.max_tokens,
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
    verifier_config = VerifierConfig(prompt=prompt, mode=_value(mode), samples=samples, threshold=threshold,
                                     arithmetic_check=_switch(arithmetic_check), max_tokens=verifier_max_tokens,
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
