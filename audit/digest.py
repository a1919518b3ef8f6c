"""The morning digest: `digest.html` and `digest.md` in every run folder, for support leads.

Why: the Parquet/CSV reports answer "which rows", but a lead opening their laptop wants "what changed
overnight, what to do first, and can I trust today's data". The digest is built from the run's own
in-memory tables (chk_*, findings, resolved, stg_rejects, hist_runs) and the manifest dict, inside
`run_audit` before anything is published, so a failed run leaves no digest either.

Rules it keeps:
* Self-contained: inline CSS and inline SVG, a Content-Security-Policy that forbids every fetch; the
  file opens offline and leaks nothing (no fonts, scripts, images or links to load).
* Every value is escaped (`html.escape` for HTML; Markdown escapes, emails in code spans, never links).
* Deterministic: nothing depends on the clock or on which dumps a re-run skipped, so re-running a date
  gives identical bytes, like the reports.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from audit.errors import OutputError
from audit.lookup import CHECK_PRIORITY
from audit.report import FILE_MODE

HISTORY_RUNS = 30  # runs per chart, this one included
TOP_ROWS_HTML = 10
NOT_CHECKS = ("findings", "resolved", "rejects", "data_quality")
TITLES = {
    "undeliverable_emails": (
        "Undeliverable emails",
        "cannot receive mail: it bounced, is suppressed or they complained",
    ),
    "gitlab_password_resets": (
        "GitLab.com password resets",
        "reset their GitLab.com password and still cannot get into the portal",
    ),
    "unconfirmed_accounts": ("Unconfirmed accounts", "never confirmed their email, so they cannot sign in"),
    "duplicate_signups": ("Duplicate sign-ups", "signed up more than once with near-identical addresses"),
    "email_mismatches": ("Email mismatches", "use a portal email that differs from their GitLab.com email"),
}
SEVERITY_SQL = "CASE severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END"


@dataclass
class CheckDigest:
    """One check as the digest shows it."""

    name: str
    title: str
    meaning: str
    open: int | None  # None when the check was skipped this run
    new: int = 0
    resolved: int = 0
    skipped: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    units: int = 0  # rows shown are per cluster for duplicates, so "more" counts those units
    history: list[int | None] = field(default_factory=list)


@dataclass
class Digest:
    """One run's digest, independent of how it is rendered."""

    as_of: str
    version: str
    previous: str | None
    checks: list[CheckDigest]
    totals: dict[str, int]
    history_dates: list[str]
    notes: list[tuple[str, str]]  # (level 'warn' | 'info', text)


def write_digest(con: duckdb.DuckDBPyConnection, folder: Path, manifest: dict[str, Any]) -> Path:
    """Write digest.html and digest.md into the (staging) run folder; returns the HTML path."""
    from audit.digest_charts import trend_svg  # matplotlib loads only when a run writes a digest
    from audit.digest_render import render_html, render_markdown

    digest = gather(con, manifest)
    charts = {c.name: trend_svg(c.name, digest.history_dates, c.history, c.title) for c in digest.checks}
    html_path = folder / "digest.html"
    _write(html_path, render_html(digest, charts))
    _write(folder / "digest.md", render_markdown(digest))
    return html_path


