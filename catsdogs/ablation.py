"""Comparing training recipes: the paired comparison of two cross-validation studies.

Two recipes validated on the same folds give every image two out-of-fold
predictions, one per recipe. Whether one recipe is more accurate is then a paired
question, answered with the exact McNemar test on the images where exactly one
recipe is right (a two-sided binomial test of those discordant pairs against
1/2, via :func:`scipy.stats.binomtest`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from catsdogs.cv import CrossValidation, OOF_FILE, read_oof

#: Significance level of the pre-declared comparison.
ALPHA = 0.05


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, Any]:
    """Exact McNemar test of paired correctness vectors.

    Returns the 2x2 table ``[[both right, only a right], [only b right, both wrong]]``,
    the discordant counts and the two-sided exact p-value (``1.0`` when no pair is
    discordant).
    """
    from scipy.stats import binomtest

    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired correctness vectors must be 1-D and equally long, got {a.shape} and {b.shape}")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    discordant = only_a + only_b
    p = binomtest(only_a, discordant, 0.5).pvalue if discordant else 1.0
    return {
        "table": [[int(np.sum(a & b)), only_a], [only_b, int(np.sum(~a & ~b))]],
        "only_first_right": only_a,
        "only_second_right": only_b,
        "p_value": float(p),
    }


def verdict(difference: float, p_value: float, alpha: float = ALPHA) -> str:
    """The comparison in words, for the second recipe against the first."""
    if p_value >= alpha:
        return "no detectable difference"
    return "better" if difference > 0 else "worse"


def compare_studies(first: CrossValidation, second: CrossValidation, alpha: float = ALPHA) -> dict[str, Any]:
    """Paired comparison of two finished studies on the same folds; written to
    ``compare.json`` in ``first``'s directory.

    Raises
    ------
    ValueError
        If the studies do not hold the same images in the same folds.
    """
    a, b = (read_oof(s.path / OOF_FILE) for s in (first, second))
    order = np.argsort(b["file"])
    position = {f: i for i, f in enumerate(b["file"][order])}
    if set(a["file"]) != set(b["file"]):
        raise ValueError(f"{first.path} and {second.path} do not hold the same images")
    idx = order[[position[f] for f in a["file"]]]
    b = {k: v[idx] for k, v in b.items()}
    if not np.array_equal(a["fold"], b["fold"]) or not np.array_equal(a["label"], b["label"]):
        raise ValueError(f"{first.path} and {second.path} do not use the same folds and labels")
    right_a = (a["prob"] >= 0.5) == (a["label"] == 1)
    right_b = (b["prob"] >= 0.5) == (b["label"] == 1)
    per_fold = []
    for k in np.unique(a["fold"]):
        sel = a["fold"] == k
        acc_a, acc_b = float(right_a[sel].mean()), float(right_b[sel].mean())
        per_fold.append({"fold": int(k), "first": acc_a, "second": acc_b, "difference": acc_b - acc_a})
    diff = float(right_b.mean() - right_a.mean())
    test = mcnemar_exact(right_a, right_b)
    result = {
        "first": first.path.name, "second": second.path.name,
        "first_settings": first.config.training_dict(),
        "differs": _differs(first.config.training_dict(), second.config.training_dict()),
        "images": int(a["label"].size),
        "accuracy": {"first": float(right_a.mean()), "second": float(right_b.mean()), "difference": diff},
        "per_fold": per_fold,
        "folds_second_better": sum(f["difference"] > 0 for f in per_fold),
        "mcnemar": test | {"test": "exact McNemar (two-sided binomial test of the discordant pairs)"},
        "alpha": alpha,
        "verdict": verdict(diff, test["p_value"], alpha),
    }
    first.run.write_json("compare.json", result)
    return result


def _differs(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    return {k: b[k] for k in b if k in a and a[k] != b[k]}


def compare_dirs(first: Path | str, second: Path | str) -> dict[str, Any]:
    return compare_studies(CrossValidation.load(first), CrossValidation.load(second))


__all__ = ["ALPHA", "mcnemar_exact", "verdict", "compare_studies", "compare_dirs"]
