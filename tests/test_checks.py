"""Each SQL check, spec-style: tiny input tables and the exact report rows expected (near-misses included)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import account, event, ts

GL, PORTAL, OTHER = "mg.gitlab.com", "customers.gitlab.com", "mg.about.gitlab.com"


def reset(eid: str, domain: str, at: str, to: str, **kw: Any) -> dict[str, Any]:
    return event(eid, domain, "password_reset", at, to, **kw)


def confirmation(eid: str, at: str, to: str, domain: str = PORTAL, **kw: Any) -> dict[str, Any]:
    return event(eid, domain, "confirmation", at, to, **kw)


def failure(
    eid: str,
    domain: str,
    at: str,
    to: str,
    severity: str = "permanent",
    reason: str = "bounce",
    code: int = 550,
    **kw: Any,
) -> dict[str, Any]:
    return event(
        eid,
        domain,
        "other",
        at,
        to,
        event_type="failed",
        severity=severity,
        reason=reason,
        delivery_code=code,
        **kw,
    )


def delivered(eid: str, domain: str, at: str, to: str, **kw: Any) -> dict[str, Any]:
    return event(eid, domain, "other", at, to, **kw)


CASES = [
    # --- unconfirmed_accounts -------------------------------------------------------------
    pytest.param(
        "unconfirmed_accounts",
        [
            account(1, "ana@acme.com", confirmed_at=None, created_at=ts("2026-11-10 08:00")),
            account(2, "bo@acme.com"),
        ],
        [
            confirmation("c1", "2026-11-10 08:01", "ana@acme.com"),
            confirmation(
                "c2", "2026-11-10 08:01", "ana@acme.com", event_type="accepted", message_id="msg-c1@x"
            ),
        ],
        [
            {
                "account_id": 1,
                "confirmation_outcome": "delivered",
                "days_waiting": 11,
                "severity": "medium",
                "action": "Resend the confirmation mail from the portal admin.",
            }
        ],
        id="unconfirmed: delivered confirmation, confirmed account not flagged",
    ),
    pytest.param(
        "unconfirmed_accounts",
        [account(1, "Ana@Acme.com ", confirmed_at=None)],
        [
            confirmation("c1", "2026-11-01 08:00", "ana@acme.com"),
            failure(
                "c2",
                PORTAL,
                "2026-11-12 08:00",
                "ANA@acme.com",
                mail_kind="confirmation",
                subject="Confirmation instructions",
                message_id="m2",
            ),
        ],
        [
            {
                "account_id": 1,
                "email": "Ana@Acme.com ",
                "confirmation_outcome": "failed permanently",
                "confirmation_failure": "bounce 550",
                "severity": "high",
            }
        ],
        id="unconfirmed: latest confirmation bounced, address matched ignoring case and spaces",
    ),
    pytest.param(
        "unconfirmed_accounts",
        [
            account(1, "ana@acme.com", confirmed_at=None),
            account(2, "bo@acme.com", confirmed_at=None, login_activated=False),
        ],
        [
            failure(
                "c1",
                PORTAL,
                "2026-11-12 08:00",
                "ana@acme.com",
                severity="temporary",
                reason="generic",
                code=421,
                mail_kind="confirmation",
            ),
            confirmation("c2", "2026-11-12 08:00", "bo@acme.com", domain=GL),
        ],
        [
            {"account_id": 1, "confirmation_outcome": "failed temporarily", "severity": "medium"},
            {
                "account_id": 2,
                "confirmation_outcome": "never seen",
                "action": "Re-activate login for this account, then resend the confirmation mail.",
            },
        ],
        id="unconfirmed: temporary failure; a GitLab.com confirmation mail is not the portal's",
    ),
    # --- gitlab_password_resets -----------------------------------------------------------
    pytest.param(
        "gitlab_password_resets",
        [
            account(1, "ana@acme.com", last_sign_in_at=ts("2026-11-01 10:00")),
            account(2, "bo@acme.com", last_sign_in_at=None),
            account(3, "cy@acme.com", last_sign_in_at=ts("2026-11-19 10:00")),
            account(4, "di@acme.com"),
            account(5, "ed@acme.com"),
        ],
        [
            reset("r1", GL, "2026-11-18 09:00", "Ana@ACME.com"),
            reset("r2", GL, "2026-11-20 23:59", "bo@acme.com"),
            reset("r3", GL, "2026-11-18 09:00", "cy@acme.com"),
            reset("r4", PORTAL, "2026-11-18 09:00", "di@acme.com"),
            reset("r5", GL, "2026-11-13 23:59", "ed@acme.com"),
            reset("r6", GL, "2026-11-21 00:00", "ed@acme.com"),
            reset("r7", GL, "2026-11-18 09:00", "nobody@acme.com"),
        ],
        [
            {"account_id": 1, "reset_domain": GL, "reset_outcome": "delivered", "resets_in_window": 1},
            {"account_id": 2, "reset_at": ts("2026-11-20 23:59"), "last_sign_in_at": None},
        ],
        id="resets: flagged in window; signed-in-since, portal reset, outside window, non-account not flagged",
    ),
    pytest.param(
        "gitlab_password_resets",
        [account(1, "ana@acme.com", last_sign_in_at=ts("2026-11-16 10:00"), login_activated=False)],
        [
            reset("r1", GL, "2026-11-15 09:00", "ana@acme.com"),
            reset("r2", GL, "2026-11-17 09:00", "ana@acme.com"),
        ],
        [
            {
                "account_id": 1,
                "reset_at": ts("2026-11-17 09:00"),
                "resets_in_window": 2,
                "action": "Re-activate login for this account, then send a one-time sign-in link.",
            }
        ],
        id="resets: the latest reset counts; deactivated login changes the action",
    ),
    # --- email_mismatches -----------------------------------------------------------------
    pytest.param(
        "email_mismatches",
        [
            account(1, "ana@acme.com", uid="101", provider="gitlab", gitlab_email="ana.lima@gmail.com"),
            account(2, "bo@acme.com", uid="102", provider="gitlab", gitlab_email="  BO@Acme.com "),
            account(3, "cy@acme.com", gitlab_email="other@acme.com"),
            account(4, "di@acme.com", uid="104", provider="gitlab", gitlab_email=None),
            account(5, "ed@acme.com", uid="105", provider="gitlab", gitlab_email="ed+gl@acme.com"),
        ],
        [],
        [
            {"account_id": 1, "gitlab_email": "ana.lima@gmail.com", "gitlab_uid": "101", "severity": "low"},
            {"account_id": 5, "gitlab_email": "ed+gl@acme.com"},
        ],
        id="mismatch: differs; case/space-only, unlinked and unknown GitLab email not flagged",
    ),
    # --- undeliverable_emails -------------------------------------------------------------
    pytest.param(
        "undeliverable_emails",
        [
            account(1, "ana@acme.com"),
            account(2, "bo@acme.com"),
            account(3, "cy@acme.com"),
            account(4, "di@acme.com"),
            account(5, "ed@acme.com"),
        ],
        [
            failure("f1", GL, "2026-11-10 09:00", "ana@acme.com"),
            failure("f2", PORTAL, "2026-11-12 09:00", "bo@acme.com", reason="suppress-bounce", code=605),
            failure("f3", GL, "2026-11-10 09:00", "cy@acme.com"),
            delivered("d3", OTHER, "2026-11-11 09:00", "cy@acme.com"),
            failure(
                "f4", GL, "2026-11-10 09:00", "di@acme.com", severity="temporary", reason="generic", code=421
            ),
            event("x5", OTHER, "other", "2026-11-10 09:00", "ed@acme.com", event_type="complained"),
        ],
        [
            {"account_id": 1, "failure_reason": "bounce", "failure_domain": GL, "last_delivered_at": None},
            {
                "account_id": 2,
                "failure_reason": "suppress-bounce",
                "delivery_code": 605,
                "action": "The address is on the bounce list of customers.gitlab.com: confirm the mailbox works, "
                "remove the bounce suppression, then resend.",
            },
            {"account_id": 5, "failure_event": "complained", "failure_domain": OTHER},
        ],
        id="undeliverable: bounce, suppression, complaint; bounce then delivery and temporary not flagged",
    ),
    pytest.param(
        "undeliverable_emails",
        [account(1, "ana@acme.com")],
        [
            delivered("d1", GL, "2026-11-09 09:00", "ana@acme.com"),
            failure("f1", GL, "2026-11-10 09:00", "ana@acme.com"),
            failure("f2", PORTAL, "2026-11-22 09:00", "ana@acme.com"),
        ],
        [
            {
                "account_id": 1,
                "failures": 1,
                "failed_at": ts("2026-11-10 09:00"),
                "last_delivered_at": ts("2026-11-09 09:00"),
            }
        ],
        id="undeliverable: delivery before the bounce does not clear it; events after as-of ignored",
    ),
]


@pytest.mark.parametrize(("check", "accounts", "events", "expected"), CASES)
def test_check_flags_exactly_the_expected_rows(
    staged: Any,
    check: str,
    accounts: list[dict[str, Any]],
    events: list[dict[str, Any]],
    expected: list[dict[str, Any]],
) -> None:
    con = staged(accounts, events)
    rows = con.sql(f"SELECT * FROM chk_{check}").to_arrow_table().to_pylist()
    assert [r["account_id"] for r in rows] == [e["account_id"] for e in expected]
    for row, want in zip(rows, expected, strict=True):
        assert {k: row[k] for k in want} == want
        assert row["evidence"] and row["action"] and row["severity"] in ("high", "medium", "low")


def test_unconfirmed_without_events_says_so(staged: Any) -> None:
    con = staged([account(1, "ana@acme.com", confirmed_at=None)], [], events_given=False)
    ((outcome, evidence),) = con.execute(
        "SELECT confirmation_outcome, evidence FROM chk_unconfirmed_accounts"
    ).fetchall()
    assert outcome == "unknown (no Mailgun events given)"
    assert "no Mailgun events given" in evidence


def test_reset_evidence_names_domain_time_and_sign_in(staged: Any) -> None:
    con = staged(
        [account(1, "ana@acme.com", last_sign_in_at=None)],
        [reset("r1", GL, "2026-11-18 09:05", "ana@acme.com")],
    )
    ((evidence,),) = con.execute("SELECT evidence FROM chk_gitlab_password_resets").fetchall()
    assert evidence == (
        'GitLab.com password reset "Reset password instructions" sent 2026-11-18 09:05 UTC '
        "from mg.gitlab.com (delivered); last portal sign-in: never"
    )


def test_lookback_is_configurable(staged: Any) -> None:
    con = staged(
        [account(1, "ana@acme.com", last_sign_in_at=None)],
        [reset("r1", GL, "2026-11-05 09:00", "ana@acme.com")],
        lookback_days=30,
    )
    assert con.execute("SELECT account_id FROM chk_gitlab_password_resets").fetchall() == [(1,)]


# Every check's report, built over two rows that share an account id (the export repeats ids: they are
# kept and listed in data_quality). Sorting by account id alone would leave their order to the sort.
TIES = {
    "unconfirmed_accounts": ({"confirmed_at": None}, []),
    "gitlab_password_resets": (
        {"last_sign_in_at": None},
        [
            reset("r1", GL, "2026-11-18 09:05", "zed@acme.com"),
            reset("r2", GL, "2026-11-18 09:05", "amy@acme.com"),
        ],
    ),
    "undeliverable_emails": (
        {},
        [
            failure("f1", GL, "2026-11-18 09:05", "zed@acme.com"),
            failure("f2", GL, "2026-11-18 09:05", "amy@acme.com"),
        ],
    ),
    "email_mismatches": ({"uid": "42", "gitlab_email": "other@acme.com"}, []),
}


@pytest.mark.parametrize("check", sorted(TIES))
def test_rows_of_one_account_id_come_in_export_order(staged: Any, con: Any, check: str) -> None:
    fields, events = TIES[check]
    first = account(7, "zed@acme.com", source_line=3, **fields)
    second = account(7, "amy@acme.com", source_line=9, **fields)
    orders = []
    for rows in ([first, second], [second, first]):  # the table's physical order, both ways
        for table in ("stg_accounts", "stg_events", "stg_messages"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        staged(rows, events)
        orders.append(con.execute(f"SELECT email FROM chk_{check}").fetchall())
    assert orders[0] == orders[1] == [("zed@acme.com",), ("amy@acme.com",)]
