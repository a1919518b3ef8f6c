"""Background accounts for the bulk generator: names, addresses, dates, links, all drawn column-wise.

Each column is one vectorised draw (see `sample_rng`), so a million rows take seconds. Like the small
sample's background, these accounts are meant to trip no check on their own: every full name is
unique, no two addresses in a domain share a normalised local part, and the problems are planted
afterwards (`sample_plants`) on rows chosen at realistic rates, so the ground truth is known by
construction instead of by running a check.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from audit import sample_data as sd
from audit import sample_words as sw
from audit.sample_rng import Rng

US_PER_DAY = 86_400_000_000
US_PER_MIN = 60_000_000
FREE_SHARE = 0.34  # accounts on a personal mailbox, as in the small sample
LINKED_SHARE = 0.4  # accounts linked to a GitLab.com user
UID_BASE = 16_600_000  # above the hand-made plants' uids, so the two never collide


def fold(expr: pl.Expr) -> pl.Expr:
    """Vectorised `audit.sample.fold`: ASCII lower-case letters and digits (a test keeps them equal)."""
    lowered = expr.str.to_lowercase().str.replace_many(list(sd.FOLD), list(sd.FOLD.values()))
    return lowered.str.normalize("NFKD").str.replace_all(r"[^a-z0-9]", "")


def norm_local(expr: pl.Expr) -> pl.Expr:
    """Vectorised `audit.sample.norm_local`: what a duplicate matcher may compare."""
    local = expr.str.strip_chars().str.to_lowercase().str.split("+").list.first()
    return local.str.replace_all(r"[._-]", "").str.strip_chars_end("0123456789")


class Vocab:
    """Every first name and surname once, with its folded form; names are drawn as ids into these.

    Uniqueness is decided on the folded full name ("Ann Alee" and "Anna Lee" both fold to "annalee",
    which is what the duplicate matcher and the tests compare), built from the folded vocabularies so
    no million-row string folding is needed.
    """

    def __init__(self) -> None:
        real, made = sw.distinct_surnames()  # no two surnames one typo apart
        lasts = [*real, *made]
        self.n_real_lasts = len(real)
        classes = sw.first_name_classes()
        self.firsts = pl.DataFrame({"first": sorted(set(sd.FIRST_NAMES))}).with_columns(
            f=fold(pl.col("first"))
        )
        self.firsts = self.firsts.with_columns(
            fclass=pl.col("f").replace_strict(classes, return_dtype=pl.Int64)
        )
        self.lasts = pl.DataFrame({"last": lasts}).with_columns(l=fold(pl.col("last")))
        first_ids = {name: i for i, name in enumerate(self.firsts["first"].to_list())}
        last_ids = {name: i for i, name in enumerate(lasts)}
        self.pool_firsts = [[first_ids[f] for f in fs] for _, fs, _ in sd.POOLS]
        self.pool_lasts = [[last_ids[x] for x in ls if x in last_ids] for _, _, ls in sd.POOLS]

    def key(self, first_id: pl.Series, last_id: pl.Series) -> pl.Series:
        return self.firsts["f"].gather(first_id) + self.lasts["l"].gather(last_id)

    @staticmethod
    def keys_of(names: set[tuple[str, str]]) -> set[str]:
        """Keys of (first, last) pairs given as text (the hand-made plants), for exclusion."""
        return {fold_text(f) + fold_text(x) for f, x in names}


def fold_text(text: str) -> str:
    return pl.select(fold(pl.lit(text))).item()  # type: ignore[no-any-return]


def _name_ids(rng: Rng, vocab: Vocab, n: int, round_: int) -> pl.DataFrame:
    """first/last ids, paired within a naming tradition as in the pools (with some mixing)."""
    pool = rng.index(n, f"pool{round_}", [w for w, _, _ in sd.POOLS])

    def pick(stream: str, groups: list[list[int]]) -> pl.Series:
        flat = pl.Series([i for g in groups for i in g], dtype=pl.Int64)
        offsets, acc = [], 0
        for g in groups:
            offsets.append(acc)
            acc += len(g)
        start = pl.Series(offsets).gather(pool)
        size = pl.Series([len(g) for g in groups]).gather(pool)
        return flat.gather(start + (rng.uniform(n, stream) * size).floor().cast(pl.Int64))

    first = pick(f"first{round_}", vocab.pool_firsts)
    own = pick(f"last{round_}", vocab.pool_lasts)
    real = rng.integers(n, f"anylast{round_}", 0, vocab.n_real_lasts - 1)
    made = rng.integers(n, f"madelast{round_}", vocab.n_real_lasts, vocab.lasts.height - 1)
    u = rng.uniform(n, f"lastkind{round_}")
    # Once the real pairs are used up (later rounds), only invented surnames keep names distinct.
    own_share, real_share = (0.6, 0.7) if round_ == 0 else (0.0, 0.0)
    last = pl.select(
        pl.when(u < own_share).then(own).when(u < real_share).then(real).otherwise(made)
    ).to_series()
    return pl.DataFrame({"first_id": first, "last_id": last})


def unique_names(rng: Rng, vocab: Vocab, n: int, taken: set[str]) -> pl.DataFrame:
    """n (first, last) pairs whose folded full names are all distinct and not in `taken`."""
    frame = pl.DataFrame(schema={"first_id": pl.Int64, "last_id": pl.Int64, "key": pl.String})
    for round_ in range(12):
        want = int((n - frame.height) * 1.3) + 100
        ids = _name_ids(rng, vocab, want, round_)
        ids = ids.with_columns(key=vocab.key(ids["first_id"], ids["last_id"]))
        frame = pl.concat([frame, ids])
        frame = frame.filter(~pl.col("key").is_in(list(taken)) & pl.col("key").is_first_distinct())
        if frame.height >= n:
            frame = frame.head(n)
            first = vocab.firsts.select("first", "f", "fclass").gather(frame["first_id"])
            last = vocab.lasts.select("last", "l").gather(frame["last_id"])
            return pl.concat([first, last], how="horizontal")
    raise RuntimeError("could not draw enough distinct names")


SEPARATORS = {"first.last": ".", "firstlast": "", "first_last": "_", "flast": "", "first": ""}
SEPARATORS |= {"flastNN": "", "f.lastNN": "."}


def _local_parts(convention: pl.Expr, f: pl.Expr, last: pl.Expr, nn: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(local part, its normalised form) in one of the conventions of `sample_words`, built piecewise."""
    head = pl.when(convention.is_in(["flast", "flastNN"])).then(f.str.slice(0, 1)).otherwise(f)
    tail = pl.when(convention == "first").then(pl.lit("")).otherwise(last)
    digits = pl.when(convention.is_in(["flastNN", "f.lastNN"])).then(nn).otherwise(pl.lit(""))
    sep = convention.replace_strict(SEPARATORS, return_dtype=pl.String)
    return head + sep + tail + digits, head + tail


