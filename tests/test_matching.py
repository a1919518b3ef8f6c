"""duplicate_signups, spec-style: tiny stg_accounts tables and the exact clusters expected, near misses too.

stg_accounts is built with its own DDL here (not the pipeline's), so the pass is tested against the
contract, whatever ingest does.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from audit import matching_blocking as mb
from audit import matching_features as mf
from audit.config import load_config
from audit.errors import ConfigError
from audit.matching import MatchingConfig, duplicate_signups, score_pair

STG_ACCOUNTS_DDL = """
CREATE TABLE stg_accounts (
  account_id BIGINT, email VARCHAR, email_norm VARCHAR, first_name VARCHAR, last_name VARCHAR,
  company VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP, confirmed_at TIMESTAMP,
  confirmation_sent_at TIMESTAMP, unconfirmed_email VARCHAR, last_sign_in_at TIMESTAMP,
  sign_in_count BIGINT, provider VARCHAR, uid VARCHAR, gitlab_email VARCHAR, login_activated BOOLEAN,
  billing_account_id VARCHAR, source_line BIGINT
)
"""
OUTPUT = [
    ("cluster_id", "VARCHAR"), ("account_id", "BIGINT"), ("email", "VARCHAR"), ("cluster_size", "INTEGER"),
    ("matched_account_id", "BIGINT"), ("score", "DOUBLE"), ("reason", "VARCHAR"), ("is_primary", "BOOLEAN"),
    ("primary_account_id", "BIGINT"), ("primary_reason", "VARCHAR"), ("severity", "VARCHAR"),
    ("evidence", "VARCHAR"), ("action", "VARCHAR"),
]  # fmt: skip


def acct(account_id: int, email: str | None, first: str | None = None, last: str | None = None, *,
         confirmed: bool = True, uid: str | None = None, signed_in: str | None = None,
         billing: str | None = None, company: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A confirmed account, never signed in, not linked, unless the case says otherwise."""
    return {
        "account_id": account_id, "email": email, "first_name": first, "last_name": last,
        "confirmed_at": dt.datetime(2026, 1, 5, 9, 30) if confirmed else None, "uid": uid,
        "last_sign_in_at": dt.datetime.fromisoformat(signed_in) if signed_in else None,
        "billing_account_id": billing, "company": company,
    }  # fmt: skip


@pytest.fixture
def db() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    con.execute(STG_ACCOUNTS_DDL)
    yield con
    con.close()


def load(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    for line, row in enumerate(rows, start=2):
        con.execute(
            "INSERT INTO stg_accounts (account_id, email, email_norm, first_name, last_name, company, "
            "confirmed_at, uid, last_sign_in_at, billing_account_id, created_at, source_line) VALUES "
            "($account_id, $email, nullif(lower(trim($email)), ''), $first_name, $last_name, $company, "
            "$confirmed_at, $uid, $last_sign_in_at, $billing_account_id, TIMESTAMP '2026-01-05 09:00', $line)",
            {**row, "line": line},
        )


def run(
    con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], cfg: MatchingConfig | None = None
) -> list[Any]:
    load(con, rows)
    count = duplicate_signups(con, cfg or MatchingConfig())
    out = con.sql("SELECT * FROM chk_duplicate_signups").fetchall()
    assert count == len(out)
    return out


def clusters(out: list[Any]) -> list[tuple[str, list[int], int]]:
    """(cluster_id, member ids in row order, primary id) per cluster, in output order."""
    found: dict[str, tuple[str, list[int], int]] = {}
    for row in out:
        found.setdefault(row[0], (row[0], [], row[8]))[1].append(row[1])
    return list(found.values())


