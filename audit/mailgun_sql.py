"""SQL shared by both Mailgun load paths: the row table, value macros, and the line-by-line statement.

mg_rows starts with exactly the stg_events columns, so the finished table is renamed into
stg_events once rejected rows and duplicates are deleted and the extra columns dropped (a copy of
millions of rows would cost as much as a third of the load).

The line-by-line statement (BLOCK_SQL) is the exact path for files the fast reader cannot take
(other shapes, broken lines, documents) and for rows the fast statement could not decide: a line
pays two JSON parses (its top-level keys, then the 13 slots of its shape; a third, for the types of
its nested objects, only when one of them has no keys: a string `message`) and the per-field
diagnosis runs only for lines whose types are not already right. Key lists are hashed and compared
with the lists Python already checked (few distinct lists exist), so the repeated-key check runs per
list, not per line. TRY() turns a malformed line into NULL keys instead of failing the block.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from audit import mailgun_shapes as shapes
from audit.config import Config
from audit.schema import STG_EVENTS

EXTRA = {
    "file_no": "INTEGER",
    "item": "INTEGER",  # item number inside an API page or document, else NULL
    "code": "VARCHAR",  # NULL = usable; 'blank', 'page' or a reject code otherwise
    "detail": "VARCHAR",
    "sha": "VARCHAR",  # SHA-256 of the raw line, for rejected rows only
    "page": "VARCHAR",  # raw text of an API page line until it is expanded
    "shape": "VARCHAR",
    "keys": "VARCHAR",  # top-level keys as a JSON array, only when not already known to be fine (a
    # LIST column costs every row of the fast path a child vector even when NULL)
}
MG_ROWS = "CREATE OR REPLACE TABLE mg_rows ({})".format(
    ", ".join(f'"{name}" {kind}' for name, kind in {**STG_EVENTS, **EXTRA}.items())
)

MACROS = (
    # JSON type of a slot's text from json_extract / a JSON column (NULL when absent). DuckDB's parser
    # also takes nan, inf and infinity in any case as numbers: `nan` starts like null.
    """CREATE OR REPLACE TEMP MACRO mg_kind(f) AS CASE WHEN f IS NOT NULL THEN CASE ord(f)
       WHEN 34 THEN 'string' WHEN 123 THEN 'object' WHEN 91 THEN 'array' WHEN 116 THEN 'boolean'
       WHEN 102 THEN 'boolean' WHEN 110 THEN (CASE WHEN f = 'null' THEN 'null' ELSE 'number' END)
       ELSE 'number' END END""",
    # the value of a string slot (escapes decoded only when there are any)
    """CREATE OR REPLACE TEMP MACRO mg_str(f) AS CASE WHEN starts_with(f, '"') THEN
       (CASE WHEN contains(f, '\\') THEN json_extract_string(f, '$') ELSE f[2:-2] END) END""",
    "CREATE OR REPLACE TEMP MACRO mg_absent(f) AS f IS NULL OR f = 'null'",
    # a string slot whose value may be blank (only white space): it starts with a space, an escape (a
    # tab or line break is one in JSON) or a non-ASCII character (a Unicode space); the regular
    # expression is slow, so only such values pay for it
    """CREATE OR REPLACE TEMP MACRO mg_may_be_blank(f) AS
       starts_with(f, '" ') OR starts_with(f, '"\\') OR ord(f[2:2]) > 127""",
    # a required string that is absent, null, empty or blank: only white space, as str.isspace() has
    # it (trim() leaves tabs and line breaks)
    """CREATE OR REPLACE TEMP MACRO mg_empty(f) AS f IS NULL OR f = 'null' OR f = '""' OR (mg_may_be_blank(f)
       AND regexp_full_match(mg_str(f), '[\\s\\x{0b}\\x{1c}-\\x{1f}\\x{85}\\p{Z}]*'))""",
    "CREATE OR REPLACE TEMP MACRO mg_is(f, kind) AS f IS NULL OR f = 'null' OR mg_kind(f) = kind",
    # descriptive text: a string's value, any other JSON value's own text
    """CREATE OR REPLACE TEMP MACRO mg_text(f) AS CASE WHEN starts_with(f, '"') THEN mg_str(f)
       WHEN f <> 'null' THEN f END""",
)


# a JSON number with an integer value that fits INTEGER (550 and 550.0, not 550.5 or 1e20)
INTEGRAL = "coalesce(TRY_CAST({0} AS INTEGER) = TRY_CAST({0} AS DOUBLE), false)"


def type_check(v: list[str]) -> str:
    """First slot whose JSON type is wrong, as 'label:found'; a delivery code must be an integer."""
    whens = []
    for expr, (label, kind) in zip(v, shapes.SLOTS, strict=True):
        if kind == "text":
            continue
        bad = f"NOT mg_is({expr}, '{kind}')"
        if label == "delivery-status.code":
            bad += f" OR (mg_kind({expr}) = 'number' AND NOT {INTEGRAL.format(expr)})"
        whens.append(f"WHEN {bad} THEN '{label}:' || mg_kind({expr})")
    return "CASE " + " ".join(whens) + " END"


def typed_ok(v: list[str]) -> str:
    """Every slot has its type and the required strings are neither empty nor possibly blank (cheap:
    first characters)."""
    parts = []
    for expr, (label, kind) in zip(v, shapes.SLOTS, strict=True):
        if kind == "text":
            continue
        if label in shapes.REQUIRED_SLOTS:
            parts.append(f"starts_with({expr}, '\"') AND {expr} <> '\"\"' AND NOT mg_may_be_blank({expr})")
        elif kind == "string":
            parts.append(f"({expr} IS NULL OR ord({expr}) = 34 OR {expr} = 'null')")  # not nan
        elif label == "delivery-status.code":
            parts.append(f"(mg_absent({expr}) OR {INTEGRAL.format(expr)})")
        else:
            parts.append(f"({expr} IS NULL OR ord({expr}) NOT IN (34, 116, 102, 91, 123))")
    parts.append(f"NOT (mg_absent({v[2]}) AND mg_absent({v[3]}))")  # a timestamp of one kind or the other
    return " AND ".join(parts)


def diagnose(v: list[str]) -> str:
    """The reject code of a line whose slots are not all right, or which has a nested object of another
    type (only such lines evaluate this)."""
    return f"""CASE WHEN mg_empty({v[0]}) THEN 'missing_id'
        WHEN mg_empty({v[1]}) THEN 'missing_event'
        WHEN mg_absent({v[2]}) AND mg_absent({v[3]}) THEN 'missing_timestamp'
        WHEN mg_empty({v[4]}) THEN 'missing_recipient'
        WHEN nested_bad IS NOT NULL THEN 'bad_type'
        WHEN {type_check(v)} IS NOT NULL THEN 'bad_type'
        WHEN event_at IS NULL THEN 'bad_timestamp' END"""


# An RFC 3339 @timestamp (checked by shapes.RFC3339) in UTC; upper(): the cast takes only T and Z.
AT = "timezone('UTC', TRY_CAST(upper(mg_str({0})) AS TIMESTAMPTZ))"


def event_at(v: list[str]) -> str:
    """Epoch seconds (v3, webhooks, flat) or an RFC 3339 @timestamp (Logs API), within 2010-2100."""
    return f"""CASE WHEN mg_kind({v[2]}) = 'number' THEN
            CASE WHEN TRY_CAST({v[2]} AS DOUBLE) BETWEEN $lo AND $hi
                 THEN make_timestamp(CAST(round(TRY_CAST({v[2]} AS DOUBLE) * 1e6) AS BIGINT)) END
        WHEN mg_absent({v[2]}) AND mg_kind({v[3]}) = 'string'
             AND regexp_full_match(mg_str({v[3]}), '{shapes.RFC3339}') THEN
            (CASE WHEN {AT.format(v[3])} BETWEEN $lo_at AND $hi_at THEN {AT.format(v[3])} END) END"""


def values(v: list[str]) -> str:
    """Named values from the 13 slot texts, for the final projection."""
    t = [f"mg_text({v[i]})" for i in (5, 6, 7, 8, 10, 11)]
    return f"""coalesce(NULLIF(lower(trim(mg_str({v[12]}))), ''), $domain) AS d, mg_str({v[0]}) AS event_id,
        lower(mg_str({v[1]})) AS event, mg_str({v[4]}) AS recipient, {t[0]} AS subject,
        {t[1]} AS message_id, lower({t[2]}) AS severity, lower({t[3]}) AS reason,
        TRY_CAST({v[9]} AS INTEGER) AS delivery_code,
        coalesce(NULLIF({t[4]}, ''), NULLIF({t[5]}, '')) AS delivery_description"""


# The subject before " | ", trimmed and compared without case, is a configured one. Three shortcuts
# come first (class_lists explains the lists): a subject that does not start like a configured one (or
# with a blank, or a non-ASCII character) is other, by its first code point (ord, several times cheaper
# than lower(subject[1]) and a superset of it); a subject exactly as configured is that kind; a
# subject whose first code point is printable ASCII (33-127) is other unless its first $head_len
# characters, lowered, start a configured subject. Only the rest pays for split_part, trim and lower.
SUBJECT_KIND = """CASE
         WHEN subject IS NULL OR NOT (ord(subject) > 127 OR list_contains($kind_ords, ord(subject)))
         THEN 'other'
         WHEN list_contains($reset_exact, subject) THEN 'password_reset'
         WHEN list_contains($confirm_exact, subject) THEN 'confirmation'
         WHEN ord(subject) BETWEEN 33 AND 127
             AND NOT list_contains($kind_heads, lower(left(subject, $head_len))) THEN 'other'
         WHEN list_contains($reset, lower(trim(split_part(subject, ' | ', 1)))) THEN 'password_reset'
         WHEN list_contains($confirm, lower(trim(split_part(subject, ' | ', 1)))) THEN 'confirmation'
         ELSE 'other' END"""
# A rejected row has no kind.
MAIL_KIND = f"CASE WHEN code IS NOT NULL THEN NULL ELSE {SUBJECT_KIND} END"

# The input's own domain has its role worked out once ($role); an item's domain.name is looked up.
ROLE = """CASE WHEN d = $domain THEN $role WHEN list_contains($gitlab, d) THEN 'gitlab'
         WHEN list_contains($portal, d) THEN 'portal' ELSE 'other' END"""

# recipient_norm is lower(trim(recipient)), or NULL when empty. trim() removes Unicode spaces and is
# slow, so an ASCII value (as many bytes as characters) without a space at either end skips it.
RECIPIENT_NORM = """NULLIF(lower(CASE WHEN strlen(recipient) = length(recipient)
        AND NOT starts_with(recipient, ' ') AND NOT ends_with(recipient, ' ') THEN recipient
        ELSE trim(recipient) END), '')"""

# mg_rows from named values: the stg_events columns, then the extra ones.
PROJECTION = f"""
SELECT d, {ROLE},
    event_id, event, event_at, recipient, {RECIPIENT_NORM}, subject,
    {MAIL_KIND},
    message_id, severity, reason, delivery_code, delivery_description, $source_file, line,
    $file_no, item, code, detail, sha, page, shape, keys
