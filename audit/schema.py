"""The staging tables every pass reads. Ingest fills them; checks and matching only read them.

Timestamps are naive TIMESTAMP values in UTC. Emails are kept exactly as exported in `email` /
`recipient`; the `*_norm` columns (lower-cased, trimmed) serve joins only.
"""

from __future__ import annotations

STG_ACCOUNTS = {
    "account_id": "BIGINT",  # portal customer id
    "email": "VARCHAR",  # as exported
    "email_norm": "VARCHAR",  # lower(trim(email)); NULL when empty
    "first_name": "VARCHAR",
    "last_name": "VARCHAR",
    "company": "VARCHAR",
    "created_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
    "confirmed_at": "TIMESTAMP",  # NULL = never confirmed
    "confirmation_sent_at": "TIMESTAMP",
    "unconfirmed_email": "VARCHAR",
    "last_sign_in_at": "TIMESTAMP",
    "sign_in_count": "BIGINT",
    "provider": "VARCHAR",
    "uid": "VARCHAR",
    "gitlab_email": "VARCHAR",
    "login_activated": "BOOLEAN",  # NULL when the export has no such column
    "billing_account_id": "VARCHAR",
    "source_line": "BIGINT",  # physical line of the record in the export (header is line 1)
}

STG_EVENTS = {
    "domain": "VARCHAR",  # Mailgun sending domain the dump was exported for
    "domain_role": "VARCHAR",  # 'gitlab' | 'portal' | 'other'
    "event_id": "VARCHAR",
    "event": "VARCHAR",  # accepted, delivered, failed, ...
    "event_at": "TIMESTAMP",
    "recipient": "VARCHAR",  # as in the dump
    "recipient_norm": "VARCHAR",  # lower(trim(recipient))
    "subject": "VARCHAR",
    "mail_kind": "VARCHAR",  # 'password_reset' | 'confirmation' | 'other' (from the subject)
    "message_id": "VARCHAR",
    "severity": "VARCHAR",  # for failed events: 'permanent' | 'temporary'
    "reason": "VARCHAR",
    "delivery_code": "INTEGER",
    "delivery_description": "VARCHAR",
    "source_file": "VARCHAR",
    "source_line": "BIGINT",
}

# Columns every check report ends with; `findings` is built from them.
FINDING_COLUMNS = ("account_id", "email", "severity", "evidence", "action")
SEVERITIES = ("high", "medium", "low")


def create_sql(table: str, columns: dict[str, str]) -> str:
    cols = ",\n  ".join(f"{name} {kind}" for name, kind in columns.items())
    return f"CREATE OR REPLACE TABLE {table} (\n  {cols}\n)"
