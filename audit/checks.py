"""Discover and run the SQL checks in sql/: one file per check, its name is the report's name.

A check file is a single SELECT of the rows that break its rule, with a header of `-- key: value`
comment lines (check, flags, why, action, requires). Values reach it only as named DuckDB
parameters ($as_of, $window_start, ...); the runner binds exactly the ones a file uses.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

log = logging.getLogger(__name__)
sql_log = logging.getLogger("audit.sql")

HEADER_LINE = re.compile(r"^--\s*(\w+):\s*(.*)$")
PARAMETER = re.compile(r"\$([A-Za-z_]\w*)")
COMMENT_OR_STRING = re.compile(r"'(?:[^']|'')*'|--[^\n]*")
REQUIRED_HEADER_KEYS = ("check", "flags", "why", "action", "requires")


@dataclass(frozen=True)
class Check:
    name: str
    path: Path
    sql: str
    header: Mapping[str, str] = field(default_factory=dict)

    @property
    def requires(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.header.get("requires", "").split(",") if r.strip())

    @property
    def parameters(self) -> frozenset[str]:
        return frozenset(PARAMETER.findall(strip_comments(self.sql)))

    @property
    def table(self) -> str:
        return f"chk_{self.name}"


def sql_dir() -> Path:
    """The shipped sql/ folder: inside the installed package, or beside it in a source checkout."""
    packaged = Path(str(resources.files("audit"))) / "sql"
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parent.parent / "sql"
    if source.is_dir():
        return source
    raise FileNotFoundError("the sql/ folder of checks is missing from this installation")


def strip_comments(sql: str) -> str:
    """Drop `--` comments but not `--` inside string literals."""
    return COMMENT_OR_STRING.sub(lambda m: m.group(0) if m.group(0).startswith("'") else "", sql)


def parse_header(sql: str) -> dict[str, str]:
    header: dict[str, str] = {}
    key = None
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        match = HEADER_LINE.match(line)
        if match and match.group(1) in (*REQUIRED_HEADER_KEYS, "severity", "stage"):
            key = match.group(1)
            header[key] = match.group(2).strip()
        elif key is not None:  # continuation line of the previous key
            header[key] = f"{header[key]} {line.lstrip('-').strip()}".strip()
    return header


def load_checks(folder: Path | None = None) -> list[Check]:
    folder = folder or sql_dir()
    checks = []
    for path in sorted(folder.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        checks.append(Check(name=path.stem, path=path, sql=sql, header=parse_header(sql)))
    return checks


def run_check(
    con: duckdb.DuckDBPyConnection, check: Check, params: Mapping[str, Any], table: str | None = None
) -> int:
    """Materialise the check as chk_<name> (or `table`, for stage files); returns its row count."""
    table = table or check.table
    missing = sorted(check.parameters - set(params))
    if missing:
        raise KeyError(f"check {check.name} uses unknown parameter(s): {', '.join(missing)}")
    bound = {name: params[name] for name in sorted(check.parameters)}
    body = strip_comments(check.sql).strip().rstrip(";")
    started = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TABLE {table} AS {body}", bound)
    rows = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])  # noqa: S608
    log.debug("pass %s: %d rows in %.3fs", check.name, rows, time.perf_counter() - started)
    sql_log.debug("pass %s SQL:\n%s", check.name, body)
    return rows