JS = ("John", "Smith")
CASES = [
    # --- the same mailbox written differently -------------------------------------------------------
    pytest.param([acct(1, "Ana.Lima@Acme.com "), acct(2, "ana.lima@acme.com")],
                 [("dup-1", [1, 2], 1)], "same address apart from case and spaces", id="case and spaces"),
    pytest.param([acct(1, "ana@acme.com", "Ana", "Lima"), acct(2, "ana@acme.com", "Bo", "Lind")],
                 [("dup-1", [1, 2], 1)], "same address, although the names differ", id="one address twice"),
    pytest.param([acct(1, "ana.lima@gmail.com"), acct(2, "analima@gmail.com")],
                 [("dup-1", [1, 2], 1)], "same Gmail mailbox after removing dots", id="gmail dots, no names"),
    pytest.param([acct(7, "ana.lima@gmail.com"), acct(3, "AnaLima+portal@googlemail.com")],
                 [("dup-3", [3, 7], 3)], "same Gmail mailbox after removing dots and the +tag "
                 "(googlemail.com is gmail.com)", id="googlemail with a tag"),
    pytest.param([acct(1, "bo+portal@outlook.com", "Bo", "Lind"), acct(2, "bo@outlook.com", "Bo", "Lind")],
                 [("dup-1", [1, 2], 1)], "same mailbox after removing the +tag, same first and last name",
                 id="outlook plus tag"),
    pytest.param([acct(1, "a.lima@gmail.com", "Anna", "Lima"), acct(2, "alima@gmail.com", "Alberto", "Lima")],
                 [("dup-1", [1, 2], 1)], "same Gmail mailbox after removing dots, although the names differ",
                 id="one gmail inbox links even when the names differ"),
    pytest.param([acct(1, "a.lima@acme.com", "Anna", "Lima"), acct(2, "alima@acme.com", "Alberto", "Lima")],
                 [], None, id="near miss: dots are not stripped outside gmail, and names differ"),
    pytest.param([acct(1, "sam+dev@acme.com", "Sam", "Reed"), acct(2, "sam@acme.com", "Ola", "Reed")],
                 [], None, id="near miss: tags are not stripped outside tag providers, and names differ"),
    # --- near-identical addresses of one person ---------------------------------------------------
    pytest.param([acct(1, "john_smith@acme.com", *JS), acct(2, "john.smith@acme.com", *JS),
                  acct(3, "john-smith@acme.com", *JS), acct(4, "johnsmith@acme.com", *JS)],
                 [("dup-1", [1, 2, 3, 4], 1)], "same address apart from separators, same first and last name",
                 id="four separators"),
    pytest.param([acct(1, "cy.dee@acme.com"), acct(2, "cy_dee@acme.com")],
                 [("dup-1", [1, 2], 1)], "same address apart from separators", id="separators, no names"),
    pytest.param([acct(1, "jsmith@acme.com", *JS), acct(2, "john.smith@acme.com", *JS)],
                 [("dup-1", [1, 2], 1)],
                 "both addresses are forms of the same name, same first and last name",
                 id="initial with name support"),
    pytest.param([acct(1, "jsmith@acme.com"), acct(2, "john.smith@acme.com", *JS)],
                 [], None, id="near miss: initial without name support"),
    pytest.param([acct(1, "jsmith@acme.com", "N/A", "N/A"), acct(2, "john.smith@acme.com", "n/a", "n/a")],
                 [], None, id="near miss: placeholder names are not agreement"),
    pytest.param([acct(1, "jonh.smith@acme.com"), acct(2, "john.smith@acme.com")],
                 [("dup-1", [1, 2], 1)], "same address apart from two swapped letters", id="transposition"),
    pytest.param([acct(1, "johm.smith@acme.com", *JS), acct(2, "john.smith@acme.com", *JS)],
                 [("dup-1", [1, 2], 1)], "same address apart from one mistyped letter, same first and last name",
                 id="typo with name support"),
    pytest.param([acct(1, "jon.smith@acme.com"), acct(2, "jan.smith@acme.com")],
                 [], None, id="near miss: one letter apart, no names"),
    pytest.param([acct(1, "kwilliamson@acme.com"), acct(2, "jwilliamson@acme.com")],
                 [], None, id="near miss: long addresses one letter apart, no names"),
    pytest.param([acct(1, "john.smith1985@acme.com", *JS), acct(2, "john.smith@acme.com", *JS)],
                 [("dup-1", [1, 2], 1)], "same address apart from trailing digits, same first and last name",
                 id="digits appended"),
    pytest.param([acct(1, "john.smith2@acme.com"), acct(2, "john.smith@acme.com")],
                 [], None, id="near miss: digits appended, no names (jsmith2 is often a second person)"),
    pytest.param([acct(1, "john.smith@acme.com", *JS), acct(2, "jane.smith@acme.com", "Jane", "Smith")],
                 [], None, id="near miss: John and Jane Smith"),
    pytest.param([acct(1, "rpatel@initech.com", "Raj", "Patel"),
                  acct(2, "ppatel@initech.com", "Priya", "Patel")],
                 [], None, id="near miss: shared last name in one company"),
    pytest.param([acct(1, "john_smith@yahoo.com"), acct(2, "john.smith@yahoo.com")],
                 [], None, id="near miss: look-alikes at a free-mail provider need names"),
    pytest.param([acct(1, "john_smith@yahoo.com", *JS), acct(2, "john.smith@yahoo.com", *JS)],
                 [("dup-1", [1, 2], 1)], "same address apart from separators, same first and last name",
                 id="free-mail look-alikes with names"),
    # --- role addresses -----------------------------------------------------------------------------
    pytest.param([acct(1, "billing@acme.com", "Grace", "Ho"), acct(2, "Billing@acme.com", "Tariq", "Hamid")],
                 [], None, id="near miss: one role inbox, two people"),
    pytest.param([acct(1, "billing@acme.com"), acct(2, "billing@ACME.com ")],
                 [], None, id="near miss: one role inbox, no names"),
    pytest.param([acct(1, "billing@northwind.com", "Grace", "Ho"),
                  acct(2, "billing@contoso.com", "Tariq", "Hamid")],
                 [], None, id="near miss: role address in two companies"),
    pytest.param([acct(1, "billing@acme.com", "Grace", "Ho"), acct(2, "billing2@acme.com", "Grace", "Ho")],
                 [("dup-1", [1, 2], 1)], "same address apart from trailing digits, same first and last name",
                 id="role address with one person's name on both"),
    # --- other domains ------------------------------------------------------------------------------
    pytest.param([acct(1, "oadebayo@quarrylane.io", "Oluwadamilare", "Adebayo"),
                  acct(2, "dami.adebayo@yahoo.com", "Oluwadamilare", "Adebayo")],
                 [("dup-1", [1, 2], 1)],
                 "same full name, rare in this export, and both addresses contain the name",
                 id="rare full name in two domains"),
    pytest.param([acct(1, "john.smith@acme.com", *JS), acct(2, "john.smith@globex.com", *JS),
                  acct(3, "jsmith@initech.com", *JS)],
                 [], None, id="near miss: one name at three employers"),
    pytest.param([acct(1, "john.smith@acme.com"), acct(2, "john.smith@globex.com")],
                 [], None, id="near miss: same local part, other domain, no names"),
    pytest.param([acct(1, "jon.lee@gmial.com"), acct(2, "jon.lee@gmail.com")],
                 [("dup-1", [1, 2], 1)], "same address apart from a typo in the domain (gmail.com / gmial.com)",
                 id="typo in a free-mail domain"),
    pytest.param([acct(1, "ana.lima@acme.com"), acct(2, "ana.lima@acme.co")],
                 [], None, id="near miss: two company domains one letter apart, equally common"),
    pytest.param([acct(1, "ana.lima@gmail.com", "Ana", "Lima", company="Acme"),
                  acct(2, "ana.lima@acme.com", "Ana", "Lima")],
                 [("dup-1", [1, 2], 1)], "same local part in two domains (a work and a personal address), "
                 "same first and last name, same company", id="work and personal address"),
    pytest.param([acct(1, "ana.lima@gmail.com", "Ana", "Lima", company="Globex"),
                  acct(2, "ana.lima@acme.com", "Ana", "Lima", company="Acme")],
                 [], None, id="near miss: the companies overturn a work and personal address"),
    pytest.param([acct(1, "john.smith@acme.com", *JS, company="Acme Corp"),
                  acct(2, "john_smith@acme.com", *JS, company="Globex")],
                 [], None, id="near miss: the companies overturn a separator change"),
    pytest.param([acct(1, "john.smith@acme.com", "Jonh", "Smith"), acct(2, "john_smith@acme.com", *JS)],
                 [("dup-1", [1, 2], 1)], "same address apart from separators, same last name, first names one "
                 "typo apart", id="a typo in a name is no conflict"),
    pytest.param([acct(1, "rob.stone@acme.com", "Rob", "Stone"), acct(2, "rob_stone@acme.com", "Robert", "Stone")],
                 [("dup-1", [1, 2], 1)], "same address apart from separators, same last name, first name and its "
                 "short form", id="short form of a first name"),
    pytest.param([acct(1, "john.a.smith@acme.com", *JS), acct(2, "john.b.smith@acme.com", *JS)],
                 [], None, id="near miss: middle initials of two colleagues are no typo"),
    pytest.param([acct(1, "patricial@acme.com", "Pat", None), acct(2, "patriciaf@acme.com", "Patricia", "Ford")],
                 [], None, id="near miss: a different last initial is no typo"),
    pytest.param([acct(1, "michael.white@acme.com"), acct(2, "mchael.white@acme.com")],
                 [("dup-1", [1, 2], 1)], "same address apart from one letter more or less",
                 id="a letter missing in a long address needs no names"),
    # --- a name part missing on one account -----------------------------------------------------------
    pytest.param([acct(1, "joshua.dunzovo@acme.com", "Joshua", None),
                  acct(2, "joshua.dunzovo1982@acme.com", "Joshua", "Dunzovo")],
                 [("dup-1", [1, 2], 1)], "same address apart from trailing digits, one account leaves out a name "
                 "part, and both addresses spell the name the other gives", id="digits, last name left out"),
    pytest.param([acct(1, "pmornak@pixel.co.uk", None, "Mornak"),
                  acct(2, "pooja.mornak@pixel.co.uk", "Pooja", "Mornak")],
                 [("dup-1", [1, 2], 1)], "both addresses are forms of the same name, one account leaves out a "
                 "name part, and both addresses spell the name the other gives", id="initial, first name left out"),
    pytest.param([acct(1, "d.rionak@blueapex.de", "David", "Rionak"), acct(2, "d.rinoak@blueapex.de", "David", None)],
                 [("dup-1", [1, 2], 1)], "same address apart from two swapped letters, one account leaves out a "
                 "name part, and both addresses spell the name the other gives", id="short typo, last name left out"),
    pytest.param([acct(1, "d.rionak@blueapex.de", "David", None), acct(2, "d.rinoak@blueapex.de", "David", None)],
                 [], None, id="near miss: short typo, neither address spells a name the accounts give"),
    pytest.param([acct(1, "jsmith@acme.com", "J.", None), acct(2, "john.smith@acme.com", "John", "Smith")],
                 [("dup-1", [1, 2], 1)], "both addresses are forms of the same name, one account leaves out a "
                 "name part, and both addresses spell the name the other gives", id="an initial and no last name"),
    pytest.param([acct(1, "jsmith@acme.com", None, "Smith"), acct(2, "john.smith@acme.com", "John", None)],
                 [], None, id="near miss: one account gives only the last name, the other only the first"),
    pytest.param([acct(1, "jonh.smith@acme.com", "John", None), acct(2, "johnsmith2@acme.com", "John", "Smith")],
                 [], None, id="near miss: a look-alike that is neither digits nor one typo needs both names"),
    pytest.param([acct(1, "camila552@wayne.com", "Camila", None), acct(2, "camila@wayne.com", "Camila", "Quichi")],
                 [], None, id="near miss: the address spells only the first name, the last is missing"),
    pytest.param([acct(1, "pmornak@pixel.co.uk"), acct(2, "pooja.mornak@pixel.co.uk", "Pooja", "Mornak")],
                 [], None, id="near miss: no name at all on one account"),
    # --- unusable addresses -------------------------------------------------------------------------
    pytest.param([acct(1, None), acct(2, ""), acct(3, "   "), acct(4, "not-an-email"), acct(5, "@acme.com")],
                 [], None, id="unusable addresses never match"),
]  # fmt: skip


