"""Every Mailgun dump shape, recognised per line and validated in one DuckDB statement per block.

Shapes (by the line's top-level keys): `webhook` (has event-data), `api_page` (has items and none of
an item's fields; expanded by mailgun_docs), `flat` (export scripts that join nested keys with `_`,
of a v3 or a Logs API item), `logs` (Logs API v1: @timestamp), and `v3` (an Events API item). Each
shape maps onto the same 13 slots, so one statement classifies, checks types and converts every
line; Python never loops over good lines.

The SQL itself is in mailgun_sql; this module holds what both it and the Python side must agree on,
and the checks made once per distinct key list rather than once per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Plausible Mailgun timestamps: 2010-01-01 .. 2100-01-01 (epoch seconds).
MIN_EPOCH, MAX_EPOCH = 1_262_304_000, 4_102_444_800
# An RFC 3339 time with its offset; hours, minutes and offsets in range (DuckDB's cast would take 24:00 or
# +05:75 and shift the time), the date checked by the cast. A leap second (:60) does not cast.
HOUR_MINUTE = r"([01]\d|2[0-3]):[0-5]\d"
RFC3339 = rf"\d{{4}}-\d{{2}}-\d{{2}}[Tt ]{HOUR_MINUTE}:[0-5]\d(\.\d{{1,9}})?([Zz]|[+-]{HOUR_MINUTE})"

KNOWN_EVENTS = (
    "accepted", "rejected", "delivered", "failed", "opened", "clicked", "unsubscribed", "complained",
    "stored", "list_member_uploaded", "list_member_upload_error", "list_uploaded",
)  # fmt: skip
# Top-level keys of an event item (v3, webhook event-data, Logs API v1); objects are also flattened.
ITEM_OBJECTS = (
    "envelope", "flags", "message", "delivery-status", "user-variables", "geolocation", "client-info",
    "storage", "routes", "batch", "template", "mailing-list", "domain", "account", "reject", "tags",
    "campaigns",
)  # fmt: skip
ITEM_KEYS = (
    *ITEM_OBJECTS, "id", "event", "timestamp", "@timestamp", "log-level", "severity", "reason", "method",
    "recipient", "recipient-domain", "recipient-provider", "ip", "url", "originating-ip", "primary-dkim",
    "api-key-id", "ip-pool",
)  # fmt: skip
WEBHOOK_KEYS = ("signature", "event-data")
FLAT_KEYS = tuple(sorted({k.replace("-", "_") for k in ITEM_KEYS}))
FLAT_PREFIX_RE = "^(" + "|".join(re.escape(o.replace("-", "_")) for o in ITEM_OBJECTS) + ")_"
KNOWN_KEYS = tuple(sorted(set(ITEM_KEYS) | set(WEBHOOK_KEYS) | set(FLAT_KEYS)))
# Any of these at the top level makes an object an item, even with an `items` key: not an API page.
ITEM_FIELDS = ("id", "event", "timestamp", "@timestamp", "recipient")
# Any of these keys marks the flattened form (every flattened key the loader reads is one).
FLAT_MARKERS = (
    "message_headers_subject", "message_headers_message_id", "message_headers_to", "message_headers_from",
    "delivery_status_code", "delivery_status_description", "delivery_status_message", "envelope_sender",
    "envelope_targets", "log_level", "recipient_domain", "domain_name",
)  # fmt: skip

# slot -> (label in messages, expected JSON type). The fields the checks compare are typed strictly;
# descriptive text ("text") is kept as text whatever its JSON type (a number keeps its JSON text).
SLOTS = (
    ("id", "string"),
    ("event", "string"),
    ("timestamp", "number"),
    ("@timestamp", "string"),
    ("recipient", "string"),
    ("message.headers.subject", "text"),
    ("message.headers.message-id", "text"),
    ("severity", "text"),
    ("reason", "text"),
    ("delivery-status.code", "number"),
    ("delivery-status.description", "text"),
    ("delivery-status.message", "text"),
    ("domain.name", "string"),
)
ITEM_PATHS = [
    "$.id", "$.event", "$.timestamp", '$."@timestamp"', "$.recipient", "$.message.headers.subject",
    '$.message.headers."message-id"', "$.severity", "$.reason", '$."delivery-status".code',
    '$."delivery-status".description', '$."delivery-status".message', "$.domain.name",
]  # fmt: skip
# The nested objects the loader reads fields from, by label: each must be an object when given, and a
# repeated key in one is a duplicate_key (the fast reader refuses such a line too).
NESTED = {
    "message": "$.message",
    "message.headers": "$.message.headers",
    "delivery-status": '$."delivery-status"',
    "domain": "$.domain",
}
NESTED_OBJECTS = tuple(NESTED.values())
EVENT_DATA = '$."event-data"'  # a webhook's event: an item's paths, under it
WEBHOOK_PATHS = [EVENT_DATA + p[1:] for p in ITEM_PATHS]
WEBHOOK_NESTED_OBJECTS = [EVENT_DATA + p[1:] for p in NESTED_OBJECTS]
FLAT_PATHS = [
    "$.id", "$.event", "$.timestamp", '$."@timestamp"', "$.recipient", "$.message_headers_subject",
    "$.message_headers_message_id", "$.severity", "$.reason", "$.delivery_status_code",
    "$.delivery_status_description", "$.delivery_status_message", "$.domain_name",
]  # fmt: skip

MISSING = {
    "missing_id": "required field 'id' is missing, null, empty or blank",
    "missing_event": "required field 'event' is missing, null, empty or blank",
    "missing_timestamp": "required field 'timestamp' (or '@timestamp') is missing or null",
    "missing_recipient": "required field 'recipient' is missing, null, empty or blank",
}
FIXED = {
    **MISSING,
    "line_too_long": "line is longer than inputs.max_line_bytes",
    "not_json": "line is not valid JSON",
    "not_object": "JSON value is not an object",
    "duplicate_key": "an object repeats a key",
}
JSON_TYPE_NAMES = {"varchar": "string", "bigint": "number", "ubigint": "number", "double": "number"}
EXPECTED = {label: kind for label, kind in SLOTS} | {
    "event-data": "an object",
    **{label: "an object" for label in NESTED},
    "item": "an event object",
    "items": "an array of event objects",
}


def message(code: str, detail: str | None, item: int | None) -> str:
    """A reject message: what is wrong and where, never a value from the line."""
    if code == "bad_type" and detail:
        field, _, found = detail.partition(":")
        found = JSON_TYPE_NAMES.get(found, found)
        wanted = "an integer" if field.endswith("code") else EXPECTED.get(field, "of another type")
        text = f"field '{field}' must be {wanted}"
        text += f", found {found}" if found else ""
    elif code == "bad_timestamp":
        text = (
            "field 'timestamp' is not epoch seconds between 2010 and 2100"
            if detail == "timestamp"
            else "field '@timestamp' is not an RFC 3339 time with offset between 2010 and 2100"
        )
    elif code == "not_json" and detail == "bom":  # a dump appended to another (`cat`) keeps its BOM
        text = "line is not valid JSON: it starts with a byte order mark (were two files joined?)"
    else:
        text = FIXED.get(code, code)
    return f"item {item} of the API page or document: {text}" if item is not None else text


SAFE_KEY = re.compile(r"@?[A-Za-z0-9_.-]{1,64}")


def safe_key(key: str) -> str:
    """A field name fit for the manifest: schema names pass; anything else (maybe data) does not."""
    return key if SAFE_KEY.fullmatch(key) else "(unprintable field name)"


def safe_event(event: str) -> str:
    return event if re.fullmatch(r"[a-z0-9_.-]{1,40}", event) else "(unprintable event type)"


REQUIRED_SLOTS = {"id", "event", "recipient"}  # timestamp: one of timestamp / @timestamp


def signature_pattern() -> str:
    """Regex over the first character of each slot's JSON text ('~' = absent): every type as expected."""
    parts = []
    for label, kind in SLOTS:
        first = '"' if kind == "string" else "-0-9"
        parts.append(first if label in REQUIRED_SLOTS else f"[{first}~n]")
    return "".join(parts)