def addresses(rng: Rng, names: pl.DataFrame, taken_keys: set[str]) -> pl.DataFrame:
    """Add domain, company and email; rows whose address would collide get the first.last form."""
    n = names.height
    real = [(name, domain, conv, w) for name, domain, conv, w in sd.COMPANIES]
    # Invented companies in a seeded order, so the biggest ones are not all "Amber ..." by accident.
    made_all = sw.companies()
    order = rng.u64(len(made_all), "company-order").arg_sort().head(max(50, n // 40)).to_list()
    made = [made_all[i] for i in order]
    # Zipf-like sizes, flattened at the top: the biggest invented company has ~1% of company accounts.
    made_w = [0.85 / (r + 10) for r in range(len(made))]
    made_total = sum(made_w)
    real_total = sum(w for *_, w in real)
    co_names = [c[0] for c in real] + [c[0] for c in made]
    co_domains = [c[1] for c in real] + [c[1] for c in made]
    co_weights = [0.15 * w / real_total for *_, w in real] + [w / made_total * 0.85 for w in made_w]
    made_conv = rng.choice(
        len(made),
        "company-convention",
        [c for c, _ in sw.COMPANY_CONVENTIONS],
        [w for _, w in sw.COMPANY_CONVENTIONS],
    )
    co_convs = pl.concat([pl.Series([c[2] for c in real]), made_conv])
    company = rng.index(n, "company", co_weights)
    free = rng.uniform(n, "free") < FREE_SHARE
    free_domain = rng.choice(n, "free-domain", [d for _, d in sd.FREE_MAIL], [w for w, _ in sd.FREE_MAIL])
    free_conv = rng.choice(
        n, "free-convention", [c for c, _ in sw.FREE_CONVENTIONS], [w for _, w in sw.FREE_CONVENTIONS]
    )
    small = rng.integers(n, "nn-small", 1, 99)
    year = rng.integers(n, "nn-year", 1960, 2004)
    frame = names.with_columns(
        free=free,
        domain=pl.when(free).then(free_domain).otherwise(pl.Series(co_domains).gather(company)),
        convention=pl.when(free).then(free_conv).otherwise(co_convs.gather(company)),
        company=pl.when(~free)
        .then(pl.Series(co_names).gather(company))
        .when(rng.uniform(n, "free-company") < 0.4)
        .then(pl.Series(co_names).gather(rng.index(n, "free-employer", co_weights)))
        .otherwise(pl.lit("")),
        nn=pl.when(rng.uniform(n, "nn-kind") < 0.7).then(small).otherwise(year).cast(pl.String),
    )
    local, norm = _local_parts(pl.col("convention"), pl.col("f"), pl.col("l"), pl.col("nn"))
    frame = frame.with_columns(local=local, key=pl.col("domain") + "/" + norm)
    clash = pl.col("key").is_in(list(taken_keys)) | pl.col("key").is_first_distinct().not_()
    frame = frame.with_columns(
        local=pl.when(clash).then(pl.col("f") + "." + pl.col("l")).otherwise("local"),
        key=pl.when(clash).then(pl.col("domain") + "/" + pl.col("f") + pl.col("l")).otherwise("key"),
    )
    # Nor may one domain hold two people whose names are one typo apart (surnames never are, see
    # sample_words.distinct_surnames; first names one edit apart share a class): a matcher may link them.
    kin = pl.concat_str(pl.col("domain"), pl.col("fclass").cast(pl.String), pl.col("l"), separator="/")
    keep = (
        ~pl.col("key").is_in(list(taken_keys)) & pl.col("key").is_first_distinct() & kin.is_first_distinct()
    )
    frame = frame.filter(keep & (pl.col("local").str.len_chars() >= 2))
    return frame.with_columns(email=pl.col("local") + "@" + pl.col("domain")).drop("nn", "convention")


def lifecycle(rng: Rng, frame: pl.DataFrame, as_of: dt.date, span_days: int) -> pl.DataFrame:
    """Sign-up, confirmation, sign-in and link columns (microseconds since the epoch, UTC)."""
    n = frame.height
    end = int(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp() * 1e6)
    start = end - span_days * US_PER_DAY
    recent = rng.uniform(n, "recent") < 0.05
    # Sign-ups grow over the years: age is skewed towards the present (density ~ 1/sqrt(age)).
    age = 12 * US_PER_DAY + (rng.uniform(n, "age") ** 2 * 2588 * US_PER_DAY).cast(pl.Int64)
    in_dumps = start + (rng.uniform(n, "recent-at") * (end - start - 4 * 3_600_000_000)).cast(pl.Int64)
    created = pl.when(recent).then(in_dumps).otherwise(end - age)
    delay_min = pl.Series([2, 5, 20, 90, 600, 2900]).gather(rng.integers(n, "confirm-delay", 0, 5))
    delay = (delay_min + rng.integers(n, "confirm-jitter", 0, 30)) * US_PER_MIN
    quick = rng.integers(n, "confirm-quick", 2, 200) * US_PER_MIN
    frame = frame.with_columns(
        recent=recent,
        created=created + rng.integers(n, "created-sec", 0, US_PER_MIN - 1),
    ).with_columns(
        confirmed=pl.min_horizontal(
            pl.col("created") + pl.when(recent).then(pl.min_horizontal(delay, quick)).otherwise(delay),
            pl.lit(end - US_PER_MIN),
        )
    )
    signs_in = rng.uniform(n, "signs-in") < 0.85
    # Active customers sign in often: the last sign-in is skewed towards the present.
    since = ((end - pl.col("confirmed")) * rng.uniform(n, "sign-in-at") ** 3).cast(pl.Int64)
    linked = rng.uniform(n, "linked") < LINKED_SHARE
    order = rng.u64(n, "uid-order").rank("ordinal").cast(pl.Int64)
    uid = UID_BASE + order * 7 + rng.integers(n, "uid-jitter", 0, 6)
    offsets = pl.Series([120, -420, 540, 330, -180, 60]).gather(rng.integers(n, "tz", 0, 5))
    old = pl.col("created") < end - 2000 * US_PER_DAY
    return frame.with_columns(
        sent=pl.when(old & (rng.uniform(n, "legacy") < 0.3)).then(None).otherwise(pl.col("created")),
        sign_in=pl.when(signs_in).then(end - since - 1).otherwise(None),
        sign_in_count=pl.when(signs_in).then(rng.integers(n, "sign-in-count", 1, 150)).otherwise(0),
        uid=pl.when(linked).then(uid.cast(pl.String)).otherwise(pl.lit("")),
        uid_spare=uid.cast(pl.String),  # for rows a plant links later
        gitlab_email=pl.when(linked).then(pl.col("email")).otherwise(pl.lit("")),
        login=pl.lit(True),
        billing=pl.when(rng.uniform(n, "billing") < 0.55)
        .then(rng.hexes(n, "billing-id", 2))
        .otherwise(pl.lit("")),
        tz=pl.when(rng.uniform(n, "tz-kind") < 0.04).then(offsets).otherwise(None),
        unconfirmed_email=pl.lit(""),
    )


def background(
    rng: Rng, n: int, as_of: dt.date, span_days: int, taken_names: set[tuple[str, str]], taken_keys: set[str]
) -> pl.DataFrame:
    """n background accounts with every CSV column (times still in microseconds)."""
    vocab = Vocab()
    taken = vocab.keys_of(taken_names)
    for extra in (1.03, 1.1, 1.3):
        names = unique_names(rng, vocab, int(n * extra) + 20, taken)
        frame = addresses(rng, names, taken_keys)
        if frame.height >= n:
            return lifecycle(rng, frame.head(n), as_of, span_days)
    raise RuntimeError("could not draw enough distinct addresses")
