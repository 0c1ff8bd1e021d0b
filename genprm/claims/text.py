"""Reading numbers and prose: the pieces every kind of claim shares."""

from __future__ import annotations

import re

# A number as solutions write it: 1,200 / 3.5 / .20 (thousands commas only in groups of three).
NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_ANNOTATION = re.compile(r"<<[^<>]*>>")
# "$...$" is LaTeX unless the closing "$" is a currency sign (a number follows it: "$3.00 - $.20") or the span
# reads as prose (two plain words in a row: "$5 and then $").
_DOLLAR_MATH = re.compile(r"\$\$(.+?)\$\$|(?<!\\)\$([^$]+?)(?<!\\)\$(?!\s?\.?\d)|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_PROSE = re.compile(r"(?<![\\{a-zA-Z])[a-zA-Z]{2,}\s+[a-zA-Z]{2,}\b")
_ENV_MATH = re.compile(r"\\begin\{(align\*?|aligned|equation\*?|eqnarray\*?|gather\*?)\}(.+?)\\end\{\1\}", re.S)

WORD_NUMBERS = {"half": [2, 0.5], "twice": [2], "double": [2], "triple": [3], "thrice": [3], "quarter": [4, 0.25],
                "dozen": [12], "one": [1], "two": [2], "three": [3], "four": [4], "five": [5], "six": [6],
                "seven": [7], "eight": [8], "nine": [9], "ten": [10], "eleven": [11], "twelve": [12],
                "fifteen": [15], "twenty": [20], "thirty": [30], "forty": [40], "fifty": [50], "hundred": [100]}


def plain(text: str) -> str:
    """The step without GSM8K's calculator annotations ("48/2 = <<48/2=24>>24" -> "48/2 = 24")."""
    return _ANNOTATION.sub("", text)


def math_spans(text: str) -> list[str]:
    """The LaTeX math a step contains: $...$, $$...$$, \\(...\\), \\[...\\] and align-like environments."""
    spans = [m.group(2) for m in _ENV_MATH.finditer(text)]
    rest = _ENV_MATH.sub(" ", text)
    for m in _DOLLAR_MATH.finditer(rest):
        span = next(g for g in m.groups() if g is not None)
        if not _PROSE.search(re.sub(r"\\(?:text|mbox|mathrm)\{[^{}]*\}", " ", span)):
            spans.append(span)
    return spans


def prose(text: str) -> str:
    """The step with its LaTeX math blanked out: what the plain-text finders read."""
    text = _ENV_MATH.sub(" [math] ", text)

    def blank(m: re.Match[str]) -> str:
        span = next(g for g in m.groups() if g is not None)
        return m.group(0) if _PROSE.search(re.sub(r"\\(?:text|mbox|mathrm)\{[^{}]*\}", " ", span)) else " [math] "

    return _DOLLAR_MATH.sub(blank, text)


def number(text: str) -> str:
    """A written number as SymPy reads it: "$1,200" -> "1200", "$.20" -> "0.20"."""
    text = text.replace(",", "").replace("$", "").strip()
    return "0" + text if text.startswith(".") else text


def decimals(text: str) -> int:
    """Digits after the point in a written number ("2.80" -> 2)."""
    return len(text.split(".", 1)[1]) if "." in text else 0


def as_float(text: str) -> float | None:
    """Read a SymPy printout: an integer, a decimal or a fraction p/q."""
    text = text.strip()
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)(?:/(\d+))?", text)
    if not m:
        return None
    return float(m.group(1)) / (float(m.group(2)) if m.group(2) else 1.0)


def shown_output(text: str) -> str:
    value = as_float(text)
    if "/" in text and value is not None:
        return f"{text} (about {value:.4g})"
    return text


def numbers_in(text: str) -> set[float]:
    found = {float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}
    found |= {n / 100 for n in found}  # 20% -> 0.2
    for word, values in WORD_NUMBERS.items():
        if re.search(rf"\b{word}\b", text, re.IGNORECASE):
            found.update(values)
    return found
