"""`account-audit lookup EMAIL`: everything the audit knows about one customer, without a re-run.

Why: an engineer holding a "cannot sign in" ticket otherwise clicks through the Mailgun logs and the
portal admin. The nightly run already keeps the newest accounts, the open findings and the Mailgun
events the checks need in the state database, and the duplicate clusters in the latest reports; this
module only reads them. The state is attached read-only (a run writes it for a moment at its end, so
a locked file is retried briefly), and the address only ever reaches SQL as a bound parameter.

The result is a plain JSON-shaped dict whose layout is the documented `--json` schema (README,
"Looking up a customer"); `audit.lookup_text` renders the same dict for a terminal.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import duckdb

from audit.checks import load_checks, sql_dir
from audit.config import Config
from audit.errors import InputError, LockError
from audit.lookup_match import iso, match_accounts, suggestions

SCHEMA_VERSION = 1
RECENT_MESSAGES = 10  # newest messages shown per sending domain
LOCK_ATTEMPTS = 10  # a run holds the state for well under a second while it saves
LOCK_WAIT_SECONDS = 0.3
# Which finding decides the next step when there are several: a mail that cannot arrive blocks every
# other fix, so delivery comes first, then the checks that lock the customer out.
CHECK_PRIORITY = (
    "undeliverable_emails",
    "gitlab_password_resets",
    "unconfirmed_accounts",
    "duplicate_signups",
    "email_mismatches",
)
SEVERITY_ORDER = ("high", "medium", "low")
KEPT_EVENTS_NOTE = (
    "events the audit keeps: password resets, confirmations, every failure or complaint, and the "
    "latest delivery to each address; other mail is not kept"
)


def lookup(cfg: Config, email: str) -> dict[str, Any]:
    """Everything known about `email`: accounts, mail, duplicates, mismatches, findings, next step."""
    con = open_state(cfg.state_path)
    try:
        run = _latest_run(con, cfg.state_path)
        reports = _reports_folder(cfg.out, run["as_of"])
        query = email.strip()
        accounts = match_accounts(con, query, cfg.matching.plus_tag_domains, cfg.matching.min_local_length)
        ids = [a["account_id"] for a in accounts]
        findings = _findings(con, run["as_of"], ids)
        addresses = _addresses(query, accounts)
        mail = _mail(con, addresses, run["as_of"])
        clusters = _clusters(con, reports, run["as_of"], findings)
        mismatches = [
            {
                "account_id": a["account_id"],
                "portal_email": a["email"],
                "gitlab_email": a["gitlab"]["email"],
                "gitlab_uid": a["gitlab"]["uid"],
            }
            for a in accounts
            if any(f["check"] == "email_mismatches" and f["account_id"] == a["account_id"] for f in findings)
        ]
        found = bool(accounts) or any(d["messages_total"] for d in mail["domains"])
        nearest = [] if found else suggestions(con, query)
    finally:
        con.close()
    result: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "query": query,
        "found": found,
        "state": {
            **run,
            "as_of": run["as_of"].isoformat(),
            "path": str(cfg.state_path),
            "reports": str(reports) if reports else None,
        },
        "accounts": accounts,
        "mail": mail,
        "duplicate_clusters": clusters,
        "email_mismatches": mismatches,
        "findings": findings,
        "suggestions": nearest,
    }
    result["next_step"] = next_step(result)
    return result


def open_state(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the state attached read-only as `state`, retried while a run writes it."""
    if not path.is_file():
        raise InputError("no state database yet: run `account-audit run` first", file=str(path))
    for attempt in range(LOCK_ATTEMPTS):
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("ATTACH $path AS state (READ_ONLY)", {"path": str(path)})
            return con
        except duckdb.IOException as exc:
            con.close()
            if "lock" not in str(exc).lower():
                raise InputError(f"cannot open the state database: {exc}", file=str(path)) from None
            if attempt + 1 < LOCK_ATTEMPTS:
                time.sleep(LOCK_WAIT_SECONDS)
    waited = LOCK_ATTEMPTS * LOCK_WAIT_SECONDS
    raise LockError(
        f"the state database is being written by a run right now (still locked after {waited:.0f}s); "
        "try again in a minute",
        file=str(path),
    )


