"""The terminal layout of `account-audit lookup`: one screen that tells the customer's story.

Why a separate module: the JSON dict from `audit.lookup` is the contract; this is only one way of
showing it. Styles are click styles, which `click.echo` strips when stdout is not a terminal, so
piping the output into a ticket gives plain text. Values are shown as stored; emails are shown on
purpose (the engineer needs them), but through `display_email` so hidden whitespace is visible.
"""

from __future__ import annotations

from typing import Any

import click

from audit.normalize import display_email

OUTCOME_COLOURS = {
    "delivered": "green",
    "failed permanently": "red",
    "rejected by Mailgun": "red",
    "failed temporarily": "yellow",
    "accepted, no delivery seen": "yellow",
}
SEVERITY_COLOURS = {"high": "red", "medium": "yellow", "low": "cyan"}
MATCH_LABELS = {
    "exact": "this address",
    "same_mailbox": "same mailbox",
    "gitlab_email": "GitLab.com email",
    "pending_email": "pending email change",
    "similar": "similar address",
}
ROLE_LABELS = {"gitlab": "GitLab.com", "portal": "portal", "other": "other"}


def render(result: dict[str, Any]) -> str:
    """The whole report as styled text (ANSI codes that click.echo removes off a terminal)."""
    lines = _header(result)
    if not result["found"]:
        lines += _not_found(result)
    else:
        lines += _accounts(result["accounts"])
        lines += _clusters(result["duplicate_clusters"])
        lines += _mismatches(result["email_mismatches"])
        lines += _findings(result["findings"])
        lines += _mail(result["mail"])
    lines += ["", click.style("Next step: ", bold=True) + result["next_step"]]
    return "\n".join(lines)


def _header(result: dict[str, Any]) -> list[str]:
    state = result["state"]
    when = f"audit as of {state['as_of']}, run finished {_short(state['run_finished_at'])} UTC"
    lines = [click.style(f"Lookup: {display_email(result['query'])}", bold=True) + f"  ({when})"]
    if not state["events_given"]:
        lines.append(
            click.style("  The last run had no Mailgun events: mail checks were skipped.", fg="yellow")
        )
    if state["reports"] is None:
        lines.append(
            click.style("  No report folder found: duplicate clusters lack their primary.", fg="yellow")
        )
    return lines


def _section(title: str, count: int | None = None) -> list[str]:
    suffix = f" ({count})" if count is not None else ""
    return ["", click.style(title + suffix, bold=True, underline=True)]


def _not_found(result: dict[str, Any]) -> list[str]:
    lines = ["", click.style("No account and no kept mail match this address.", fg="red", bold=True)]
    if result["suggestions"]:
        lines.append("Nearest known addresses:")
        for s in result["suggestions"]:
            similar = f"account {s['account_id']}, similarity {s['similarity']:.2f}"
            lines.append(f"  {display_email(s['email'])}  ({similar})")
    else:
        lines.append("No known address is close to it.")
    return lines


def _accounts(accounts: list[dict[str, Any]]) -> list[str]:
    lines = _section("Accounts", len(accounts))
    if not accounts:
        lines.append("  No portal account has this address (mail to it is listed below).")
    for a in accounts:
        label = MATCH_LABELS.get(a["matched_by"], a["matched_by"])
        how = a["match_reason"] + (
            f", similarity {a['similarity']:.2f}" if a["similarity"] is not None else ""
        )
        lines.append(
            f"  #{a['account_id']:<6} {click.style(display_email(a['email']), bold=True)}  "
            f"{click.style(label, fg='cyan')}" + ("" if a["matched_by"] == "exact" else f": {how}")
        )
        who = ", ".join(p for p in (a["name"], a["company"]) if p) or "no name given"
        lines.append(f"          {who}; signed up {_day(a['created_at'])}")
        if a["confirmed"]:
            confirmed = click.style(f"confirmed {_day(a['confirmed_at'])}", fg="green")
        else:
            sent = a["confirmation_sent_at"]
            confirmed = click.style("never confirmed", fg="red") + (
                f" (mail sent {_day(sent)})" if sent else ""
            )
        if a["unconfirmed_email"]:
            confirmed += f"; change to {display_email(a['unconfirmed_email'])} awaits confirmation"
        login = {
            True: "login active",
            False: click.style("login deactivated", fg="red"),
            None: "login: unknown",
        }
        sign_in = (
            f"last sign-in {_day(a['last_sign_in_at'])} ({a['sign_in_count'] or 0} in all)"
            if a["last_sign_in_at"]
            else "never signed in"
        )
        lines.append(f"          {confirmed}; {sign_in}; {login[a['login_activated']]}")
        gitlab = a["gitlab"]
        linked = (
            f"linked to GitLab.com user {gitlab['uid']}"
            + (f" ({display_email(gitlab['email'])})" if gitlab["email"] else "")
            if gitlab["linked"]
            else "not linked to GitLab.com"
        )
        lines.append(f"          {linked}")
    return lines


