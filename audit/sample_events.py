"""Messages -> Mailgun events for the bulk generator: each message's life, expanded column-wise.

The small generator walks every message in Python (`_Sample.send`); at five million events that takes
minutes. Here the same life stories (accepted, then delivered / failed / opened / clicked / complained)
are built one event kind at a time over all messages with that fate, so the cost is a handful of
vectorised passes. Offsets and delivery statuses match `_Sample.send`, so a check cannot tell the two
generators apart. Events stay narrow (integers only; `status` indexes STATUSES) until a dump's lines
are written, because partitioning and gathering five million rows is cheap only while they are small.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from audit import sample_data as sd
from audit.sample_rng import Rng

US = 1_000_000
MESSAGE_SCHEMA = {
    "role": pl.String,  # gitlab | portal | other
    "subject": pl.String,
    "sent": pl.Int64,  # microseconds since the epoch, UTC
    "fate": pl.String,  # delivered | temp_then_delivered | temp_only | bounce | complained | suppress_*
    "to": pl.String,  # recipient exactly as Mailgun logs it
    "name": pl.String,  # display name for the To: header ("" = none)
    "mid": pl.String,  # message-id shared by a bulk send; null = one per message
    "newsletter": pl.Boolean,
}
KINDS = ("accepted", "delivered", "failed", "complained", "opened", "clicked")
DELIVERED_FATES = ("delivered", "temp_then_delivered", "complained")
OPEN_RATE = {"gitlab": 0.3, "portal": 0.45, "other": 0.25}
# (code, message, description, severity, reason) of every delivery status an event can carry;
# a bounce message may hold "{r}", the recipient.
OK = (250, "OK", "", "", "")
TEMP = [(code, text, "", "temporary", "generic") for code, text in sd.TEMP_FAILURES]
BOUNCE = [(code, text, "", "permanent", "bounce") for code, text in sd.BOUNCES]
SUPPRESS = {
    fate: (code, "", text, "permanent", reason) for fate, (reason, code, text) in sd.SUPPRESSIONS.items()
}
STATUSES = (OK, *TEMP, *BOUNCE, *SUPPRESS.values())
EVENT_SCHEMA = {
    "msg": pl.Int64,
    "kind": pl.Enum(KINDS),
    "ts": pl.Int64,
    "attempt": pl.Int8,
    "status": pl.Int16,
}


def messages(columns: Mapping[str, object]) -> pl.DataFrame:
    """A message frame from columns or scalars; `mid` defaults to null and `newsletter` to false."""
    frame = pl.DataFrame({k: v for k, v in columns.items() if isinstance(v, pl.Series)})
    scalars = {"mid": None, "newsletter": False, "name": ""} | {
        k: v for k, v in columns.items() if not isinstance(v, pl.Series)
    }
    frame = frame.with_columns(pl.lit(v).alias(k) for k, v in scalars.items() if k not in frame.columns)
    return frame.select(pl.col(k).cast(t) for k, t in MESSAGE_SCHEMA.items())


def _events(
    part: pl.DataFrame,
    kind: str,
    ts: pl.Expr,
    attempt: int | pl.Expr = 0,
    status: int | pl.Expr | pl.Series | None = None,
) -> pl.DataFrame:
    return part.select(
        msg=pl.col("msg"),
        kind=pl.lit(kind, pl.Enum(KINDS)),
        ts=ts,
        attempt=pl.lit(attempt, pl.Int8) if isinstance(attempt, int) else attempt.cast(pl.Int8),
        status=pl.lit(status, pl.Int16)
        if status is None or isinstance(status, int)
        else pl.lit(status).cast(pl.Int16),
    )


def expand(rng: Rng, msgs: pl.DataFrame, end_us: int, stream: str) -> pl.DataFrame:
    """Every event of every message (column `msg` is the message's row), dropping those after `end`."""
    n = msgs.height
    base = msgs.select("fate", "role").with_row_index("msg").with_columns(pl.col("msg").cast(pl.Int64))

    def us(name: str, lo: float, hi: float) -> pl.Series:
        return ((lo + rng.uniform(n, f"{stream}:{name}") * (hi - lo)) * US).cast(pl.Int64)

    base = base.with_columns(
        sent=msgs["sent"],
        u_open=rng.uniform(n, f"{stream}:open"),
        u_click=rng.uniform(n, f"{stream}:click"),
        retry=us("retry", 600, 1800),
        deliver=us("deliver", 0.3, 25),
        bounce=us("bounce", 1, 8),
        suppress=us("suppress", 0.01, 0.3),
        complain=us("complain", 3600, 9 * 3600),
        opened=us("opened", 60, 36_000),
        clicked=us("clicked", 3, 90),
        jitter=us("jitter", 0, 5),
        bounce_kind=rng.integers(n, f"{stream}:bounce-kind", 0, len(BOUNCE) - 1),
        temp_kind=rng.integers(n, f"{stream}:temp-kind", 0, len(TEMP) - 1),
    )
    fate = pl.col("fate")
    parts = [_events(base, "accepted", pl.col("sent"))]
    for attempt, delay in enumerate((2, 600, 2400, 7200), 1):
        who = base.filter((fate == "temp_only") | ((fate == "temp_then_delivered") & pl.lit(attempt == 1)))
        at = pl.col("sent") + delay * US + pl.col("jitter")
        parts.append(_events(who, "failed", at, attempt, 1 + who["temp_kind"]))
    bounced = base.filter(fate == "bounce")
    parts.append(
        _events(
            bounced, "failed", pl.col("sent") + pl.col("bounce"), 1, 1 + len(TEMP) + bounced["bounce_kind"]
        )
    )
    for i, fate_name in enumerate(SUPPRESS):
        who = base.filter(fate == fate_name)
        parts.append(
            _events(who, "failed", pl.col("sent") + pl.col("suppress"), 1, 1 + len(TEMP) + len(BOUNCE) + i)
        )
    retried = fate == "temp_then_delivered"
    delivered = base.filter(fate.is_in(DELIVERED_FATES)).with_columns(
        at=pl.col("sent") + pl.when(retried).then(pl.col("retry")).otherwise(0) + pl.col("deliver"),
        attempt=pl.when(retried).then(2).otherwise(1),
    )
    parts.append(_events(delivered, "delivered", pl.col("at"), pl.col("attempt"), 0))
    complained = delivered.filter(fate == "complained")
    parts.append(_events(complained, "complained", pl.col("at") + pl.col("complain")))
    rate = pl.col("role").replace_strict(OPEN_RATE, return_dtype=pl.Float64)
    opened = delivered.filter((fate != "complained") & (pl.col("u_open") < rate))
    opened = opened.with_columns(open_at=pl.col("at") + pl.col("opened"))
    parts.append(_events(opened, "opened", pl.col("open_at")))
    clicked = opened.filter(pl.col("u_click") < 0.3)
    parts.append(_events(clicked, "clicked", pl.col("open_at") + pl.col("clicked")))
    return pl.concat(parts).filter(pl.col("ts") < end_us)
