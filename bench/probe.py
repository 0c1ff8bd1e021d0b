"""Can a model read step correctness at all? A linear probe on its hidden state where the verdict is scored.

The question behind issue 12's numbers: when a 135M student trained on real labels does not separate right from
wrong steps on real GSM8K solutions, is it the training (too little, wrong objective) or the model (the information
is not in its representation)? A logistic regression on the last hidden state at the verdict position (the token
before " Yes"/" No" in the `verdict` protocol's transcript) answers the second part, for each model given:

    transfer   probe trained on the training mix's steps (`--train`, the real stage's records), tested on the 120
               real GSM8K solutions (bench/data/gsm8k_real_labelled.jsonl): what more training on this data can reach
    in-domain  5-fold cross-validation within the 120 real solutions, folds by problem: an upper bound with
               in-domain labels (a diagnostic only; nothing that ships is fitted on an evaluation set)

Steps are taken up to each solution's first error, as the verifier sees them. Prints step AUROC per model and setting.

    python bench/probe.py --train runs/real/kept.jsonl --train-n 600 \
        --model SmolLM2-135M-Instruct --model runs/real/model
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genprm.backends.device import autocast_bf16, use_threads  # noqa: E402
from genprm.backends.weights import resolve_model  # noqa: E402
from genprm.data import load_solutions  # noqa: E402
from genprm.distill.dialogue import render_with_spans  # noqa: E402
from genprm.distill.real import RealCritiques  # noqa: E402
from genprm.distill.teachers import Critique  # noqa: E402
from genprm.eval.metrics import auroc  # noqa: E402
from genprm.protocols import VerificationProtocol, load  # noqa: E402

Dialogue = tuple[str, list[str], list[Critique]]


def features(model: object, tokenizer: object, protocol: VerificationProtocol, dialogues: list[Dialogue],
             bf16: bool) -> tuple[torch.Tensor, list[bool], list[int]]:
    """Last-layer hidden states at every trained verdict position, their labels (True = right) and step indices."""
    xs, ys, ks = [], [], []
    for problem, steps, critiques in dialogues:
        text, spans = render_with_spans(tokenizer, protocol, problem, steps, critiques)
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        starts = [start for start, _ in enc["offset_mapping"]]
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(input_ids=torch.tensor([enc["input_ids"]]), output_hidden_states=True)  # type: ignore
        hidden = out.hidden_states[-1][0].float()
        trained = [(k, c) for k, c in enumerate(critiques) if c.train_verdict]
        for (a, _b), (k, critique) in zip(spans, trained, strict=True):
            position = next(i for i, s in enumerate(starts) if s >= a) - 1  # the token before the verdict word
            xs.append(hidden[position])
            ys.append(critique.verdict)
            ks.append(k)
    return torch.stack(xs), ys, ks


def fit_probe(x: torch.Tensor, y: list[bool], l2: float = 1e-2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logistic regression (L-BFGS, L2, balanced classes) on standardised features."""
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / std
    target = torch.tensor(y, dtype=torch.float32)
    pos = float(target.mean())
    weights = torch.where(target > 0, 0.5 / max(pos, 1e-6), 0.5 / max(1 - pos, 1e-6))
    w = torch.zeros(z.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logits = z @ w + b
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none") * weights).mean()
        loss = loss + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach(), torch.stack([mean, std])


def predict(probe: tuple[torch.Tensor, torch.Tensor, torch.Tensor], x: torch.Tensor) -> list[float]:
    w, b, norm = probe
    return torch.sigmoid(((x - norm[0]) / norm[1]) @ w + b).tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", default="runs/real/kept.jsonl", help="training records (the real stage's output)")
    ap.add_argument("--train-n", type=int, default=600, help="records sampled from --train (seeded)")
    ap.add_argument("--real", default="bench/data/gsm8k_real_labelled.jsonl")
    ap.add_argument("--model", action="append", help="models to probe (repeat); default: the base model")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    threads = use_threads(args.threads).threads
    compute = autocast_bf16("auto", "cpu")  # fp32 weights; bf16 matmuls only where the CPU runs them natively
    protocol = load("verdict")
    records = [json.loads(line) for line in Path(args.train).read_text().splitlines() if line.strip()]
    records = random.Random(args.seed).sample(records, min(args.train_n, len(records)))
    train = [(r["problem"], r["steps"], [Critique.from_dict(c) for c in r["critiques"]]) for r in records]
    real_solutions = load_solutions(args.real, "steps")
    renderer = RealCritiques(protocol)
    real = [(s.problem, list(s.steps), renderer.direct(s)) for s in real_solutions]
    problems = sorted({s.problem for s in real_solutions})
    random.Random(args.seed).shuffle(problems)
    fold_of = {p: i % 5 for i, p in enumerate(problems)}
    print(f"train: {len(train)} records of {args.train} (seed {args.seed}); real: {len(real)} solutions, 5 folds by "
          f"problem; {threads} threads, {compute.dtype} ({compute.reason})")
    for name in args.model or ["SmolLM2-135M-Instruct"]:
        started = time.perf_counter()
        path = resolve_model(name)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        x_train, y_train, _ = features(model, tokenizer, protocol, train, compute.dtype == "bfloat16")
        x_real, y_real, k_real = features(model, tokenizer, protocol, real, compute.dtype == "bfloat16")
        transfer = auroc(predict(fit_probe(x_train, y_train), x_real), y_real)
        fold = [fold_of[problem] for (problem, _, critiques) in real for c in critiques if c.train_verdict]
        scores = [0.0] * len(y_real)
        for f in range(5):
            inside = [i for i, g in enumerate(fold) if g != f]
            held_out = [i for i, g in enumerate(fold) if g == f]
            probe = fit_probe(x_real[inside], [y_real[i] for i in inside])
            for i, s in zip(held_out, predict(probe, x_real[held_out]), strict=True):
                scores[i] = s
        in_domain = auroc(scores, y_real)
        # A score that knows only the step's index, earlier = more suspect: the first errors of these solutions
        # are mostly their first step, and steps after a first error are not labelled, so position alone separates.
        position = auroc([float(k) for k in k_real], y_real)
        wrong = sum(not y for y in y_real)
        print(f"{name}: step AUROC on gsm8k-real, transfer probe {transfer:.3f}, in-domain 5-fold probe "
              f"{in_domain:.3f}; the step's index alone {position:.3f} ({len(y_real)} steps, {wrong} wrong; "
              f"{len(y_train)} training steps; {time.perf_counter() - started:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
