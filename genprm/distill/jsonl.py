"""Readable JSONL in and out. The resume rule every stage shares is `genprm.batch.done_ids`: a record whose id is
already in the output file is done (a torn last line is cut), and a re-run skips it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from genprm.errors import InputError


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", str(path))
    with path.open(encoding="utf-8") as f:
        for row, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                # A line cut short by an interrupted run is the last one; anything else is a broken file.
                raise InputError(f"invalid JSON: {e.msg}", str(path), row) from None


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]], append: bool = False) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("a" if append else "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()  # a killed run loses at most the record being written
            n += 1
    return n
