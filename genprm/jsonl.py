"""Rows in and out: the one reader and writer of JSONL (and JSON list) files in genprm.

    iter_rows(path)          (1-based row, dict or row-level InputError) per row: a batch reports a bad row and goes on
    parse_rows(path, parse)  what `parse` makes of each row, or an InputError naming the row it refused
    read_rows(path)          the rows as dicts; the first bad one raises (pipeline files, scored files)
    JsonlWriter(path)        appends rows, each one complete line in a single write, so a killed run resumes cleanly
    write_rows(path, rows)   a whole file (or an append) in one call
    done_ids(path)           the resume rule: ids already written (a torn last line is cut off)

A file is JSONL (one object per line), a JSON list of objects, or a single JSON object; `.gz` files are read
through gzip. File-level problems (missing, not UTF-8, not JSON, empty) raise `InputError` naming the file; row-level
ones name the file and the row (the 1-based line of a JSONL file, the element of a JSON list).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

from genprm.errors import InputError

Row = dict[str, Any]
T = TypeVar("T")


class ToJson(Protocol):
    """A result that serialises itself (`VerificationResult`, `SearchResult`)."""

    def to_json(self) -> str: ...


def iter_rows(path: str | Path, empty_ok: bool = False) -> Iterator[tuple[int, Row | InputError]]:
    """Yield (1-based row, row or row-level `InputError`) for each row of `path`.

    Raises:
        InputError: the file cannot be read at all (missing, a directory, not UTF-8, not JSON, or empty unless
            `empty_ok`).
    """
    path = Path(path)
    text = _read_text(path)
    stripped = text.lstrip()
    if not stripped:
        if empty_ok:
            return
        raise InputError("file is empty", str(path))
    if stripped[0] == "[" or (stripped[0] == "{" and not _is_jsonl_name(path)):
        try:
            data = json.loads(text)
            records = data if isinstance(data, list) else [data]
        except json.JSONDecodeError as e:
            if stripped[0] == "[" or not _is_json(stripped.splitlines()[0]):
                raise InputError(f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})", str(path)) from None
            records = None  # several objects, one per line: JSONL without the suffix
        if records is not None:
            for i, record in enumerate(records, 1):
                yield i, _as_row(record, path, i)
            return
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            yield i, InputError(f"invalid JSON: {e.msg} (column {e.colno})", str(path), i)
            continue
        yield i, _as_row(record, path, i)


def parse_rows(path: str | Path, parse: Callable[[Row], Iterable[T]]) -> Iterator[T | InputError]:
    """Yield what `parse` makes of each row of `path` (none, one or several items), and for a bad row (not JSON, not
    an object, or refused by `parse` with `InputError`) an `InputError` naming the file and the row.

    Raises:
        InputError: as `iter_rows`, for the file as a whole.
    """
    for row, record in iter_rows(path):
        if isinstance(record, InputError):
            yield record
            continue
        try:
            yield from parse(record)
        except InputError as e:
            yield InputError(e.message, str(path), row)


def read_rows(path: str | Path, empty_ok: bool = False) -> Iterator[Row]:
    """Yield every row of `path` as a dict.

    Raises:
        InputError: as `iter_rows`, and for the first bad row (naming its file and row).
    """
    for _, row in iter_rows(path, empty_ok):
        if isinstance(row, InputError):
            raise row
        yield row


class JsonlWriter:
    """Appends rows to a JSONL file: each row is one complete line, written with a single `write` on a file opened
    for appending, so a `kill -9` at any moment loses at most the row being written and never leaves half of one
    before a later row.

    Args:
        path: the file (created with its folder when missing).
        truncate: start the file afresh instead of appending.
        sync: `fsync` after every row, so a finished row survives a power cut too (results of hours of model work);
            off for files cheap to remake.
    """

    def __init__(self, path: str | Path, truncate: bool = False, sync: bool = True) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | (os.O_TRUNC if truncate else 0)
        self.fd = os.open(path, flags, 0o644)
        self.sync = sync

    def write(self, row: Row | ToJson) -> None:
        text = json.dumps(row, ensure_ascii=False) if isinstance(row, dict) else row.to_json()
        line = (text + "\n").encode()
        size = os.fstat(self.fd).st_size
        written = os.write(self.fd, line)  # one write: the line lands whole or not at all
        if written != len(line):
            # A full disk or a signal mid-write: take the partial line back so the file stays whole lines.
            os.ftruncate(self.fd, size)
            raise OSError(f"short write ({written} of {len(line)} bytes)")
        if self.sync:
            os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_rows(path: str | Path, rows: Iterable[Row | ToJson], append: bool = False, sync: bool = False) -> int:
    """Write `rows` to `path` (replacing it, or appended to it); returns how many were written. Each row lands as
    it comes, so a killed run keeps every row before the one in flight."""
    n = 0
    with JsonlWriter(path, truncate=not append, sync=sync) as writer:
        for row in rows:
            writer.write(row)
            n += 1
    return n


def done_ids(path: str | Path) -> set[str]:
    """Ids already in `path` (none when it does not exist): a re-run skips them. A torn last line (a crash mid-write
    on a filesystem that allows it) is cut off, so its row is redone.

    Raises:
        InputError: a line is not a JSON object with an id.
    """
    path = Path(path)
    if not path.exists():
        return set()
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
    ids = set()
    for line in data[:end].splitlines():
        if line.strip():
            try:
                ids.add(str(json.loads(line)["id"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputError("is not a genprm results file (a line without an id)", str(path)) from None
    return ids


def _read_text(path: Path) -> str:
    if not path.exists():
        raise InputError("no such file", str(path))
    if path.is_dir():
        raise InputError("is a directory, not a file", str(path))
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise InputError(f"not a readable gzip file ({e})", str(path)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})", str(path)) from None


def _is_jsonl_name(path: Path) -> bool:
    return path.name.endswith((".jsonl", ".jsonl.gz"))


def _as_row(record: Any, path: Path, row: int) -> Row | InputError:
    return record if isinstance(record, dict) else InputError("row is not a JSON object", str(path), row)


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True
