"""How far could any scorer go on the labelled set? A supervised ceiling for duplicate_signups.

    .venv/bin/python -m pip install scikit-learn   # not a project dependency: this script only
    .venv/bin/python bench/ceiling_matching.py [--train-seeds 11,23,31,41,53] [--test 10000:7,40000:5]

Why: the labelled set (bench/matching_labelled.py) makes namesakes the way real sign-ups do, so some
duplicates look exactly like two people. This script widens blocking (every name-rarity limit lifted),
computes every feature the scorer knows for each candidate pair plus more it does not use (Jaro-Winkler
and edit distance of the local parts, how many accounts share the name, the first and last name apiece,
the local part), trains a gradient-boosted classifier on the *true labels* of other seeds, and prints the
pairwise recall it reaches at precision 0.98, 0.95 and 0.9, counting true pairs blocking never proposes
as misses. No unsupervised matcher using the same evidence should expect to beat it;
`bench/eval_matching.py` prints what the real pass reaches.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from rapidfuzz.distance import OSA, JaroWinkler

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval_matching import load
from matching_labelled import generate

from audit import matching as m
from audit import matching_blocking as mb
from audit import matching_features as mf
from audit import matching_score as ms
from audit.matching import MatchingConfig

WIDE = MatchingConfig(max_namesakes=1e6, max_common_namesakes=1e6, max_domain_namesakes=1e6)
PAIR = ("kind", "rel", "crel", "sim", "score", "same_domain", "same_skel", "same_stem", "typo_domain",
        "short", "roles", "spelled", "spelled_both")  # fmt: skip
SIDES = ("public", "namesakes", "dom_namesakes", "dshare", "slen", "form", "has_last")
# Evidence the scorer does not use, so that the ceiling is not just the scorer's own view of a pair.
EXTRA_PAIR = ("jw", "osa", "same_company", "same_org")
EXTRA_SIDES = ("fshare", "lshare", "stem_n", "name_n", "has_company", "role")
c = pl.col


def pairs_of(people: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(features, labels) of the widened candidate pairs, and the number of true pairs in the set."""
    accounts = generate(people, seed)
    with duckdb.connect() as con:
        load(con, accounts)
        frame = m._load(con)
    feats = mf.features(frame, WIDE).with_columns(
        stem_n=pl.len().over("stem"),
        name_n=pl.when(c("first").is_not_null() & c("last").is_not_null()).then(
            pl.len().over("first", "last")
        ),
        has_company=c("company").is_not_null(),
    )
    pairs, _stats = mb.candidates(feats, WIDE)
    scored = ms.score(m._pairs(feats, pairs), WIDE, mf.name_counts(feats), every_similarity=True)
    skels = list(zip(scored["skel"].fill_null(""), scored["b_skel"].fill_null(""), strict=True))
    scored = scored.with_columns(
        jw=pl.Series([JaroWinkler.similarity(x, y) for x, y in skels]),
        osa=pl.Series([OSA.distance(x, y) for x, y in skels]),
        same_company=(c("company") == c("b_company")).fill_null(False),
        same_org=(c("org") == c("b_org")).fill_null(False),
    )
    ids = frame["account_id"].to_list()
    person = {a.id: a.person for a in accounts}
    same = [person[ids[a]] == person[ids[b]] for a, b in zip(scored["i"], scored["b_i"], strict=True)]
    labels = np.array(same, dtype=bool)
    sides = (*SIDES, *EXTRA_SIDES)
    columns = [*PAIR, *EXTRA_PAIR, *sides, *(f"b_{s}" for s in sides)]
    features = scored.select(pl.col(x).cast(pl.Float64) for x in columns).to_numpy()
    sizes = Counter(a.person for a in accounts)
    return features, labels, sum(n * (n - 1) // 2 for n in sizes.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-seeds", default="11,23,31,41,53")
    parser.add_argument("--train-people", type=int, default=10_000)
    parser.add_argument("--test", default="10000:7,40000:5", help="people:seed,...")
    args = parser.parse_args()
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        sys.exit("needs scikit-learn (not a project dependency): .venv/bin/pip install scikit-learn")
    train = [pairs_of(args.train_people, int(s)) for s in args.train_seeds.split(",")]
    model = HistGradientBoostingClassifier(max_iter=300, random_state=0)
    model.fit(np.vstack([x for x, _y, _t in train]), np.concatenate([y for _x, y, _t in train]))
    for spec in args.test.split(","):
        people, seed = (int(v) for v in spec.split(":"))
        x, y, truth = pairs_of(people, seed)
        order = np.argsort(-model.predict_proba(x)[:, 1], kind="stable")
        hits = np.cumsum(y[order])
        precision = hits / np.arange(1, len(y) + 1)
        at = {p: hits[np.flatnonzero(precision >= p).max()] / truth for p in (0.98, 0.95, 0.9)}
        print(f"{people} people, seed {seed}: {len(y)} candidate pairs hold {y.sum()} of {truth} true pairs "
              f"(blocking recall {y.sum() / truth:.3f}); best pairwise recall at precision >= 0.98: "
              f"{at[0.98]:.3f}, at >= 0.95: {at[0.95]:.3f}, at >= 0.9: {at[0.9]:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
