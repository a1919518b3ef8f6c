"""Mailgun event lines for the bulk generator: JSON from string templates, one dump per domain and day.

`json.dumps` per event is what makes Python slow at this size, and the event shapes are fixed, so each
line is filled into a template with `pl.format`, in the key order and spacing `json.dumps` gives the
small generator. Free text (display names, subjects) is escaped; addresses are the generator's own and
hold no quote or backslash (a test checks). Dumps are built one (domain, day) chunk at a time, two
chunks at once on two threads (polars releases the GIL), so only two chunks' text is ever in memory.
"""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from audit import sample_data as sd
from audit.sample_events import STATUSES
from audit.sample_rng import Rng

ROLES = {"gitlab": "mg.gitlab.com", "portal": "customers.gitlab.com", "other": "mg.about.gitlab.com"}
URLS = {"gitlab": "https://gitlab.com/users/sign_in", "portal": "https://customers.gitlab.com/"}
URLS["other"] = URLS["gitlab"]
Piece = str | pl.Expr  # a template piece: literal text, or a column (`{name}`) or expression


def _q(expr: pl.Expr) -> pl.Expr:
    """A JSON string literal of a text column (backslashes and quotes escaped)."""
    escaped = expr.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)
    return pl.format('"{}"', escaped)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _fill(*pieces: Piece) -> pl.Expr:
    """pl.format over literal text and `{column}` / expression pieces, in order."""
    text, args = [], []
    for piece in pieces:
        if isinstance(piece, pl.Expr):
            text.append("{}")
            args.append(piece)
        elif piece.startswith("{") and piece.endswith("}") and piece[1:-1].replace("_", "").isalpha():
            text.append("{}")
            args.append(pl.col(piece[1:-1]))
        else:
            text.append(piece.replace("{", "{{").replace("}", "}}"))
    return pl.format("".join(text), *args)


def _table(values: list[str], index: str) -> pl.Expr:
    return pl.col(index).replace_strict(dict(enumerate(values)), return_dtype=pl.String)


def prepare(rng: Rng, msgs: pl.DataFrame) -> pl.DataFrame:
    """Per-message columns every event of the message shares (escaped text, ids, header values)."""
    n = msgs.height
    domain = pl.col("role").replace_strict(ROLES, return_dtype=pl.String)
    frame = msgs.with_columns(
        domain=domain,
        rdomain=pl.col("to").str.split("@").list.last().str.to_lowercase(),
        hex=rng.hexes(n, "message-id"),
    )
    stamp = pl.from_epoch("sent", time_unit="us").dt.strftime("%Y%m%d%H%M%S")
    to_header = pl.when(pl.col("name") == "").then(pl.col("to")).otherwise(pl.format("{} <{}>", "name", "to"))
    sender = {r: _dumps(t) for r, t in sd.SENDERS.items()}
    return frame.select(
        "domain",
        "rdomain",
        "to",
        to_header=_q(to_header),
        subject=_q(pl.col("subject")),
        mid=pl.col("mid").fill_null(pl.format("{}.{}@{}", stamp, "hex", "domain")),
        sender=pl.col("role").replace_strict(sender, return_dtype=pl.String),
        bounce=pl.col("hex").str.slice(0, 6),
        ip=rng.integers(n, "sending-ip", 2, 250),
        size=rng.integers(n, "size", 2_500, 60_000),
        mx=pl.col("rdomain")
        .replace_strict(sd.MX_HOSTS, default=None, return_dtype=pl.String)
        .fill_null(pl.format("mx1.{}", "rdomain")),
        tags=pl.when("newsletter").then(pl.lit(_dumps(["newsletter"]))).otherwise(pl.lit("[]")),
        uvars=pl.when("newsletter").then(pl.lit(_dumps({"campaign": "newsletter"}))).otherwise(pl.lit("{}")),
        url=pl.col("role").replace_strict(URLS, return_dtype=pl.String),
    )


TAIL: tuple[Piece, ...] = (
    ', "recipient": "',
    "{to}",
    '", "recipient-domain": "',
    "{rdomain}",
    '", "tags": ',
    "{tags}",
    ', "campaigns": [], "user-variables": ',
    "{uvars}",
    "}",
)
FULL: tuple[Piece, ...] = (
    ', "envelope": {"sender": "bounce+',
    "{bounce}",
    "@",
    "{domain}",
    '", "targets": "',
    "{to}",
    '", "transport": "smtp", "sending-ip": "198.61.254.',
    "{ip}",
    '"}, "flags": ',
    _dumps(sd.MAILGUN_FLAGS),
    ', "message": {"headers": {"to": ',
    "{to_header}",
    ', "message-id": "',
    "{mid}",
    '", "from": ',
    "{sender}",
    ', "subject": ',
    "{subject}",
    '}, "attachments": [], "size": ',
    "{size}",
    "}",
    *TAIL,
)
SHORT: tuple[Piece, ...] = (', "message": {"headers": {"message-id": "', "{mid}", '"}}', *TAIL)
# Per status: the fields before "attempt-no", a failed event's severity and reason, and its log level.
STATUS_HEAD = [
    f'"code": {c}, "message": {_dumps(m)}, "description": {_dumps(d)}, "attempt-no": '
    for c, m, d, _, _ in STATUSES
]
FAILURE = [f', "severity": "{s}", "reason": "{r}"' for _, _, _, s, r in STATUSES]
LEVEL = ["error" if s == "permanent" else "warn" for _, _, _, s, _ in STATUSES]
GEO = [_dumps({"country": c, "region": r, "city": t}) for c, r, t in sd.CITIES]
CLIENT = [
    _dumps(
        {
            "client-type": "mobile browser" if d == "mobile" else "email client",
            "client-os": s,
            "device-type": d,
            "client-name": c,
        }
    )
    for d, s, c in sd.CLIENTS
]
STATUS: tuple[Piece, ...] = (
    ', "delivery-status": {',
    _table(STATUS_HEAD, "status").str.replace("{r}", pl.col("to"), literal=True),
    "{attempt}",
    ', "mx-host": "',
    "{mx}",
    '", "tls": true, "session-seconds": ',
    "{seconds}",
    "}",
)
SEEN: tuple[Piece, ...] = (
    ', "ip": "203.0.113.',
    "{octet}",
    '", "geolocation": ',
    _table(GEO, "city"),
    ', "client-info": ',
    _table(CLIENT, "client"),
)
EXTRAS: dict[str, tuple[Piece, ...]] = {
    "accepted": (', "method": "smtp"', *FULL),
    "delivered": (*STATUS, *FULL),
    "failed": (_table(FAILURE, "status"), *STATUS, *FULL),
    "complained": FULL,
    "opened": (*SEEN, *SHORT),
    "clicked": (*SEEN, ', "url": "', "{url}", '"', *SHORT),
}
LEVELS = {"accepted": "info", "delivered": "info", "complained": "warn", "opened": "info", "clicked": "info"}