def _latest_run(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, Any]:
    rows = con.execute(
        "SELECT as_of, finished_at, version, events_given FROM state.runs ORDER BY as_of DESC LIMIT 1"
    ).fetchall()
    if not rows:
        raise InputError("the state database holds no finished run yet", file=str(path))
    as_of, finished_at, version, events_given = rows[0]
    return {
        "as_of": as_of,
        "run_finished_at": iso(finished_at),
        "version": version,
        "events_given": bool(events_given),
    }


def _reports_folder(out: Path, as_of: dt.date) -> Path | None:
    """The run's own report folder, else whatever OUT/latest points at (the newest published date)."""
    for folder in (out / as_of.isoformat(), out / "latest"):
        if folder.is_dir():
            return Path(os.path.realpath(folder))
    return None


def _addresses(query: str, accounts: list[dict[str, Any]]) -> list[str]:
    """Recipients whose mail belongs to this customer: the query and every matched account's addresses."""
    found = {query.lower()}
    for account in accounts:
        for value in (account["email"], account["gitlab"]["email"]):
            if value and value.strip():
                found.add(value.strip().lower())
    return sorted(found)


def _mail(con: duckdb.DuckDBPyConnection, addresses: list[str], as_of: dt.date) -> dict[str, Any]:
    """Kept events folded into messages by the same stage SQL the checks use, grouped by sending domain."""
    con.execute(
        "CREATE TABLE stg_events AS SELECT * EXCLUDE (first_as_of) FROM state.events "
        "WHERE list_contains($addresses, recipient_norm)",
        {"addresses": addresses},
    )
    (stage,) = [s for s in load_checks(sql_dir() / "stage") if s.name == "stg_messages"]
    as_of_end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    con.execute(f"CREATE TABLE messages AS {stage.sql}", {"as_of_end": as_of_end})
    rows = con.execute(
        """
        SELECT domain, domain_role, recipient_norm, mail_kind, subject, sent_at, delivered_at, outcome,
               failure_reason, failure_code,
               row_number() OVER (
                   PARTITION BY domain ORDER BY sent_at DESC, message_key, recipient_norm) AS n,
               count(*) OVER (PARTITION BY domain) AS total
        FROM messages ORDER BY domain, n
        """
    ).fetchall()
    domains: dict[str, dict[str, Any]] = {}
    for domain, role, recipient, kind, subject, sent, delivered, outcome, reason, code, n, total in rows:
        group = domains.setdefault(
            domain, {"domain": domain, "role": role, "messages_total": total, "messages": []}
        )
        if n <= RECENT_MESSAGES:
            failure = " ".join(str(p) for p in (reason, code) if p is not None) or None
            group["messages"].append(
                {
                    "sent_at": iso(sent),
                    "recipient": recipient,
                    "kind": kind,
                    "subject": subject,
                    "outcome": outcome,
                    "delivered_at": iso(delivered),
                    "failure": failure,
                }
            )
    return {"addresses": addresses, "note": KEPT_EVENTS_NOTE, "domains": list(domains.values())}


def _findings(con: duckdb.DuckDBPyConnection, as_of: dt.date, ids: list[int]) -> list[dict[str, Any]]:
    rows = con.execute(
        "SELECT check_name, account_id, email, severity, evidence, action, first_seen, finding_key "
        "FROM state.findings WHERE as_of = $as_of AND list_contains($ids, account_id)",
        {"as_of": as_of, "ids": ids},
    ).fetchall()
    findings = [
        {
            "check": c,
            "account_id": a,
            "email": e,
            "severity": s,
            "evidence": ev,
            "action": ac,
            "first_seen": fs.isoformat() if fs else None,
            "finding_key": k,
        }
        for c, a, e, s, ev, ac, fs, k in rows
    ]
    # A duplicate cluster is one finding with a row per account: keep the best-matched account's row.
    findings.sort(key=lambda f: (_finding_rank(f), ids.index(f["account_id"])))
    first_per_key: dict[str, dict[str, Any]] = {}
    for finding in findings:
        first_per_key.setdefault(finding["finding_key"], finding)
    return list(first_per_key.values())