def gather(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> Digest:
    """Everything the digest shows, from the run's tables; counts come from the manifest so they match it."""
    reports: dict[str, int] = manifest["reports"]
    skipped: dict[str, str] = manifest.get("checks_skipped", {})
    names = sorted({*(n for n in reports if n not in NOT_CHECKS), *skipped}, key=_check_order)
    new = dict(
        _rows(con, "SELECT check_name, count(*) FILTER (WHERE status = 'new') FROM findings GROUP BY 1")
    )
    resolved = dict(_rows(con, "SELECT check_name, count(*) FROM resolved GROUP BY 1"))
    past = con.execute(
        "SELECT as_of, report_rows FROM hist_runs ORDER BY as_of DESC LIMIT $n", {"n": HISTORY_RUNS - 1}
    ).fetchall()
    past.reverse()
    dates = [d.isoformat() for d, _ in past] + [manifest["as_of"]]
    past_counts = [json.loads(r) for _, r in past] + [reports]
    checks = []
    for name in names:
        title, meaning = TITLES.get(name, (name.replace("_", " ").capitalize(), ""))
        check = CheckDigest(
            name,
            title,
            meaning,
            reports.get(name),
            new.get(name, 0),
            resolved.get(name, 0),
            skipped.get(name),
            history=[c.get(name) for c in past_counts],
        )
        if check.skipped is None:
            check.rows, check.units = _top_rows(con, name)
        checks.append(check)
    previous = past[-1][0].isoformat() if past else None
    totals = {
        "findings": reports.get("findings", 0),
        "new": sum(new.values()),
        "resolved": reports.get("resolved", 0),
        "rejects": reports.get("rejects", 0),
        "data_quality": reports.get("data_quality", 0),
    }
    return Digest(
        manifest["as_of"], manifest.get("version", ""), previous, checks, totals, dates, _notes(con, manifest)
    )


def _check_order(name: str) -> tuple[int, str]:
    return (CHECK_PRIORITY.index(name) if name in CHECK_PRIORITY else len(CHECK_PRIORITY), name)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[Any]:
    return con.execute(sql).fetchall()


def _top_rows(con: duckdb.DuckDBPyConnection, name: str) -> tuple[list[dict[str, Any]], int]:
    """The rows to act on first: most severe, then new before ongoing; one row per duplicate cluster."""
    table = f"chk_{name}"
    extra, per_unit, units = "", "", f"SELECT count(*) FROM {table}"  # noqa: S608 - name from sql/ files
    if name == "duplicate_signups":
        extra = ", cluster_id, cluster_size"
        per_unit = (
            "QUALIFY row_number() OVER (PARTITION BY cluster_id "
            "ORDER BY is_primary DESC, account_id, email) = 1"
        )
        units = f"SELECT count(DISTINCT cluster_id) FROM {table}"  # noqa: S608
    cursor = con.execute(
        f"SELECT account_id, email, severity, status, first_seen, evidence, action{extra} "  # noqa: S608
        f"FROM {table} {per_unit} ORDER BY {SEVERITY_SQL}, status <> 'new', first_seen, account_id, email, "
        "evidence "
        f"LIMIT {TOP_ROWS_HTML}"
    )
    columns = [d[0] for d in cursor.description or []]
    rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    for row in rows:
        row["first_seen"] = row["first_seen"].isoformat() if row["first_seen"] else ""
    return rows, int(con.execute(units).fetchall()[0][0])


def _notes(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """What could make today's numbers wrong: rejected rows, schema drift, inputs or checks missing."""
    notes: list[tuple[str, str]] = []
    if not manifest.get("events_given", True):
        notes.append(
            ("warn", "No Mailgun events were given to this run: the checks that need mail were skipped.")
        )
    for name, reason in sorted(manifest.get("checks_skipped", {}).items()):
        notes.append(("warn", f"{name} was skipped: {reason}."))
    inputs = manifest.get("inputs", [])
    seen = {i.get("domain") for i in inputs} | {d.get("domain") for d in manifest.get("dumps_skipped", [])}
    configured = [
        *manifest.get("config", {}).get("gitlab_domains", []),
        *manifest.get("config", {}).get("portal_domains", []),
    ]
    if manifest.get("events_given", True):
        for domain in configured:
            if domain not in seen:
                notes.append(
                    ("warn", f"No Mailgun dump for {domain} was given: its mail is missing from the checks.")
                )
    for table, text, report in (
        ("stg_rejects", "row(s) not used", "rejects.csv"),
        ("stg_data_quality", "row(s) used with a data-quality problem", "data_quality.csv"),
    ):
        rows = _rows(con, f"SELECT file, code, count(*) FROM {table} GROUP BY ALL ORDER BY ALL")  # noqa: S608
        by_file: dict[str, list[str]] = {}
        for file, code, count in rows:
            by_file.setdefault(file, []).append(f"{code} {count}")
        for file, codes in by_file.items():
            total = sum(int(c.rsplit(" ", 1)[1]) for c in codes)
            notes.append(("warn", f"{Path(file).name}: {total} {text} ({', '.join(codes)}); see {report}."))
    for item in inputs:
        for key, value in sorted((item.get("notes") or {}).items()):
            if value:
                shown = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
                notes.append(("info", f"{Path(item['path']).name}: {key.replace('_', ' ')}: {shown}."))
    if not notes:
        notes.append(("ok", "Every input row was used; all inputs and checks were present."))
    return notes


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
        os.chmod(path, FILE_MODE)
    except OSError as exc:
        raise OutputError(f"cannot write the digest: {exc.strerror}", file=str(path)) from None
