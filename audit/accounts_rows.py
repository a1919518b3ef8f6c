"""CSV records from physical lines, and the conversions of their fields.

Records are assembled here rather than by the csv module reading the file, because the csv module
lets one unterminated quote swallow every following line into a single field. A record may span
lines only when its quotes balance within MAX_RECORD_LINES lines and the joined text parses into
exactly the header's number of fields; otherwise only its first line is judged (and rejected if it
is not a record on its own) and reading resumes on the next line, so one stray quote costs one row.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from audit.inputs import sha256_hex
from audit.lineblocks import Overlong

MAX_RECORD_LINES = 50  # a quoted field may hold up to 49 line breaks
# The csv module refuses a field over 128 KiB by default; a field here is bounded by the lines it
# spans (inputs.max_line_bytes each), so that limit would reject rows the job's own limit accepts.
csv.field_size_limit(2**31 - 1)  # the largest value a C long holds everywhere
TIMESTAMP_COLUMNS = ("created_at", "updated_at", "confirmed_at", "confirmation_sent_at", "last_sign_in_at")
TRUE_WORDS = {"true", "t", "1", "yes", "y"}
FALSE_WORDS = {"false", "f", "0", "no", "n"}
# local@domain: no blanks, control characters, quotes or brackets; a dotted domain whose last label has
# 2+ characters. A dot may not start or end the local part nor follow a dot (email_problem checks it).
_NOT = r"\s\x00-\x1f\x7f-\x9f@\"(),:;<>\[\]\\"
EMAIL = re.compile(rf"[^{_NOT}]+@(?:[^{_NOT}.]+\.)+[^{_NOT}.]{{2,}}")


@dataclass
class Record:
    """One CSV record: its first and last physical line, its fields (None if rejected), and a hash."""

    start: int
    end: int
    fields: list[str] | None
    sha256: str
    code: str = ""
    message: str = ""


def parse_csv(text: str, delimiter: str) -> tuple[list[str] | None, str, str]:
    """(fields, code, message) for the text of exactly one record."""
    try:
        rows = list(csv.reader([text], delimiter=delimiter, strict=True))
    except csv.Error as exc:
        reason = str(exc)
        if "unexpected end of data" in reason:
            return None, "unterminated_quote", "a quoted field is never closed"
        if "new-line character seen in unquoted field" in reason:  # the csv module's advice is for coders
            where = "a carriage return" if "\r" in text else "a line break"
            return None, "bad_csv", f"record cannot be parsed as CSV ({where} outside quotes)"
        return None, "bad_csv", f"record cannot be parsed as CSV ({reason.split(':')[0]})"
    if len(rows) != 1:
        return None, "bad_csv", "record cannot be parsed as CSV (a line break outside quotes)"
    return rows[0], "", ""


def records(
    lines: Iterator[tuple[int, bytes | Overlong]],
    decode: Callable[[int, bytes], str],
    delimiter: str,
    width: Callable[[], int | None],
) -> Iterator[Record | int]:
    """Records in file order; a blank line is yielded as its line number (an int).

    `width()` is the header's field count once known (None while reading the header).
    """
    pending: deque[tuple[int, bytes | Overlong]] = deque()

    def take() -> tuple[int, bytes | Overlong] | None:
        return pending.popleft() if pending else next(lines, None)

    while (first := take()) is not None:
        number, raw = first
        if isinstance(raw, Overlong):
            yield Record(
                number, number, None, raw.sha256, "line_too_long", "line is longer than inputs.max_line_bytes"
            )
            continue
        text = decode(number, raw)
        if not text.strip():
            yield number
            continue
        if text.count('"') % 2 == 0:
            fields, code, message = parse_csv(text, delimiter)
            yield Record(number, number, fields, sha256_hex(raw), code, message)
            continue
        group: list[tuple[int, bytes, str]] = [(number, raw, text)]
        quotes = text.count('"')
        while quotes % 2 and len(group) < MAX_RECORD_LINES and (nxt := take()) is not None:
            if isinstance(nxt[1], Overlong):
                pending.appendleft(nxt)
                break
            following = decode(nxt[0], nxt[1])
            group.append((nxt[0], nxt[1], following))
            quotes += following.count('"')
        joined = "\n".join(t for _, _, t in group)
        fields, code, message = parse_csv(joined, delimiter) if quotes % 2 == 0 else (None, "x", "")
        expected = width()
        if fields is not None and (expected is None or len(fields) == expected):
            raw_record = b"\n".join(r for _, r, _ in group)
            yield Record(number, group[-1][0], fields, sha256_hex(raw_record))
            continue
        pending.extendleft(reversed([(n, r) for n, r, _ in group[1:]]))
        fields, code, message = parse_csv(text, delimiter)  # the first line alone
        yield Record(number, number, fields, sha256_hex(raw), code, message)


def parse_timestamp(text: str) -> dt.datetime:
    """A naive UTC datetime from the forms Rails exports write; an explicit offset is honoured."""
    value = text.strip()
    if value.endswith(" UTC"):
        value = value[:-4]
    elif value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    elif re.search(r" [+-][0-9]{2}:?[0-9]{2}$", value):  # Rails' Time#to_s: "2026-03-04 12:11:12 +0200"
        value = value[:-6] + value[-5:] if value[-6] == " " else value[:-7] + value[-6:]
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("not a boolean")


INT64 = range(-(2**63), 2**63)  # stg_accounts holds integers as BIGINT


def parse_int(text: str) -> int:
    value = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,19}", value):  # ASCII digits only: no "1_000", "1e3", "١٢"
        raise ValueError("not an integer")
    if int(value) not in INT64:
        raise ValueError("not a 64-bit integer")
    return int(value)


CONVERTERS: dict[str, tuple[Callable[[str], Any], str, str]] = {
    "id": (parse_int, "bad_integer", "an integer"),
    "sign_in_count": (parse_int, "bad_integer", "an integer"),
    "login_activated": (parse_bool, "bad_boolean", "true or false"),
    **{name: (parse_timestamp, "bad_timestamp", "a timestamp") for name in TIMESTAMP_COLUMNS},
}


def convert(row: list[str], positions: dict[str, int]) -> tuple[dict[str, Any], tuple[str, str] | None]:
    """Typed values by job column, or the first problem as (code, message) naming the column only."""
    record: dict[str, Any] = {}
    for name, index in positions.items():
        value = row[index]
        if value.strip() == "":
            record[name] = None
            continue
        converter = CONVERTERS.get(name)
        if converter is None:
            record[name] = value
            continue
        parse, code, wanted = converter
        try:
            record[name] = parse(value)
        except (ValueError, OverflowError):
            return record, (code, f"column {name}: value is not {wanted}")
    if record.get("id") is None:
        return record, ("missing_id", "column id is empty")
    return record, None


def email_problem(email: str | None) -> tuple[str, str] | None:
    """Data quality of a kept row's email: empty, or not a syntactically valid address."""
    if email is None or not email.strip():
        return "empty_email", "kept: the email is empty"
    address = email.strip()
    if not EMAIL.fullmatch(address) or ".." in address or address.startswith(".") or ".@" in address:
        return "invalid_email", "kept: the email is not a valid address"
    return None
