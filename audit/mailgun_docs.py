"""API pages and multi-line JSON documents, split into items that keep their physical line.

A v3 API page (`{"items": [...], "paging": {...}}`) may sit on one line of a JSON-lines dump or be
pretty-printed as a whole file; a file may also hold a JSON array of items. Python's strict decoder
finds each item's offset (so its line is known) and its exact text, which then goes through the same
DuckDB validation as a JSON line. Python never decides whether an item is good: it only splits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from audit.errors import DataError
from audit.lineblocks import Block
from audit.mailgun_shapes import is_api_page
from audit.rawlines import RawFile, head

MAX_DOCUMENT_BYTES = 256 << 20
WHITESPACE = " \t\r\n"


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


DECODER = json.JSONDecoder(parse_constant=_no_constants)


class PageError(ValueError):
    """The page or document is not well-formed JSON (or repeats a key that decides its layout)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in WHITESPACE:
        pos += 1
    return pos


def _decode(text: str, pos: int) -> tuple[object, int]:
    try:
        return DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise PageError(exc.msg, exc.pos) from None
    except ValueError as exc:  # NaN / Infinity: the decoder does not say where
        raise PageError(str(exc), _constant_at(text, pos)) from None
    except RecursionError:  # Python's decoder recurses; a deep but valid value is still one value
        end = _end_of_deep_value(text, pos)
        keys = _deep_keys(text[pos:end])
        if keys is None:
            raise PageError("nested too deeply and not valid JSON", pos) from None
        return keys, end  # what the callers look at: the object's top-level keys


# A JSON string (skipped whole), a non-standard constant or a bracket: what the line-level scans look at.
_FIRST_KEY = re.compile(r'\s*\{\s*("(?:[^"\\]|\\.)*")\s*:')  # an object's first key, as written
_LEXEME = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|-?Infinity|NaN|[\[\]{}]')


def _constant_at(text: str, pos: int) -> int:
    """Offset of the first NaN or Infinity outside a string from text[pos] (pos if there is none)."""
    for token in _LEXEME.finditer(text, pos):
        if token.group()[0] not in '"[]{}':
            return token.start()
    return pos


_TOKEN = re.compile(r'["\[\]{}]')


def _end_of_deep_value(text: str, pos: int) -> int:
    """End offset of the array or object at text[pos], found without recursion (brackets, strings)."""
    depth = 0
    token = _TOKEN.search(text, pos)
    while token is not None:
        char, at = token.group(), token.start()
        if char == '"':  # skip the string: its closing quote has an even number of backslashes before it
            close = at
            while True:
                close = text.find('"', close + 1)
                if close < 0:
                    raise PageError("unterminated string", at)
                before = close - 1
                while text[before] == "\\":  # stops at the opening quote at the latest
                    before -= 1
                if (close - 1 - before) % 2 == 0:
                    break
            token = _TOKEN.search(text, close + 1)
            continue
        depth += 1 if char in "[{" else -1
        if depth == 0:
            return at + 1
        token = _TOKEN.search(text, at + 1)
    raise PageError("the value ends early", pos)


def _deep_keys(value: str) -> list[str] | None:
    """Top-level keys ([] for an array) of a value too deep for Python's decoder, None unless it is
    valid JSON: yyjson (DuckDB's JSON parser) does not recurse."""
    row = duckdb.execute("SELECT CASE WHEN json_valid($v) THEN json_keys($v) END", {"v": value}).fetchone()
    return list(row[0]) if row and row[0] is not None else None


def array_items(text: str, pos: int) -> tuple[list[tuple[int, str]], int]:
    """Elements of the JSON array whose `[` is at text[pos]: [(offset, text)], end offset."""
    items: list[tuple[int, str]] = []
    pos = _skip(text, pos + 1)
    if pos < len(text) and text[pos] == "]":
        return items, pos + 1
    while True:
        _, end = _decode(text, pos)
        items.append((pos, text[pos:end]))
        pos = _skip(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)
        elif pos < len(text) and text[pos] == "]":
            return items, pos + 1
        else:
            raise PageError("expecting ',' or ']' in an array", pos)


def page_items(text: str, pos: int = 0) -> tuple[list[tuple[int, str]], int]:
    """Items of the API page whose `{` is at text[pos]; a page without an items array is an error."""
    pos = _skip(text, pos + 1)
    seen: set[str] = set()
    items: list[tuple[int, str]] | None = None
    while pos < len(text) and text[pos] != "}":
        key, pos = _decode(text, pos)
        if not isinstance(key, str):
            raise PageError("expecting a property name", pos)
        if key in seen:
            raise PageError("the page repeats a key", pos)
        seen.add(key)
        pos = _skip(text, pos)
        if pos >= len(text) or text[pos] != ":":
            raise PageError("expecting ':'", pos)
        pos = _skip(text, pos + 1)
        if key == "items":
            if pos >= len(text) or text[pos] != "[":
                raise PageError("the page's items is not an array", pos)
            items, pos = array_items(text, pos)
        else:
            _, pos = _decode(text, pos)
        pos = _skip(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)
    if pos >= len(text):
        raise PageError("the page ends early", pos)
    if items is None:
        raise PageError("the page has no items", pos)
    return items, pos + 1


