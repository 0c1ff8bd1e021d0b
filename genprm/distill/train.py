"""Supervised fine-tuning of a verifier on filtered critiques (plain PyTorch loop; see `TrainConfig`).

Why not TRL's SFTTrainer: the loss mask here is not "completion only" but "assistant turns minus the sandbox's
output blocks", which the dialogue renderer already computes token by token; a 100-line loop keeps that exact and
keeps the CPU recipe explicit: fp32 weights, under bf16 autocast where the CPU runs bf16 natively (AVX512-BF16,
AMX: ~3.5x faster than fp32) and in plain fp32 elsewhere (an AVX2-only CPU emulates bf16 ~70x slower); see
`genprm.backends.device`. The choice is logged, and recorded in every train_log.jsonl line and the summary.

1) examples: JSONL -> `datasets` (Arrow cache in output_dir) -> `map` renders each record through the protocol and
   the chat template and tokenizes it with its labels (-100 off the critiques) -> too-long ones dropped
2) a seeded held-out split, evaluated every `eval_every` steps (mean loss per trained token)
3) AdamW, warm-up then linear decay, gradient accumulation, grad-norm clipping at 1
4) a checkpoint every `save_every` steps (weights or adapter + optimizer + scheduler + data order); a re-run resumes
   from the newest one
5) the result in output_dir loads with `genprm verify --model DIR` (an adapter is applied to its base)

A discriminative protocol with a head (`--protocol token-classification`) trains the other objective on the same
loop: a two-class head read at each step's separator, one pass over the solution per example, loss on the step
labels (`genprm.distill.head`: TRL PRMTrainer's format).
"""

from __future__ import annotations

import functools
import json
import math
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from genprm.backends.device import autocast_bf16, use_threads
from genprm.distill import head
from genprm.distill.dialogue import render_with_spans, tokenize_with_labels
from genprm.distill.teachers import Critique
from genprm.distill.train_config import TrainConfig
from genprm.errors import InputError
from genprm.jsonl import read_rows, write_rows
from genprm.protocols import VerificationProtocol, load

TRAINED_FIELDS = ("problem", "steps", "critiques")


def _trained(row: dict[str, Any], path: str) -> dict[str, Any]:
    missing = [k for k in TRAINED_FIELDS if k not in row]
    if missing:
        raise InputError(f"a row without {', '.join(missing)}: training reads critiques records (from `genprm "
                         "distill filter` or `genprm distill real`)", path)
    return {k: row[k] for k in TRAINED_FIELDS}


@functools.cache
def _protocol(name: str) -> VerificationProtocol:
    return load(name)


