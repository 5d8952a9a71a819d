"""Reading a user's CSV, TSV and JSON-lines files, keeping the file line of every record for messages."""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diet.errors import DietError

SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")
FIELD_LIMIT = 1 << 30
ENCODING_FIX = "pass the file's encoding with --encoding (e.g. --encoding latin-1; in Python load_task(..., encoding=...)), or convert the file to UTF-8"


@dataclass(frozen=True)
class Rows:
    """The records of one file: values by column, and the 1-based file line where each record starts."""

    path: Path
    columns: dict[str, list]
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.lines)

    def take(self, positions) -> "Rows":
        pos = np.asarray(positions, dtype=np.int64)
        return Rows(self.path, {c: [v[i] for i in pos] for c, v in self.columns.items()}, self.lines[pos])


def check_encoding(encoding: str) -> str:
    """The encoding name, if Python knows it; else a DietError naming --encoding."""
    try:
        codecs.lookup(encoding)
    except LookupError as error:
        raise DietError(f"unknown encoding {encoding!r} (--encoding): use a Python codec name such as utf-8, latin-1 or cp1252") from error
    return encoding


def read_rows(path: str | Path, encoding: str = "utf-8", kind: str | None = None, what: str = "task file",
              names: tuple[str, ...] | None = None) -> Rows:
    """All records of a CSV, TSV or JSON-lines (.jsonl, .json) file; `kind` (a suffix) overrides the file's.

    A CSV or TSV file names its columns in its first line, unless `names` gives them: then every line is a record.
    """
    path = Path(path)
    suffix = kind or path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DietError(f"{what} {path} has suffix {suffix!r}; use one of {', '.join(SUFFIXES)}")
    if not path.exists():
        raise DietError(f"{what} {path} does not exist; check the path")
    if not path.is_file():
        raise DietError(f"{what} {path} is not a file; name a CSV/TSV/JSONL file (a task may also be a folder holding train.* and test.*)")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DietError(f"cannot read {what} {path}: {error.strerror}; check its permissions") from error
    if not data.strip():
        raise DietError(f"{what} {path} is empty; it needs a header line naming its columns (e.g. text,label) and one line per example")
    text = _decode(data, encoding, path)
    if suffix in (".jsonl", ".json"):
        columns, lines = _json_lines(text, path)
    else:
        columns, lines = _delimited(text, "\t" if suffix == ".tsv" else ",", path, names)
    return Rows(path, columns, np.asarray(lines, dtype=np.int64))


def _decode(data: bytes, encoding: str, path: Path) -> str:
    codec = "utf-8-sig" if codecs.lookup(check_encoding(encoding)).name == "utf-8" else encoding  # drop a BOM
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DietError(f"{path}, line {line}: the bytes {data[error.start:error.end]!r} are not valid {encoding}; {ENCODING_FIX}") from error


def _delimited(text: str, delimiter: str, path: Path, names: tuple[str, ...] | None = None) -> tuple[dict[str, list], list[int]]:
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))  # long texts are fine; the default stops at 128 KiB
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    header, header_line, records, lines, last = (list(names) if names else None), 0, [], [], 0
    try:
        for row in reader:
            start, last = last + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if header is None:
                header, header_line = [name.strip() for name in row], start
                _check_header(header, path, delimiter)
                continue
            if len(row) < len(header) and any("\n" in field for field in row):
                raise DietError(f"{path}, line {start}: a double quote opened on this line is not closed (the field runs on to line {reader.line_num}); close the quote or remove it")
            if len(row) != len(header):
                fix = "a TSV field cannot hold a tab" if delimiter == "\t" else 'put fields that contain commas in double quotes ("a, b")'
                expected = f"the header (line {header_line}) has" if header_line else "every line needs"
                raise DietError(f"{path}, line {start}: {len(row)} fields, but {expected} {len(header)} ({', '.join(header)}); {fix}, or fix the line")
            records.append(row)
            lines.append(start)
    except csv.Error as error:
        raise DietError(f"{path}, line {reader.line_num}: {error}; fix the quoting on that line") from error
    return {name: [row[i] for row in records] for i, name in enumerate(header)}, lines


def _check_header(header: list[str], path: Path, delimiter: str = ",") -> None:
    other = {",": ("\t", "tab-separated", ".tsv"), "\t": (",", "comma-separated", ".csv")}[delimiter]
    if len(header) == 1 and other[0] in header[0]:
        raise DietError(f"{path} looks {other[1]} (its header line {header[0]!r} holds no {'comma' if delimiter == ',' else 'tab'}), but diet reads "
                        f"{path.suffix or 'its'} files as {'comma' if delimiter == ',' else 'tab'}-separated: rename it to {path.with_suffix(other[2]).name}")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DietError(f"{path}: the header names the columns {repeated} more than once; give every column its own name")


def _json_lines(text: str, path: Path) -> tuple[dict[str, list], list[int]]:
    records, lines = [], []
    example = '{"text": "...", "label": 0}'
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise DietError(f"{path}, line {number}: not valid JSON ({error.msg}, column {error.colno}); each line must hold one JSON object such as {example}") from error
        if not isinstance(value, dict):
            raise DietError(
                f"{path}, line {number}: a JSON {type(value).__name__} where an object is needed; "
                f"{path.suffix} files are read as JSON lines, one object such as {example} per line"
            )
        records.append(value)
        lines.append(number)
    names = list(dict.fromkeys(key for record in records for key in record))
    return {name: [record.get(name) for record in records] for name in names}, lines