@pytest.mark.parametrize(("rows", "expected", "reason"), CASES)
def test_clusters(db: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], expected: list[Any],
                  reason: str | None) -> None:  # fmt: skip
    out = run(db, rows)
    assert clusters(out) == expected
    if reason is not None:
        assert {row[6] for row in out} == {reason}
    for row in out:
        assert row[10] == "medium" and 0.0 <= row[5] <= 1.0 and row[5] == round(row[5], 3)
        assert row[2] == next(r["email"] for r in rows if r["account_id"] == row[1]), (
            "email exactly as exported"
        )


@pytest.mark.parametrize(
    ("rows", "primary", "why"),
    [
        pytest.param([acct(1, "a.b@acme.com", confirmed=False, uid="9", signed_in="2026-11-02 10:00"),
                      acct(2, "a_b@acme.com")], 2, "confirmed, never signed in", id="confirmed first"),
        pytest.param([acct(1, "a.b@acme.com", signed_in="2026-11-02 10:00"),
                      acct(2, "a_b@acme.com", uid="9")],
                     2, "confirmed, linked to GitLab.com, never signed in", id="then linked to GitLab.com"),
        pytest.param([acct(1, "a.b@acme.com", signed_in="2026-10-01 10:00"),
                      acct(2, "a_b@acme.com", signed_in="2026-11-02 23:59")],
                     2, "confirmed, signed in most recently (2026-11-02)", id="then latest sign-in"),
        pytest.param([acct(1, "a.b@acme.com", confirmed=False), acct(2, "a_b@acme.com", confirmed=False)],
                     1, "no account is confirmed, never signed in, smallest account id",
                     id="then smallest id"),
        pytest.param([acct(1, "a.b@acme.com", uid="9", signed_in="2026-10-01 10:00"),
                      acct(2, "a_b@acme.com", signed_in="2026-11-02 10:00")],
                     1, "confirmed, linked to GitLab.com, last signed in 2026-10-01",
                     id="linked beats recent"),
    ],
)  # fmt: skip
def test_primary(db: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], primary: int, why: str) -> None:
    out = run(db, rows)
    assert {(row[8], row[9]) for row in out} == {(primary, why)}
    assert [row[1] for row in out if row[7]] == [primary]