"""

# The key lists BLOCK_SQL reads in one parse: top level, an item's nested objects, a webhook's
# event-data and its nested objects.
ITEM_KEY_PATHS = ["$", *shapes.NESTED_OBJECTS]  # an item's: also the fast path's sample check
KEY_PATHS = [*ITEM_KEY_PATHS, shapes.EVENT_DATA, *shapes.WEBHOOK_NESTED_OBJECTS]
DATA_AT = KEY_PATHS.index(shapes.EVENT_DATA) + 1  # SQL lists count from 1

SLOT_LIST = [f"f[{i}]" for i in range(1, len(shapes.SLOTS) + 1)]

BLOCK_SQL = f"""
INSERT INTO mg_rows
{PROJECTION}
FROM (
WITH a AS (
    SELECT line, {{item}} AS item, raw,
        CASE WHEN strlen(raw) > $max_bytes THEN 'line_too_long'
             WHEN raw = '' THEN 'blank'
             WHEN ord(raw) IN (32, 9, 13) THEN CASE WHEN trim(raw, $space) = '' THEN 'blank' END
             END AS pre
    FROM mg_batch
), b AS (
    -- one parse gives the top-level keys, the nested objects' keys of an item and of a webhook's
    -- event-data, and event-data's own keys ($key_paths: '$', the item's, '$."event-data"', its items')
    SELECT *, CASE WHEN pre IS NULL THEN TRY(json_keys(raw, $key_paths)) END AS kk FROM a
), b2 AS (
    SELECT *, kk[1] AS k FROM b
), c AS (
    SELECT *,
        CASE WHEN k IS NULL THEN NULL WHEN starts_with(raw, '{{') THEN true
             ELSE starts_with(ltrim(raw, $space), '{{') END AS is_object,
        CASE WHEN k IS NULL THEN NULL
             WHEN list_contains(k, 'event-data') THEN 'webhook'
             WHEN list_contains(k, 'items') AND NOT list_has_any(k, $item_fields) THEN 'api_page'
             WHEN list_has_any(k, $flat_markers) THEN 'flat'
             WHEN list_contains(k, '@timestamp') THEN 'logs'
             ELSE 'v3' END AS shape
    FROM b2
), d AS (
    SELECT *,
        CASE WHEN shape = 'webhook' AND is_object THEN json_type(raw, '$."event-data"') END AS data_type,
        CASE WHEN shape = 'webhook' AND is_object
             THEN list_concat(k, [chr(31)], kk[$data_at]) ELSE k END AS all_keys,
        CASE WHEN NOT is_object THEN NULL
             WHEN shape IN ('v3', 'logs') THEN kk[2:$data_at - 1]
             WHEN shape = 'webhook' THEN kk[$data_at + 1:] END AS nested,
        CASE WHEN NOT is_object THEN NULL
             WHEN shape = 'webhook' THEN CAST(json_extract(raw, $webhook_paths) AS VARCHAR[])
             WHEN shape = 'flat' THEN CAST(json_extract(raw, $flat_paths) AS VARCHAR[])
             WHEN shape IN ('v3', 'logs') THEN CAST(json_extract(raw, $item_paths) AS VARCHAR[]) END AS f
    FROM c
), e AS (
    SELECT *, list_contains($good, hash(all_keys)) AS good_keys,
        -- a nested object read that has no keys may be no object at all (a string "message"): its type
        CASE WHEN list_bool_or(list_transform(nested, lambda x: coalesce(len(x) = 0, false)))
             THEN list_filter(list_zip($nested_labels,
                      CASE WHEN shape = 'webhook' THEN json_type(raw, $webhook_nested_paths)
                           ELSE json_type(raw, $nested_paths) END),
                  lambda p: p[2] NOT IN ('OBJECT', 'NULL'))[1]
             END AS nested_bad,
        CASE WHEN f IS NOT NULL THEN {typed_ok(SLOT_LIST)} END AS typed,
        {event_at(SLOT_LIST)} AS event_at
    FROM d
), coded AS (
    SELECT *, CASE
        WHEN pre IS NOT NULL THEN pre
        WHEN k IS NULL THEN 'not_json'
        WHEN NOT is_object THEN 'not_object'
        WHEN NOT good_keys AND len(all_keys) <> list_unique(all_keys) THEN 'duplicate_key'
        WHEN list_bool_or(list_transform(nested, lambda x: coalesce(len(x) <> list_unique(x), false)))
             THEN 'duplicate_key'
        WHEN shape = 'api_page' THEN CASE WHEN item IS NULL THEN 'page' ELSE 'bad_type' END
        WHEN typed AND nested_bad IS NULL THEN CASE WHEN event_at IS NULL THEN 'bad_timestamp' END
        WHEN shape = 'webhook' AND data_type <> 'OBJECT' THEN 'bad_type'
        ELSE {diagnose(SLOT_LIST)} END AS code
    FROM e
)
SELECT line, item, code, event_at, shape,
    CASE code WHEN 'bad_type' THEN
             CASE WHEN shape = 'api_page' THEN 'item:api page'
                  WHEN shape = 'webhook' AND data_type <> 'OBJECT' THEN 'event-data:' || lower(data_type)
                  WHEN nested_bad IS NOT NULL THEN nested_bad[1] || ':' || lower(nested_bad[2])
                  ELSE {type_check(SLOT_LIST)} END
         WHEN 'bad_timestamp' THEN CASE WHEN mg_kind(f[3]) = 'number' THEN 'timestamp' ELSE '@timestamp' END
         WHEN 'not_json' THEN CASE WHEN starts_with(raw, chr(65279)) THEN 'bom' END
         END AS detail,
    CASE WHEN code NOT IN ('blank', 'page') THEN sha256(raw) END AS sha,
    CASE WHEN code = 'page' THEN raw END AS page,
    CASE WHEN code IS NULL AND NOT good_keys THEN CAST(to_json(all_keys) AS VARCHAR) END AS keys,
    {values(SLOT_LIST)}
FROM coded
)
"""  # noqa: S608 - constants


def params(
    cfg_lists: dict[str, list[Any]], file_no: int, source_file: str, domain: str, max_bytes: int
) -> dict[str, object]:
    """Every parameter of BLOCK_SQL and FAST_SQL (each statement is bound the ones it names)."""
    return {
        **cfg_lists,
        "file_no": file_no,
        "source_file": source_file,
        "domain": domain,
        "role": role(domain, cfg_lists),
        "max_bytes": max_bytes,
        "space": " \t\r\n",
        "lo": shapes.MIN_EPOCH,
        "hi": shapes.MAX_EPOCH,
        "lo_at": dt.datetime.fromtimestamp(shapes.MIN_EPOCH, dt.UTC).replace(tzinfo=None),
        "hi_at": dt.datetime.fromtimestamp(shapes.MAX_EPOCH, dt.UTC).replace(tzinfo=None),
        "flat_markers": list(shapes.FLAT_MARKERS),
        "item_fields": list(shapes.ITEM_FIELDS),
        "item_paths": shapes.ITEM_PATHS,
        "webhook_paths": shapes.WEBHOOK_PATHS,
        "nested_labels": list(shapes.NESTED),
        "nested_paths": list(shapes.NESTED_OBJECTS),
        "webhook_nested_paths": shapes.WEBHOOK_NESTED_OBJECTS,
        "flat_paths": shapes.FLAT_PATHS,
        "key_paths": KEY_PATHS,
        "data_at": DATA_AT,
    }


def class_lists(cfg: Config) -> dict[str, Any]:
    """The configured domains and subjects as the lists SUBJECT_KIND and the role rules are bound."""
    reset = [s.strip().lower() for s in cfg.reset_subjects]
    confirm = [s.strip().lower() for s in cfg.confirmation_subjects]
    lists: dict[str, Any] = {
        "gitlab": list(cfg.gitlab_domains),
        "portal": list(cfg.portal_domains),
        "reset": reset,
        "confirm": confirm,
    }
    # A subject can only be a reset or confirmation if it starts like one (or with blanks): the ASCII
    # code points whose lower case starts a configured subject. Any non-ASCII start passes the gate.
    firsts = {s[:1] for s in reset + confirm} | {" ", "\t"}
    lists["kind_ords"] = [code for code in range(128) if chr(code).lower() in firsts]
    if "" in firsts:  # an empty configured subject: an empty subject (ord -1) is one
        lists["kind_ords"].insert(0, -1)
    # Most mail that passes that gate carries a configured subject exactly as configured: its kind is
    # known without splitting, trimming and lowering it. Only ASCII subjects without " | " are listed
    # (either rule then gives the same kind), a confirmation subject only when no reset subject takes it.
    lists["reset_exact"] = [s.strip() for s in cfg.reset_subjects if _plain(s)]
    lists["confirm_exact"] = [
        s.strip() for s in cfg.confirmation_subjects if _plain(s) and s.strip().lower() not in reset
    ]
    # A subject that starts with an ASCII character other than a space is one only if its first
    # characters, lowered, start a configured subject ("Re: ..." is no "reset password instructions");
    # lower() maps each code point to one, so they are the lowered subject's first characters.
    lists["head_len"] = min([3, *(len(s) for s in reset + confirm)])
    lists["kind_heads"] = sorted({s[: lists["head_len"]] for s in reset + confirm})
    return lists


def _plain(subject: str) -> bool:
    return subject.isascii() and " | " not in subject


# Kept events of earlier runs, classified again with this run's [domains] and subjects: a domain or
# subject added to (or taken out of) the configuration applies to the state's events too.
RECLASSIFY = f"""
UPDATE hist_events SET domain_role = r, mail_kind = k FROM (
    SELECT rowid AS rid,
        CASE WHEN list_contains($gitlab, domain) THEN 'gitlab'
             WHEN list_contains($portal, domain) THEN 'portal' ELSE 'other' END AS r,
        {SUBJECT_KIND} AS k
    FROM hist_events)
WHERE hist_events.rowid = rid AND (domain_role IS DISTINCT FROM r OR mail_kind IS DISTINCT FROM k)
"""  # noqa: S608 - constants


def role(domain: str, cfg_lists: dict[str, list[Any]]) -> str:
    if domain in cfg_lists["gitlab"]:
        return "gitlab"
    return "portal" if domain in cfg_lists["portal"] else "other"


def bind(sql: str, all_params: dict[str, object]) -> dict[str, object]:
    """Only the parameters a statement uses (DuckDB refuses unused named parameters)."""
    used = set(re.findall(r"\$(\w+)", sql))
    return {k: v for k, v in all_params.items() if k in used}


def block_sql(with_items: bool) -> str:
    return BLOCK_SQL.replace("{item}", "item" if with_items else "NULL::INTEGER")
