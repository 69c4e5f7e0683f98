"""The rules behind every verdict on a claim of the paper, stated once: the claim table
(:mod:`catsdogs.studies.claims`), the cross-validation verdict
(:mod:`catsdogs.studies.cv_report`) and the book's page of rules (:func:`verdict_rules`)
all apply these."""

from __future__ import annotations

from catsdogs.evaluation.metrics import wilson_interval
from catsdogs.markdown import Text, bullet_list, paper_percent
from catsdogs.records import CorruptionCurve, Interval, Proportion
from catsdogs.studies.paper import PAPER

REPRODUCED, NOT_REPRODUCED = "reproduced", "not reproduced"
#: A figure that differs from the paper's for a reason the records show (the paper counted
#: another model): not a failure to reproduce, not a match either.
DIFFERS_EXPLAINED = "differs, explained"

#: A named weakness whose paired test finds no drop: not "not reproduced", since a sample
#: of that size could not have shown a small one (the claim cell says how small).
NO_DETECTABLE_DROP = "no detectable drop"
#: Significance level of the paired tests behind a limitation's verdict.
LIMITATION_ALPHA = 0.05


def judge_limitation(curve: CorruptionCurve) -> str:
    """A named weakness (one corruption's curve of ``robustness/results.json``): *reproduced*
    when the harshest level loses significantly more images than it gains, the same images
    clean and corrupted (exact McNemar at :data:`LIMITATION_ALPHA`), else
    :data:`NO_DETECTABLE_DROP`. A record made before the paired counts existed is judged by
    its unpaired intervals: the harshest level's accuracy below the clean 95 % CI."""
    if curve.paired_p is not None:
        dropped = curve.lost[-1] > curve.gained[-1] and curve.paired_p[-1] < LIMITATION_ALPHA
    else:
        dropped = curve.accuracy[-1] < curve.accuracy_low[0]
    return REPRODUCED if dropped else NO_DETECTABLE_DROP


#: The paper does not give its validation size; assumed: this share of its 24,998 images
#: (the usual Keras split, and this reproduction's), so its 98.9 % carries a sampling error too.
PAPER_VAL_FRACTION = 0.2
#: A parameter count or file size within this relative distance of the paper's is the same figure.
SIZE_TOLERANCE = 0.05


def paper_validation_size() -> int:
    """The assumed size of the paper's validation set (:data:`PAPER_VAL_FRACTION` of its images)."""
    return round(PAPER_VAL_FRACTION * PAPER.images)


def difference_interval(ours: Interval | Proportion, theirs: Interval | Proportion) -> Interval:
    """95 % interval of ``ours − theirs`` from the two estimates' own 95 % intervals.

    The MOVER method (Zou & Donner 2008; Newcombe's method 10 when both are Wilson intervals),
    written out because neither scipy nor scikit-learn has it and it needs only the two
    intervals, whatever made them (our bootstrap, the paper's Wilson interval)."""
    d = ours.estimate - theirs.estimate
    low = d - ((ours.estimate - ours.low) ** 2 + (theirs.high - theirs.estimate) ** 2) ** 0.5
    high = d + ((ours.high - ours.estimate) ** 2 + (theirs.estimate - theirs.low) ** 2) ** 0.5
    return Interval(estimate=d, low=low, high=high)


def judge_accuracy(ours: Interval, paper: float, paper_n: int) -> tuple[str, str, Interval]:
    """``(verdict, strict verdict, difference interval)`` of an accuracy claim.

    Fair: the paper's figure is one split's estimate too (``paper_n`` images, Wilson
    interval); the claim is *reproduced* unless ours is significantly lower, i.e. the 95 %
    interval of the difference lies wholly below zero. Strict: the paper's figure read as
    exact; *reproduced* when it is inside or below our 95 % CI."""
    theirs = wilson_interval(round(paper * paper_n), paper_n)
    diff = difference_interval(ours, theirs)
    fair = NOT_REPRODUCED if diff.high < 0 else REPRODUCED
    strict = NOT_REPRODUCED if ours.high < paper else REPRODUCED
    return fair, strict, diff


