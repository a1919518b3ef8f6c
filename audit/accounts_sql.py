"""The conversions of accounts_rows, in SQL: one vectorised pass instead of a Python call per cell.

SQL converts the forms an export normally holds (integers, true/false words, the usual timestamp
forms with or without an offset) exactly as the Python converters do. A value it does not recognise
is not judged here: the row is marked uncertain and accounts_rows.convert decides it (a reject with
its code and message, or a value in a rarer form Python accepts, such as `2026-03-04 10:11`). So
the Python functions stay the definition, and SQL is only ever a faster path to the same values.
"""

from __future__ import annotations

from audit.accounts_rows import FALSE_WORDS, TIMESTAMP_COLUMNS, TRUE_WORDS

# str.strip() / str.isspace(): every character Python counts as whitespace, as an RE2 class.
PY_SPACE = "".join(f"\\x{{{ord(c):x}}}" for c in map(chr, range(0x3001)) if c.isspace())
BLANK = f"[{PY_SPACE}]*"
ASCII_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f ]*"  # the ASCII part of PY_SPACE
INTEGER = f"^{ASCII_SPACE}([+-]?[0-9]{{1,19}}){ASCII_SPACE}$"  # beyond BIGINT: TRY_CAST gives NULL
WORD = f"^{ASCII_SPACE}([A-Za-z01]{{1,5}}){ASCII_SPACE}$"
# The forms parse_timestamp reads most often: date, optional time with up to 6 fraction digits, then
# ' UTC', 'Z', an offset (+HH:MM, +HHMM) or Rails' ' +HHMM'. Ranges are checked here or by strptime.
TIMESTAMP = (
    f"^{ASCII_SPACE}(?P<y>[0-9]{{4}})-(?P<mo>[0-9]{{2}})-(?P<d>[0-9]{{2}})"
    r"(?:(?:[T ](?P<h>[01][0-9]|2[0-3]):(?P<mi>[0-5][0-9]):(?P<s>[0-5][0-9])(?:\.(?P<f>[0-9]{1,6}))?)"
    r"(?: UTC|(?P<z>[Zz])|(?: ?(?P<sign>[+-])(?P<oh>[01][0-9]|2[0-3]):?(?P<om>[0-5][0-9])))?"
    r"| UTC)?"
    f"{ASCII_SPACE}$"
)
RAILS_UTC = "%Y-%m-%d %H:%M:%S UTC"  # how Rails writes a UTC time: most cells of an export
TIMESTAMP_GROUPS = ("y", "mo", "d", "h", "mi", "s", "f", "z", "sign", "oh", "om")
# audit.accounts_rows.EMAIL for printable ASCII, where Python's \s is the space alone; any other
# address is judged by accounts_rows.email_problem.
EMAIL_ASCII = r"[^ @\"(),:;<>\[\]\\]+@(?:[^ @\"(),:;<>\[\]\\.]+\.)+[^ @\"(),:;<>\[\]\\.]{2,}"
PRINTABLE_ASCII = r"[\x20-\x7e]*"

INTEGER_COLUMNS = ("id", "sign_in_count")
BOOLEAN_COLUMNS = ("login_activated",)


def _words(words: set[str]) -> str:
    return ", ".join(f"'{w}'" for w in sorted(words))


