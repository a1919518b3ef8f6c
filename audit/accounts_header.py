"""The accounts export's header, checked by name against the configured mapping before any row is read.

A changed export (a missing or repeated column, another delimiter, another encoding) stops the run with a
message that names the columns, but never shows a cell that could be data: a first line that is not a
header holds a customer's values.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from audit.accounts_rows import Record
from audit.config import ACCOUNT_COLUMNS, REQUIRED_ACCOUNT_COLUMNS, Config
from audit.errors import ConfigError, DataError
from audit.rawlines import CR_ONLY, bare_cr

HEADER_NAME = re.compile(r"[A-Za-z_][\w .()/#+-]{0,63}")  # what a column name looks like
OTHER_DELIMITERS = (";", "\t", "|")


def codec(name: str) -> str:
    """The codec to decode lines with; a UTF-8 BOM is dropped while reading. Lines are split on
    b"\\n" first, so the encoding must be ASCII-compatible (not UTF-16/32)."""
    codec = codecs.lookup(name).name
    if codec.startswith(("utf-16", "utf-32")):
        raise ConfigError(
            f"csv.encoding {name!r} is not supported: export as UTF-8 (or another ASCII superset)"
        )
    return codec


def shown(name: str) -> str:
    """A header name for a message or the manifest; a cell that is not a column name is not shown."""
    name = name.strip()
    return name if HEADER_NAME.fullmatch(name) and "@" not in name else "(not a column name)"


def check_header(item: Record, cfg: Config, file: str) -> tuple[list[str], dict[str, int]]:
    """The header's cells and {job column: position}; a header that cannot serve raises DataError."""
    if item.fields is None:
        # lines end at "\n" only, so a file whose lines end in "\r" alone is one line
        cr_only = "carriage return" in item.message or (item.code == "line_too_long" and bare_cr(Path(file)))
        hint = f"; {CR_ONLY}" if cr_only else ""
        raise DataError(f"header cannot be parsed as CSV: {item.message}{hint}", file=file, line=item.start)
    header = item.fields
    names = [cfg.columns.get(h.strip(), h.strip()) for h in header]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        listed = ", ".join(shown(n) for n in repeated)
        raise DataError(f"header repeats column(s): {listed}", file=file, line=item.start)
    positions = {name: index for index, name in enumerate(names) if name in ACCOUNT_COLUMNS}
    missing = [c for c in REQUIRED_ACCOUNT_COLUMNS if c not in positions]
    if missing:
        wanted = ", ".join(f"{c} (header {cfg.header_for(c)!r})" for c in missing)
        # only cells that are known column names are shown: a first line without a header is data
        known = [repr(h.strip()) for h in header if h.strip() in ACCOUNT_COLUMNS or h.strip() in cfg.columns]
        found = f"{', '.join(known[:20])}" if known else "none of them a known column"
        hint = ""
        if len(header) == 1:
            other = next((d for d in OTHER_DELIMITERS if d in header[0] and d != cfg.csv_delimiter), None)
            hint = f"; the header looks {other!r}-separated: set csv.delimiter" if other else ""
        cased = [
            f"{h.strip()!r} for {cfg.header_for(c)!r}"
            for c in missing
            for h in header
            if h.strip() != cfg.header_for(c) and h.strip().lower() == cfg.header_for(c).lower()
        ]
        if cased:  # equal to a known name but for case, so no personal data
            hint += f"; column names are case-sensitive: {', '.join(cased)}"
        if any("\x00" in h for h in header):  # ASCII names in UTF-16/32 without a BOM read as UTF-8
            hint += "; the header holds NUL bytes (UTF-16 or UTF-32?): export the file as UTF-8"
        raise DataError(
            f"header lacks required column(s): {wanted}; found {len(header)} column(s): {found}{hint}",
            file=file,
            line=item.start,
        )
    return header, positions