def test_full_rows_of_a_cluster(db: duckdb.DuckDBPyConnection) -> None:
    out = run(db, [
        acct(101, "a_b@x.com", "Ana", "Bell", confirmed=False, billing="BA-1"),
        acct(102, "A.B@x.com ", "Ana", "Bell", uid="55", signed_in="2026-11-02 08:00"),
        acct(103, "zed@x.com", "Zed", "Bell"),
    ])  # fmt: skip
    reason = "same address apart from separators, same first and last name"
    evidence = f'2 accounts: 101 a_b@x.com, 102 "A.B@x.com "; {reason}'
    action = ('Tell the customer that account 101 (a_b@x.com) holds the subscription; move it, then suggest '
              'keeping account 102 ("A.B@x.com ") and no longer using account 101 (a_b@x.com).')  # fmt: skip
    why = "confirmed, linked to GitLab.com, signed in most recently (2026-11-02)"
    assert out == [
        ("dup-101", 101, "a_b@x.com", 2, 102, 0.975, reason, False, 102, why, "medium", evidence, action),
        ("dup-101", 102, "A.B@x.com ", 2, 101, 0.975, reason, True, 102, why, "medium", evidence, action),
    ]


def test_three_account_cluster_links_each_to_its_strongest_match(db: duckdb.DuckDBPyConnection) -> None:
    out = run(db, [
        acct(5, "tomas.novak@gmail.com", "Tomáš", "Novák", billing="B1"),
        acct(9, "tnovak@gmail.com", "Tomas", "Novak", billing="B2"),
        acct(7, "tomasnovak+gitlab@gmail.com", "Tomas", "Novak"),
    ])  # fmt: skip
    assert [(r[0], r[1], r[3], r[4]) for r in out] == [
        ("dup-5", 5, 3, 7),
        ("dup-5", 7, 3, 5),
        ("dup-5", 9, 3, 5),
    ]
    assert out[0][11].startswith(
        "3 accounts: 5 tomas.novak@gmail.com, 7 tomasnovak+gitlab@gmail.com, 9 tnovak"
    )
    assert "5 and 7: same Gmail mailbox after removing dots and the +tag" in out[0][11]
    assert out[0][12].startswith(
        "Each of account 5 (tomas.novak@gmail.com), account 9 (tnovak@gmail.com) has a"
    )


