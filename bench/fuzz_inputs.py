"""Mutation fuzzer for `account-audit run`: broken copies of the sample inputs, run through the real CLI.

    .venv/bin/python bench/fuzz_inputs.py [--seed S] [--iterations N] [--minutes M]
                                          [--failures DIR] [--keep-going] [--determinism-every K]

It takes small slices of `data/sample/` (the first 20-200 lines of accounts.csv and of a few Mailgun
dumps of every domain under data/sample/mailgun/*/, plus one plain dump over 1 MiB so the fast path's
sentinels and sampling take part), copies them into a temporary folder and, per
iteration, picks some of them and applies one to three random mutations: byte flips; truncation at a
random byte (also inside a multi-byte UTF-8 character or inside a gzip stream); deleting, duplicating,
swapping or splicing lines (from another input); inserting NUL, CR, a lone surrogate's bytes, 0x80-0xFF
bytes or a BOM; renaming, repeating or dropping a header column; another delimiter; re-encoding as
latin-1 or UTF-16; CRLF or CR line ends; gzipping, fake-gzipping (gzip magic, then garbage) or a second
gzip member; swapping a JSON value's type, deleting or duplicating a key; wrapping lines into an API page
(`{"items": [...]}`, on one line or pretty-printed, or a JSON array) or a webhook
(`{"signature": ..., "event-data": ...}`); flattening keys (`message_headers_subject`); an empty or
header-only file; a line longer than `inputs.max_line_bytes`.

Each case runs `python -m audit run` in a subprocess with its own config (inputs as a list or a
glob per domain, sometimes one dump named again for a second domain; `reject_limit`, `max_line_bytes`,
`allow_empty`) and a fresh --out; half of the cases first get a copy of a good run's --out (reports,
`latest`, state), so a failing run can be checked to leave it byte for byte as it was. Invariants:

- the exit code is a documented one (0, 65, 66, 73, 75, 78), never 1, 70 or a signal; stderr has no
  traceback; a failure says on stderr which input file it is about;
- exit 0: `manifest.json` exists; for every input `rows_read == rows_loaded + rows_rejected +
  rows_duplicate`, and `rows_rejected` equals the input's rows in `rejects.csv`; every `rejects` and
  `data_quality` row's `line` is between 1 and the file's physical line count (counted here on the
  decompressed bytes: `\\n`-separated, a last line without newline counts) and its `code` is a documented
  one; the report folder is 0o700 and its files 0o600; no email address of the inputs is in stderr or
  stdout;
- a failure publishes nothing: the --out given a good run's copy is byte for byte unchanged;
- every K-th exit-0 case (--determinism-every, default 4) is run again on a fresh --out (same prior
  state, if any): its CSV and Parquet reports must be byte-identical.

A failing case is saved under --failures (default .bench/fuzz-failures/, which git ignores) in a folder
named by its failure signature (invariant, exit code, exception or message shape), once per signature:
the inputs, `audit.toml`, `cmd.txt`, stdout, stderr, a `--debug` re-run's stderr for exit 70, and
`case.json` (mutations, violations). A summary of iterations and signatures is printed at the end.
Run one fuzzer at a time: each case is a full run (about 3-4 s on two cores).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE = ROOT / "data" / "sample"
AS_OF = "2026-11-20"
DOCUMENTED_EXITS = {0, 65, 66, 73, 75, 78}
REJECT_CODES = {
    "field_count",
    "unterminated_quote",
    "bad_csv",
    "missing_id",
    "bad_integer",
    "bad_timestamp",
    "bad_boolean",
    "not_utf8",
    "line_too_long",
    "not_json",
    "not_object",
    "duplicate_key",
    "missing_event",
    "missing_timestamp",
    "missing_recipient",
    "bad_type",
}
KEPT_CODES = {"duplicate_id", "empty_email", "invalid_email", "conflicting_duplicate"}
EMAIL = re.compile(rb"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
BOMS = [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00"]
ODD_BYTES = [
    b"\x00",
    b"\r",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\x80",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\x1a",
]


@dataclass
class Input:
    """One input file of a case: its name inside the case folder, domain (None: accounts) and bytes."""

    name: str
    domain: str | None
    data: bytes  # as written to disk (maybe gzipped)

    @property
    def is_accounts(self) -> bool:
        return self.domain is None


@dataclass
class Case:
    inputs: list[Input]
    mutations: list[str] = field(default_factory=list)
    reject_limit: float = 1.0
    max_line_bytes: int = 1 << 20
    allow_empty: bool = False
    prior_out: bool = False
    globs: bool = False  # name each domain's dumps by a glob instead of a list
    shared: bool = False  # name one dump a second time, for another domain (it is read once)


# ---------------------------------------------------------------------------------------------- helpers


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


def plain(data: bytes) -> bytes | None:
    """The decompressed bytes (None: a gzip that does not decompress)."""
    if not is_gzip(data):
        return data
    try:
        return gzip.decompress(data)
    except Exception:
        return None


def physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their endings kept."""
    return data.splitlines(keepends=True) if data else []


