"""Batch verification of a file into a JSONL file that survives crashes.

Each finished result is written as one complete line with a single `write` on a file opened for appending, then
flushed to disk (`genprm.jsonl.JsonlWriter`), so a `kill -9` at any moment loses at most the solutions in flight.
Re-running the same command skips every id already in the output (`genprm.jsonl.done_ids`): the run resumes where
it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from genprm.data import read_solutions
from genprm.errors import ConfigError, InputError
from genprm.jsonl import JsonlWriter, done_ids
from genprm.types import Solution

__all__ = ["BatchReport", "JsonlWriter", "done_ids", "parse_shard", "select", "select_rows"]


@dataclass
class BatchReport:
    """What a batch's selection left out: rows done by an earlier run, repeated ids, unreadable rows."""

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


def select(path: str | Path, format: str = "auto", skip_ids: set[str] | None = None, limit: int | None = None,
           shard: tuple[int, int] | None = None, on_bad_row: Callable[[InputError], None] | None = None,
           report: BatchReport | None = None) -> Iterator[Solution]:
    """The solutions of `path` this run should verify: good rows, in this shard, not done yet, at most `limit`."""
    return select_rows(read_solutions(path, format), skip_ids, limit, shard, on_bad_row, report)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


Row = TypeVar("Row", bound=_HasId)


def select_rows(items: Iterable[Row | InputError], skip_ids: set[str] | None = None, limit: int | None = None,
                shard: tuple[int, int] | None = None, on_bad_row: Callable[[InputError], None] | None = None,
                report: BatchReport | None = None) -> Iterator[Row]:
    """What a batch (verify, search) should still do of the rows a reader yields: each id once, in this shard, not
    in `skip_ids` (done by an earlier run), among the first `limit` ids; bad rows, repeated ids and skipped ones are
    counted in `report`."""
    report = report if report is not None else BatchReport()
    position = taken = 0
    seen: set[str] = set()
    for item in items:
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
