"""The bulk generator: any number of accounts and events, vectorised, with planted truth.

`account-audit sample --events M` comes here; without `--events` the small, hand-tuned generator in
`audit.sample` writes the committed sample byte for byte as before. The bulk path keeps the hand-made
planted cases of `sample_data.PLANTS` (their mail is built by the small generator's own code) and adds
background accounts, problems planted at realistic rates and background traffic, so that a benchmark
at a million accounts exercises the same variants as the tests, plus volume.

What dominates at 1M accounts / 5M events is building and writing ~4.3 GB of JSON text, so the
dumps are plain `.jsonl` by default (`compress=True` gzips them at level 1, several times slower).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from audit import sample_data as sd
from audit.sample_dupes import plant_duplicates
from audit.sample_events import expand
from audit.sample_jsonl import ROLES, write_dumps
from audit.sample_people import US_PER_DAY, background, norm_local
from audit.sample_plants import Planter
from audit.sample_rng import Rng
from audit.sample_traffic import noise, outsiders
from audit.sample_write import hand_accounts, hand_lines, write_accounts, write_expected

log = logging.getLogger(__name__)

SPAN_DAYS = 10  # one dump per domain and UTC day, the ten days ending with the as-of date
LOOKBACK_DAYS = 7
DUPLICATE_EXTRA_RATE = 0.003  # look-alike accounts added per account (each joins a planted cluster)
MIN_BULK_ACCOUNTS = len(sd.PLANTS) + 50
EVENTS_PER_MESSAGE = 2.2  # first guess; the real count is measured and topped up


def generate_bulk(
    out_dir: Path,
    as_of: dt.date,
    seed: int,
    n_accounts: int,
    n_events: int,
    compress: bool = False,
) -> dict[str, list[int]]:
    """Write accounts.csv, mailgun/<domain>/events-<day>.jsonl[.gz], audit.toml and expected.json."""
    clock = _Clock()
    rng = Rng(seed)
    end = int(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp() * 1e6)
    start, window = end - SPAN_DAYS * US_PER_DAY, end - LOOKBACK_DAYS * US_PER_DAY
    with clock("accounts"):
        hand, sample = hand_accounts(as_of, seed)
        n_extra = round(n_accounts * DUPLICATE_EXTRA_RATE)
        taken_names = {(p.first, p.last) for p in sd.PLANTS}
        local = hand["email"].str.strip_chars().str.split("@").list.first()
        taken_keys = set(pl.select(pl.lit(hand["domain"]) + "/" + norm_local(pl.lit(local))).to_series())
        n_background = n_accounts - hand.height - n_extra
        people = background(rng, n_background, as_of, SPAN_DAYS, taken_names, taken_keys)
        planter = Planter(rng, start, window, end)
        people = plant_duplicates(rng, planter.plant(people), n_extra, end)
        people = people.with_columns(hand=pl.lit(None, pl.Int64))
        accounts = pl.concat([hand, people.select(hand.columns)], how="vertical_relaxed")
        accounts = accounts.sort("created", "email").with_row_index("id", offset=1)
    with clock("traffic"):
        planned = pl.concat(planter.mail)
        planned_events = expand(rng, planned, end, "planned")
        extra = hand_lines(sample)
        budget = n_events - extra.height
        msgs, events = _traffic(rng, people, accounts, planned, planned_events, budget, end)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_dumps(out_dir / "mailgun")
    with clock("write_events"):
        lines = write_dumps(rng, msgs, events, extra, out_dir / "mailgun", compress)
    with clock("write_accounts"):
        write_accounts(rng, accounts, out_dir / "accounts.csv", end)
        suffix = ".jsonl.gz" if compress else ".jsonl"
        toml = sd.AUDIT_TOML.replace(".jsonl.gz", suffix).replace('out = "../../reports"', 'out = "reports"')
        toml = toml.replace('roots = [".", "../../reports"]', 'roots = ["."]')
        (out_dir / "audit.toml").write_text(toml, encoding="utf-8")
        expected = write_expected(accounts, sample, as_of, seed, lines, out_dir / "expected.json")
    log.info(
        "bulk sample: %s",
        ", ".join(f"{k} {w:.1f}s wall / {c:.1f}s cpu" for k, (w, c) in clock.stages.items()),
    )
    return expected


class _Clock:
    """Wall and CPU seconds per stage: on a shared 2-core machine CPU time is the steadier figure."""

    def __init__(self) -> None:
        self.stages: dict[str, tuple[float, float]] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.stages[name] = (time.perf_counter() - wall, time.process_time() - cpu)


def _traffic(
    rng: Rng,
    people: pl.DataFrame,
    accounts: pl.DataFrame,
    planned: pl.DataFrame,
    planned_events: pl.DataFrame,
    budget: int,
    end: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Planned mail plus enough noise for exactly `budget` events (never fewer than the planned)."""
    customers = people.filter(~pl.col("check").is_in([sd.U, sd.B]) & (pl.col("also") == ""))
    customers = customers.select(
        pl.col("email").str.strip_chars(), name=pl.col("first") + " " + pl.col("last")
    ).sample(fraction=1.0, shuffle=True, seed=rng.key("customers") % 2**32)
    mailboxes = outsiders(rng, max(260, accounts.height // 2), accounts["email"])
    need = budget - planned_events.height
    msgs, events = [planned], [planned_events]
    offset, have, batch = planned.height, 0, 0
    while need > 0 and have < need:
        k = max(10, math.ceil((need - have) / EVENTS_PER_MESSAGE * 1.05))
        more = noise(rng, k, customers, mailboxes, end, SPAN_DAYS, batch)
        more_events = expand(rng, more, end, f"noise{batch}")
        more_events = _cut(rng, more_events, more.height, need - have, f"noise{batch}")
        msgs.append(more)
        events.append(more_events.with_columns(pl.col("msg") + offset))
        offset, have, batch = offset + more.height, have + more_events.height, batch + 1
    return pl.concat(msgs), pl.concat(events)


def _cut(rng: Rng, events: pl.DataFrame, n_messages: int, budget: int, stream: str) -> pl.DataFrame:
    """At most `budget` events: whole messages in a random order, the last one maybe without its tail.

    Only message ranks and counts are sorted, never the events, so this stays cheap at any size.
    """
    if events.height <= budget:
        return events
    rank = rng.u64(n_messages, f"{stream}:order").rank("ordinal").cast(pl.Int64)
    counts = events.group_by("msg").len()
    counts = counts.with_columns(rank=rank.gather(counts["msg"])).sort("rank")
    counts = counts.with_columns(before=pl.col("len").cum_sum() - pl.col("len"))
    last = counts.filter(pl.col("before") < budget).tail(1)
    cut_rank, room = int(last["rank"][0]), budget - int(last["before"][0])
    msg_rank = rank.gather(events["msg"])
    keep = events.filter(msg_rank < cut_rank)
    tail = events.filter(msg_rank == cut_rank).sort("ts").head(room)
    return pl.concat([keep, tail])


def _clear_dumps(root: Path) -> None:
    """Dumps of an earlier run (another as-of, size or compression) would leak into the globs."""
    for domain in ROLES.values():
        for stale in sorted((root / domain).glob("events-*.jsonl*")):
            stale.unlink()
