"""Labelled solutions by error injection: take a correct GSM8K solution, make one step wrong, and carry the wrong
value through the rest so the solution stays self-consistent.

GSM8K answers annotate every calculation as `<<48/2=24>>` (the annotation is followed by the visible result), so
the raw text says which numbers are computed from which. An injection edits one annotation (and the visible text
around it), then walks the later annotations: an expression that used the old value gets the new one, is
recomputed, and its new result is carried on in turn. Annotations are stripped at the end by the same
`genprm.data.split_gsm8k` the gsm8k reader uses, so the steps look exactly like inference data.

Error kinds (each one returns None where it does not apply; the caller tries another kind or another step):
    arithmetic   the stated result of a calculation is off (48/2 = 25)
    operation    one operator is swapped (48+2 instead of 48/2), result recomputed
    misread      a quantity taken from the problem is misread (46/2 instead of 48/2), result recomputed
    dropped      one term of a sum or product is left out (a dropped condition), result recomputed
    sign         a subtraction is taken the wrong way round, or a unit factor (x60, x100) is misapplied
    final        the final answer is not the last computed value (a wrong final aggregation)
The label is the earliest wrong step (the injected one). Everything is deterministic for a given seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from genprm.data import split_gsm8k
from genprm.types import Solution

KINDS = ("arithmetic", "operation", "misread", "dropped", "sign", "final")
_ANNOTATION = re.compile(r"<<([^<>=]*)=([^<>]*)>>")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_VISIBLE_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_VISIBLE_OP = re.compile(r"(?<=[\d\s)])\s*([-+*/x×÷])\s*(?=[\d$(])")
_SAFE_EXPR = re.compile(r"^[\d.+\-*/() ]+$")


@dataclass
class _Annotation:
    line: int
    start: int  # span of "<<expr=value>>" in the line
    end: int
    expr: str
    value: str


def fmt_number(x: float) -> str:
    """GSM8K style: integers without a point, otherwise at most two decimals."""
    if abs(x - round(x)) < 1e-9:
        return str(int(round(x)))
    return f"{x:.2f}".rstrip("0").rstrip(".")


def safe_eval(expr: str) -> float | None:
    """The value of a plain arithmetic expression, or None when it is not one (or divides by zero)."""
    if not _SAFE_EXPR.match(expr) or "**" in expr:
        return None
    try:
        value = eval(expr, {"__builtins__": {}}, {})  # only digits, + - * / ( ) . and spaces reach here
    except (SyntaxError, ZeroDivisionError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def _nice(x: float | None) -> bool:
    """A value a grade-school solution could state: finite, not huge, at most two decimals."""
    return x is not None and abs(x) < 1e9 and abs(x * 100 - round(x * 100)) < 1e-6


def _annotations(lines: list[str]) -> list[_Annotation]:
    return [_Annotation(i, m.start(), m.end(), m.group(1), m.group(2))
            for i, line in enumerate(lines) for m in _ANNOTATION.finditer(line)]


def _visible_span(line: str, ann: _Annotation) -> tuple[int, int] | None:
    """Span of the visible expression before `ann` ("48/2" in "sold 48/2 = <<48/2=24>>24"), if the line shows one."""
    m = re.search(r"([\d.,\s+\-*/x×÷()]*\d[\d.,\s+\-*/x×÷()]*?)\s*=\s*\$?\s*$", line[: ann.start])
    if not m:
        return None
    start = m.start(1)
    while start < m.end(1) and not line[start].isdigit() and line[start] != "(":
        start += 1
    return start, m.end(1)


def _rewrite_line(line: str, ann: _Annotation, new_expr: str, new_value: str) -> str | None:
    """Rewrite one calculation: its annotation, its visible expression (number by number, operator by operator)
    and its visible result. None when the visible text cannot be matched to the expression."""
    after = line[ann.end:]
    if not after.startswith(ann.value):
        return None
    tail = new_value + after[len(ann.value):]
    head = line[: ann.start]
    span = _visible_span(line, ann)
    if span is not None:
        visible = line[span[0]:span[1]]
        new_visible = _map_visible(visible, ann.expr, new_expr)
        if new_visible is None:
            return None
        head = line[: span[0]] + new_visible + line[span[1]: ann.start]
    return f"{head}<<{new_expr}={new_value}>>{tail}"


def _map_visible(visible: str, old_expr: str, new_expr: str) -> str | None:
    """Carry a change of the expression over to its visible form: numbers and operators are matched by position."""
    old_nums, new_nums = _NUMBER.findall(old_expr), _NUMBER.findall(new_expr)
    vis_nums = list(_VISIBLE_NUMBER.finditer(visible))
    if len(vis_nums) != len(old_nums):
        return None
    if any(safe_eval(v.group().replace(",", "")) != safe_eval(o) for v, o in zip(vis_nums, old_nums, strict=True)):
        return None
    old_ops, new_ops = re.findall(r"(?<=[\d)])\s*([-+*/])", old_expr), re.findall(r"(?<=[\d)])\s*([-+*/])", new_expr)
    vis_ops = list(_VISIBLE_OP.finditer(visible))
    if len(new_nums) == len(old_nums):  # same shape: replace numbers and operators in place
        if len(vis_ops) != len(old_ops) or len(new_ops) != len(old_ops):
            return None
        pieces = [(m.start(), m.end(), n) for m, n in zip(vis_nums, new_nums, strict=True)]
        for m, old_op, new_op in zip(vis_ops, old_ops, new_ops, strict=True):
            if old_op != new_op:
                shown = {"*": "x" if m.group(1) in "x×" else "*", "/": "/", "+": "+", "-": "-"}[new_op]
                pieces.append((m.start(1), m.end(1), shown))
        out = visible
        for start, end, text in sorted(pieces, reverse=True):
            out = out[:start] + text + out[end:]
        return out
    if len(new_nums) == len(old_nums) - 1 and len(vis_ops) == len(old_ops):
        # The last term was dropped: cut the visible text before the last operator.
        return visible[: vis_ops[-1].start()].rstrip() if vis_ops else None
    return None


def _propagate(lines: list[str], after: int, changes: dict[str, str], problem: str) -> list[str] | None:
    """Substitute changed values into every later calculation, recompute, and carry the new results on.

    `changes` maps old value -> new value (formatted). Returns the new lines, or None if a later calculation that
    uses a changed value cannot be rewritten consistently.
    """
    lines = list(lines)
    for i in range(after + 1, len(lines)):
        line = lines[i]
        if line.startswith("####"):
            final = line[4:].strip()
            key = next((old for old in changes if safe_eval(old) == safe_eval(final.replace(",", ""))), None)
            if key is not None:
                lines[i] = f"#### {changes[key]}"
            continue
        # Later calculations, right to left so the spans stay valid.
        for ann in sorted(_annotations([line]), key=lambda a: -a.start):
            nums = list(re.finditer(_NUMBER, ann.expr))
            hit = [m for m in nums if any(safe_eval(m.group()) == safe_eval(old) for old in changes)]
            if not hit:
                continue
            new_expr = ann.expr
            for m in reversed(hit):
                old = next(o for o in changes if safe_eval(o) == safe_eval(m.group()))
                new_expr = new_expr[: m.start()] + changes[old] + new_expr[m.end():]
            value = safe_eval(new_expr)
            if value is None or value < 0:  # a negative count or price makes the rest of the text nonsense
                return None
            new_value = fmt_number(value)
            rewritten = _rewrite_line(line, ann, new_expr, new_value)
            if rewritten is None:
                return None
            line = rewritten
            if safe_eval(new_value) != safe_eval(ann.value):
                changes = {**changes, ann.value: new_value}
        # Plain mentions of a changed value outside calculations ("She has 24 left."): only distinctive values,
        # a one-digit number or a number from the problem is too likely to be something else.
        for old, new in changes.items():
            if len(old) >= 2 and not re.search(rf"(?<![\d.]){re.escape(old)}(?![\d])", problem):
                line = _replace_outside_annotations(line, old, new)
        lines[i] = line
    return lines


def _replace_outside_annotations(line: str, old: str, new: str) -> str:
    parts = re.split(r"(<<[^<>]*>>)", line)
    pattern = re.compile(rf"(?<![\d.,]){re.escape(old)}(?![\d]|\.\d)")
    out = []
    for j, part in enumerate(parts):
        if part.startswith("<<"):
            out.append(part)
        elif j > 0 and parts[j - 1].startswith("<<") and part.startswith(old):
            out.append(part)  # the visible result right after an annotation was already handled
        else:
            out.append(pattern.sub(new, part))
    return "".join(out)


# -- one function per error kind: (lines, annotation, problem, rng) -> (new expr, new value) or None ---------------


def _arithmetic(ann: _Annotation, problem: str, rng: random.Random) -> tuple[str, str] | None:
    v = safe_eval(ann.value)
    if v is None:
        return None
    candidates = [v + d for d in (1, -1, 2, -2, 10, -10, 5)] + [v * 10, v / 10, v + 100]
    digits = ann.value.replace(".", "")
    if len(digits) >= 2 and "." not in ann.value:  # a transposition slip: 24 -> 42
        candidates.append(float(ann.value[:-2] + ann.value[-1] + ann.value[-2]))
    candidates = [c for c in candidates if c != v and _nice(c) and (c >= 0 or v < 0)]
    return (ann.expr, fmt_number(rng.choice(candidates))) if candidates else None


def _operation(ann: _Annotation, problem: str, rng: random.Random) -> tuple[str, str] | None:
    ops = [m for m in re.finditer(r"(?<=[\d)])\s*([-+*/])", ann.expr)]
    if not ops:
        return None
    m = rng.choice(ops)
    swap = {"+": ["-", "*"], "-": ["+"], "*": ["+", "/"], "/": ["*", "-"]}[m.group(1)]
    for op in rng.sample(swap, len(swap)):
        expr = ann.expr[: m.start(1)] + op + ann.expr[m.end(1):]
        value = safe_eval(expr)
        if _nice(value) and value >= 0 and value != safe_eval(ann.value):  # type: ignore[operator]
            return expr, fmt_number(value)  # type: ignore[arg-type]
    return None


def _misread(ann: _Annotation, problem: str, rng: random.Random) -> tuple[str, str] | None:
    given = [m for m in re.finditer(_NUMBER, ann.expr)
             if re.search(rf"(?<![\d.]){re.escape(m.group())}(?![\d])", problem.replace(",", ""))]
    if not given:
        return None
    m = rng.choice(given)
    v = float(m.group())
    for new in rng.sample([v + 1, v - 1, v + 2, v * 2, v + 10, v / 2], 6):
        if new <= 0 or new == v or not _nice(new):
            continue
        new_s = fmt_number(new)
        if re.search(rf"(?<![\d.]){re.escape(new_s)}(?![\d])", problem):
            continue  # misreading one given number as another given number is not detectable from the text
        expr = ann.expr[: m.start()] + new_s + ann.expr[m.end():]
        value = safe_eval(expr)
        if _nice(value) and value != safe_eval(ann.value):
            return expr, fmt_number(value)  # type: ignore[arg-type]
    return None


def _dropped(ann: _Annotation, problem: str, rng: random.Random) -> tuple[str, str] | None:
    if "(" in ann.expr:
        return None
    m = re.match(r"^(.*\d)\s*([-+*])\s*(\d+(?:\.\d+)?)$", ann.expr.strip())
    if not m or not re.search(r"\d\s*[-+*/]\s*\d", m.group(1)):
        return None  # needs at least three terms: dropping one of two is a different mistake
    value = safe_eval(m.group(1))
    if not _nice(value) or value == safe_eval(ann.value) or value < 0:  # type: ignore[operator]
        return None
    return m.group(1), fmt_number(value)  # type: ignore[arg-type]


def _sign(ann: _Annotation, problem: str, rng: random.Random) -> tuple[str, str] | None:
    m = re.match(r"^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)$", ann.expr.strip())
    if m and m.group(1) != m.group(2) and rng.random() < 0.5:
        expr = f"{m.group(2)}-{m.group(1)}"
        return expr, fmt_number(safe_eval(expr))  # type: ignore[arg-type]
    v = safe_eval(ann.value)
    if v is None or v == 0:
        return None
    # A unit slip: the result is stated in the wrong unit (minutes for hours, cents for dollars).
    for factor in rng.sample([60, 100, 1 / 60, 1 / 100], 4):
        new = v * factor
        if _nice(new) and new != v:
            return ann.expr, fmt_number(new)
    return None


_STEP_KINDS: dict[str, Callable[[_Annotation, str, random.Random], tuple[str, str] | None]] = {
    "arithmetic": _arithmetic, "operation": _operation, "misread": _misread, "dropped": _dropped, "sign": _sign,
}


@dataclass(frozen=True)
class Injection:
    raw: str  # the corrupted GSM8K answer, annotations kept
    step: int  # 0-based index of the wrong step in the stripped steps
    kind: str


def inject(question: str, answer: str, kind: str, rng: random.Random) -> Injection | None:
    """Inject one error of `kind` into a GSM8K answer; None when the kind does not apply to this solution."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    lines = [line.strip() for line in answer.splitlines() if line.strip()]
    if not lines or not lines[-1].startswith("####"):
        return None
    if kind == "final":
        anns = _annotations(lines)
        gold = safe_eval(lines[-1][4:].strip().replace(",", ""))
        others = sorted({a.value for a in anns if safe_eval(a.value) not in (None, gold)})
        if not others:
            return None
        wrong = rng.choice(others)
        return Injection("\n".join([*lines[:-1], f"#### {wrong}"]), len(lines) - 1, kind)
    anns = _annotations(lines[:-1])
    for ann in rng.sample(anns, len(anns)):
        changed = _STEP_KINDS[kind](ann, question, rng)
        if changed is None:
            continue
        new_expr, new_value = changed
        line = _rewrite_line(lines[ann.line], ann, new_expr, new_value)
        if line is None:
            continue
        new_lines = [*lines[: ann.line], line, *lines[ann.line + 1:]]
        # Later calculations in the same line come after this one: propagate within the line too.
        head, rest = line[: line.index(">>", ann.start) + 2], line[line.index(">>", ann.start) + 2:]
        carried = _propagate([head, rest], 0, {ann.value: new_value}, question)
        if carried is None:
            continue
        new_lines[ann.line] = "".join(carried)
        new_lines = _propagate(new_lines, ann.line, {ann.value: new_value}, question)
        if new_lines is None:
            continue
        return Injection("\n".join(new_lines), ann.line, kind)
    return None


