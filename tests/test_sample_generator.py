"""The sample generator: reproducible bytes, a committed copy that cannot drift, and honest ground truth.

The last group re-derives checks 1, 2, 4 and 5 from the generated files with a few lines of plain
Python (the rules exactly as the brief states them) and compares with expected.json. It is not the
job's implementation; it exists so a slip in the generator (noise hitting a customer, a planted mail
falling outside the dumps) shows up here instead of as a mysterious end-to-end failure.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import itertools
import json
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from audit.sample import fold, generate_sample, norm_local, within_edits

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "data" / "sample"
UTC = dt.UTC
PERMANENT_REASONS = {"bounce", "suppress-bounce", "suppress-complaint", "suppress-unsubscribe"}
FREE_MAIL = {"gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com"}
STABLE_FIRST_DRAW = 16132062489411933021  # Rng(7).u64(1, "x"): splitmix64 of a blake2b-keyed counter


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _payload(name: str, data: bytes) -> bytes:
    return gzip.decompress(data) if name.endswith(".gz") else data


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate_sample(out)
    return out


def _when(text: str) -> dt.datetime | None:
    if not text:
        return None
    if text.endswith(" UTC"):
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
    return dt.datetime.fromisoformat(text).astimezone(UTC)


def _accounts(root: Path) -> list[dict[str, str]]:
    with (root / "accounts.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _events(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Every event once, keyed (domain, id), with the domain it was exported for added as `_domain`."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((root / "mailgun").glob("*/*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                item = json.loads(line)
                seen.setdefault((path.parent.name, item["id"]), {**item, "_domain": path.parent.name})
    return seen


# ---- reproducibility ------------------------------------------------------------------------------


def test_generation_is_byte_identical(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a")
    generate_sample(tmp_path / "b")
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_gzip_headers_carry_no_name_or_time(sample: Path) -> None:
    for path in sorted((sample / "mailgun").glob("*/*.gz")):
        header = path.read_bytes()[:10]
        assert header[:3] == b"\x1f\x8b\x08"
        assert header[3] == 0, f"{path.name}: gzip header has flags (file name?)"
        assert header[4:8] == b"\0\0\0\0", f"{path.name}: gzip mtime is not 0"


def test_committed_sample_matches_a_fresh_generation(sample: Path) -> None:
    """Regenerate with `make sample` and commit if this fails. Gzip members are compared decompressed
    so a different zlib build cannot fail the test while any content change still does."""
    committed, fresh = _files(COMMITTED), _files(sample)
    assert sorted(committed) == sorted(fresh)
    drifted = [n for n in fresh if _payload(n, committed[n]) != _payload(n, fresh[n])]
    assert drifted == [], "data/sample is stale; run `make sample` and commit the result"


def test_other_seed_gives_other_data(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", seed=8)
    assert (tmp_path / "a" / "accounts.csv").read_bytes() != (COMMITTED / "accounts.csv").read_bytes()


# ---- shape ------------------------------------------------------------------------------------------


def test_accounts_shape(sample: Path) -> None:
    rows = _accounts(sample)
    assert len(rows) == 400
    assert [int(r["id"]) for r in rows] == list(range(1, 401))
    created = [_when(r["created_at"]) for r in rows]
    assert created == sorted(created, key=lambda t: t or dt.datetime.min.replace(tzinfo=UTC))
    assert any("T" in r["created_at"] and r["created_at"][-6] in "+-" for r in rows)
    assert {r["login_activated"] for r in rows} == {"true", "false"}
    for r in rows:
        assert bool(r["provider"]) == bool(r["uid"]) == bool(r["gitlab_email"]), r["id"]
        assert r["uid"] == "" or r["uid"].isdigit()
        assert (r["sign_in_count"] == "0") == (r["last_sign_in_at"] == ""), r["id"]
    free = sum(r["email"].strip().lower().rsplit("@", 1)[1] in FREE_MAIL for r in rows)
    assert 0.25 < free / len(rows) < 0.45
    assert len({r["first_name"] for r in rows}) > 150 and len({r["last_name"] for r in rows}) > 150
    text = (sample / "accounts.csv").read_text(encoding="utf-8")
    assert '"Meridian Bank, N.A."' in text and '"Initech ""Labs"" LLC"' in text


def test_every_event_line_has_the_required_fields(sample: Path) -> None:
    expected = json.loads((sample / "expected.json").read_text(encoding="utf-8"))
    end = dt.datetime.combine(dt.date.fromisoformat(expected["as_of"]) + dt.timedelta(days=1), dt.time(), UTC)
    for path in sorted((sample / "mailgun").glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                item = json.loads(line)
                assert {"id", "event", "timestamp", "recipient"} <= item.keys()
                assert isinstance(item["timestamp"], float)
                assert len(item["id"]) == 22
                assert dt.datetime.fromtimestamp(item["timestamp"], UTC) < end
                if item["event"] == "failed":
                    assert item["severity"] in ("permanent", "temporary") and item["reason"]
                    assert "delivery-status" in item
    counts = {d.name: len(list(d.glob("events-*.jsonl.gz"))) for d in (sample / "mailgun").iterdir()}
    assert counts == {"mg.gitlab.com": 10, "customers.gitlab.com": 10, "mg.about.gitlab.com": 10}
    assert 2000 <= len(_events(sample)) <= 6000


def test_dumps_overlap(sample: Path) -> None:
    files: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in sorted((sample / "mailgun").glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                files[(path.parent.name, json.loads(line)["id"])].add(path.name)
    assert max(len(v) for v in files.values()) == 3
    assert sum(len(v) > 1 for v in files.values()) > len(files) / 2


def test_config_and_expected_ids(sample: Path) -> None:
    config = tomllib.loads((sample / "audit.toml").read_text(encoding="utf-8"))
    assert config["domains"] == {"gitlab": ["mg.gitlab.com"], "portal": ["customers.gitlab.com"]}
    assert set(config["inputs"]["events"]) == {"mg.gitlab.com", "customers.gitlab.com", "mg.about.gitlab.com"}
    expected = json.loads((sample / "expected.json").read_text(encoding="utf-8"))
    known = {int(r["id"]) for r in _accounts(sample)}
    checks = expected["checks"]
    flat = {
        name: [i for x in ids for i in (x if isinstance(x, list) else [x])] for name, ids in checks.items()
    }
    for name, ids in [*flat.items(), *expected["near_misses"].items()]:
        assert ids and set(ids) <= known, name
        assert ids == sorted(ids) or name == "duplicate_signups", name
    assert all(len(c) >= 2 and c == sorted(c) for c in checks["duplicate_signups"])
    assert {c["id"] for c in expected["cases"]} <= known
    for name, ids in flat.items():
        assert 8 <= len(ids) <= 25, name
    flagged = {i for ids in flat.values() for i in ids}
    assert not flagged & {i for ids in expected["near_misses"].values() for i in ids}


# ---- ground truth agrees with the rules as written ---------------------------------------------------


def _derive(root: Path, as_of: dt.date) -> tuple[dict[str, list[int]], dict[int, str]]:
    """Checks 1, 2, 4 and 5 re-derived from the files with the rules as the brief states them."""
    expected = json.loads((root / "expected.json").read_text(encoding="utf-8"))
    rows, events = _accounts(root), _events(root)
    by_address: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in events.values():
        by_address[item["recipient"].strip().lower()].append(item)
    lo = dt.datetime.combine(as_of - dt.timedelta(days=6), dt.time(), UTC).timestamp()
    hi = lo + 7 * 86400
    got: dict[str, list[int]] = {c: [] for c in expected["checks"]}
    evidence: dict[int, str] = {}
    for r in rows:
        ident, mine = int(r["id"]), by_address[r["email"].strip().lower()]
        subject = [(e, e.get("message", {}).get("headers", {}).get("subject", "")) for e in mine]
        if not r["confirmed_at"]:
            got["unconfirmed_accounts"].append(ident)
            mails: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for e, s in subject:
                if e["_domain"] == "customers.gitlab.com" and s.startswith("Confirmation instructions"):
                    mails[e["message"]["headers"]["message-id"]].append(e)
            latest = max(mails.values(), key=lambda m: min(e["timestamp"] for e in m), default=[])
            kinds = {(e["event"], e.get("severity")) for e in latest}
            evidence[ident] = (
                "delivered"
                if ("delivered", None) in kinds
                else "failed permanently"
                if ("failed", "permanent") in kinds
                else "failed temporarily"
                if ("failed", "temporary") in kinds
                else "never seen"
            )
        sign_in = _when(r["last_sign_in_at"])
        resets = [
            e["timestamp"]
            for e, s in subject
            if e["_domain"] == "mg.gitlab.com"
            and lo <= e["timestamp"] < hi
            and e["event"] in ("accepted", "delivered")
            and s.startswith("Reset password instructions")
        ]
        if any(sign_in is None or sign_in.timestamp() < t for t in resets):
            got["gitlab_password_resets"].append(ident)
        if r["uid"] and r["gitlab_email"].strip().lower() != r["email"].strip().lower():
            got["email_mismatches"].append(ident)
        bad = [
            e["timestamp"]
            for e in mine
            if e["event"] == "complained"
            or (e["event"] == "failed" and e["severity"] == "permanent" and e["reason"] in PERMANENT_REASONS)
        ]
        delivered = [e["timestamp"] for e in mine if e["event"] == "delivered"]
        if bad and max(bad) > max(delivered, default=0.0):
            got["undeliverable_emails"].append(ident)
    return got, evidence


def _same_person_pairs(rows: list[dict[str, str]]) -> list[tuple[int, int]]:
    """Same folded name, or same address once case, dots, +tags and digits are ignored."""
    keys: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        local, domain = r["email"].strip().lower().rsplit("@", 1)
        keys["name:" + fold(r["first_name"] + r["last_name"])].append(int(r["id"]))
        keys[f"mail:{domain}:{norm_local(local)}"].append(int(r["id"]))
    return sorted({p for ids in keys.values() for p in itertools.combinations(sorted(set(ids)), 2)})


@pytest.mark.parametrize(("seed", "as_of"), [(7, dt.date(2026, 11, 20)), (31, dt.date(2027, 3, 1))])
def test_planted_truth_follows_the_rules(tmp_path: Path, seed: int, as_of: dt.date) -> None:
    generate_sample(tmp_path, as_of=as_of, seed=seed)
    expected = json.loads((tmp_path / "expected.json").read_text(encoding="utf-8"))
    rows = _accounts(tmp_path)
    got, evidence = _derive(tmp_path, as_of)
    for check, ids in got.items():
        if check != "duplicate_signups":
            assert ids == expected["checks"][check], check
    assert evidence == {c["id"]: c["evidence"] for c in expected["cases"] if "evidence" in c}

    pairs = _same_person_pairs(rows)
    clusters = expected["checks"]["duplicate_signups"]
    assert pairs == sorted(p for c in clusters for p in itertools.combinations(c, 2))
    planted = {c["id"] for c in expected["cases"]}
    for a, b in itertools.combinations([r for r in rows if int(r["id"]) not in planted], 2):
        (la, da), (lb, db) = (x["email"].lower().rsplit("@", 1) for x in (a, b))
        if da == db:
            assert not within_edits(la, lb), (a["email"], b["email"])
            assert (fold(a["last_name"]), fold(a["first_name"])[0]) != (
                fold(b["last_name"]),
                fold(b["first_name"])[0],
            )


# ---- the bulk generator (`sample --events M`) ---------------------------------------------------------

BULK = {"n_accounts": 600, "n_events": 6000, "seed": 5}


@pytest.fixture(scope="module")
def bulk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bulk")
    generate_sample(out, **BULK)
    return out


def _lines(root: Path) -> dict[str, list[str]]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8").splitlines()
        for p in sorted((root / "mailgun").glob("*/*.jsonl"))
    }


def test_bulk_is_deterministic_and_exact_in_size(bulk: Path, tmp_path: Path) -> None:
    generate_sample(tmp_path, **BULK)
    first, second = _files(bulk), _files(tmp_path)
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    assert len(_accounts(bulk)) == BULK["n_accounts"]
    assert sum(len(v) for v in _lines(bulk).values()) == BULK["n_events"]
    expected = json.loads((bulk / "expected.json").read_text(encoding="utf-8"))
    assert expected["n_events"] == BULK["n_events"] and expected["n_accounts"] == BULK["n_accounts"]


def test_bulk_other_seed_gives_other_data(bulk: Path, tmp_path: Path) -> None:
    generate_sample(tmp_path, **(BULK | {"seed": 6}))
    assert (tmp_path / "accounts.csv").read_bytes() != (bulk / "accounts.csv").read_bytes()


def test_bulk_dumps_are_mailgun_items_one_file_per_domain_and_day(bulk: Path) -> None:
    end = dt.datetime(2026, 11, 21, tzinfo=UTC)
    seen: set[tuple[str, str]] = set()
    for name, lines in _lines(bulk).items():
        domain, file = name.removeprefix("mailgun/").split("/")
        day = dt.date.fromisoformat(file.removeprefix("events-").removesuffix(".jsonl"))
        stamps = []
        for line in lines:
            item = json.loads(line)
            assert {"id", "event", "timestamp", "recipient"} <= item.keys()
            assert len(item["id"]) == 22 and (domain, item["id"]) not in seen
            seen.add((domain, item["id"]))
            when = dt.datetime.fromtimestamp(item["timestamp"], UTC)
            assert when < end and when.date() == day
            assert '"' not in item["recipient"] and "\\" not in item["recipient"]
            if item["event"] == "failed":
                assert item["severity"] in ("permanent", "temporary") and item["reason"]
                assert "delivery-status" in item
            stamps.append(item["timestamp"])
        assert stamps == sorted(stamps), name
    domains = {n.split("/")[1] for n in _lines(bulk)}
    assert domains == {"mg.gitlab.com", "customers.gitlab.com", "mg.about.gitlab.com"}
    kinds = {json.loads(line)["event"] for lines in _lines(bulk).values() for line in lines}
    assert kinds == {"accepted", "delivered", "failed", "opened", "clicked", "complained"}


def test_bulk_truth_follows_the_rules(bulk: Path) -> None:
    """Every check flags exactly what expected.json says, and duplicates are exactly the clusters."""
    expected = json.loads((bulk / "expected.json").read_text(encoding="utf-8"))
    got, evidence = _derive(bulk, dt.date.fromisoformat(expected["as_of"]))
    for check, ids in got.items():
        if check != "duplicate_signups":
            assert ids == expected["checks"][check], check
    hand = {c["id"]: c["evidence"] for c in expected["cases"] if "evidence" in c}
    assert {i: evidence[i] for i in hand} == hand
    clusters = expected["checks"]["duplicate_signups"]
    assert _same_person_pairs(_accounts(bulk)) == sorted(
        p for c in clusters for p in itertools.combinations(c, 2)
    )
    assert {c["variant"] for c in expected["cases"]} >= {"gmail_dots", "reset_before_window"}


def test_bulk_plants_problems_at_realistic_rates(tmp_path: Path) -> None:
    generate_sample(tmp_path, n_accounts=20_000, n_events=20_000, seed=3)
    expected = json.loads((tmp_path / "expected.json").read_text(encoding="utf-8"))
    n = expected["n_accounts"]
    rates = {c: len(ids) / n for c, ids in expected["checks"].items()}
    assert 0.025 < rates["unconfirmed_accounts"] < 0.04
    assert 0.002 < rates["gitlab_password_resets"] < 0.006
    assert 0.006 < rates["email_mismatches"] < 0.012
    assert 0.005 < rates["undeliverable_emails"] < 0.012
    assert 0.002 < len(expected["checks"]["duplicate_signups"]) / n < 0.004
    rows = _accounts(tmp_path)
    domains = defaultdict(int)
    for r in rows:
        domains[r["email"].strip().lower().rsplit("@", 1)[1]] += 1
    assert 0.25 < sum(domains[d] for d in FREE_MAIL) / n < 0.45
    assert max(domains.values()) == domains["gmail.com"]  # skew: one provider holds ~13%
    assert len(domains) > 400  # and a long tail of company domains
    got, _ = _derive(tmp_path, dt.date.fromisoformat(expected["as_of"]))
    for check, ids in got.items():
        if check != "duplicate_signups":
            assert ids == expected["checks"][check], check


def test_vectorised_folding_matches_the_small_generator() -> None:
    import polars as pl

    from audit import sample_data as sd
    from audit.sample_people import fold as vfold
    from audit.sample_people import norm_local as vnorm
    from audit.sample_words import synthetic_surnames

    names = [*sd.FIRST_NAMES, *sd.LAST_NAMES, *synthetic_surnames()[::50]]
    assert pl.select(vfold(pl.lit(pl.Series(names)))).to_series().to_list() == [fold(n) for n in names]
    locals_ = ["John.Smith+gl", "j_smith1987", "A-B.c", "x99", " Ana.Lima "]
    assert pl.select(vnorm(pl.lit(pl.Series(locals_)))).to_series().to_list() == [
        norm_local(x) for x in locals_
    ]


def test_counter_based_draws_are_stable() -> None:
    """The bulk generator's bytes depend on these values; a change here changes every data set."""
    from audit.sample_rng import Rng

    rng = Rng(7)
    assert rng.u64(3, "x").to_list() == Rng(7).u64(3, "x").to_list()
    assert rng.u64(2, "x").to_list() == rng.u64(3, "x").to_list()[:2]  # value i does not depend on n
    assert rng.u64(3, "x").to_list() != rng.u64(3, "y").to_list()
    assert rng.u64(1, "x").to_list() == [STABLE_FIRST_DRAW]
    u = rng.uniform(10_000, "u")
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.02
    assert set(rng.integers(1000, "i", 2, 4).to_list()) == {2, 3, 4}
    assert all(len(t) == 22 for t in rng.tokens(100, "t").to_list())