def ending(line: bytes) -> bytes:
    return line[len(line.rstrip(b"\r\n")) :]


def body(line: bytes) -> bytes:
    return line.rstrip(b"\r\n")


# --------------------------------------------------------------------------------------------- mutations
# Each takes (rng, the input's plain bytes, the case, the input) and returns new plain bytes; those that
# work on the compressed bytes return them with a leading marker handled by `mutate`.


class Compressed(bytes):
    """Bytes to write as they are (not re-gzipped)."""


def m_flip(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def m_truncate(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    if not data:
        return data
    multi = [i for i, c in enumerate(data) if 0x80 <= c < 0xC0]
    if multi and rng.random() < 0.5:
        return data[: rng.choice(multi)]
    return data[: rng.randrange(len(data))]


def m_truncate_gzip(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    z = gz(data)
    return Compressed(z[: rng.randrange(1, len(z))])


def m_flip_gzip(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    z = bytearray(gz(data))
    i = rng.randrange(10, len(z)) if len(z) > 10 else 0
    z[i] ^= 1 << rng.randrange(8)
    return Compressed(bytes(z))


def m_fake_gzip(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    return Compressed(b"\x1f\x8b" + rng.choice([b"", b"\x08\x00", data[:100]]))


def m_gzip_members(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    lines = split_lines(data)
    k = rng.randint(0, len(lines))
    tail = b"" if rng.random() < 0.5 else b"\x00\x00\x00"
    return Compressed(gz(b"".join(lines[:k])) + gz(b"".join(lines[k:])) + tail)


def m_gzip(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    return Compressed(gz(data))


def m_line_ops(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    lines = split_lines(data)
    if len(lines) < 2:
        return data
    op = rng.choice(["delete", "dup", "swap", "dup_header", "delete_first"])
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    if op == "delete":
        del lines[i]
    elif op == "dup":
        lines.insert(j, lines[i] if lines[i].endswith(b"\n") else lines[i] + b"\n")
    elif op == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "dup_header":
        lines.insert(j, lines[0])
    else:
        del lines[0]
    return b"".join(lines)


def m_insert_bytes(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    choice = rng.random()
    if choice < 0.2:
        return rng.choice(BOMS) + data
    if choice < 0.3:
        return data + rng.choice(ODD_BYTES)
    chunk = (
        rng.choice(ODD_BYTES) if rng.random() < 0.7 else bytes(rng.randrange(0x80, 0x100) for _ in range(3))
    )
    i = rng.randrange(len(data) + 1)
    return data[:i] + chunk + data[i:]


def m_line_ends(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    kind = rng.choice(["crlf", "cr", "blank", "no_last", "extra_blank_end", "mixed"])
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    if kind == "cr":
        return data.replace(b"\n", b"\r")
    if kind == "no_last":
        return data.rstrip(b"\n")
    if kind == "extra_blank_end":
        return data + b"\n\n"
    lines = split_lines(data)
    if not lines:
        return data
    i = rng.randrange(len(lines) + 1)
    lines.insert(i, rng.choice([b"\n", b"  \n", b"\r\n", b"\t\n"]) if kind == "blank" else b"\r\n")
    if kind == "mixed":
        lines = [body(x) + rng.choice([b"\n", b"\r\n"]) if x.endswith(b"\n") else x for x in lines]
    return b"".join(lines)


def m_reencode(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    text = data.decode("utf-8", "replace")
    enc = rng.choice(["latin-1", "utf-16", "utf-16-le", "cp1252", "utf-8-sig"])
    return text.encode(enc, "replace")


def m_empty(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    lines = split_lines(data)
    kind = rng.choice(["empty", "header", "header_no_nl", "blank_lines", "spaces"])
    if kind == "empty":
        return b""
    if kind == "header" and lines:
        return lines[0]
    if kind == "header_no_nl" and lines:
        return body(lines[0])
    if kind == "blank_lines":
        return b"\n\n\n"
    return b"   "


def m_splice(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    others = [x for x in case.inputs if x is not inp]
    if not others:
        return data
    src = plain(rng.choice(others).data) or b""
    src_lines = split_lines(src)
    if not src_lines:
        return data
    lines = split_lines(data)
    for _ in range(rng.randint(1, 3)):
        add = rng.choice(src_lines)
        lines.insert(rng.randrange(len(lines) + 1), add if add.endswith(b"\n") else add + b"\n")
    return b"".join(lines)


def m_long_line(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    case.max_line_bytes = 1024
    lines = split_lines(data)
    if not lines:
        return data
    i = rng.randrange(len(lines))
    pad = b"x" * rng.choice([1000, 1024, 1030, 3000])
    if inp.is_accounts:
        lines[i] = body(lines[i]).replace(b",", b"," + pad, 1) + ending(lines[i])
    else:
        lines[i] = body(lines[i]).replace(b'"tags"', b'"pad": "' + pad + b'", "tags"', 1) + ending(lines[i])
    return b"".join(lines)


# ---- accounts (CSV) only


def m_header(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    lines = split_lines(data)
    if not lines:
        return data
    cols = body(lines[0]).split(b",")
    i = rng.randrange(len(cols))
    kind = rng.choice(["rename", "upper", "space", "repeat", "drop", "quote", "empty"])
    if kind == "rename":
        cols[i] = cols[i] + b"_x"
    elif kind == "upper":
        cols[i] = cols[i].upper()
    elif kind == "space":
        cols[i] = b" " + cols[i] + b" "
    elif kind == "repeat":
        cols[i] = cols[rng.randrange(len(cols))]
    elif kind == "drop":
        del cols[i]
    elif kind == "quote":
        cols[i] = b'"' + cols[i] + b'"'
    else:
        cols[i] = b""
    lines[0] = b",".join(cols) + ending(lines[0])
    return b"".join(lines)


def m_delimiter(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    new = rng.choice([b";", b"\t", b"|"])
    if rng.random() < 0.5:
        return data.replace(b",", new)
    lines = split_lines(data)
    if not lines:
        return data
    i = rng.randrange(len(lines))
    lines[i] = lines[i].replace(b",", new)
    return b"".join(lines)


def m_csv_quote(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    lines = split_lines(data)
    if len(lines) < 2:
        return data
    i = rng.randrange(1, len(lines))
    cells = body(lines[i]).split(b",")
    j = rng.randrange(len(cells))
    kind = rng.choice(["open", "newline", "after", "escaped", "cr"])
    if kind == "open":
        cells[j] = b'"' + cells[j]
    elif kind == "newline":
        cells[j] = b'"' + cells[j] + b"\n" + cells[j] + b'"'
    elif kind == "after":
        cells[j] = b'"' + cells[j] + b'"x'
    elif kind == "escaped":
        cells[j] = b'"' + cells[j] + b'""' + b'"'
    else:
        cells[j] = cells[j] + b"\r"
    lines[i] = b",".join(cells) + ending(lines[i])
    return b"".join(lines)


def m_csv_value(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    lines = split_lines(data)
    if len(lines) < 2:
        return data
    header = body(lines[0]).split(b",")
    i = rng.randrange(1, len(lines))
    cells = body(lines[i]).split(b",")
    if len(cells) != len(header):
        return data
    j = rng.randrange(len(cells))
    cells[j] = rng.choice(
        [
            b"",
            b"abc",
            b"-1",
            b"99999999999999999999",
            b"1.5",
            b"2026-02-30 10:00:00 UTC",
            b"0000-01-01",
            b"9999-12-31T23:59:59+14:00",
            b"true",
            b"TRUE",
            b"yes",
            b"NaN",
            b" ",
            b"=1+1",
            b"a@b",
            b"x@@y.com",
            b"\xc3\xa9@ex.com",
            b"2026-03-04 12:11:12 +0200",
            b"1e5",
            b"0x10",
        ]
    )
    lines[i] = b",".join(cells) + ending(lines[i])
    return b"".join(lines)


# ---- Mailgun (JSON lines) only


def _json_lines(data: bytes) -> list[tuple[int, Any]]:
    out = []
    for i, line in enumerate(split_lines(data)):
        try:
            obj = json.loads(line)
        except Exception:
            continue
        if isinstance(obj, dict):
            out.append((i, obj))
    return out


def _replace_line(data: bytes, i: int, new: bytes) -> bytes:
    lines = split_lines(data)
    lines[i] = new + (ending(lines[i]) or b"")
    return b"".join(lines)


def _paths(obj: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    return out


def _get_parent(obj: Any, path: tuple[str, ...]) -> Any:
    for k in path[:-1]:
        obj = obj[k]
    return obj


TYPE_VALUES: list[Any] = [
    None,
    "",
    0,
    12,
    -1,
    1.5,
    1e300,
    True,
    False,
    [],
    {},
    [1],
    {"a": 1},
    "NaN",
    "1794960999",
    "x" * 40,
    2**70,
]


def m_json_type(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    objs = _json_lines(data)
    if not objs:
        return data
    i, obj = rng.choice(objs)
    if rng.random() < 0.6:
        key = rng.choice(["id", "event", "timestamp", "recipient", "message", "delivery-status", "severity"])
        path: tuple[str, ...] = (key,)
        if key == "message" and isinstance(obj.get("message"), dict):
            path = ("message", "headers", "subject") if rng.random() < 0.7 else ("message", "headers")
        if key == "delivery-status" and isinstance(obj.get("delivery-status"), dict):
            path = ("delivery-status", rng.choice(["code", "description", "message"]))
    else:
        paths = _paths(obj)
        if not paths:
            return data
        path = rng.choice(paths)
    try:
        parent = _get_parent(obj, path)
        parent[path[-1]] = rng.choice(TYPE_VALUES)
    except (KeyError, TypeError):
        return data
    text = json.dumps(obj, allow_nan=True).encode()
    if rng.random() < 0.2:
        text = text.replace(b'"NaN"', b"NaN").replace(b"1e+300", b"Infinity")
    return _replace_line(data, i, text)


def m_json_delete(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    objs = _json_lines(data)
    if not objs:
        return data
    i, obj = rng.choice(objs)
    paths = [(k,) for k in ("id", "event", "timestamp", "recipient")] if rng.random() < 0.6 else _paths(obj)
    path = rng.choice(paths)
    try:
        del _get_parent(obj, path)[path[-1]]
    except (KeyError, TypeError):
        return data
    return _replace_line(data, i, json.dumps(obj).encode())


def m_json_dup_key(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    objs = _json_lines(data)
    if not objs:
        return data
    i, _obj = rng.choice(objs)
    line = body(split_lines(data)[i])
    key = rng.choice(
        ["id", "event", "timestamp", "recipient", "subject", "code", "log-level", "attempt-no", "to"]
    )
    m = re.search(rb'"' + re.escape(key.encode()) + rb'": ("[^"]*"|[^,}]*)', line)
    if not m:
        return data
    dup = m.group(0) if rng.random() < 0.5 else b'"' + key.encode() + b'": "other"'
    return _replace_line(data, i, line[: m.end()] + b", " + dup + line[m.end() :])


def m_wrap_page(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    lines = split_lines(data)
    objs = _json_lines(data)
    if not objs:
        return data
    kind = rng.choice(["page_line", "pretty_page", "array_line", "pretty_array", "page_bad_item"])
    a = rng.randrange(len(lines))
    b = min(len(lines), a + rng.randint(1, 5))
    items: list[Any] = []
    for x in lines[a:b]:
        try:
            items.append(json.loads(x))
        except Exception:
            items.append(body(x).decode("utf-8", "replace"))
    if kind == "page_bad_item":
        items.insert(rng.randrange(len(items) + 1), rng.choice([1, "x", None, [], {"id": "only"}]))
    if kind in ("pretty_page", "pretty_array"):
        everything = [o for _, o in objs]
        doc: Any = everything if kind == "pretty_array" else {"items": everything, "paging": {"next": "x"}}
        text = json.dumps(doc, indent=rng.choice([1, 2, 4])).encode() + b"\n"
        if rng.random() < 0.3:
            text = text[: rng.randrange(len(text))]
        return text
    page: Any = items if kind == "array_line" else {"items": items, "paging": {"next": "https://x/next"}}
    return b"".join(lines[:a]) + json.dumps(page).encode() + b"\n" + b"".join(lines[b:])


def _rewrite_items(
    rng: random.Random, data: bytes, change: Callable[[dict[str, Any]], Any], all_at_times: bool = False
) -> bytes:
    """Replace one to four JSON lines (half the time every one, with `all_at_times`) by `change(obj)`."""
    objs = _json_lines(data)
    if not objs:
        return data
    every = all_at_times and rng.random() < 0.5
    chosen = objs if every else rng.sample(objs, k=min(len(objs), rng.randint(1, 4)))
    out = data
    for i, obj in chosen:
        out = _replace_line(out, i, json.dumps(change(obj)).encode())
    return out


def m_webhook(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    def hook(obj: dict[str, Any]) -> dict[str, Any]:
        if rng.random() < 0.5:
            obj = dict(
                obj, domain={"name": rng.choice(["mg.gitlab.com", "customers.gitlab.com", "x.example"])}
            )
        wrapped: dict[str, Any] = {
            "signature": {"timestamp": "1", "token": "t", "signature": "s"},
            "event-data": obj,
        }
        if rng.random() < 0.2:
            wrapped["event-data"] = rng.choice([None, [], "x"])
        return wrapped

    return _rewrite_items(rng, data, hook)


def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        name = (prefix + "_" + k if prefix else k).replace("-", "_")
        if isinstance(v, dict) and v:
            out.update(_flatten(v, name))
        else:
            out[name] = v
    return out


def m_flatten(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    return _rewrite_items(rng, data, _flatten, all_at_times=True)


def m_logs(rng: random.Random, data: bytes, case: Case, inp: Input) -> bytes:
    def logs_item(obj: dict[str, Any]) -> dict[str, Any]:
        ts = obj.pop("timestamp", 0)
        try:
            stamp = dt.datetime.fromtimestamp(float(ts), dt.UTC).isoformat()
        except (TypeError, ValueError, OverflowError):
            stamp = "garbage"
        obj["@timestamp"] = rng.choice([stamp, stamp.replace("+00:00", "Z"), "2026-11-19T10:00:00", "x"])
        obj["domain"] = {"name": "mg.gitlab.com"}
        obj["user-variables"] = json.dumps(obj.get("user-variables", {}))
        return obj

    return _rewrite_items(rng, data, logs_item)


GENERIC = [
    m_flip,
    m_truncate,
    m_truncate_gzip,
    m_flip_gzip,
    m_fake_gzip,
    m_gzip_members,
    m_gzip,
    m_line_ops,
    m_insert_bytes,
    m_line_ends,
    m_reencode,
    m_empty,
    m_splice,
    m_long_line,
]
ACCOUNTS_ONLY = [m_header, m_delimiter, m_csv_quote, m_csv_value, m_csv_value]
EVENTS_ONLY = [
    m_json_type,
    m_json_type,
    m_json_delete,
    m_json_dup_key,
    m_wrap_page,
    m_webhook,
    m_flatten,
    m_logs,
]
RARE = {m_empty, m_fake_gzip, m_truncate_gzip, m_flip_gzip, m_reencode}


def mutate(rng: random.Random, case: Case) -> None:
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
        inp = rng.choice(case.inputs)
        pool = GENERIC + (ACCOUNTS_ONLY if inp.is_accounts else EVENTS_ONLY) * 2
        fn = rng.choice(pool)
        if fn in RARE and rng.random() < 0.5:
            fn = rng.choice(pool)
        current = plain(inp.data)
        if current is None:  # already a broken gzip: mutate the raw bytes
            current = inp.data
        new = fn(rng, current, case, inp)
        if isinstance(new, Compressed):
            inp.data = bytes(new)
        elif is_gzip(inp.data) and rng.random() < 0.97:
            inp.data = gz(new)
        else:
            inp.data = new
        case.mutations.append(f"{inp.name}:{fn.__name__[2:]}")


# ---------------------------------------------------------------------------------------------- running


def base_inputs(rng: random.Random) -> list[Input]:
    """Small slices of the sample: accounts and up to two dumps per domain (some plain, some gzipped)."""
    acc_lines = split_lines((SAMPLE / "accounts.csv").read_bytes())
    out = [Input("accounts.csv", None, b"".join(acc_lines[: rng.randint(20, 200)]))]
    for folder in sorted((SAMPLE / "mailgun").iterdir()):
        files = sorted(folder.glob("*.jsonl.gz"))
        for n, f in enumerate(rng.sample(files, k=rng.randint(1, 2))):
            lines = split_lines(gzip.decompress(f.read_bytes()))
            text = b"".join(lines[: rng.randint(20, 200)])
            gzipped = rng.random() < 0.5
            name = f"mailgun/{folder.name}/{f.stem.removesuffix('.jsonl')}-{n}.jsonl" + (
                ".gz" if gzipped else ""
            )
            out.append(Input(name, folder.name, gz(text) if gzipped else text))
    # One plain dump over 1 MiB, so the fast path's sentinels and sampling past the first MiB take part.
    big = b"".join(
        gzip.decompress(f.read_bytes()) for f in sorted((SAMPLE / "mailgun" / "mg.gitlab.com").glob("*.gz"))
    )
    out.append(
        Input("mailgun/mg.gitlab.com/big.jsonl", "mg.gitlab.com", big[: big.index(b"\n", 1_600_000) + 1])
    )
    return out


def write_case(case: Case, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    events: dict[str, list[str]] = {}
    for inp in case.inputs:
        path = folder / "in" / inp.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(inp.data)
        if inp.domain is not None:
            events.setdefault(inp.domain, []).append("in/" + inp.name)
    lines = [
        'out = "out"',
        f'as_of = "{AS_OF}"',
        "[inputs]",
        'accounts = "in/accounts.csv"',
        f"reject_limit = {case.reject_limit}",
        f"max_line_bytes = {case.max_line_bytes}",
        f"allow_empty = {'true' if case.allow_empty else 'false'}",
        "[inputs.events]",
    ]
    if case.globs:
        events = {d: [str(Path(p[0]).parent / "*")] for d, p in events.items()}
    if case.shared and events:
        events["other.example.com"] = next(iter(events.values()))[:1]
    lines += [f'"{d}" = {json.dumps(p)}' for d, p in events.items()]
    lines += ["[domains]", 'gitlab = ["mg.gitlab.com"]', 'portal = ["customers.gitlab.com"]']
    (folder / "audit.toml").write_text("\n".join(lines) + "\n")


def command(folder: Path, out: str = "out", debug: bool = False) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "audit",
        "run",
        "--config",
        str(folder / "audit.toml"),
        "--out",
        str(folder / out),
    ]
    return cmd + (["--debug"] if debug else [])


def run(folder: Path, out: str = "out", debug: bool = False) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for k in ("ACCOUNT_AUDIT_CONFIG", "ACCOUNT_AUDIT_OUT", "ACCOUNT_AUDIT_DEBUG"):
        env.pop(k, None)
    return subprocess.run(command(folder, out, debug), cwd=folder, env=env, capture_output=True, timeout=300)


def snapshot(folder: Path) -> dict[str, Any]:
    """Every entry under folder: file bytes' hash, mode, symlink target."""
    snap: dict[str, Any] = {}
    if not folder.exists():
        return snap
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        st = p.lstat()
        if p.is_symlink():
            snap[rel] = ("link", os.readlink(p))
        elif p.is_file():
            snap[rel] = ("file", oct(st.st_mode & 0o777), hashlib.sha256(p.read_bytes()).hexdigest())
        else:
            snap[rel] = ("dir", oct(st.st_mode & 0o777))
    return snap


def report_bytes(day: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(day.iterdir())
        if p.suffix in (".csv", ".parquet")
    }


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def check_success(case: Case, folder: Path, proc: subprocess.CompletedProcess[bytes]) -> list[str]:
    bad: list[str] = []
    day = folder / "out" / AS_OF
    manifest_path = day / "manifest.json"
    if not manifest_path.exists():
        return ["no_manifest"]
    manifest = json.loads(manifest_path.read_text())
    if day.stat().st_mode & 0o777 != 0o700:
        bad.append(f"folder_mode:{oct(day.stat().st_mode & 0o777)}")
    for p in day.iterdir():
        if p.stat().st_mode & 0o777 != 0o600:
            bad.append(f"file_mode:{p.name}:{oct(p.stat().st_mode & 0o777)}")

    def input_of(path: str) -> Input | None:
        """The case input a manifest or report path names."""
        return next((x for x in case.inputs if path.endswith("in/" + x.name)), None)

    seen = set()
    for entry in manifest.get("inputs", []):
        path = entry.get("path", "")
        inp = input_of(path)
        if inp is None:
            bad.append("manifest_unknown_input")
            continue
        seen.add(inp.name)
        r = entry["rows_read"]
        if r != entry["rows_loaded"] + entry["rows_rejected"] + entry["rows_duplicate"]:
            bad.append(f"accounting:{inp.name}")
        data = plain(inp.data)
        if data is not None and entry.get("lines") not in (data.count(b"\n"), physical_lines(data)):
            bad.append("manifest_lines")
    skipped = {
        Path(s if isinstance(s, str) else s.get("path", "")).name for s in manifest.get("dumps_skipped", [])
    }
    for inp in case.inputs:
        if inp.name not in seen and Path(inp.name).name not in skipped:
            bad.append("input_missing_from_manifest")
    for report in ("rejects", "data_quality"):
        rows = read_csv_rows(day / f"{report}.csv")
        counts: dict[str, int] = {}
        for row in rows:
            file = row["file"]
            inp = input_of(file)
            if inp is None:
                bad.append(f"{report}_unknown_file")
                continue
            counts[inp.name] = counts.get(inp.name, 0) + 1
            codes = REJECT_CODES if report == "rejects" else KEPT_CODES
            if row["code"] not in codes:
                bad.append(f"{report}_code:{row['code']}")
            data = plain(inp.data) or b""
            try:
                line = int(row["line"])
            except ValueError:
                bad.append(f"{report}_line_not_int")
                continue
            if not 1 <= line <= physical_lines(data):
                bad.append(f"{report}_line_range:{'accounts' if inp.is_accounts else 'events'}:{row['code']}")
        if report == "rejects":
            for entry in manifest.get("inputs", []):
                inp = input_of(entry.get("path", ""))
                if inp is not None and counts.get(inp.name, 0) != entry["rows_rejected"]:
                    bad.append(f"rejects_count:{'accounts' if inp.is_accounts else 'events'}")
    return bad


def emails_of(case: Case) -> set[bytes]:
    found: set[bytes] = set()
    for inp in case.inputs:
        found.update(m.group(0) for m in EMAIL.finditer(plain(inp.data) or b""))
    return {e for e in found if len(e) >= 8 and not e.endswith((b"gitlab.com", b"example.com"))}


def signature(kind: str, proc: subprocess.CompletedProcess[bytes] | None, detail: str = "") -> str:
    sig = f"{kind}-rc{proc.returncode if proc else 'x'}"
    if detail:
        sig += "-" + re.sub(r"[^A-Za-z0-9_.:-]+", "_", detail)[:80]
    return sig


def debug_trace(folder: Path) -> tuple[str, bytes]:
    """A --debug re-run's innermost frame and exception type (the traceback's shape)."""
    shutil.rmtree(folder / "out-debug", ignore_errors=True)
    proc = run(folder, out="out-debug", debug=True)
    err = proc.stderr.decode("utf-8", "replace")
    frames = re.findall(r'File "([^"]+)", line \d+, in (\S+)', err)
    frames = [(f, fn) for f, fn in frames if "/audit/" in f]
    last = err.strip().splitlines()[-1] if err.strip() else ""
    exc = last.split(":")[0]
    where = f"{Path(frames[-1][0]).stem}.{frames[-1][1]}" if frames else "?"
    return f"{exc}@{where}", proc.stderr


def message_shape(stderr: bytes) -> str:
    lines = [x for x in stderr.decode("utf-8", "replace").splitlines() if x.strip() and " INFO " not in x]
    last = lines[-1] if lines else ""
    last = last.removeprefix("account-audit: error: ")
    last = re.sub(r"^\S*/in/\S+?:(\d+:)? ", "FILE: ", last)
    last = re.sub(r"\d+", "N", last)
    last = re.sub(r"'[^']*'|\"[^\"]*\"", "Q", last)
    return last[:90]


def check_case(case: Case, folder: Path, template: Path | None, rng: random.Random, det: bool) -> list[str]:
    """Run one case; the failure signatures (empty: every invariant held)."""
    out = folder / "out"
    if case.prior_out and template is not None:
        shutil.copytree(template, out, symlinks=True)
    before = snapshot(out)
    proc = run(folder)
    (folder / "rc.txt").write_text(str(proc.returncode))
    (folder / "stdout.txt").write_bytes(proc.stdout)
    (folder / "stderr.txt").write_bytes(proc.stderr)
    sigs: list[str] = []
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode not in DOCUMENTED_EXITS:
        detail = ""
        if proc.returncode == 70:
            detail, dbg = debug_trace(folder)
            (folder / "stderr-debug.txt").write_bytes(dbg)
        else:
            detail = message_shape(proc.stderr)
        sigs.append(signature("exit", proc, detail))
    if "Traceback" in stderr:
        sigs.append(signature("traceback", proc))
    leaked = [e for e in emails_of(case) if e in proc.stderr or e in proc.stdout]
    if leaked:
        sigs.append(signature("email_leak", proc))
    if proc.returncode == 0:
        for v in sorted(set(check_success(case, folder, proc))):
            sigs.append(signature(v, proc))
        if det and not sigs:
            first = report_bytes(out / AS_OF)
            again = folder / "out2"
            if case.prior_out and template is not None:
                shutil.copytree(template, again, symlinks=True)
            proc2 = run(folder, out="out2")
            if proc2.returncode != 0:
                sigs.append(signature("rerun_exit", proc2))
            elif report_bytes(again / AS_OF) != first:
                diff = sorted(k for k, v in report_bytes(again / AS_OF).items() if first.get(k) != v)
                sigs.append(signature("nondeterministic", proc2, ",".join(diff)))
    elif proc.returncode in DOCUMENTED_EXITS:
        names = [Path(x.name).name for x in case.inputs] + ["in/"]
        last = [x for x in stderr.splitlines() if x.startswith("account-audit: error")]
        if proc.returncode in (65, 66) and not any(n in stderr for n in names):
            sigs.append(signature("message_no_file", proc, message_shape(proc.stderr)))
        if len(last) != 1 and proc.returncode != 0:
            sigs.append(signature("message_lines", proc, str(len(last))))
        after = snapshot(out)
        if case.prior_out:
            changed = sorted(
                k for k in set(before) | set(after) if before.get(k) != after.get(k) and k != ".lock"
            )
            if changed:
                sigs.append(signature("failure_changed_out", proc, changed[0]))
        elif (out / AS_OF).exists():
            sigs.append(signature("failure_published", proc))
    (folder / "cmd.txt").write_text(" ".join(command(folder)) + "\n")
    return sigs


def save_failure(
    case: Case, folder: Path, sigs: list[str], failures: Path, seed: int, iteration: int
) -> None:
    for sig in sigs:
        dest = failures / sig
        if dest.exists():
            continue
        dest.mkdir(parents=True)
        for name in ("in", "audit.toml", "cmd.txt", "stdout.txt", "stderr.txt", "stderr-debug.txt"):
            src = folder / name
            if src.is_dir():
                shutil.copytree(src, dest / name)
            elif src.exists():
                shutil.copy2(src, dest / name)
        info = {"seed": seed, "iteration": iteration, "mutations": case.mutations, "signatures": sigs}
        info |= {
            "globs": case.globs,
            "shared": case.shared,
            "prior_out": case.prior_out,
            "reject_limit": case.reject_limit,
            "max_line_bytes": case.max_line_bytes,
        }
        (dest / "case.json").write_text(json.dumps(info, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=0, help="stop after N cases (0: no limit)")
    parser.add_argument("--minutes", type=float, default=10.0, help="stop after M minutes (0: no limit)")
    parser.add_argument("--failures", type=Path, default=ROOT / ".bench" / "fuzz-failures")
    parser.add_argument("--determinism-every", type=int, default=4, help="re-run every K-th exit-0 case")
    args = parser.parse_args(argv)
    if not args.iterations and not args.minutes:
        parser.error("give --iterations or --minutes")
    rng = random.Random(args.seed)
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else float("inf")
    seen: dict[str, int] = {}
    exits: dict[int, int] = {}
    messages: dict[str, int] = {}
    ok_count = 0
    i = 0
    with tempfile.TemporaryDirectory(prefix="fuzz-inputs-") as tmp:
        work = Path(tmp)
        pool = base_inputs(rng)
        good = work / "good"
        write_case(Case([Input(x.name, x.domain, x.data) for x in pool]), good)
        proc = run(good)
        if proc.returncode != 0:
            print(proc.stderr.decode(), file=sys.stderr)
            print("the unmutated inputs do not run cleanly", file=sys.stderr)
            return 1
        template = good / "out"
        while (not args.iterations or i < args.iterations) and time.monotonic() < deadline:
            i += 1
            case_rng = random.Random(f"{args.seed}-{i}")
            chosen = [pool[0], *case_rng.sample(pool[1:], k=case_rng.randint(1, min(3, len(pool) - 1)))]
            case = Case([Input(x.name, x.domain, x.data) for x in chosen])
            case.reject_limit = case_rng.choice([1.0, 1.0, 1.0, 0.05])
            case.allow_empty = case_rng.random() < 0.2
            case.prior_out = case_rng.random() < 0.5
            case.globs = case_rng.random() < 0.3
            case.shared = case_rng.random() < 0.15
            mutate(case_rng, case)
            folder = work / f"case-{i}"
            write_case(case, folder)
            sigs: list[str] = []
            try:
                det = ok_count % args.determinism_every == 0
                sigs = check_case(case, folder, template, case_rng, det)
            except subprocess.TimeoutExpired:
                sigs = ["timeout"]
            for s in sigs:
                if s not in seen:
                    print(f"[{i}] NEW {s}  {case.mutations}", flush=True)
                seen[s] = seen.get(s, 0) + 1
            if sigs:
                save_failure(case, folder, sigs, args.failures, args.seed, i)
            rc = _last_rc(folder)
            exits[rc] = exits.get(rc, 0) + 1
            if rc not in (0, -1):
                shape = f"{rc} {message_shape((folder / 'stderr.txt').read_bytes())}"
                messages[shape] = messages.get(shape, 0) + 1
            if rc == 0:
                ok_count += 1
            shutil.rmtree(folder, ignore_errors=True)
            if i % 25 == 0:
                print(f"[{i}] exits {dict(sorted(exits.items()))}, signatures {len(seen)}", flush=True)
    print(f"iterations: {i}; exit codes: {dict(sorted(exits.items()))}")
    print("failure messages (shape):")
    for m, n in sorted(messages.items(), key=lambda kv: -kv[1]):
        print(f"  {n:5d}  {m}")
    print(f"distinct failure signatures: {len(seen)}")
    for s, n in sorted(seen.items(), key=lambda kv: -kv[1]):
        print(f"  {n:5d}  {s}")
    return 0


def _last_rc(folder: Path) -> int:
    rc = folder / "rc.txt"
    return int(rc.read_text()) if rc.exists() else -1


if __name__ == "__main__":
    sys.exit(main())
