"""Input rows for the Ray tests: small sums, every third one wrong."""

from __future__ import annotations

import json
from pathlib import Path

N_SOLUTIONS = 8


def write_solutions(path: Path, n: int = N_SOLUTIONS, bad_row: bool = False) -> list[str]:
    rows = []
    for i in range(n):
        a, b = 3 + i, 7 + 2 * i
        total = a + b + (1 if i % 3 == 0 else 0)  # every third sum is wrong
        rows.append({"id": f"s{i:02d}", "problem": f"Tom has {a} apples and buys {b} more. How many apples now?",
                     "steps": [f"He starts with {a} apples and buys {b}.", f"{a} + {b} = {total}.",
                               f"The answer is {total}."], "label": 1 if i % 3 == 0 else -1})
    lines = [json.dumps(r) for r in rows]
    if bad_row:
        lines.insert(n // 2, '{"id": "broken", "problem": "no steps here"}')
    path.write_text("\n".join(lines) + "\n")
    return [r["id"] for r in rows]