def build_examples(cfg: TrainConfig, tokenizer: Any) -> tuple[Any, Any, dict[str, int]]:
    """Tokenized train and held-out datasets, and counts (examples read, dropped as too long)."""
    import datasets

    datasets.disable_progress_bars()
    cache = Path(cfg.output_dir) / "cache"
    # Only what training reads goes to Arrow: other columns (a record's answer, its outcome) can be null in some
    # rows and text in others, which Arrow's JSON reader refuses. Reading through genprm.jsonl also gives a bad or
    # missing file its one-line error.
    examples = cache / "examples.jsonl"
    write_rows(examples, (_trained(row, cfg.data) for row in read_rows(cfg.data)))
    raw = datasets.load_dataset("json", data_files=str(examples), split="train", cache_dir=str(cache))
    if cfg.max_examples:
        raw = raw.select(range(min(cfg.max_examples, len(raw))))
    protocol_name = cfg.protocol

    def encode(record: dict[str, Any]) -> dict[str, Any]:
        protocol = _protocol(protocol_name)  # loaded once per `map` worker, not once per example
        critiques = [Critique.from_dict(c) for c in record["critiques"]]
        if head.is_head(protocol):
            out = head.encode(tokenizer, protocol, record["problem"], record["steps"], critiques)
        else:
            text, spans = render_with_spans(tokenizer, protocol, record["problem"], record["steps"], critiques)
            out = tokenize_with_labels(tokenizer, text, spans)
        out["length"] = len(out["input_ids"])
        out["trained_tokens"] = sum(t != -100 for t in out["labels"])
        return out

    tokenized = raw.map(encode, remove_columns=raw.column_names, num_proc=min(cfg.num_proc, max(1, len(raw) // 8)))
    kept = tokenized.filter(lambda n: n <= cfg.max_length, input_columns="length")
    counts = {"examples": len(tokenized), "too_long": len(tokenized) - len(kept)}
    if cfg.eval_fraction > 0 and len(kept) >= 10:
        split = kept.train_test_split(test_size=cfg.eval_fraction, seed=cfg.seed)
        return split["train"], split["test"], counts
    return kept, None, counts


def load_model(cfg: TrainConfig) -> tuple[Any, Any, str]:
    """The model in fp32 (autocast supplies bf16 speed where it is native), wrapped in LoRA if asked; its tokenizer
    and path. A head protocol gets the base body with a new two-class head (`genprm.distill.head`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genprm.backends.weights import BASE_MODEL, resolve_model

    # No model named means the base model, not genprm's default verifier (itself a distilled adapter): a recipe
    # must start from the same weights wherever it runs.
    path = resolve_model(cfg.model or BASE_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if head.is_head(_protocol(cfg.protocol)):
        model = head.load_model(path, cfg.lora, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.seed)
        return model, tokenizer, path
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    if cfg.lora:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError:
            raise ImportError("LoRA training needs `peft`: pip install peft (or pass --no-lora)") from None
        torch.manual_seed(cfg.seed)
        model = get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                                 lora_dropout=cfg.lora_dropout, target_modules="all-linear",
                                                 task_type="CAUSAL_LM"))
    return model, tokenizer, path


def collate(rows: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"])
        labels[i, :n] = torch.tensor(r["labels"])
        mask[i, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


LossSum = Callable[[Any, dict[str, torch.Tensor], bool], tuple[torch.Tensor, int]]


def loss_function(cfg: TrainConfig) -> LossSum:
    """The objective's loss: next-token on what the verifier writes, or the head's two classes at each step."""
    return head.loss_sum if head.is_head(_protocol(cfg.protocol)) else _loss_sum


def _loss_sum(model: Any, batch: dict[str, torch.Tensor], bf16: bool) -> tuple[torch.Tensor, int]:
    """Summed token loss over trained tokens (so accumulation weights every token equally) and their count;
    the forward pass under bf16 autocast when `bf16`."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    # (B, T, V) -> predict token t+1 from position t
    logits, targets = logits[:, :-1].float(), batch["labels"][:, 1:]
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                             ignore_index=-100, reduction="sum")
    return loss, int((targets != -100).sum())


@torch.no_grad()
def evaluate_loss(model: Any, data: Any, cfg: TrainConfig, pad_id: int, bf16: bool) -> float:
    model.eval()
    loss_sum = loss_function(cfg)
    total, count = 0.0, 0
    for start in range(0, len(data), cfg.batch_size):
        rows = [data[i] for i in range(start, min(start + cfg.batch_size, len(data)))]
        loss, n = loss_sum(model, collate(rows, pad_id), bf16)
        total, count = total + float(loss), count + n
    model.train()
    return total / max(count, 1)


def train(cfg: TrainConfig, log: Callable[[str], None] = print, progress: bool = True) -> dict[str, Any]:
    """Fine-tune; returns the summary also written to output_dir/train_summary.json."""
    from tqdm import tqdm

    threads = use_threads(cfg.threads)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "train_summary.json").exists():
        log(f"{out} already holds a trained model (train_summary.json); nothing to do")
        return json.loads((out / "train_summary.json").read_text())
    protocol = _protocol(cfg.protocol)
    head.check_protocol(protocol)  # before any weights load
    trains_head = head.is_head(protocol)  # the protocol says (genprm/distill/head.py), not its name
    objective = "discriminative" if trains_head else "generative"
    loss_sum = loss_function(cfg)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    compute = autocast_bf16(cfg.autocast, "cpu")
    bf16 = compute.dtype == "bfloat16"
    log(f"compute: fp32 weights{' under bf16 autocast' if bf16 else ', fp32 matmuls'} ({compute.reason}); "
        f"{threads.threads} torch threads ({threads.reason}); objective: {objective} ({protocol.name})")
    model, tokenizer, base_path = load_model(cfg)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    t0 = time.perf_counter()
    train_data, eval_data, counts = build_examples(cfg, tokenizer)
    log(f"examples: {counts['examples']} read, {counts['too_long']} longer than {cfg.max_length} tokens dropped, "
        f"{len(train_data)} train, {len(eval_data) if eval_data is not None else 0} held out "
        f"({time.perf_counter() - t0:.0f}s to tokenize)")
    if len(train_data) == 0:
        raise ValueError("no training examples left (all too long?)")

    per_epoch = math.ceil(len(train_data) / (cfg.batch_size * cfg.grad_accum))
    total_steps = cfg.max_steps or max(1, math.ceil(per_epoch * cfg.epochs))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)

    def schedule(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - cfg.warmup_steps))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    # The data order of every epoch is fixed by the seed, so a resumed run sees the same batches.
    order: list[int] = []
    for epoch in range(math.ceil(total_steps / per_epoch) + 1):
        perm = list(range(len(train_data)))
        random.Random(f"{cfg.seed}:{epoch}").shuffle(perm)
        order += perm
    state = {"step": 0, "history": []}
    resumed = _resume(out, model, optimizer, scheduler, cfg.lora)
    if resumed:
        state = resumed
        log(f"resumed from step {state['step']}")
        # A killed run may have logged steps after its last checkpoint; they are redone now, so drop them.
        log_file = out / "train_log.jsonl"
        if log_file.exists():
            write_rows(log_file, [r for r in read_rows(log_file, empty_ok=True) if r["step"] <= state["step"]])

    model.train()
    micro = cfg.batch_size
    bar = tqdm(total=total_steps, initial=state["step"], disable=not progress, desc="train", dynamic_ncols=True)
    tokens_seen, started = 0, time.perf_counter()
    while state["step"] < total_steps:
        step = state["step"]
        optimizer.zero_grad(set_to_none=True)
        pos = step * micro * cfg.grad_accum
        batches = [[train_data[order[(pos + a * micro + i) % len(order)]] for i in range(micro)]
                   for a in range(cfg.grad_accum)]
        # What the loss sums over: a causal LM's labels shift by one (position t predicts token t+1), a head's do not.
        shift = 0 if trains_head else 1
        n_trained = sum(sum(t != -100 for t in r["labels"][shift:]) for b in batches for r in b)
        loss_total = 0.0
        for rows in batches:
            batch = collate(rows, pad_id)
            loss, _ = loss_sum(model, batch, bf16)
            (loss / max(n_trained, 1)).backward()
            loss_total += float(loss.detach())
            tokens_seen += int(batch["attention_mask"].sum())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        state["step"] = step + 1
        train_loss = loss_total / max(n_trained, 1)
        entry: dict[str, Any] = {"step": state["step"], "loss": round(train_loss, 4),
                                 "lr": scheduler.get_last_lr()[0], "dtype": compute.dtype}
        tok_s = tokens_seen / max(time.perf_counter() - started, 1e-9)
        if eval_data is not None and (state["step"] % cfg.eval_every == 0 or state["step"] == total_steps):
            entry["eval_loss"] = round(evaluate_loss(model, eval_data, cfg, pad_id, bf16), 4)
        state["history"].append(entry)
        bar.set_postfix(loss=f"{train_loss:.3f}", tok_s=f"{tok_s:.0f}",
                        **({"eval": f"{entry['eval_loss']:.3f}"} if "eval_loss" in entry else {}))
        bar.update(1)
        if not progress:
            log(json.dumps({**entry, "tok_s": round(tok_s)}))
        write_rows(out / "train_log.jsonl", [{**entry, "tok_s": round(tok_s)}], append=True)
        if state["step"] % cfg.save_every == 0 and state["step"] < total_steps:
            _checkpoint(out, model, optimizer, scheduler, state, cfg.lora)
        if cfg.stop_after_steps and state["step"] >= cfg.stop_after_steps:
            log(f"stopping after step {state['step']} of {total_steps} (--stop-after-steps); saving")
            break
        if cfg.time_limit_minutes and time.perf_counter() - started > 60 * cfg.time_limit_minutes:
            log(f"time limit reached at step {state['step']} of {total_steps}; saving")
            break
    bar.close()
    if trains_head:
        head.save(out, model, tokenizer, protocol)
    else:
        _save_final(out, model, tokenizer, cfg)
    for old in out.glob("checkpoint-*"):  # the final weights supersede the resume point
        shutil.rmtree(old, ignore_errors=True)
    summary = {"steps": state["step"], "examples": counts, "train_examples": len(train_data),
               "held_out": len(eval_data) if eval_data is not None else 0, "base_model": base_path,
               "final_loss": state["history"][-1]["loss"] if state["history"] else None,
               "first_loss": state["history"][0]["loss"] if state["history"] else None,
               "eval_loss": next((h["eval_loss"] for h in reversed(state["history"]) if "eval_loss" in h), None),
               "seconds_this_run": round(time.perf_counter() - started, 1), "tokens_this_run": tokens_seen,
               "dtype": compute.dtype, "dtype_reason": compute.reason, "threads": threads.threads,
               "objective": objective,
               "config": {k: getattr(cfg, k) for k in cfg.field_names()}}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _checkpoint(out: Path, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any], lora: bool) -> None:
    """Write checkpoint-N atomically and keep only the newest: enough to resume, small on disk."""
    tmp = out / f".checkpoint-{state['step']}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    # With LoRA, only what trains: the adapters, and a new head trained in full (PEFT's modules_to_save).
    trained = {name for name, p in model.named_parameters() if p.requires_grad}
    weights = {k: v for k, v in model.state_dict().items() if k in trained} if lora else model.state_dict()
    torch.save({"weights": weights, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
               tmp / "state.pt")
    (tmp / "trainer_state.json").write_text(json.dumps(state))
    final = out / f"checkpoint-{state['step']}"
    tmp.rename(final)
    for old in out.glob("checkpoint-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)


def _resume(out: Path, model: Any, optimizer: Any, scheduler: Any, lora: bool) -> dict[str, Any] | None:
    checkpoints = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    if not checkpoints:
        return None
    saved = torch.load(checkpoints[-1] / "state.pt", weights_only=False)
    model.load_state_dict(saved["weights"], strict=not lora)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    return json.loads((checkpoints[-1] / "trainer_state.json").read_text())


def _save_final(out: Path, model: Any, tokenizer: Any, cfg: TrainConfig) -> None:
    """An adapter (bf16, small enough to ship) or a full bf16 model, with the tokenizer beside it."""
    model.eval()
    model = model.to(torch.bfloat16)  # halves the files on disk; a verifier loads it in the dtype it runs fast
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
