"""duplicate_signups on a small labelled export from bench/matching_labelled.py (a generator that knows
nothing of the matcher): pairwise precision, and recall of the patterns whose evidence is in the addresses.

The full evaluation (`bench/eval_matching.py`) prints every figure; this keeps them from regressing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from eval_matching import evaluate
from matching_labelled import generate

# Patterns the address alone proves (same inbox, separators, a +tag, a mistyped domain): names may be
# missing or differ and the pair must still be found.
ADDRESS_PATTERNS = ("case_space", "plus_tag", "gmail_dots", "googlemail", "separators", "domain_typo",
                    "names_only_differ")  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2])
def test_precision_and_recall_on_a_labelled_export(seed: int) -> None:
    result = evaluate(generate(2500, seed))
    assert result.precision >= 0.98, [(x.email, y.email) for x, y in result.false_pairs]
    for pattern in ADDRESS_PATTERNS:
        found, total = result.per_pattern.get(pattern, (0, 0))
        assert found >= 0.95 * total, (pattern, found, total)
    # Typos and digits need agreeing, uncommon names; work and personal addresses a rare name or company.
    assert result.recall >= 0.65, result.per_pattern
    assert result.per_pattern["local_typo"][0] >= 0.75 * result.per_pattern["local_typo"][1]