def _finding_rank(finding: dict[str, Any]) -> tuple[int, int]:
    check = finding["check"]
    severity = finding["severity"]
    return (
        SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER),
        CHECK_PRIORITY.index(check) if check in CHECK_PRIORITY else len(CHECK_PRIORITY),
    )


def _clusters(
    con: duckdb.DuckDBPyConnection, reports: Path | None, as_of: dt.date, findings: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each duplicate cluster a matched account is in, with its members and suggested primary account."""
    keys = sorted({f["finding_key"] for f in findings if f["check"] == "duplicate_signups"})
    report = reports / "duplicate_signups.parquet" if reports else None
    clusters = []
    for key in keys:
        cluster_id = key.split(":", 1)[1]
        if report is not None and report.is_file():
            rows = con.execute(
                "SELECT account_id, email, matched_account_id, score, reason, is_primary, "
                "primary_account_id, primary_reason FROM read_parquet($path) "
                "WHERE cluster_id = $cluster ORDER BY account_id",
                {"path": str(report), "cluster": cluster_id},
            ).fetchall()
        else:  # no report folder: members from the state, without the primary
            rows = con.execute(
                "SELECT account_id, email, NULL, NULL, NULL, false, NULL, NULL FROM state.findings "
                "WHERE as_of = $as_of AND finding_key = $key ORDER BY account_id",
                {"as_of": as_of, "key": key},
            ).fetchall()
        members = [
            {
                "account_id": a,
                "email": e,
                "is_primary": bool(p),
                "matched_account_id": m,
                "score": round(s, 3) if s is not None else None,
                "reason": r,
            }
            for a, e, m, s, r, p, _, _ in rows
        ]
        primary = next(((r[6], r[7]) for r in rows if r[6] is not None), (None, None))
        clusters.append(
            {
                "cluster_id": cluster_id,
                "size": len(members),
                "primary_account_id": primary[0],
                "primary_reason": primary[1],
                "accounts": members,
            }
        )
    return clusters


def next_step(result: dict[str, Any]) -> str:
    """One clear recommendation: the most urgent finding's action, else what the facts point to.

    Only accounts that really use the address (or its mailbox) decide it: a look-alike address may be
    a stranger, so the engineer confirms it with the customer before acting on that account.
    """
    accounts = result["accounts"]
    if not result["found"]:
        return (
            "No account or kept mail has this address: ask the customer which address they signed up "
            "with" + (", e.g. one of the nearest known addresses above." if result["suggestions"] else ".")
        )
    if not accounts:
        return (
            "No portal account has this address, but mail was sent to it: ask the customer which address "
            "their portal account uses, then look that address up."
        )
    direct = [a for a in accounts if a["matched_by"] != "similar"]
    if not direct:
        other = accounts[0]
        return (
            f"No account uses this exact address; account {other['account_id']} ({other['email']}) has a "
            "similar one. Confirm with the customer that it is theirs, then look that address up."
        )
    ids = {a["account_id"] for a in direct}
    findings = [f for f in result["findings"] if f["account_id"] in ids]
    if findings:
        return f"Account {findings[0]['account_id']}: {findings[0]['action']}"
    account = direct[0]
    if account["login_activated"] is False:
        return f"Account {account['account_id']}: login is deactivated; re-activate it in the portal admin."
    return (
        f"Account {account['account_id']}: the audit sees no open problem. Ask the customer for the exact "
        "error message and when they tried, and check the portal sign-in logs."
    )