def conversion_sql(source: str, positions: dict[str, int], columns: list[str]) -> str:
    """SELECT start, <columns typed>, certain FROM `source` (start, fields VARCHAR[]).

    A column the header lacks is NULL. `certain` is false when SQL could not decide a value: the
    row then goes to accounts_rows.convert. Built in stages so each regex runs once per cell.
    """
    mapped = [c for c in columns if c in positions]
    fields = ", ".join(f"fields[{positions[c] + 1}] AS c_{c}" for c in mapped)
    parsed, typed = [], []
    for c in mapped:
        parsed.append(f"regexp_full_match(c_{c}, '{BLANK}') AS b_{c}")
        if c in INTEGER_COLUMNS:
            parsed.append(f"TRY_CAST(NULLIF(regexp_extract(c_{c}, '{INTEGER}', 1), '') AS BIGINT) AS v_{c}")
        elif c in BOOLEAN_COLUMNS:
            word = f"lower(regexp_extract(c_{c}, '{WORD}', 1))"
            parsed.append(
                f"CASE WHEN {word} IN ({_words(TRUE_WORDS)}) THEN true "
                f"WHEN {word} IN ({_words(FALSE_WORDS)}) THEN false END AS v_{c}"
            )
        elif c in TIMESTAMP_COLUMNS:
            # the export's usual form is parsed directly; it counts only if it prints back the same
            quick = f"try_strptime(c_{c}, '{RAILS_UTC}')"
            parsed.append(f"CASE WHEN strftime({quick}, '{RAILS_UTC}') = c_{c} THEN {quick} END AS q_{c}")
            groups = ", ".join(f"'{g}'" for g in TIMESTAMP_GROUPS)
            extract = f"regexp_extract(c_{c}, '{TIMESTAMP}', [{groups}])"
            typed.append(f"CASE WHEN q_{c} IS NULL THEN {extract} END AS t_{c}")
            typed.append(f"coalesce(q_{c}, {_timestamp(f't_{c}')}) AS u_{c}")
    final, ok = [], []
    for c in columns:
        if c not in positions:
            final.append(f"NULL AS {c}")
        elif c in TIMESTAMP_COLUMNS:
            # year 0 is 1 BC to DuckDB but an error to Python; outside years 1-9999 Python overflows
            v = f"CASE WHEN u_{c} BETWEEN {LOWEST} AND {HIGHEST} THEN u_{c} END"
            final.append(f"CASE WHEN b_{c} THEN NULL ELSE {v} END AS {c}")
            ok.append(f"(b_{c} OR ({v}) IS NOT NULL)")
        elif c in INTEGER_COLUMNS or c in BOOLEAN_COLUMNS:
            final.append(f"CASE WHEN b_{c} THEN NULL ELSE v_{c} END AS {c}")
            ok.append(f"(b_{c} OR v_{c} IS NOT NULL)")
        else:
            final.append(f"CASE WHEN b_{c} THEN NULL ELSE c_{c} END AS {c}")
    level1 = f"SELECT start, {fields} FROM {source}"  # noqa: S608 - identifiers and constants only
    level2 = f"SELECT *, {', '.join(parsed)} FROM ({level1})"  # noqa: S608
    level3 = f"SELECT *{''.join(', ' + t for t in typed[0::2])} FROM ({level2})"  # noqa: S608
    level4 = f"SELECT *{''.join(', ' + t for t in typed[1::2])} FROM ({level3})"  # noqa: S608
    certain = " AND ".join(ok) or "true"
    return f"SELECT start, {', '.join(final)}, {certain} AS certain FROM ({level4})"  # noqa: S608


LOWEST = "TIMESTAMP '0001-01-01'"
HIGHEST = "TIMESTAMP '9999-12-31 23:59:59.999999'"


def _timestamp(t: str) -> str:
    """The UTC value of a TIMESTAMP match, NULL for a date strptime refuses (2026-02-30)."""
    local = (
        f"try_strptime({t}.y || '-' || {t}.mo || '-' || {t}.d || ' ' || coalesce(NULLIF({t}.h, ''), '00') "
        f"|| ':' || coalesce(NULLIF({t}.mi, ''), '00') || ':' || coalesce(NULLIF({t}.s, ''), '00'), "
        "'%Y-%m-%d %H:%M:%S')"
    )
    micros = f"to_microseconds(CAST(rpad({t}.f, 6, '0') AS BIGINT))"
    hours = f"to_hours(CAST({t}.oh AS BIGINT)) + to_minutes(CAST({t}.om AS BIGINT))"
    offset = f"CASE {t}.sign WHEN '' THEN INTERVAL 0 SECOND WHEN '-' THEN -({hours}) ELSE {hours} END"
    return f"CASE WHEN {t}.y NOT IN ('', '0000') THEN {local} + {micros} - ({offset}) END"


def email_problem_sql(email: str) -> str:
    """(code, message) struct SQL for a kept row's email, NULL when fine or not printable ASCII."""
    return (
        f"CASE WHEN {email} IS NULL THEN {{'code': 'empty_email', 'message': 'kept: the email is empty'}} "
        f"WHEN NOT regexp_full_match({email}, '{PRINTABLE_ASCII}') THEN NULL "
        f"WHEN NOT regexp_full_match(trim({email}, ' '), '{EMAIL_ASCII}') OR contains({email}, '..') "
        f"OR starts_with(trim({email}, ' '), '.') OR contains({email}, '.@') "
        f"THEN {{'code': 'invalid_email', 'message': 'kept: the email is not a valid address'}} END"
    )