def test_cli_writes_a_bulk_sample(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from audit.cli import main

    result = CliRunner().invoke(
        main, ["sample", "--out", str(tmp_path), "--accounts", "300", "--events", "2000"]
    )
    assert result.exit_code == 0, result.output
    assert sum(len(v) for v in _lines(tmp_path).values()) == 2000
    config = tomllib.loads((tmp_path / "audit.toml").read_text(encoding="utf-8"))
    assert config["inputs"]["events"]["mg.gitlab.com"].endswith("*.jsonl")
    bad = CliRunner().invoke(main, ["sample", "--out", str(tmp_path), "--accounts", "100", "--events", "10"])
    assert bad.exit_code == 78


def test_bulk_gzip_writes_the_same_events_compressed(tmp_path: Path) -> None:
    generate_sample(tmp_path / "plain", n_accounts=300, n_events=2000, seed=4)
    generate_sample(tmp_path / "gz", n_accounts=300, n_events=2000, seed=4, compress=True)
    plain = _lines(tmp_path / "plain")
    packed = {
        p.relative_to(tmp_path / "gz").as_posix().removesuffix(".gz"): gzip.decompress(p.read_bytes())
        for p in sorted((tmp_path / "gz" / "mailgun").glob("*/*.jsonl.gz"))
    }
    assert packed.keys() == plain.keys()
    assert all(packed[k].decode().splitlines() == plain[k] for k in plain)
    assert "*.jsonl.gz" in (tmp_path / "gz" / "audit.toml").read_text(encoding="utf-8")
