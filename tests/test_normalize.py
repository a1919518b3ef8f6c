"""Email and name normalisation: worked examples, then properties that must hold for any input."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from audit import normalize as nz
from audit.matching import MatchingConfig, score_pair

# --- canonical mailbox: only documented provider rules --------------------------------------------


@pytest.mark.parametrize(
    ("email", "canonical"),
    [
        pytest.param("  Ana.Lima@Acme.COM ", "ana.lima@acme.com", id="case and surrounding spaces"),
        pytest.param("ana.lima@gmail.com", "analima@gmail.com", id="gmail ignores dots"),
        pytest.param("Ana.Lima+portal@GoogleMail.com", "analima@gmail.com", id="googlemail is gmail"),
        pytest.param("bo+portal@outlook.com", "bo@outlook.com", id="outlook plus tag"),
        pytest.param("bo+a+b@hotmail.com", "bo@hotmail.com", id="tag runs to the end"),
        pytest.param("bo.x+a@live.com", "bo.x@live.com", id="dots matter outside gmail"),
        pytest.param("bo+a@icloud.com", "bo@icloud.com", id="icloud"),
        pytest.param("bo+a@me.com", "bo@me.com", id="me.com"),
        pytest.param("bo+a@protonmail.com", "bo@protonmail.com", id="protonmail"),
        pytest.param("bo+a@proton.me", "bo@proton.me", id="proton.me"),
        pytest.param("bo+a@fastmail.com", "bo@fastmail.com", id="fastmail"),
        pytest.param("bo+a@acme.com", "bo+a@acme.com", id="tag kept on other domains"),
        pytest.param("a.b@acme.com", "a.b@acme.com", id="dots kept on other domains"),
        pytest.param("+tag@gmail.com", "+tag@gmail.com", id="nothing before the plus: kept whole"),
        pytest.param("bo@Acme.com.", "bo@acme.com", id="trailing dot of the domain"),
        pytest.param('"a@b"@acme.com', '"a@b"@acme.com', id="last @ splits"),
        pytest.param("", None, id="empty"),
        pytest.param("   ", None, id="blank"),
        pytest.param(None, None, id="null"),
        pytest.param("no-at-sign", None, id="no at sign"),
        pytest.param("@acme.com", None, id="no local part"),
        pytest.param("bo@", None, id="no domain"),
        pytest.param("b o@acme.com", None, id="inner space"),
        pytest.param("...@gmail.com", None, id="gmail local of dots only"),
    ],
)
def test_canonical_mailbox(email: str | None, canonical: str | None) -> None:
    assert nz.canonical_mailbox(email) == canonical


def test_mailbox_parts() -> None:
    box = nz.mailbox(" John.Smith+Portal@GoogleMail.com")
    assert box == nz.Mailbox(
        canonical="johnsmith@gmail.com",
        domain="gmail.com",
        written_domain="googlemail.com",
        local="john.smith+portal",
        tag="portal",
        skeleton="johnsmith",
        stem="johnsmith",
    )


def test_plus_tag_domains_are_configurable() -> None:
    assert nz.canonical_mailbox("bo+x@acme.com", plus_tag_domains=("acme.com",)) == "bo@acme.com"
    assert nz.canonical_mailbox("bo+x@gmail.com", plus_tag_domains=()) == "bo+x@gmail.com"


@pytest.mark.parametrize(
    ("local", "skeleton"),
    [("john.smith", "johnsmith"), ("John_Smith", "johnsmith"), ("john-smith", "johnsmith"),
     ("johnsmith", "johnsmith"), ("j.smith+dev", "jsmith"), ("john..smith2", "johnsmith2"), ("+x", "+x")],
)  # fmt: skip
def test_skeleton(local: str, skeleton: str) -> None:
    assert nz.skeleton(local) == skeleton


# --- names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [("José-María", "josemaria"), ("  o'BRIEN ", "obrien"), ("Novák", "novak"), ("J.", "j"), ("N/A", None),
     ("-", None), ("", None), (None, None), ("Test", None), ("王", "王")],
)  # fmt: skip
def test_name_key(text: str | None, key: str | None) -> None:
    assert nz.name_key(text) == key


def test_first_name_key_uses_the_first_word() -> None:
    assert nz.first_name_key("Mary Ann") == "mary"
    assert nz.first_name_key("Tomáš") == "tomas"
    assert nz.first_name_key("N/A") is None


@pytest.mark.parametrize(
    ("stem", "built"),
    [("johnsmith", True), ("jsmith", True), ("smithj", True), ("smithjohn", True), ("johns", True),
     ("john", True), ("jsmyth", False), ("jo", False)],
)  # fmt: skip
def test_built_from_name(stem: str, built: bool) -> None:
    assert nz.built_from_name(stem, "john", "smith") is built
    assert nz.built_from_name(stem, None, "smith") is False


@pytest.mark.parametrize(
    ("local", "role"),
    [("billing", True), ("Billing2", True), ("no-reply", True), ("it.support", True), ("billing+x", True),
     ("accounts-payable", True), ("john.smith", False), ("billingsley", False), ("admin.john", False)],
)  # fmt: skip
def test_is_role_local(local: str, role: bool) -> None:
    roles = frozenset(nz.skeleton(r) for r in nz.ROLE_LOCAL_PARTS) | {"payable"}
    assert nz.is_role_local(local, roles) is role


@pytest.mark.parametrize(
    ("text", "key"),
    [("ACME Corp.", "acme"), ("Acme Corporation", "acme"), ("The Acme Group, Inc.", "acme"), ("acme", "acme"),
     ("Harbor & Pine", "harbor"), ("N/A", None), ("self-employed", None), ("Freelance", None), ("", None),
     (None, None), ("Inc.", None)],
)  # fmt: skip
def test_company_key(text: str | None, key: str | None) -> None:
    assert nz.company_key(text) == key


def test_nickname_key() -> None:
    assert nz.nickname_key("bob") == nz.nickname_key("robert") == "robert"
    assert nz.nickname_key("ana") == "ana" and nz.nickname_key(None) is None


@pytest.mark.parametrize(
    ("a", "b", "typo"),
    [("jonh.smith", "john.smith", True), ("michael.white", "mchael.white", True), ("jammes", "james", True),
     ("daniel.gonzalezz", "daniel.gonzalez", True), ("jsmith", "ksmith", False), ("patricial", "patriciaf", False),
     ("john.a.smith", "john.b.smith", False), ("john.smith", "john.smith", False), ("jon.smith", "jan.smyth", False),
     ("michaek", "michael", False)],
)  # fmt: skip
def test_is_typo(a: str, b: str, typo: bool) -> None:
    assert nz.is_typo(a, b) is typo
    assert nz.is_typo(b, a) is typo


def test_initials_differ() -> None:
    assert nz.initials_differ("john.a.smith", "john.b.smith")
    assert not nz.initials_differ("john.a.smith", "john.smith")
    assert not nz.initials_differ("jon.smith", "jan.smith")


# --- reasons and display -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ("Ana@Acme.com ", "ana@acme.com", "same address apart from case and spaces"),
        ("ana.lima@gmail.com", "analima@gmail.com", "same Gmail mailbox after removing dots"),
        ("bo+x@outlook.com", "bo@outlook.com", "same mailbox after removing the +tag"),
        ("a.b+x@gmail.com", "ab@gmail.com", "same Gmail mailbox after removing dots and the +tag"),
        ("ab@googlemail.com", "ab@gmail.com", "same Gmail mailbox (googlemail.com is gmail.com)"),
    ],
)
def test_mailbox_reason(a: str, b: str, reason: str) -> None:
    box_a, box_b = nz.mailbox(a), nz.mailbox(b)
    assert box_a is not None and box_b is not None and box_a.canonical == box_b.canonical
    assert nz.mailbox_reason(box_a, box_b) == nz.mailbox_reason(box_b, box_a) == reason


def test_display_email_quotes_only_hidden_characters() -> None:
    assert nz.display_email("Ana@Acme.com") == "Ana@Acme.com"
    assert nz.display_email("josé@acme.com") == "josé@acme.com"
    assert nz.display_email(" ana@acme.com") == '" ana@acme.com"'
    assert nz.display_email("ana@acme.com\n") == '"ana@acme.com\\n"'
    assert nz.display_email(None) == "null"


def test_similarity_counts_a_transposition_as_one_edit() -> None:
    assert nz.local_similarity("jonh.smith", "john_smith") == pytest.approx(1 - 1 / 9)
    assert nz.local_similarity("a.b", "ab") == 1.0


# --- properties -------------------------------------------------------------------------------------

LOCAL_CHARS = st.sampled_from([*"abcdeJS.._-+19", "é", "İ", "ß", " ", "@"])
DOMAINS = st.sampled_from(
    ["gmail.com", "GoogleMail.com", "outlook.com", "acme.com", "acme.com.", "proton.me"]
)
locals_ = st.text(LOCAL_CHARS, min_size=0, max_size=12)
emails = st.one_of(st.builds(lambda local, d, pad: f"{pad}{local}@{d}{pad}", locals_, DOMAINS,
                             st.sampled_from(["", " ", "\t"])), st.text(max_size=20))  # fmt: skip
names = st.one_of(
    st.none(), st.sampled_from(["John", "Jon", "J.", "Jane", "Smith", "N/A", "José", ""]), st.text(max_size=6)
)


@given(emails)
def test_canonical_mailbox_is_idempotent(email: str) -> None:
    canonical = nz.canonical_mailbox(email)
    if canonical is not None:
        assert nz.canonical_mailbox(canonical) == canonical


@given(st.text(max_size=16))
def test_skeleton_is_idempotent_and_separator_free(local: str) -> None:
    skel = nz.skeleton(local)
    assert nz.skeleton(skel) == skel
    assert not set(skel) & set(nz.SEPARATORS)


@given(st.text(max_size=12))
def test_name_key_is_idempotent(text: str) -> None:
    key = nz.name_key(text)
    if key is not None:
        assert nz.name_key(key) == key


@given(st.text(max_size=16))
def test_company_key_is_idempotent(text: str) -> None:
    key = nz.company_key(text)
    if key is not None:
        assert nz.company_key(key) == key


@given(
    st.text(st.sampled_from("abcdej.-_+"), max_size=10), st.text(st.sampled_from("abcdej.-_+"), max_size=10)
)
def test_is_typo_is_symmetric(a: str, b: str) -> None:
    assert nz.is_typo(a, b) == nz.is_typo(b, a)


@given(st.text(max_size=12), st.text(max_size=12))
def test_local_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    value = nz.local_similarity(a, b)
    assert 0.0 <= value <= 1.0
    assert value == nz.local_similarity(b, a)
    assert nz.local_similarity(a, a) == 1.0


PEOPLE = st.tuples(emails, names, names)
COMPANIES = st.sampled_from([None, "Acme", "ACME Corp", "Globex", "N/A"])


@settings(max_examples=150, deadline=None)
@given(PEOPLE, PEOPLE, COMPANIES, COMPANIES)
@example(
    ("jsmithson@acme.com", "Jon", None), ("jonathan.smithson@acme.com", "Jonathan", "Smithson"), None, None
)
def test_pair_score_is_symmetric_and_bounded(
    a: tuple[str, str | None, str | None],
    b: tuple[str, str | None, str | None],
    ca: str | None,
    cb: str | None,
) -> None:
    forward, backward = score_pair(a, b, companies=(ca, cb)), score_pair(b, a, companies=(cb, ca))
    assert forward == backward
    assert 0.0 <= forward[0] <= 1.0
    box_a, box_b = nz.mailbox(a[0]), nz.mailbox(b[0])
    roles = {nz.skeleton(r) for r in MatchingConfig().role_local_parts}
    if box_a and box_b and box_a.canonical == box_b.canonical and not nz.is_role_local(box_a.local, roles):
        assert forward[1], "the same inbox always links, unless it is a role mailbox"


def test_whitespace_constant_is_every_space_in_unicode() -> None:
    from audit.normalize import WHITESPACE

    assert "".join(chr(c) for c in range(0x110000) if chr(c).isspace()) == WHITESPACE