def judge_rounded(ours: Interval, paper: float, decimals: int = 2) -> str:
    """*Reproduced* when our 95 % CI overlaps the values that round to the paper's figure
    at its own precision (0.99 stands for anything in [0.985, 0.995]); otherwise not."""
    half = 0.5 * 10**-decimals
    return REPRODUCED if ours.low <= paper + half and ours.high >= paper - half else NOT_REPRODUCED


def judge_size(ours: float, paper: float, explanation: float | None) -> str:
    """*Reproduced* within :data:`SIZE_TOLERANCE` of the paper; *differs, explained* when
    ``explanation`` (the same figure of the model the paper must have measured) is within
    it instead; otherwise *not reproduced*."""

    def close(value: float | None) -> bool:
        return value is not None and abs(value - paper) / paper < SIZE_TOLERANCE

    return REPRODUCED if close(ours) else DIFFERS_EXPLAINED if close(explanation) else NOT_REPRODUCED


def verdict_rules() -> Text:
    """The rule behind each verdict of the claim table, in words, with the figures it uses."""
    n = paper_validation_size()
    return Text(
        bullet_list(
            [
                f"**Accuracy.** The paper's {paper_percent(PAPER.accuracy)} is itself one "
                f"split's estimate; its validation size is not given, so we assume {PAPER_VAL_FRACTION:.0%} "
                f"of its {PAPER.images:,} images ({n:,}), which puts a 95 % interval of about "
                f"±{_half_width(n):.1f} pp around it. *Reproduced* unless our estimate is significantly "
                "lower: the 95 % interval of the difference (ours − paper's, from both intervals) lies "
                "wholly below zero. The *strict* reading beside it takes 98.9 % as exact: reproduced "
                "only when it lies inside or below our 95 % CI.",
                "**Precision / recall / F1.** The paper gives two decimals: 0.99 stands for any value in "
                "[0.985, 0.995]. Each is *reproduced* when our 95 % CI overlaps that range; the row is "
                "reproduced when all three are. The paper gives one figure of each for two classes, as the "
                "macro-average line of scikit-learn's classification report does, so the macro average "
                "over cats and dogs is judged; the dog-class figures are shown beside it, and judged too: "
                "the row says so when they would get another verdict. Every figure is shown with its "
                "95 % CI.",
                f"**Parameters and file size.** *Reproduced* within {SIZE_TOLERANCE:.0%} of the paper's "
                f"figure; *{DIFFERS_EXPLAINED}* when ours differs but the same figure of Keras's "
                "MobileNetV2 with its 1,000-class ImageNet head, the model the paper appears to have "
                "counted, is within it (its size: its parameters as float32 bytes).",
                "**Latency.** The paper's is on a GPU: *not testable here* on a CPU-only machine.",
                "**Limitations.** A named weakness is *reproduced* when, on the same validation images "
                "clean and at the harshest level, the corruption makes significantly more images wrong "
                f"than right (exact McNemar, α = {LIMITATION_ALPHA}); otherwise it is *{NO_DETECTABLE_DROP}*, "
                "with the smallest drop the sample could have shown.",
                "**Generalization.** See the rule on [Beyond PetImages](generalization.md).",
            ]
        )
    )


def _half_width(n: int) -> float:
    ci = wilson_interval(round(PAPER.accuracy * n), n)
    return 100 * (ci.high - ci.low) / 2


__all__ = [
    "REPRODUCED",
    "NOT_REPRODUCED",
    "DIFFERS_EXPLAINED",
    "NO_DETECTABLE_DROP",
    "LIMITATION_ALPHA",
    "judge_limitation",
    "PAPER_VAL_FRACTION",
    "SIZE_TOLERANCE",
    "paper_validation_size",
    "difference_interval",
    "judge_accuracy",
    "judge_rounded",
    "judge_size",
    "verdict_rules",
]