def test_output_table_schema_even_when_empty(db: duckdb.DuckDBPyConnection) -> None:
    assert run(db, []) == []
    assert [(r[0], r[1]) for r in db.sql("DESCRIBE chk_duplicate_signups").fetchall()] == OUTPUT
    run(db, [acct(1, "a.b@x.com"), acct(2, "a_b@x.com")])  # CREATE OR REPLACE on a second run
    assert [(r[0], r[1]) for r in db.sql("DESCRIBE chk_duplicate_signups").fetchall()] == OUTPUT


BASE = [acct(1, "a_b@x.com", "Ana", "Bell"), acct(2, "a.b@x.com", "Ana", "Bell"), acct(3, "cy@y.com"),
        acct(4, "Cy@Y.com"), acct(5, "jsmith@z.com", *JS), acct(6, "john.smith@z.com", *JS)]  # fmt: skip


def test_same_input_in_any_order_gives_identical_rows() -> None:
    outputs = []
    for seed in range(3):
        rows = BASE[:]
        random.Random(seed).shuffle(rows)
        with duckdb.connect() as con:
            con.execute(STG_ACCOUNTS_DDL)
            outputs.append(run(con, rows))
    assert outputs[0] == outputs[1] == outputs[2] and len(outputs[0]) == 6


def test_unrelated_accounts_do_not_change_cluster_ids() -> None:
    extra = [acct(0, "zoe@x.com", "Zoe", "Ray"), acct(10, "ab.c@x.com", "Bea", "Cole"), acct(11, "q@w.com")]
    with duckdb.connect() as one, duckdb.connect() as two:
        one.execute(STG_ACCOUNTS_DDL)
        two.execute(STG_ACCOUNTS_DDL)
        assert run(one, BASE) == run(two, BASE + extra)


