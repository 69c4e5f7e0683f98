"""Comparing training recipes: phase-2 ablations on one split, and the paired
comparison of two cross-validation studies.

:func:`record_ablation` compares runs that share a data split (``train --from-run``)
and stores the comparison in the published run's ``ablation.json``. Two recipes validated on the same folds give every image two out-of-fold
predictions, one per recipe. Whether one recipe is more accurate is then a paired
question, answered with the exact McNemar test on the images where exactly one
recipe is right (a two-sided binomial test of those discordant pairs against
1/2, via :func:`scipy.stats.binomtest`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest

from catsdogs.config import Config, UserError, setting_differences
from catsdogs.evaluation.bootstrap import bootstrap_ci
from catsdogs.evaluation.metrics import THRESHOLD_METRICS
from catsdogs.markdown import (
    NOT_MEASURED,
    Table,
    Text,
    duration,
    markdown_table,
    paper_percent,
    percent,
    table_builder,
    with_ci,
)
from catsdogs.records import (
    Ablation,
    AblationRun,
    Comparison,
    FoldDifference,
    FoldTest,
    Interval,
    McNemar,
    OutOfFold,
    PairedAccuracy,
    SignTest,
    WithoutSelection,
)
from catsdogs.runs import OOF_FILE, CVStudy, Run, read_oof_trainings, read_predictions
from catsdogs.studies.paper import PAPER

#: Significance level of the pre-declared comparison.
ALPHA = 0.05


# ----------------------------------------------------------------------------- phase-2 ablations on one split


def record_ablation(run: Run, runs: Sequence[Run]) -> Ablation:
    """Compare ``runs`` (same data split; e.g. phase-2 variants made with
    ``train --from-run``) and store the comparison in ``run``'s ``ablation.json``.

    For each run: the config fields that differ from ``run``'s, validation metrics
    of phase 1 and of the final model with bootstrap 95% CIs, and training times.
    """
    entries = []
    for other in runs:
        cfg = other.config.training_dict()
        pred = read_predictions(other.final_predictions())
        ci = bootstrap_ci(
            pred.label,
            pred.prob,
            n_samples=run.config.bootstrap_samples,
            seed=run.config.seed,
            metric_names=THRESHOLD_METRICS,
        )
        phase1, phase2 = other.result("phase1"), other.result("phase2")
        entries.append(
            AblationRun(
                run=other.path.name,
                differs={k: v for k, (_, v) in setting_differences(run.config, other.config).items()},
                settings={k: cfg.get(k) for k in ("image_size", "fine_tune_from", "phase2_lr", "phase2_epochs")},
                phase1_accuracy=phase1.val_metrics.accuracy if phase1 else None,
                # the record's final_<metric> fields, one per metric of the bootstrap
                **{f"final_{name}": Interval.from_dict(interval) for name, interval in ci.items()},
                phase2_epochs_run=phase2.epochs_logged if phase2 else 0,
                phase2_val_accuracy_by_epoch=phase2.accuracy_by_epoch if phase2 else [],
                phase2_seconds=other.timings().get("phase2_train"),
                manifest_sha256=other.scan.manifest_sha256 if other.scan else None,
            )
        )
    if len({e.manifest_sha256 for e in entries}) > 1:
        raise ValueError(
            "the runs do not share one validation split (manifest sha256 differs); "
            "compare runs made with `train --from-run`"
        )
    result = Ablation(published_run=run.path.name, runs=entries)
    run.write_record(result)
    return result


#: The settings a variant of the ablation may change, in words for its table.
CHANGE_WORDS = {
    "image_size": "input {} px",
    "fine_tune_from": "unfrozen from `{}`",
    "phase2_lr": "phase-2 LR {:g}",
    "phase2_epochs": "up to {} phase-2 epochs",
    "phase2_patience": "patience {}",
}


def _change_text(entry: AblationRun, base: AblationRun) -> str:
    """What a variant changes from the base, in words (``"input 288 px"``); ``"–"`` for the base."""
    changed = {k: v for k, v in entry.settings.items() if base.settings.get(k) != v}
    changed |= {k: v for k, v in entry.differs.items() if k == "phase2_patience"}
    return ", ".join(CHANGE_WORDS[k].format(changed[k]) for k in CHANGE_WORDS if k in changed) or "–"


@table_builder
def ablation_rows(ablation: Ablation, base_label: str = "published") -> Table:
    """One row per run of the ablation, with what it changes from the run the others are
    compared with (marked ``base_label``); rates as percentages with two decimals."""
    base = ablation.base
    return [
        {
            "run": e.run + (f" ({base_label})" if e is base else ""),
            "change": _change_text(e, base),
            "val. accuracy (%) per phase-2 epoch": " → ".join(f"{100 * a:.2f}" for a in e.phase2_val_accuracy_by_epoch)
            or "–",
            "phase 1 accuracy": percent(e.phase1_accuracy, 2),
            "final accuracy (95 % CI)": with_ci(e.final_accuracy, 2),
            "precision / recall / F1 (%)": " / ".join(
                f"{100 * ci.estimate:.2f}" if ci else "–" for ci in (e.final_precision, e.final_recall, e.final_f1)
            ),
            "phase-2 time": duration(e.phase2_seconds) if e.phase2_seconds else NOT_MEASURED,
        }
        for e in ablation.runs
    ]


def ablation_summary(ablation: Ablation) -> str:
    """The ablation in sentences: the best configuration next to the published
    (paper-faithful) one, against the paper, and how the differences between runs
    compare with the width of their confidence intervals."""
    runs, published = ablation.runs, ablation.base
    best = max(runs, key=lambda e: e.final_accuracy.estimate)
    paper = PAPER.accuracy

    def described(e: AblationRun) -> str:
        changes = _change_text(e, published)
        return f"**{e.run}**" + (f" ({changes})" if changes != "–" else "")

    def scores(e: AblationRun) -> str:
        pr = " / ".join(percent(ci.estimate, 2) for ci in (e.final_precision, e.final_recall) if ci)
        return with_ci(e.final_accuracy, 2) + (f", precision / recall {pr}" if pr else "")

    accs = [e.final_accuracy.estimate for e in runs]
    bounded = [e.final_accuracy for e in runs if e.final_accuracy.low is not None]
    half = [(ci.high - ci.low) / 2 for ci in bounded]
    covering = sum(ci.low <= paper <= ci.high for ci in bounded)
    lines = [f"The paper-faithful published run, {described(published)}: {scores(published)}."]
    if best is published or best.final_accuracy.estimate == published.final_accuracy.estimate:
        lines.append("No variant is more accurate.")
    else:
        lines.append(f"The most accurate configuration, {described(best)}: {scores(best)}.")
    lines.append(
        f"{covering} of {len(runs)} intervals contain the paper's {paper_percent(paper)}. "
        f"The runs differ by at most {100 * (max(accs) - min(accs)):.2f} percentage points, "
        + (f"while each interval spans about ±{100 * float(np.mean(half)):.2f}." if half else "")
    )
    return " ".join(lines) + "\n"


def base_is_published(ablation: Ablation, published_accuracy: float) -> bool:
    """Whether the ablation's base entry is the published run itself (the same accuracy), or
    an earlier training of its recipe whose figures the record kept."""
    return abs(ablation.base.final_accuracy.estimate - published_accuracy) < 1e-12


def ablation_markdown(ablation: Ablation | None, published: Interval | None = None) -> Text:
    """The ablation table and its summary, from an ``ablation.json`` record.

    ``published`` is the published run's accuracy (estimate and 95 % CI). When the
    ablation's base entry has another accuracy, the variants were forked from an earlier
    run of the same recipe: the table marks that run as their base and says so, with both
    figures, instead of calling it the published run."""
    if not ablation:
        return Text("*No ablation was recorded for this run (`python -m catsdogs ablation`).*\n")
    base = ablation.base
    if published is None or base_is_published(ablation, published.estimate):
        return Text(ablation_rows(ablation).markdown() + "\n" + ablation_summary(ablation))
    own = [e.run for e in ablation.runs if set(e.differs) - Config.after_phase1_fields()]
    shared = (
        "Each variant shares the base run's data split and phase 1."
        if not own
        else "Each variant shares the base run's data split; "
        + ", ".join(f"**{r}**" for r in own)
        + " changes a setting phase 1 depends on and trained its own phase 1, the others share the base's."
    )
    note = (
        f"The variants were forked from an earlier training of the published recipe (same settings and "
        f"split), marked *base* below, at {with_ci(base.final_accuracy, 2)}; its run directory was not "
        f"kept. The published run is another training of that recipe, at {with_ci(published, 2)}: the "
        f"difference between the two is training and host variance (see [Is 98.9 % reproducible?]"
        f"(reproducible.md)). {shared}\n\n"
    )
    summary = ablation_summary(ablation).replace("The paper-faithful published run,", "The paper-faithful base run,")
    return Text(note + ablation_rows(ablation, base_label="base").markdown() + "\n" + summary)


# ----------------------------------------------------------------------------- cross-validated recipes


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, Any]:
    """Exact McNemar test of paired correctness vectors.

    Returns the 2x2 table ``[[both right, only a right], [only b right, both wrong]]``,
    the discordant counts and the two-sided exact p-value (``1.0`` when no pair is
    discordant).
    """
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


#: The verdict of a test that has no p-value (one fold, or folds without any spread).
UNTESTABLE_COMPARISON = "not testable (too few folds or no spread between them)"


def verdict(difference: float, p_value: float | None, alpha: float = ALPHA) -> str:
    """The comparison in words, for the second recipe against the first."""
    if p_value is None:
        return UNTESTABLE_COMPARISON
    if p_value >= alpha:
        return "no detectable difference"
    return "better" if difference > 0 else "worse"


#: Fold 0's validation images are the published split, on which the ablations (and so any
#: recipe picked from them) were scored: the comparison is also made without it.
SELECTION_FOLD = 0


def corrected_fold_test(differences: Sequence[float], test_train_ratio: float, alpha: float = ALPHA) -> dict[str, Any]:
    """Whether one recipe beats another across cross-validation folds, allowing for the
    variance of training: the corrected resampled t-test (Nadeau & Bengio 2003; Bouckaert
    & Frank 2004) on the per-fold accuracy differences (second − first).

    Each fold's difference already carries the noise of training both models on it, so a
    test over folds sees training variance, which McNemar on pooled predictions (each model
    taken as fixed) does not. The folds' training sets overlap, so the plain paired t-test
    understates the variance of the mean; the correction multiplies it by
    ``1/J + n_test/n_train`` (``J`` folds). Nadeau and Bengio derived it for repeated random
    splits; applied to the folds of one k-fold split it is the usual heuristic (Bouckaert &
    Frank), conservative rather than exact. Written out because scipy has the plain test only.
    The plain paired t-test and the sign test are given beside it, and the smallest mean
    difference that would have been significant at ``alpha`` with the observed spread.
    """
    from scipy.stats import t as student_t
    from scipy.stats import ttest_1samp

    d = np.asarray(differences, dtype="float64")
    folds = int(d.size)
    mean = float(d.mean())
    test = FoldTest(
        test="corrected resampled t-test over folds (Nadeau & Bengio 2003), two-sided",
        folds=folds,
        mean_difference=mean,
        test_train_ratio=float(test_train_ratio),
        df=folds - 1,
    )
    if folds < 2 or float(d.var(ddof=1)) == 0.0:  # no spread to test against: no p-value
        return test
    se = float(np.sqrt((1.0 / folds + test_train_ratio) * d.var(ddof=1)))
    t_value = mean / se
    better = int(np.sum(d > 0))
    nonzero = int(np.sum(d != 0))
    return test.replace(
        t=t_value,
        p_value=float(2 * student_t.sf(abs(t_value), folds - 1)),
        smallest_significant_difference=float(student_t.ppf(1 - alpha / 2, folds - 1) * se),
        paired_t_p_value=float(ttest_1samp(d, 0.0).pvalue),
        sign_test=SignTest(
            second_better=better,
            of=nonzero,
            p_value=float(binomtest(better, nonzero, 0.5).pvalue) if nonzero else 1.0,
        ),
    )


def _paired(
    right_a: np.ndarray,
    right_b: np.ndarray,
    fold_of: np.ndarray,
    test_train_ratio: float,
    alpha: float,
    fixed: tuple[np.ndarray, np.ndarray] | None = None,
) -> _Paired:
    """Both recipes on the same images: pooled accuracy, the corrected t-test over the folds
    (whose verdict this is) and, secondary, the exact McNemar test on pooled predictions.
    ``right_*`` is each image's share of right predictions over a study's training seeds (1 or
    0 for one training); each fold's accuracy is then the mean over its seeds. McNemar takes
    one training per image: ``fixed`` (seed 0's right/wrong), or ``right_*`` themselves."""
    diff = float(right_b.mean() - right_a.mean())
    folds = np.unique(fold_of)
    per_fold = [float(right_b[fold_of == k].mean() - right_a[fold_of == k].mean()) for k in folds]
    over_folds = corrected_fold_test(per_fold, test_train_ratio, alpha)
    test = mcnemar_exact(*(fixed if fixed is not None else (right_a, right_b)))
    return _Paired(
        images=int(right_a.size),
        accuracy=PairedAccuracy(first=float(right_a.mean()), second=float(right_b.mean()), difference=diff),
        fold_test=over_folds.replace(fold_ids=[int(k) for k in folds]),
        mcnemar=McNemar(
            **test,
            test="exact McNemar (two-sided binomial test of the discordant pairs)",
            verdict=verdict(diff, test["p_value"], alpha),
        ),
        verdict=verdict(over_folds.mean_difference, over_folds.p_value, alpha),
    )


@dataclass(frozen=True)
class _Paired:
    """:func:`_paired`'s result: the fields a comparison (:class:`~catsdogs.records.Comparison`)
    and its part without the picked images (:class:`~catsdogs.records.WithoutSelection`) share."""

    images: int
    accuracy: PairedAccuracy
    fold_test: FoldTest
    mcnemar: McNemar
    verdict: str

    def fields(self) -> dict[str, Any]:
        """The shared fields by name, for the record that holds them."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class PerImage:
    """A study's out-of-fold predictions, one entry per image sorted by file
    (:func:`per_image`)."""

    file: np.ndarray
    label: np.ndarray
    fold: np.ndarray
    #: the share of the study's training seeds that got the image right
    right: np.ndarray
    #: seed 0's right/wrong
    first_seed: np.ndarray
    seeds: list[int]


def per_image(oof: OutOfFold, where: str = "the study") -> PerImage:
    """A study's out-of-fold predictions (:func:`~catsdogs.runs.read_oof_trainings`) one row
    per image, sorted by file: label, fold, the share of its training seeds that got it right,
    and seed 0's right/wrong (``first_seed``).

    Raises
    ------
    ValueError
        If an image lacks a prediction of one of the study's seeds (merge after every training).
    """
    files, position = np.unique(oof.file, return_inverse=True)
    seeds = sorted({int(s) for s in oof.seed})
    right = oof.right
    count = np.bincount(position, minlength=files.size)
    if not np.all(count == len(seeds)):
        raise ValueError(
            f"{where} does not predict every image once per training seed {seeds}: "
            "compare studies whose every training has finished (`cv --merge`)"
        )
    first = oof.seed == seeds[0]
    order = np.empty(files.size, dtype=int)
    order[position[first]] = np.flatnonzero(first)
    return PerImage(
        file=files,
        label=oof.label[order],
        fold=oof.fold[order],
        right=np.bincount(position, weights=right, minlength=files.size) / len(seeds),
        first_seed=right[order],
        seeds=seeds,
    )


def compare_studies(
    first: CVStudy,
    second: CVStudy,
    alpha: float = ALPHA,
    picked_on: Collection[str] | None = None,
    picked_label: str = "",
) -> Comparison:
    """Paired comparison of two finished studies on the same folds; written to
    ``compare.json`` in ``first``'s directory.

    The verdict is that of the corrected t-test over the folds (:func:`corrected_fold_test`)
    *without the images the second recipe was picked on*: fold :data:`SELECTION_FOLD` (the
    ablations were scored there), or the files ``picked_on`` (named ``picked_label``: the
    exploration split a declared recipe was chosen on), so no choice was made on the images it
    is judged on. A study with several training seeds counts each image as the share of its
    trainings that got it right, so each fold's accuracy is the mean over its seeds; the test
    over folds sees training variance either way. The same test over every image, and the
    exact McNemar test on pooled predictions of seed 0 (each trained model taken as fixed), are
    recorded beside it as secondary figures.

    Raises
    ------
    ValueError
        If the studies do not hold the same images in the same folds, or a study lacks a
        training of one of its seeds.
    """
    a, b = (read_oof_trainings(s.path / OOF_FILE) for s in (first, second))
    img_a, img_b = per_image(a, str(first.path)), per_image(b, str(second.path))
    if not np.array_equal(img_a.file, img_b.file):
        raise ValueError(f"{first.path} and {second.path} do not hold the same images")
    if not np.array_equal(img_a.fold, img_b.fold) or not np.array_equal(img_a.label, img_b.label):
        raise ValueError(f"{first.path} and {second.path} do not use the same folds and labels")
    right_a, right_b, fold_of = img_a.right, img_b.right, img_a.fold
    per_fold = []
    for k in np.unique(fold_of):
        sel = fold_of == k
        acc_a, acc_b = float(right_a[sel].mean()), float(right_b[sel].mean())
        per_fold.append(FoldDifference(fold=int(k), first=acc_a, second=acc_b, difference=acc_b - acc_a))
    if picked_on is None:
        fresh, excluded = fold_of != SELECTION_FOLD, f"fold {SELECTION_FOLD}"
    else:
        fresh = ~np.isin(img_a.file, list(picked_on))
        excluded = f"the {int((~fresh).sum()):,} images of {picked_label or 'the images it was picked on'}"
    ratio = 1.0 / (first.n_folds - 1)  # each fold's images against the rest it trained on
    fixed = (img_a.first_seed, img_b.first_seed)
    every_fold = _paired(right_a, right_b, fold_of, ratio, alpha, fixed)
    # each recipe's own interval there (its images resampled, a seed's trainings kept together):
    # a verdict against the paper that changes without the picked images says so
    intervals = {}
    for side, oof in (("first", a), ("second", b)):
        rows = np.isin(oof.file, img_a.file[fresh])
        intervals[side] = bootstrap_ci(
            oof.label[rows],
            oof.prob[rows],
            n_samples=first.config.bootstrap_samples,
            seed=first.config.seed,
            metric_names=("accuracy",),
            groups=oof.file[rows] if oof.seeded else None,
        )["accuracy"]
    without = WithoutSelection(
        fold=SELECTION_FOLD if picked_on is None else None,
        excluded=excluded,
        **_paired(
            right_a[fresh], right_b[fresh], fold_of[fresh], ratio, alpha, (fixed[0][fresh], fixed[1][fresh])
        ).fields(),
        accuracy_ci95={side: Interval.from_dict(ci) for side, ci in intervals.items()},
    )
    record = Comparison(
        first=first.path.name,
        second=second.path.name,
        first_settings=first.config.training_dict(),
        differs={k: v for k, (_, v) in setting_differences(first.config, second.config).items()},
        seeds={"first": img_a.seeds, "second": img_b.seeds},
        **(every_fold.fields() | {"verdict": without.verdict}),
        verdict_every_fold=every_fold.verdict,
        verdict_basis=f"corrected t-test {without.over_folds_text}, where the recipe was picked",
        per_fold=per_fold,
        folds_second_better=sum(f.difference > 0 for f in per_fold),
        alpha=alpha,
        without_selection_fold=without,
    )
    first.run.write_record(record)
    return record


def comparison_markdown(compare: Comparison | None, names: Mapping[str, str] | None = None) -> Text:
    """The paired comparison (``compare.json``) as a table, each fold and the pooled
    out-of-fold accuracy of both studies and their difference, then the verdict in words
    (:func:`_comparison_sentences`). ``names`` maps a study's directory name to what to call it."""
    if not compare:
        return Text("*No paired comparison yet: `python -m catsdogs compare <first> <second>` once both are done.*\n")
    first_name, second_name = ((names or {}).get(study, study) for study in (compare.first, compare.second))

    def row(fold: str, first: float, second: float) -> dict[str, str]:
        return {
            "fold": fold,
            first_name: percent(first, 2),
            second_name: percent(second, 2),
            "difference": f"{100 * (second - first):+.2f} pp",
        }

    rows = [row(str(f.fold), f.first, f.second) for f in compare.per_fold]
    acc = compare.accuracy
    rows.append(row(f"**pooled** ({compare.images:,} images)", acc.first, acc.second))
    return Text(markdown_table(rows) + "\n" + _comparison_sentences(compare, first_name, second_name) + "\n")


def _discordant(mcnemar: McNemar, first: str, second: str) -> str:
    return (
        f"images right with one recipe only: {mcnemar.only_second_right} with {second}, "
        f"{mcnemar.only_first_right} with {first}; exact McNemar p = {mcnemar.p_value:.3g}"
    )


def _fold_test_text(test: FoldTest) -> str:
    folds = ", ".join(map(str, test.fold_ids))
    if test.p_value is None:
        return f"mean difference {100 * test.mean_difference:+.2f} pp per fold over folds {folds}; no p-value"
    return (
        f"mean difference {100 * test.mean_difference:+.2f} pp per fold over folds {folds}; "
        f"t = {test.t:.2f}, {test.df} df, p = {test.p_value:.2g}"
    )


def _comparison_sentences(compare: Comparison, first: str = "the first", second: str = "the second") -> str:
    """The verdict of a comparison and what it rests on: the corrected t-test over the folds
    the second recipe was not picked on (the verdict), the same over every fold, then the
    McNemar figures, said to be secondary and why."""
    fresh, every = compare.without_selection_fold, compare.fold_test
    sign, plain, smallest = every.sign_test, every.paired_t_p_value, fresh.fold_test.smallest_significant_difference
    return (
        f"**Verdict** for {second} against {first} at α = {compare.alpha}: **{compare.verdict}**, by the corrected "
        f"resampled t-test {fresh.over_folds_text}, where {second} was picked "
        f"({_fold_test_text(fresh.fold_test)}). A test over folds sees the variance of training, since each "
        f"fold's difference comes from separate trainings of both recipes; with {fresh.fold_test.folds} folds and this spread, "
        + (
            f"only a mean difference beyond ±{100 * smallest:.2f} pp would have been significant. "
            if smallest is not None
            else "no difference could be tested. "
        )
        + f"Over all {every.folds} folds: {_fold_test_text(every)}"
        + (f" (plain paired t-test p = {plain:.2g}" if plain is not None else "")
        + (
            f"; {second} better on {sign.second_better} of {sign.of} folds, sign test p = {sign.p_value:.2g})."
            if sign
            else ")."
            if plain is not None
            else "."
        )
        + " Secondary, each trained model taken as fixed (so training variance is ignored)"
        + (" and seed 0's trainings only" if any(len(s) > 1 for s in (compare.seeds or {}).values()) else "")
        + ": "
        f"{_discordant(compare.mcnemar, first, second)} on all {compare.images:,} images, and "
        f"{_discordant(fresh.mcnemar, first, second)} without {fresh.excluded_text}."
    )


def selection_sentence(compare: Comparison, first: str = "the first", second: str = "the second") -> str:
    """The comparison's verdict in one sentence, with the test it follows."""
    fresh = compare.without_selection_fold
    p_fresh = fresh.fold_test.p_value
    return (
        f"**{compare.verdict}** for {second} against {first} (corrected t-test "
        f"{fresh.over_folds_text}, where it was picked: "
        + ("no p-value" if p_fresh is None else f"p = {p_fresh:.2g}")
        + "; "
        f"secondary, McNemar on pooled predictions: p = {compare.mcnemar.p_value:.3g} on every fold, "
        f"{fresh.mcnemar.p_value:.3g} without {fresh.excluded_text})."
    )


#: What ``compare --picked-on`` can name: the images the second recipe was chosen on.
PICKED_ON = ("fold0", "exploration")


def compare_dirs(first: Path | str, second: Path | str, picked_on: str = "fold0") -> Comparison:
    """:func:`compare_studies` of two study directories; ``picked_on`` is ``fold0`` (a recipe
    picked from the ablations, all scored on fold 0) or ``exploration`` (a declared recipe
    chosen on the exploration split of ``first``, :mod:`catsdogs.training.explore`)."""
    from catsdogs.training.explore import exploration_files  # keras: loaded only when needed

    if picked_on not in PICKED_ON:
        raise UserError(f"--picked-on must be one of {', '.join(PICKED_ON)}, not {picked_on!r}")
    a, b = CVStudy.load(first), CVStudy.load(second)
    if picked_on == "fold0":
        return compare_studies(a, b)
    return compare_studies(a, b, picked_on=exploration_files(a), picked_label="the exploration split")


__all__ = [
    "record_ablation",
    "CHANGE_WORDS",
    "ablation_rows",
    "ablation_summary",
    "base_is_published",
    "ablation_markdown",
    "ALPHA",
    "mcnemar_exact",
    "verdict",
    "UNTESTABLE_COMPARISON",
    "corrected_fold_test",
    "SELECTION_FOLD",
    "compare_studies",
    "PerImage",
    "per_image",
    "selection_sentence",
    "compare_dirs",
    "comparison_markdown",
]
