"""The pipeline's stages as file-to-file functions: what the CLI commands and `run` call.

Every stage reads and writes readable JSONL and skips work already done: corrupt and filter are cheap and
deterministic (they rewrite their output), mc and synth append and skip ids already in their output, train resumes
from its newest checkpoint (and does nothing once its output holds a trained model).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genprm.data import read_solutions
from genprm.errors import ConfigError, InputError
from genprm.jsonl import done_ids, read_rows, write_rows
from genprm.registry import DEFAULT_PROTOCOL
from genprm.types import Solution

Log = Callable[[str], None]


def parse_rows(spec: str | None) -> tuple[int, int | None]:
    """"0:5000" -> (0, 5000); "7000:" -> (7000, None); None -> everything."""
    if not spec:
        return 0, None
    try:
        start, _, end = spec.partition(":")
        return int(start or 0), int(end) if end else None
    except ValueError:
        raise ConfigError("rows", "start:end (row indices, end exclusive)", spec) from None


def corrupt_file(path: str | Path, out: str | Path, format: str = "gsm8k", rows: str | None = None, seed: int = 0,
                 error_fraction: float = 0.5, log: Log = print) -> dict[str, Any]:
    """Labelled solutions: error-injected GSM8K (format gsm8k) or the labelled rows of any other format."""
    from genprm.distill.corrupt import corrupt_gsm8k

    started = time.perf_counter()
    start, end = parse_rows(rows)
    if format == "gsm8k":
        records = list(read_rows(path, empty_ok=True))[start:end]
        if records and not {"question", "answer"} <= set(records[0]):
            raise InputError("gsm8k rows need 'question' and 'answer'", str(path))
        solutions = list(corrupt_gsm8k(enumerate(records, start), seed=seed, error_fraction=error_fraction))
    else:
        items = list(read_solutions(path, format))[start:end]
        solutions = [s for s in items if isinstance(s, Solution) and s.label is not None]
        if len(solutions) < len(items):
            log(f"skipped {len(items) - len(solutions)} rows without a gold label or unreadable")
    write_rows(out, (s.to_dict() for s in solutions))
    kinds = Counter(s.meta.get("error_kind", "correct" if s.label == -1 else "labelled") for s in solutions)
    summary = {"solutions": len(solutions), "erroneous": sum(s.label >= 0 for s in solutions),  # type: ignore[operator]
               "kinds": dict(kinds), "seconds": round(time.perf_counter() - started, 1)}
    log(f"corrupt: {summary}")
    return summary


def load_labelled(path: str | Path) -> list[Solution]:
    return [Solution.from_dict(r) for r in read_rows(path, empty_ok=True)]


def _model_backend(backend: str, model: str | None, batch_size: int, base_url: str | None) -> Any:
    """A teacher or policy model on any backend: hf or vllm here, or an OpenAI-compatible server (a big model)."""
    from genprm.backends.base import load_backend

    options: dict[str, Any] = {"max_batch": batch_size}
    if backend == "openai":
        options["base_url"] = base_url
    elif base_url:
        raise ConfigError("base_url", "given only with backend 'openai'", base_url)
    return load_backend(backend, model, **options)


def mc_file(path: str | Path, out: str | Path, policy: str | None = None, k_samples: int = 4, rule: str = "hard",
            rpe_threshold: float = 0.5, max_new_tokens: int = 256, seed: int = 0, backend: str = "hf",
            base_url: str | None = None, batch_size: int = 8, log: Log = print) -> dict[str, Any]:
    """Monte-Carlo labels with a policy model (None = the default model) on `backend`."""
    from genprm.distill.mc import mc_label

    started = time.perf_counter()
    skip = done_ids(Path(out))
    todo = [s for s in load_labelled(path) if s.id not in skip]
    if todo:
        model = _model_backend(backend, policy, batch_size, base_url)
        try:
            for s in todo:
                write_rows(out, [x.to_dict() for x in mc_label(model, [s], k_samples, rule, rpe_threshold,
                                                              max_new_tokens, seed)], append=True)
        finally:
            model.close()
    summary = {"labelled": len(todo), "skipped_done": len(skip), "seconds": round(time.perf_counter() - started, 1)}
    log(f"mc: {summary}")
    return summary


def synth_file(path: str | Path, out: str | Path, teacher: str = "symbolic", protocol: str = DEFAULT_PROTOCOL,
               code_timeout: float = 5.0, max_tokens: int = 256, batch_size: int = 8, chunk: int = 64,
               limit: int | None = None, backend: str = "hf", base_url: str | None = None,
               log: Log = print) -> dict[str, Any]:
    """Critiques by `teacher`: "symbolic", or a model on `backend` ("default" = the default model; with the openai
    backend, the served model's name)."""
    from genprm.config import VerifierConfig
    from genprm.distill.synth import synthesize
    from genprm.distill.teachers import BackendTeacher, SymbolicTeacher
    from genprm.protocols import load
    from sandbox import Sandbox

    the_protocol = load(protocol)
    solutions = load_labelled(path)[:limit]
    with Sandbox(workers=2, timeout=code_timeout) as sandbox:
        model = None
        if teacher == "symbolic":
            chosen: Any = SymbolicTeacher(the_protocol, sandbox)
        else:
            from genprm.verifier import Verifier

            # The teacher's transcript is what the student learns: no claim check beside it.
            config = VerifierConfig(protocol=protocol, mode="code", claim_check=False, max_tokens=max_tokens,
                                    batch_size=batch_size, code_timeout=code_timeout)
            model = _model_backend(backend, None if teacher == "default" else teacher, batch_size, base_url)
            chosen = BackendTeacher(Verifier(model, config, sandbox=sandbox))
        try:
            summary = synthesize(solutions, chosen, out, chunk=chunk,
                                 on_chunk=lambda done, total: log(f"synth: {done}/{total}"))
        finally:
            if model is not None:
                model.close()
    log(f"synth ({teacher}): {summary}")
    return summary


def filter_file(path: str | Path, out: str | Path, protocol: str = DEFAULT_PROTOCOL, max_critique_chars: int = 1200,
                max_dialogue_chars: int = 6000, balance: bool = True, seed: int = 0,
                log: Log = print) -> dict[str, Any]:
    from genprm.distill.filter import FilterConfig, filter_records
    from genprm.protocols import load

    records = list(read_rows(path, empty_ok=True))
    kept, removed = filter_records(records, load(protocol),
                                   FilterConfig(max_critique_chars, max_dialogue_chars, balance, seed))
    write_rows(out, kept)
    for rule, n in removed.items():
        log(f"filter: {rule:<12} removed {n}")
    wrong = sum(r["label"] >= 0 for r in kept)
    summary = {"read": len(records), "kept": len(kept), "erroneous": wrong, "correct": len(kept) - wrong,
               "removed": dict(removed)}
    log(f"filter: kept {len(kept)} of {len(records)} ({wrong} erroneous, {len(kept) - wrong} correct)")
    return summary


def real_file(log: Log = print, **options: Any) -> dict[str, Any]:
    """Training records from real labelled solutions (see `genprm.distill.real`), in synth's shape for `filter`."""
    from genprm.distill.real import RealConfig, RealCritiques, mix, records
    from genprm.distill.train_config import TrainConfig
    from genprm.protocols import load
    from sandbox import Sandbox

    cfg = RealConfig(**options)
    started = time.perf_counter()
    protocol = load(cfg.protocol or TrainConfig.__dataclass_fields__["protocol"].default)
    chosen = mix(cfg)
    needs_code = any(getattr(cfg, f"{s}_objective") != "direct" for s in chosen)
    out: list[dict[str, Any]] = []
    with Sandbox(workers=2, timeout=cfg.code_timeout) if needs_code else contextlib.nullcontext() as sandbox:
        renderer = RealCritiques(protocol, sandbox, cfg.seed)
        for source, solutions in chosen.items():
            out += records(solutions, getattr(cfg, f"{source}_objective"), renderer)
    write_rows(cfg.out, out)
    per_source = {s: {"solutions": len(v), "erroneous": sum(x.label >= 0 for x in v)}  # type: ignore[operator]
                  for s, v in chosen.items()}
    summary = {"records": len(out), "sources": per_source,
               "objectives": dict(Counter(r["id"].rpartition("#")[2] if "#" in r["id"] else "single" for r in out)),
               "seconds": round(time.perf_counter() - started, 1)}
    log(f"real: {summary}")
    return summary