def test_blocking_is_linear(db: duckdb.DuckDBPyConnection) -> None:
    """5,000 accounts in one domain: candidate pairs grow with n * window, never n^2."""
    rng = random.Random(1)
    names = ["".join(rng.choice("abcdefghij") for _ in range(8)) for _ in range(5000)]
    cfg = MatchingConfig(window=4)
    accounts = pl.DataFrame({"email": [f"{n}@big.com" for n in names], "first_name": [n[:3] for n in names],
                             "last_name": [n[3:] for n in names], "company": [None] * len(names)},
                            schema=dict.fromkeys(("email", "first_name", "last_name", "company"), pl.String))  # fmt: skip
    pairs, _counts = mb.candidates(mf.features(accounts, cfg), cfg)
    assert pairs.height <= len(names) * (len(mb.blocks(cfg)) + 1) * cfg.window


def test_a_common_name_does_not_link_work_and_personal_addresses(db: duckdb.DuckDBPyConnection) -> None:
    """Agreement on a name is evidence only as far as the name is rare in the export."""
    crowd = [acct(100 + k, f"person{k}@corp{k}.com", "John" if k % 2 else "Maria", "Smith" if k % 3 else "Garcia")
             for k in range(60)]  # fmt: skip
    pair = [acct(1, "john.smith@gmail.com", *JS), acct(2, "john.smith@acme.com", *JS)]
    assert run(db, pair + crowd) == []
    db.execute("DELETE FROM stg_accounts")
    rare = [acct(1, "oluwadamilare.adebayo@gmail.com", "Oluwadamilare", "Adebayo"),
            acct(2, "oluwadamilare.adebayo@acme.com", "Oluwadamilare", "Adebayo")]  # fmt: skip
    assert clusters(run(db, rare + crowd)) == [("dup-1", [1, 2], 1)]