def key_problems(shape: str, keys: list[str]) -> tuple[bool, list[str]]:
    """(repeats a key, unknown field names) for one distinct top-level key list of a shape.

    A webhook's list is its own keys, a separator, then the keys of its event-data.
    """
    if "\x1f" in keys:
        top, data = keys[: keys.index("\x1f")], keys[keys.index("\x1f") + 1 :]
    else:
        top, data = [], keys
    repeated = len(set(top)) != len(top) or len(set(data)) != len(data)
    unknown = [k for k in top if k not in WEBHOOK_KEYS]
    for key in data:
        if shape == "flat":
            known = key in FLAT_KEYS or re.match(FLAT_PREFIX_RE, key) is not None
        else:
            known = key in ITEM_KEYS
        if not known:
            unknown.append(key)
    return repeated, unknown


def is_api_page(keys: Iterable[str]) -> bool:
    """An `items` key and none of an item's own fields (the SQL's rule, from the same ITEM_FIELDS)."""
    found = set(keys)
    return "items" in found and not found & set(ITEM_FIELDS)


def shape_of(keys: list[str]) -> str:
    """The shape of a line from its top-level keys (the same rule as the SQL)."""
    if "event-data" in keys:
        return "webhook"
    if is_api_page(keys):
        return "api_page"
    if set(keys) & set(FLAT_MARKERS):  # before @timestamp: a Logs API item can be flattened too
        return "flat"
    if "@timestamp" in keys:
        return "logs"
    return "v3"
