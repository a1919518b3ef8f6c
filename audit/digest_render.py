"""The digest's two faces: a self-contained HTML page and a Markdown text for chat or a ticket.

Why apart from `audit.digest`: gathering decides *what* a lead sees, this decides *how*, and all of
the escaping lives here. HTML: every value through `html.escape`, the page skeleton and its CSS in
`audit/templates/digest.html` (shipped in the wheel). Markdown: specials and pipes escaped, every email
in a code span so no renderer turns it into a link.
"""

from __future__ import annotations

import html
import re
import string
from importlib import resources
from typing import Any

from audit.digest import CheckDigest, Digest
from audit.normalize import display_email

TOP_ROWS_MD = 5  # a chat message stays short; the HTML page shows digest.TOP_ROWS_HTML
_EMAIL = re.compile(
    r"[^\s@|,;:()<>\[\]\"']+@[^\s@|,;:()<>\[\]\"']+\.[^\s@|,;:()<>\[\]\"']*[^\s@|,;:()<>\[\]\"'.]"
)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def render_html(digest: Digest, charts: dict[str, str]) -> str:
    e = _h
    summary = "".join(_summary_row(c) for c in digest.checks)
    act = "".join(_act_section(c) for c in digest.checks if c.skipped is None)
    trends = "".join(
        f'<figure class="chart">{charts[c.name]}</figure>' for c in digest.checks if c.name in charts
    )
    notes = "".join(f'<li class="{e(level)}">{e(text)}</li>' for level, text in digest.notes)
    warnings = sum(1 for level, _ in digest.notes if level == "warn")
    banner = (
        f'<p class="banner warn">{warnings} data-quality warning(s): '
        'see <a href="#quality">Data quality</a>.</p>'
        if warnings
        else ""
    )
    previous = (
        f"compared with the run of {e(digest.previous)}"
        if digest.previous
        else "first run: everything is new"
    )
    template = string.Template(resources.files("audit").joinpath("templates/digest.html").read_text("utf-8"))
    return template.substitute(
        as_of=e(digest.as_of),
        version=e(digest.version),
        previous=previous,
        banner=banner,
        summary=summary,
        findings=digest.totals["findings"],
        new=digest.totals["new"],
        resolved=digest.totals["resolved"],
        rejects=digest.totals["rejects"],
        data_quality=digest.totals["data_quality"],
        act=act,
        trends=trends,
        notes=notes,
        runs=len(digest.history_dates),
    )


def _summary_row(c: CheckDigest) -> str:
    e = _h
    if c.skipped is not None:
        counts = f'<td class="num" colspan="3">skipped: {e(c.skipped)}</td>'
    else:
        new = f'<span class="badge new">{c.new}</span>' if c.new else "0"
        counts = (
            f'<td class="num" data-report="{e(c.name)}">{c.open}</td><td class="num">{new}</td>'
            f'<td class="num">{c.resolved}</td>'
        )
    return (
        f'<tr><th scope="row"><a href="#{e(c.name)}">{e(c.title)}</a><code>{e(c.name)}</code></th>'
        f"<td>{e(c.meaning)}</td>{counts}</tr>"
    )


def _act_section(c: CheckDigest) -> str:
    e = _h
    head = _headline(c)
    body = "".join(
        f'<tr class="{e(r["severity"])}"><td class="num">{e(_who(r))}</td>'
        f'<td class="email">{_email_html(r["email"])}</td>'
        f'<td><span class="sev {e(r["severity"])}">{e(r["severity"])}</span> '
        f"{_status_html(r)}</td><td>{e(r['evidence'])}</td><td>{e(r['action'])}</td></tr>"
        for r in c.rows
    )
    more = c.units - len(c.rows)
    rest = f'<p class="more">… and {more} more in <code>{e(c.name)}.csv</code>.</p>' if more > 0 else ""
    table = (
        '<table class="rows"><thead><tr><th>Account</th><th>Email</th><th>Status</th><th>Evidence</th>'
        f"<th>Action</th></tr></thead><tbody>{body}</tbody></table>{rest}"
        if c.rows
        else '<p class="none">Nothing to do.</p>'
    )
    return (
        f'<section class="check" id="{e(c.name)}"><h3>{e(c.title)} <small>{e(head)}, {c.new} new, '
        f"{c.resolved} resolved</small></h3>{table}</section>"
    )


def _headline(c: CheckDigest) -> str:
    """How many are open, in the unit a lead acts on (a duplicate cluster is one conversation)."""
    if c.name == "duplicate_signups":
        return f"{c.open} account(s) in {c.units} cluster(s)"
    return f"{c.open} open"


def _who(row: dict[str, Any]) -> str:
    if "cluster_id" in row:
        return f"{row['account_id']} ({row['cluster_id']}, {row['cluster_size']} accounts)"
    return str(row["account_id"])


def _email_html(email: str | None) -> str:
    """Escaped, with a line-break opportunity before the @ so narrow columns wrap between the parts."""
    return _h(display_email(email)).replace("@", "<wbr>@")


def _status_html(row: dict[str, Any]) -> str:
    if row["status"] == "new":
        return '<span class="badge new">new</span>'
    return f'<span class="since">since {_h(row["first_seen"])}</span>'


def render_markdown(digest: Digest) -> str:
    lines = [f"# Account audit digest: {digest.as_of}", ""]
    lines.append(
        f"Compared with the run of {digest.previous}." if digest.previous else "First run: everything is new."
    )
    lines += ["", "| Check | Open | New | Resolved |", "|---|---:|---:|---:|"]
    for c in digest.checks:
        counts = (
            f"{c.open} | {c.new} | {c.resolved}" if c.skipped is None else f"skipped: {_md(c.skipped)} | | "
        )
        lines.append(f"| {_md(c.title)} | {counts} |")
    t = digest.totals
    lines += [
        f"| **All findings** | {t['findings']} | {t['new']} | {t['resolved']} |",
        "",
        "## To act on first",
    ]
    for c in digest.checks:
        if c.skipped is not None or not c.rows:
            continue
        lines += [
            "",
            f"### {_md(c.title)} ({_headline(c)}, {c.new} new)",
            "",
            "| Account | Email | Status | Evidence | Action |",
            "|---|---|---|---|---|",
        ]
        for r in c.rows[:TOP_ROWS_MD]:
            status = "new" if r["status"] == "new" else f"since {r['first_seen']}"
            lines.append(
                f"| {_md(_who(r))} | {_md_code(display_email(r['email']))} | {r['severity']}, {status} "
                f"| {_md(r['evidence'])} | {_md(r['action'])} |"
            )
        if c.units > TOP_ROWS_MD:
            lines.append(f"\n… and {c.units - TOP_ROWS_MD} more in {_md_code(c.name + '.csv')}.")
    lines += ["", "## Data quality", ""] + [f"- {_md(text)}" for _, text in digest.notes]
    return "\n".join(lines) + "\n"


def _h(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _md(value: object) -> str:
    """Markdown-safe text on one line: specials escaped, pipes too, every email in a code span."""
    text = " ".join(("" if value is None else str(value)).split())
    out, last = [], 0
    for match in _EMAIL.finditer(text):
        out += [_MD_SPECIAL.sub(r"\\\1", text[last : match.start()]), _md_code(match.group(0))]
        last = match.end()
    out.append(_MD_SPECIAL.sub(r"\\\1", text[last:]))
    return "".join(out)


def _md_code(value: str) -> str:
    """A code span: never a link, shown as typed; pipes escaped; the fence outgrows any backtick run."""
    text = " ".join(value.split()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