@pytest.mark.parametrize(
    ("marias", "locals_", "linked"),
    [(28, ("maria.okonkwo", "maria.okonkwo"), True),  # namesakes (30 - 1) x (2 - 1) / 2000 = 0.0145
     (43, ("maria.okonkwo", "maria.okonkwo"), False),  # 0.022: above max_same_local_namesakes
     (28, ("mokonkwo", "maria.okonkwo"), False)],  # other local parts: max_namesakes (0.01) applies
    ids=["same local part, name fairly rare", "same local part, name too common", "other local part"],
)  # fmt: skip
def test_the_same_local_part_in_two_domains_links_a_less_rare_name(
    db: duckdb.DuckDBPyConnection, marias: int, locals_: tuple[str, str], linked: bool
) -> None:
    """A work and a personal address with one local part: that is evidence beside the agreeing name."""
    letters = ["".join(chr(97 + k // 26**j % 26) for j in range(3)) for k in range(998)]  # aaa, baa, ...
    crowd = [acct(100 + k, f"person{k}@corp{k}.com", "Maria" if k < marias else f"Ne{w}", f"Fam{w}")
             for k, w in enumerate(letters)]  # fmt: skip
    pair = [acct(1, f"{locals_[0]}@acme.com", "Maria", "Okonkwo"),
            acct(2, f"{locals_[1]}@gmail.com", "Maria", "Okonkwo")]  # fmt: skip
    out = run(db, pair + crowd)
    assert clusters(out) == ([("dup-1", [1, 2], 1)] if linked else [])
    if linked:
        assert {row[6] for row in out} == {
            "same local part in two domains (a work and a personal address), same first and last name"
        }


@pytest.mark.parametrize(("domain", "linked"), [("gmail.com", False), ("acme.com", True)])
def test_a_name_is_common_or_rare_within_its_domain(
    db: duckdb.DuckDBPyConnection, domain: str, linked: bool
) -> None:
    """Two namesakes meet at a big free-mail provider, rarely at one company: digits need a rare name there."""
    crowd = [acct(100 + k, f"person{k}@gmail.com", "John" if k < 30 else "Maria", "Smith" if k < 30 else "Garcia")
             for k in range(1500)]  # fmt: skip
    pair = [acct(1, f"john.smith@{domain}", *JS), acct(2, f"john.smith84@{domain}", *JS)]
    assert clusters(run(db, pair + crowd)) == ([("dup-1", [1, 2], 1)] if linked else [])


@pytest.mark.parametrize(
    ("marys", "linked"),
    [(2, True),  # Mary on two accounts beside 40 Marks: it can be a slip of the keyboard
     (12, False)],  # two names the export shows in use: Mark Smith and Mary Smith are two people
    ids=["rare spelling: a typo", "both spellings in use: two names"],
)  # fmt: skip
def test_names_one_letter_apart_are_a_typo_only_when_one_is_rare(
    db: duckdb.DuckDBPyConnection, marys: int, linked: bool
) -> None:
    crowd = [acct(100 + k, f"person{k}@corp{k}.com", "Mark" if k < 40 else "Mary", f"Fam{k}")
             for k in range(40 + marys - 1)]  # fmt: skip
    pair = [acct(1, "mark.smithson@acme.com", "Mark", "Smithson"),
            acct(2, "mary.smithson@acme.com", "Mary", "Smithson")]  # fmt: skip
    assert clusters(run(db, pair + crowd)) == ([("dup-1", [1, 2], 1)] if linked else [])


@pytest.mark.parametrize(
    ("spelled", "linked"),
    [("whole name", True),  # the address spells the whole first name the other account gives
     ("initial", False)],  # it gives only the initial: D. Moore is as common at gmail.com as D and Moore are
)  # fmt: skip
def test_a_missing_name_part_spelled_by_an_initial_is_as_common_as_the_initial(
    db: duckdb.DuckDBPyConnection, spelled: str, linked: bool
) -> None:
    crowd = [acct(100 + k, f"person{k}@gmail.com", "Dana" if k % 2 else "Ivan", "Moore" if k % 10 == 0 else "Li")
             for k in range(300)]  # fmt: skip
    local = "densaost.moore" if spelled == "whole name" else "dmoore"
    pair = [
        acct(1, "densaost.moore@gmail.com", "Densaost", "Moore"),
        acct(2, f"{local}50@gmail.com", None, "Moore"),
    ]
    assert clusters(run(db, pair + crowd)) == ([("dup-1", [1, 2], 1)] if linked else [])


def test_a_shared_first_name_is_no_initial_even_when_a_last_name_is_missing(
    db: duckdb.DuckDBPyConnection,
) -> None:
    """Both accounts give John: how common J is does not matter, though jsmith spells only the initial."""
    crowd = [acct(100 + k, f"person{k}@acme.com", "Jane" if k % 2 else "Jim", f"Fam{k}") for k in range(1000)]
    pair = [acct(1, "jsmith7@acme.com", "John", None), acct(2, "jsmith@acme.com", "John", "Smith")]
    assert clusters(run(db, pair + crowd)) == [("dup-1", [1, 2], 1)]


@pytest.mark.parametrize("timothys", [1, 12])
def test_a_cut_off_first_name_is_the_same_name_however_common(
    db: duckdb.DuckDBPyConnection, timothys: int
) -> None:
    """Tim / Timothy is one name (not in the nickname table); Maria / Mariam is covered by the typo rule."""
    crowd = [acct(100 + k, f"person{k}@corp{k}.com", "Tim" if k < 12 else "Timothy", f"Fam{k}")
             for k in range(12 + timothys)]  # fmt: skip
    pair = [
        acct(1, "tim.smithson@acme.com", "Tim", "Smithson"),
        acct(2, "timsmithson@acme.com", "Timothy", "Smithson"),
    ]
    assert clusters(run(db, pair + crowd)) == [("dup-1", [1, 2], 1)]


@pytest.mark.parametrize(
    ("local", "linked"),
    [("mary.wrihgt", True),  # a slip of the keyboard in Mary's own address
     ("mark.wright", False),  # one letter apart too, but the address names Mark, a name in its own right
     ("markwright", False)],  # the same without a separator
)  # fmt: skip
def test_an_address_naming_another_established_name_is_no_typo(
    db: duckdb.DuckDBPyConnection, local: str, linked: bool
) -> None:
    crowd = [
        acct(100 + k, f"person{k}@corp{k}.com", "Mark" if k % 2 else "Mary", f"Fam{k}") for k in range(20)
    ]
    pair = [acct(1, "mary.wright@gmail.com", "Mary", "Wright"), acct(2, f"{local}@gmail.com", None, "Wright")]
    assert clusters(run(db, pair + crowd)) == ([("dup-1", [1, 2], 1)] if linked else [])


def test_missing_values_never_agree(db: duckdb.DuckDBPyConnection) -> None:
    """Two accounts with no names and no company: only the addresses can link them."""
    out = run(db, [acct(1, "ana.lima@gmail.com", "N/A", "-", company="self"),
                   acct(2, "ana.lima@acme.com", "n/a", "", company="N/A")])  # fmt: skip
    assert out == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"min_score": 1.5}, "min_score must be a number between 0 and 1"),
     ({"min_score": 0}, "min_score must be above 0"),
     ({"name_weight": "high"}, "name_weight must be a number between 0 and 1"),
     ({"digits_score": True}, "digits_score must be a number"),
     ({"window": 0}, "window must be a whole number from 1 to 1000"),
     ({"min_local_length": 2.5}, "min_local_length must be a whole number"),
     ({"max_namesakes": -1}, "max_namesakes must be a number from 0"),
     ({"max_same_local_namesakes": "many"}, "max_same_local_namesakes must be a number from 0"),
     ({"typo_min_length": 0}, "typo_min_length must be a whole number"),
     ({"company_weight": 2}, "company_weight must be a number between 0 and 1"),
     ({"domain_typo_ratio": 0.5}, "domain_typo_ratio must be a number from 1"),
     ({"name_typo_ratio": 0}, "name_typo_ratio must be a number from 1"),
     ({"max_name_typo_accounts": -1}, "max_name_typo_accounts must be a whole number from 0"),
     ({"similar_needs_names": "yes"}, "similar_needs_names must be true or false"),
     ({"role_local_parts": ["billing", 3]}, "role_local_parts must be a list of non-empty strings"),
     ({"public_domains": "gmail.com"}, "public_domains must be a list of non-empty strings")],
)  # fmt: skip
def test_validate_names_the_bad_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MatchingConfig(**changes).validate()