def corrupt_gsm8k(rows: Iterable[tuple[int, dict]], seed: int = 0, error_fraction: float = 0.5,
                  kinds: tuple[str, ...] = KINDS) -> Iterator[Solution]:
    """Labelled solutions from GSM8K rows `(row index, {question, answer})`: about `error_fraction` of them get
    one injected error (kinds in turn, starting at a seeded place), the rest stay correct (label -1).

    A row whose turn it is to be corrupted but where no kind applies is kept correct, so the fraction is slightly
    under target; `filter` balances the classes exactly.
    """
    for index, row in rows:
        rng = random.Random(f"{seed}:{index}")
        question, answer = row["question"], row["answer"]
        steps, gold = split_gsm8k(answer, final_marker="####")
        meta = {"source": "gsm8k-train", "row": index, "gold_answer": gold}
        injection = None
        if rng.random() < error_fraction:
            for kind in rng.sample(list(kinds), len(kinds)):
                injection = inject(question, answer, kind, rng)
                if injection is not None:
                    break
        if injection is None:
            yield Solution(problem=question, steps=tuple(steps), id=f"gsm8k-{index}", label=-1,
                           step_labels=tuple(True for _ in steps), answer=gold, outcome=True, meta=meta)
            continue
        bad_steps, final = split_gsm8k(injection.raw, final_marker="####")
        step_labels = tuple(True if i < injection.step else (False if i == injection.step else None)
                            for i in range(len(bad_steps)))
        yield Solution(problem=question, steps=tuple(bad_steps), id=f"gsm8k-{index}-{injection.kind}",
                       label=injection.step, step_labels=step_labels, answer=gold, outcome=final == gold,
                       meta={**meta, "error_kind": injection.kind, "raw": injection.raw})