def _needs(pieces: tuple[Piece, ...]) -> list[str]:
    return [
        p[1:-1] for p in pieces if isinstance(p, str) and p.startswith("{") and p.endswith("}") and len(p) > 2
    ]


def _draws(rng: Rng, kind: str, n: int, stream: str) -> dict[str, pl.Series]:
    """The event's own random fields: only those its kind's template uses (each draw costs at 5M)."""
    out = {"id": rng.tokens(n, f"{stream}:id")}
    if kind in ("delivered", "failed"):
        out["seconds"] = (0.05 + rng.uniform(n, f"{stream}:session") * 3.95).round(3)
    if kind in ("opened", "clicked"):
        out["city"] = rng.integers(n, f"{stream}:city", 0, len(sd.CITIES) - 1)
        out["client"] = rng.integers(n, f"{stream}:client", 0, len(sd.CLIENTS) - 1)
        out["octet"] = rng.integers(n, f"{stream}:ip", 1, 254)
    return out


def lines(rng: Rng, events: pl.DataFrame, prepared: pl.DataFrame, stream: str) -> pl.DataFrame:
    """(ts, id, line) for a chunk of events (msg, kind, ts, attempt, status).

    Each kind gathers only the message columns its template uses, straight from `prepared`: the wide
    per-message text is copied once per event and never filtered or re-sorted as a whole.
    """
    out = []
    for kind, pieces in EXTRAS.items():
        part = events.filter(pl.col("kind") == kind)
        if part.is_empty():
            continue
        n, s = part.height, f"{stream}:{kind}"
        wanted = [c for c in dict.fromkeys([*_needs(pieces), "to"]) if c in prepared.columns]
        gathered = prepared.select(wanted).gather(part["msg"])
        part = pl.concat([part, gathered], how="horizontal").with_columns(**_draws(rng, kind, n, s))
        stamp = pl.format(
            "{}.{}", pl.col("ts") // 1_000_000, (pl.col("ts") % 1_000_000).cast(pl.String).str.zfill(6)
        )
        level = _table(LEVEL, "status") if kind == "failed" else pl.lit(LEVELS[kind])
        head = (
            '{"id": "',
            "{id}",
            f'", "event": "{kind}", "timestamp": ',
            stamp,
            ', "log-level": "',
            level,
            '"',
        )
        out.append(part.select("ts", "id", line=_fill(*head, *pieces)))
    return pl.concat(out)


def write_dumps(
    rng: Rng, msgs: pl.DataFrame, events: pl.DataFrame, extra: pl.DataFrame, root: Path, compress: bool
) -> dict[str, int]:
    """One dump per (domain, UTC day): mailgun/<domain>/events-YYYY-MM-DD.jsonl[.gz]; lines per domain."""
    prepared = prepare(rng, msgs)
    day = pl.from_epoch("ts", time_unit="us").dt.date()
    events = events.with_columns(domain=prepared["domain"].gather(events["msg"]), day=day)
    chunks = events.partition_by("domain", "day", as_dict=True)
    extras = extra.with_columns(day=day).partition_by("domain", "day", as_dict=True)

    def write(key: tuple[object, ...]) -> tuple[str, int]:
        domain, date = str(key[0]), key[1]
        assert isinstance(date, dt.date)
        parts = []
        if key in chunks:
            parts.append(lines(rng, chunks[key].drop("domain", "day"), prepared, f"lines:{domain}:{date}"))
        if key in extras:
            parts.append(extras[key].select("ts", "id", "line"))
        # Stable sort on time alone (ties keep a fixed order): a string tie-break costs seconds at 5M.
        frame = pl.concat(parts).sort("ts", maintain_order=True).select("line")
        folder = root / domain
        folder.mkdir(parents=True, exist_ok=True)
        name = f"events-{date.isoformat()}.jsonl" + (".gz" if compress else "")
        frame.write_csv(
            folder / name,
            include_header=False,
            quote_style="never",
            compression="gzip" if compress else "uncompressed",
            compression_level=1 if compress else None,
        )
        return domain, frame.height

    keys = sorted(set(chunks) | set(extras), key=lambda k: (str(k[0]), str(k[1])))
    counts: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for domain, written in pool.map(write, keys):
            counts[domain] = counts.get(domain, 0) + written
    return counts