def looks_like_document(first_line: str) -> bool:
    """Is a file whose first non-blank line is this one JSON documents rather than JSON lines?

    Yes when the line opens a value it does not close (`{`, `[`, `{"items": [`, or an item followed by
    a comma inside an open array), or opens an array of objects (a JSON array of items, even on one
    line). A line that is a whole array of anything else (`[1, 2]`), or a whole item with a stray comma
    after it, is a line of a JSON-lines dump, rejected on its own.
    """
    line = first_line.strip()
    if line[:1] not in ("{", "["):
        return False
    if line[-1:] in ("{", "[") or (line[-1:] == "," and _open_brackets(line) > 0):  # it goes on below
        return True
    return line[:1] == "[" and line[1:].lstrip()[:1] == "{"


def opens_document(block: Block, path: Path) -> bool:
    """Is the first block's first non-blank line the start of a JSON document? A first line too long
    for the block's text (rejected unread) is looked at from the file's first bytes. One that looks
    like a start is not when the next line is a whole JSON object with the same first key: that is a
    JSON-lines dump whose first line was cut short (`{"id": "a",`), one rejected line."""
    if block.table is None:
        first = head(path).partition("\n")[0]
    else:
        first = next((t for t in block.table.column("raw").slice(0, 1000).to_pylist() if t.strip()), "")
    return looks_like_document(first) and not _cut_short(first, head(path))


def _cut_short(first: str, text: str) -> bool:
    """Is `first` the cut start of a line like the second non-blank line of `text`?"""
    second = [line for line in text.split("\n") if line.strip(WHITESPACE)][1:2]
    key, other = _FIRST_KEY.match(first), _FIRST_KEY.match(second[0]) if second else None
    if key is None or other is None or key.group(1) != other.group(1):
        return False
    try:
        return isinstance(json.loads(second[0]), dict)
    except ValueError:
        return False


def item_table(rows: list[tuple[int, int | None, str]]) -> pa.Table:
    """Rows of a document or page as the line-by-line statement takes them (line, item, raw)."""
    return pa.table(
        {
            "line": pa.array([r[0] for r in rows], pa.int64()),
            "item": pa.array([r[1] for r in rows], pa.int32()),
            "raw": pa.array([r[2] for r in rows], pa.large_string()),
        }
    )


def _open_brackets(text: str) -> int:
    """How many brackets the text opens and does not close (those inside strings left out)."""
    depth = 0
    for token in _LEXEME.finditer(text):
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(token.group(), 0)
    return depth


@dataclass
class Document:
    """Rows of a multi-line document: (line, item number or None, JSON text), and line accounting."""

    rows: list[tuple[int, int | None, str]] = field(default_factory=list)
    lines: int = 0
    blank_lines: int = 0
    starts: int = 0  # lines on which a top-level value starts
    pages: int = 0


def split_document(text: str, file: str) -> Document:
    """Every top-level value: a page or an array gives its items, anything else is one row."""
    doc = Document(lines=text.count("\n") + (0 if text.endswith("\n") or not text else 1))
    nonblank = sum(1 for line in text.split("\n") if line.strip(WHITESPACE))
    doc.blank_lines = doc.lines - nonblank
    newlines_before = _line_counter(text)
    pos, start_lines = _skip(text, 0), set()
    try:
        while pos < len(text):
            line = newlines_before(pos)
            start_lines.add(line)
            if text[pos] == "[":
                items, end = array_items(text, pos)
                doc.rows += [(newlines_before(o), n, t) for n, (o, t) in enumerate(items, start=1)]
            else:
                value, end = _decode(text, pos)
                if isinstance(value, dict | list) and is_api_page(value):  # list: a deep value's keys
                    items, end = page_items(text, pos)
                    doc.pages += 1
                    doc.rows += [(newlines_before(o), n, t) for n, (o, t) in enumerate(items, start=1)]
                else:
                    doc.rows.append((line, None, text[pos:end]))
            pos = _skip(text, end)
    except PageError as exc:
        raise DataError(
            f"multi-line JSON document cannot be parsed: {exc}", file=file, line=newlines_before(exc.offset)
        ) from None
    doc.starts = len(start_lines)
    return doc


def _line_counter(text: str) -> Callable[[int], int]:
    """offset -> 1-based line number, for increasing offsets (one pass over the text overall)."""
    state = {"pos": 0, "line": 1}

    def line_of(offset: int) -> int:
        if offset < state["pos"]:
            state["pos"], state["line"] = 0, 1
        state["line"] += text.count("\n", state["pos"], offset)
        state["pos"] = offset
        return state["line"]

    return line_of


def read_document(path: Path) -> tuple[str, RawFile]:
    """The whole decompressed file as text (bounded in size; invalid UTF-8 stops the run)."""
    raw = RawFile(path)
    parts: list[bytes] = []
    size = 0
    for chunk in raw.chunks(8 << 20):
        size += len(chunk)
        if size > MAX_DOCUMENT_BYTES:
            raise DataError(
                f"multi-line JSON document is larger than {MAX_DOCUMENT_BYTES >> 20} MiB; export JSON lines",
                file=str(path),
            )
        parts.append(chunk)
    data = b"".join(parts)
    try:
        return data.decode("utf-8"), raw
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError("multi-line JSON document is not valid UTF-8", file=str(path), line=line) from None