def test_config_accepts_toml_lists_and_stays_hashable() -> None:
    toml: dict[str, Any] = {"plus_tag_domains": ["acme.com"], "min_score": 1}
    cfg = MatchingConfig(**toml)
    cfg.validate()
    assert cfg.plus_tag_domains == ("acme.com",) and hash(cfg)
    MatchingConfig().validate()


def test_matching_table_of_the_toml_file(tmp_path: Path) -> None:
    toml = tmp_path / "audit.toml"
    toml.write_text('[matching]\nmin_score = 0.95\nwindow = 3\nrole_local_parts = ["billing", "it"]\n')
    cfg = load_config(toml).matching
    assert (cfg.min_score, cfg.window, cfg.role_local_parts) == (0.95, 3, ("billing", "it"))
    toml.write_text("[matching]\nwindow = -1\n")
    with pytest.raises(ConfigError, match="window must be a whole number"):
        load_config(toml)


def test_config_drives_the_pass(db: duckdb.DuckDBPyConnection) -> None:
    rows = [acct(1, "bo+x@acme.com", "Bo", "Lind"), acct(2, "bo@acme.com", "Ola", "Lind")]
    assert run(db, rows) == []
    db.execute("DELETE FROM stg_accounts")
    out = run(db, rows, MatchingConfig(plus_tag_domains=("acme.com",)))
    assert {r[6] for r in out} == {"same mailbox after removing the +tag, although the names differ"}
    rows = [acct(1, "kwilliamson@acme.com"), acct(2, "jwilliamson@acme.com")]
    db.execute("DELETE FROM stg_accounts")
    assert run(db, rows) == []
    db.execute("DELETE FROM stg_accounts")
    out = run(db, rows, MatchingConfig(similar_needs_names=False))
    assert {(r[5], r[6]) for r in out} == {(0.909, "local parts 0.91 similar")}


PERSON = st.tuples(
    st.builds(lambda local, domain: f"{local}@{domain}",
              st.sampled_from(["john.smith", "jsmith", "john_smith2", "jonh.smith", "billing", "j.smith",
                               "jsmith.1980"]),
              st.sampled_from(["acme.com", "gmail.com"])),
    st.sampled_from([None, "John", "J", "Jane"]),
    st.sampled_from([None, "Smith", "Smyth"]),
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(PERSON, PERSON)
@example(("john.smith@acme.com", "J", None), ("jsmith@acme.com", "John", "Smith"))  # blocking missed it
@example(
    ("john.smith@gmail.com", "John", "Smith"), ("jsmith@gmail.com", None, "Smyth")
)  # Smith spelled for Smyth
def test_the_pass_links_exactly_the_pairs_score_pair_accepts(
    db: duckdb.DuckDBPyConnection, a: Any, b: Any
) -> None:
    """The pass skips edit distances that cannot matter; that shortcut must never change an outcome."""
    db.execute("DELETE FROM stg_accounts")
    out = run(db, [acct(1, *a), acct(2, *b)])
    score, accepted, reason = score_pair(a, b)
    assert bool(out) == accepted
    if out:
        assert (out[0][5], out[0][6]) == (score, reason)


def test_polars_frame_of_the_output_matches_schema(db: duckdb.DuckDBPyConnection) -> None:
    run(db, [acct(1, "a.b@x.com"), acct(2, "a_b@x.com")])
    frame = db.sql("SELECT * FROM chk_duplicate_signups").pl()
    assert frame.schema["cluster_size"] == pl.Int32 and frame.schema["score"] == pl.Float64
