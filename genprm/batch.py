"""Batch verification of a file into a JSONL file that survives crashes.

Each finished result is written as one complete line with a single `write` on a file opened for appending, then
flushed to disk, so a `kill -9` at any moment loses at most the solutions in flight. Re-running the same command
skips every id already in the output: the run resumes where it stopped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from genprm.data import read_solutions
from genprm.errors import ConfigError, InputError
from genprm.types import Solution, VerificationResult


@dataclass
class BatchReport:
    skipped_done: int = 0
    # Ids seen earlier in the same input: verified once, since the output holds each id at most once.
    duplicates: list[str] = field(default_factory=list)
    bad_rows: list[InputError] = field(default_factory=list)


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """'i/n' -> (i, n): this process takes every solution whose position modulo n is i (0-based)."""
    if spec is None:
        return None
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ConfigError("shard", "i/n with integers, e.g. 0/4", spec) from None
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError("shard", "i/n with 0 <= i < n", spec)
    return i, n


def done_ids(out: Path) -> set[str]:
    """Ids already in `out`. A torn last line (a crash mid-write on a filesystem that allows it) is cut off."""
    if not out.exists():
        return set()
    data = out.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(out, "r+b") as f:
            f.truncate(end)
    ids = set()
    for line in data[:end].splitlines():
        if line.strip():
            try:
                ids.add(str(json.loads(line)["id"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputError("is not a genprm results file (a line without an id)", str(out)) from None
    return ids


def select(path: str | Path, format: str = "auto", skip_ids: set[str] | None = None, limit: int | None = None,
           shard: tuple[int, int] | None = None, on_bad_row: Callable[[InputError], None] | None = None,
           report: BatchReport | None = None) -> Iterator[Solution]:
    """The solutions of `path` this run should verify: good rows, in this shard, not done yet, at most `limit`."""
    report = report if report is not None else BatchReport()
    position = taken = 0
    seen: set[str] = set()
    for item in read_solutions(path, format):
        if isinstance(item, InputError):
            report.bad_rows.append(item)
            if on_bad_row:
                on_bad_row(item)
            continue
        if item.id in seen:
            report.duplicates.append(item.id)
            continue
        seen.add(item.id)
        position += 1
        if shard and (position - 1) % shard[1] != shard[0]:
            continue
        if limit is not None and taken >= limit:
            return
        taken += 1
        if skip_ids and item.id in skip_ids:
            report.skipped_done += 1
            continue
        yield item


class ResultWriter:
    """Appends results to a JSONL file, one complete, flushed line per result."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, result: VerificationResult) -> None:
        line = (result.to_json() + "\n").encode()
        size = os.fstat(self.fd).st_size
        written = os.write(self.fd, line)  # one write: the line lands whole or not at all
        if written != len(line):
            # A full disk or a signal mid-write: take the partial line back so the file stays whole lines.
            os.ftruncate(self.fd, size)
            raise OSError(f"short write ({written} of {len(line)} bytes)")
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)