def _clusters(clusters: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for c in clusters:
        lines += _section(f"Duplicate sign-ups: cluster {c['cluster_id']}, {c['size']} accounts")
        if c["primary_account_id"] is not None:
            keep = f"keep account {c['primary_account_id']} ({c['primary_reason']})"
            lines.append("  Suggested: " + click.style(keep, fg="green"))
        for m in c["accounts"]:
            mark = click.style("primary", fg="green") if m["is_primary"] else "       "
            link = (
                f"linked to #{m['matched_account_id']}: {m['reason']} ({m['score']:.2f})"
                if m["matched_account_id"] is not None
                else ""
            )
            lines.append(f"  {mark} #{m['account_id']:<6} {display_email(m['email'])}  {link}".rstrip())
    return lines


def _mismatches(mismatches: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for m in mismatches:
        lines += _section("Email mismatch")
        lines.append(f"  portal account #{m['account_id']}: {display_email(m['portal_email'])}")
        lines.append(f"  GitLab.com user {m['gitlab_uid']}:  {display_email(m['gitlab_email'])}")
    return lines


def _findings(findings: list[dict[str, Any]]) -> list[str]:
    lines = _section("Open findings", len(findings))
    if not findings:
        lines.append("  None: the last run found no problem with these accounts.")
    for f in findings:
        severity = click.style(f"{f['severity']:<6}", fg=SEVERITY_COLOURS.get(f["severity"]), bold=True)
        lines.append(f"  {severity} {f['check']}  #{f['account_id']}  since {f['first_seen']}")
        lines.append(f"         seen: {f['evidence']}")
        lines.append(f"         do:   {f['action']}")
    return lines


def _mail(mail: dict[str, Any]) -> list[str]:
    lines = _section("Mail to these addresses")
    lines.append(click.style(f"  ({mail['note']})", dim=True))
    if not mail["domains"]:
        lines.append("  No kept Mailgun events for these addresses.")
    for group in mail["domains"]:
        role = ROLE_LABELS.get(group["role"], group["role"])
        shown = len(group["messages"])
        more = f", newest {shown} shown" if shown < group["messages_total"] else ""
        total = f"{group['messages_total']} message(s){more}"
        lines.append(f"  {click.style(group['domain'], bold=True)} ({role}): {total}")
        for m in group["messages"]:
            outcome = click.style(m["outcome"], fg=OUTCOME_COLOURS.get(m["outcome"]))
            failure = f" ({m['failure']})" if m["failure"] else ""
            subject = m["subject"] or "(no subject)"
            to = display_email(m["recipient"])
            lines.append(f"    {_short(m['sent_at'])}  {subject[:40]:<40}  {outcome}{failure}  to {to}")
    return lines


def _short(iso: str | None) -> str:
    """'2026-11-15T14:22:16Z' -> '2026-11-15 14:22'."""
    return iso[:16].replace("T", " ") if iso else "-"


def _day(iso: str | None) -> str:
    return iso[:10] if iso else "-"
