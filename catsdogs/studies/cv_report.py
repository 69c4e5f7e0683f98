"""The verdict of the reproduction: the cross-validation study (published records,
tables, forest plot, the verdict on the paper's 98.9 % in words). The claim-by-claim
summary built on it is :mod:`catsdogs.studies.claims`.

Published studies live in ``results/<study>/`` with the layout of their run directory
(:mod:`catsdogs.training.cv`): ``config.json``, ``folds.csv``, ``fold_seconds.json``, ``cv.json``
and ``oof_predictions.csv`` once every fold is done, ``compare.json`` in the first study
of a comparison, and ``fold-<k>/`` with each fold's records and validation predictions
(published as each fold finishes, so a study that spans sessions loses nothing). Every
sentence and number on the book's page is computed from those files, here and in
:mod:`catsdogs.studies.ablation` (the paired comparison) and :mod:`catsdogs.studies.label_audit`.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catsdogs.config import project_dir
from catsdogs.evaluation.bootstrap import bootstrap_ci
from catsdogs.markdown import Text, duration, percent, table_builder, with_ci
from catsdogs.records import Comparison, CVSummary, DatasetAudit, Evaluation, Interval, PhaseResult, kept_epoch
from catsdogs.runs import (
    FOLDS_FILE,
    OOF_FILE,
    PREDICTIONS_FILE,
    CVStudy,
    Run,
    publish_records,
    read_predictions,
    training_seconds,
)
from catsdogs.studies.ablation import selection_sentence
from catsdogs.studies.label_audit import GALLERY_FILE, audit_verdict_line
from catsdogs.studies.paper import PAPER
from catsdogs.studies.verdicts import REPRODUCED, judge_accuracy, paper_validation_size

#: The published studies, in the order the book shows them: the headline (the paper-faithful
#: recipe under the inner protocol, trained twice per fold), then the two pre-declared recipes
#: of the paper protocol, whose epoch was chosen on the scored fold (labelled so).
STUDIES: dict[str, str] = {
    "cv-inner-paper": "paper-faithful recipe, inner protocol",
    "cv-longer-cosine-flip": "declared recipe, inner protocol",
    "cv-paper": "paper-faithful recipe, paper protocol",
    "cv-lr3e-5": "LR 3e-5 recipe, paper protocol",
}
#: What every published study is called (the budget, the trainings).
STUDY_NAMES: dict[str, str] = dict(STUDIES)


def gallery_figure(study: str) -> str:
    """The file name of a study's gallery of confirmed label errors among the book's figures."""
    return f"{study}_label_errors.jpg"


def book_figures_dir() -> Path:
    """Where the published book's generated pages and figures are committed."""
    return project_dir() / "book" / "_generated"


def publish_study(study: CVStudy, out: Path | str, figures: Path | str | None = None) -> list[Path]:
    """Copy a study's records (and each finished fold's records and predictions) into
    ``out/<study name>/``, machine paths made portable (:func:`catsdogs.runs.publish_records`).
    The split manifests are left out: ``folds.csv`` says which fold holds each image.
    The gallery of confirmed label errors is a picture, not a record: it goes to
    ``figures/`` (the book's committed figures) as :func:`gallery_figure`, if ``figures`` is given."""
    out = Path(out)
    dest = out / study.path.name
    written = publish_records(study.run, out, manifest=False)  # folds.csv lists the images
    for name in (FOLDS_FILE, OOF_FILE):
        if study.run.has(name):
            written.append(Path(shutil.copy2(study.path / name, dest / name)))
    if figures is not None and study.run.has(GALLERY_FILE):
        Path(figures).mkdir(parents=True, exist_ok=True)
        written.append(Path(shutil.copy2(study.path / GALLERY_FILE, Path(figures) / gallery_figure(study.path.name))))
    for k, seed in study.trainings():
        if study.run_done(k, seed):
            fold = study.fold_run(k, seed)
            written += publish_records(fold, dest, manifest=False)
            target = dest / study.fold_dir(k, seed).name / "phase2" / PREDICTIONS_FILE
            written.append(Path(shutil.copy2(fold.predictions_path("phase2"), target)))
    return written


@dataclass(frozen=True)
class ScoredTraining:
    """One finished training of a study, scored on its fold: accuracy with a bootstrap 95 %
    CI, phase 1's accuracy, phase 2's per-epoch accuracy and loss on the split that chose
    its epoch, and its seconds."""

    fold: int
    seed: int
    n: int
    accuracy: Interval
    phase1_accuracy: float | None
    monitored_split: str
    epochs: list[float]
    losses: list[float]
    seconds: float


@dataclass(frozen=True)
class StudyReport:
    """A (published or running) cross-validation study as the book reports it: ``cv`` only
    when its merge is complete (a partial merge is no pooled estimate)."""

    name: str
    n_folds: int
    seeds: list[int]
    folds: list[ScoredTraining]
    cv: CVSummary | None
    compare: Comparison | None
    label_audit: DatasetAudit | None

    @property
    def label(self) -> str:
        """What the book calls the study."""
        return STUDIES.get(self.name, self.name)


def load_study(path: Path | str, n_samples: int = 1000, seed: int = 42) -> StudyReport | None:
    """A (published or running) study: ``cv.json`` if complete, ``compare.json`` if any,
    and every finished training's accuracy on its scored fold with a bootstrap 95 % CI
    (``folds``: one entry per fold and training seed); ``None`` when ``path`` holds no study."""
    if not (Path(path) / FOLDS_FILE).is_file():
        return None
    study = CVStudy.load(path)
    seconds = study.fold_seconds()
    folds = []
    for k, train_seed in study.trainings():
        fold_dir = study.fold_dir(k, train_seed)
        if not study.run_done(k, train_seed) or not (fold_dir / "phase2" / PREDICTIONS_FILE).is_file():
            continue
        fold = study.fold_run(k, train_seed)
        pred = read_predictions(fold.predictions_path("phase2"))
        ci = bootstrap_ci(pred.label, pred.prob, n_samples=n_samples, seed=seed, metric_names=("accuracy",))
        phase2, phase1 = fold.record(PhaseResult, "phase2"), fold.result("phase1")
        key = fold_dir.name.removeprefix("fold-")
        folds.append(
            ScoredTraining(
                fold=k,
                seed=train_seed,
                n=int(pred.label.size),
                accuracy=Interval.from_dict(ci["accuracy"]),
                phase1_accuracy=phase1.val_metrics.accuracy if phase1 else None,
                # Keras's per-epoch figures are on the split that chose the epoch
                monitored_split=phase2.monitored_split or "val",
                epochs=phase2.accuracy_by_epoch,
                losses=phase2.loss_by_epoch,
                seconds=max(seconds.get(key, 0.0), training_seconds(fold)),  # the wall time misses killed runs
            )
        )
    cv = study.run.record_or_none(CVSummary)
    return StudyReport(
        name=study.path.name,
        n_folds=study.n_folds,
        seeds=sorted({f.seed for f in folds} | set(cv.seed_list if cv else [0])),
        folds=folds,
        cv=cv if cv and cv.is_complete else None,
        compare=study.run.record_or_none(Comparison),
        label_audit=study.run.record_or_none(DatasetAudit),
    )


def _training_label(study: StudyReport, fold: ScoredTraining) -> str:
    """``fold k``, or ``fold k, seed s`` in a study of several training seeds."""
    return f"fold {fold.fold}" + (f", seed {fold.seed}" if len(study.seeds) > 1 else "")


def _expected_trainings(study: StudyReport) -> int:
    """Every fold with every training seed of the study."""
    return study.n_folds * len(study.seeds)


def studies_of(run: Run, root: Path | str) -> dict[str, StudyReport]:
    """The published studies of the run's profile under ``root`` (the project's
    ``results/``): only the full profile has them."""
    if run.config.profile != "full":
        return {}
    loaded = {name: load_study(Path(root) / name, run.config.bootstrap_samples, run.config.seed) for name in STUDIES}
    return {name: s for name, s in loaded.items() if s is not None}


@table_builder
def fold_rows(studies: Mapping[str, StudyReport]) -> list[dict[str, str]]:
    rows = []
    for study in studies.values():
        for f in study.folds:
            per_epoch = " → ".join(f"{100 * a:.2f}" for a in f.epochs)
            rows.append(
                {
                    "recipe": study.label,
                    "training": _training_label(study, f).removeprefix("fold "),
                    "images": f"{f.n:,}",
                    "phase 1": percent(f.phase1_accuracy, 2),
                    "after each phase-2 epoch (%)": per_epoch
                    if f.monitored_split == "val"
                    else f"inner split: {per_epoch}",
                    "final accuracy (95 % CI)": with_ci(f.accuracy, 2),
                    "wall time": duration(f.seconds) if f.seconds else "–",
                }
            )
        missing = _expected_trainings(study) - len(study.folds)
        if missing:
            rows.append(
                {
                    "recipe": study.label,
                    "training": f"{missing} more",
                    "final accuracy (95 % CI)": "not finished yet",
                }
            )
    return rows


def forest_rows(studies: Mapping[str, StudyReport], published: Evaluation | None) -> list[dict]:
    """Rows of :func:`catsdogs.plots.forest_plot`: the published single-split run, then
    each study's trainings and its pooled out-of-fold estimate."""
    rows = []
    if published:
        rows.append(
            {
                "label": "published run (fold 0's split)",
                "group": "published single split",
                **published.accuracy.to_dict(),
            }
        )
    for study in studies.values():
        # the colour names the recipe (legend): the label says which row of it
        rows += [
            {"label": _training_label(study, f), "group": study.label, **f.accuracy.to_dict()} for f in study.folds
        ]
        if study.cv:
            rows.append(_pooled_row(study, "pooled, "))
    return rows


def _pooled_row(study: StudyReport, prefix: str) -> dict[str, Any]:
    """A study's pooled out-of-fold estimate as a row of the forest plot, labelled ``prefix``
    then its images (and trainings, if more than one per fold)."""
    cv = study.cv
    trained = f", {cv.n_trainings} trainings" if cv.n_trainings != cv.folds else ""
    return {
        "label": f"{prefix}{cv.images:,} images{trained}",
        "group": study.label,
        "pooled": True,
        **cv.accuracy.to_dict(),
    }


def headline_rows(studies: Mapping[str, StudyReport], published: Evaluation | None) -> list[dict]:
    """Rows of the book's first-screen figure: each finished study's pooled estimate (the
    headline first), and the published single split."""
    rows = [_pooled_row(study, f"{study.label}\n") for study in studies.values() if study.cv]
    if rows and published:
        rows.append(
            {
                "label": f"published run\none split, {published.metrics.n:,} images",
                "group": "published single split",
                **published.accuracy.to_dict(),
            }
        )
    return rows


def best_epochs(study: StudyReport) -> list[tuple[int, int]]:
    """``(best epoch, epochs trained)`` of each finished fold of a (loaded) study, the best
    being the lowest recorded validation loss (1-based)."""
    return [(kept_epoch({"val_loss": f.losses}), len(f.losses)) for f in study.folds if f.losses]


#: The fixed epoch of the selection table: the paper-faithful recipe's budget, which every
#: fold of both published recipes trained.
FIXED_EPOCH = 3


@dataclass(frozen=True)
class EpochChoice:
    """A study's pooled accuracy with each fold's restored epoch (the headline), at each
    fold's last trained epoch and at epoch ``fixed_epoch`` (``None`` where a fold lacks it),
    over ``images`` images."""

    restored: float | None
    last: float | None
    fixed: float | None
    fixed_epoch: int
    images: int

    @property
    def gap(self) -> float | None:
        """The headline minus the last trained epoch."""
        return self.restored - self.last if self.last is not None else None


def epoch_choice(study: StudyReport) -> EpochChoice | None:
    """How much choosing the epoch on the scored fold flatters a study: its pooled accuracy
    with each fold's restored epoch (the headline), at each fold's last trained epoch and at
    epoch :data:`FIXED_EPOCH`, from the recorded per-epoch accuracies (Keras's, on the scored
    fold: the paper's protocol only). ``None`` for an unfinished study or another protocol."""
    cv, folds = study.cv, study.folds
    if not cv or (cv.protocol or "paper") != "paper" or not folds:
        return None
    n = sum(f.n for f in folds)

    def pooled(values: list[float | None]) -> float | None:
        if any(v is None for v in values):
            return None
        # Keras logs float32 fractions of each fold's images: rounded back to counts
        return sum(round(v * f.n) for v, f in zip(values, folds)) / n

    restored = pooled([f.accuracy.estimate for f in folds])
    last = pooled([f.epochs[-1] if f.epochs else None for f in folds])
    fixed = pooled([f.epochs[FIXED_EPOCH - 1] if len(f.epochs) >= FIXED_EPOCH else None for f in folds])
    return EpochChoice(restored=restored, last=last, fixed=fixed, fixed_epoch=FIXED_EPOCH, images=n)


@table_builder
def _epoch_choice_rows(studies: Mapping[str, StudyReport]) -> list[dict[str, str]]:
    rows = []
    for name, study in studies.items():
        choice = epoch_choice(study)
        if choice is None:
            continue
        gap = choice.gap
        rows.append(
            {
                "recipe": STUDIES.get(name, name),
                "restored epoch (the headline)": percent(choice.restored, 2),
                "last trained epoch": percent(choice.last, 2),
                f"epoch {choice.fixed_epoch}": percent(choice.fixed, 2),
                "headline minus last": f"{100 * gap:+.2f} pp" if gap is not None else "–",
            }
        )
    return rows


def epoch_choice_markdown(studies: Mapping[str, StudyReport]) -> Text:
    """The selection on the scored fold, measured: the table of :func:`_epoch_choice_rows` and
    what it says, in words."""
    rows = _epoch_choice_rows(studies)
    if not rows:
        return Text("*No finished study of the paper's protocol to measure the choice of epoch on.*\n")
    choices = {STUDIES.get(n, n): epoch_choice(s) for n, s in studies.items() if epoch_choice(s)}
    gaps = ", ".join(f"{100 * c.gap:+.2f} pp for the {name}" for name, c in choices.items() if c.gap is not None)
    return Text(
        rows.markdown()
        + f"\nRestoring the epoch with the lowest loss on the scored fold raises each headline over its "
        f"last trained epoch: {gaps}. The scored images chose the restored epoch, so this gap shows the "
        "selection at work; it does not measure its whole bias, since the last epoch was itself reached "
        "under early stopping on the same images. "
        + _level_sentence(list(choices.items()))
        + "The inner protocol, which chooses the epoch on images carved from each fold's "
        "training part, removes the selection, and with it the question.\n"
    )


def _level_sentence(choices: list[tuple[str, EpochChoice]]) -> str:
    if len(choices) != 2:
        return ""
    (first, a), (second, b) = choices
    parts = [
        f"{100 * (there - here):+.2f} pp {where}"
        for here, there, where in (
            (a.restored, b.restored, "as published"),
            (a.last, b.last, "at the last trained epoch"),
            (a.fixed, b.fixed, f"at epoch {a.fixed_epoch}"),
        )
        if here is not None and there is not None
    ]
    return f"{second} against {first}: {', '.join(parts)}. " if parts else ""


def _ci_position(ci: Interval, value: float) -> str:
    """Where the interval lies relative to ``value``: ``inside``, ``below`` or ``above``."""
    if ci.low <= value <= ci.high:
        return "inside"
    return "below" if ci.high < value else "above"


#: The project's own target for MobileNetV2 on PetImages (issue 27): pooled out-of-fold
#: accuracy of at least 99.0 % under the inner protocol, which chooses nothing on the scored images.
TARGET_ACCURACY = 0.99


def target_sentence(study: StudyReport, target: float = TARGET_ACCURACY) -> str:
    """Whether a finished study reached :data:`TARGET_ACCURACY`: its pooled out-of-fold
    accuracy against the target, and where the target lies relative to its 95 % CI; ``""``
    while the study is unfinished."""
    if not study.cv:
        return ""
    ci = study.cv.accuracy
    reached = ci.estimate >= target
    where = {
        "inside": f"{percent(target)} lies inside its 95 % CI, so the data cannot tell it from the target either way",
        # the end nearest the target to three decimals: at two, 98.996 % reads 99.00 %
        "above": f"its 95 % CI lies above {percent(target)} (lower end {100 * ci.low:.3f} %)",
        "below": f"its 95 % CI lies below {percent(target)} (upper end {100 * ci.high:.3f} %)",
    }[_ci_position(ci, target)]
    chosen = ", nothing chosen on them" if study.cv.protocol == "inner" else ", the epoch chosen on them"
    return (
        f"**The {percent(target)} target** ({study.label}, pooled out-of-fold over "
        f"{study.cv.images:,} images{chosen}): {with_ci(ci, 2)}, "
        f"{'reached' if reached else 'not reached'}; {where}."
    )


def comparisons(studies: Mapping[str, StudyReport]) -> list[Comparison]:
    """Every paired comparison (``compare.json``) of the studies, in the studies' order."""
    return [s.compare for s in studies.values() if s.compare]


def comparison_of(studies: Mapping[str, StudyReport], second: str) -> Comparison | None:
    """The comparison that judges the study ``second`` (against a reference), or ``None``."""
    return next((c for c in comparisons(studies) if c.second == second), None)


@dataclass(frozen=True)
class PickedOn:
    """A recipe's pooled accuracy without the images it was picked on (``ci``), and what they
    were (``excluded``)."""

    excluded: str
    ci: Interval


def without_selection_interval(studies: Mapping[str, StudyReport], name: str) -> PickedOn | None:
    """The pooled accuracy interval of the second recipe of a comparison without the images it
    was picked on (``compare.json``) and what they were, or ``None`` for any other study."""
    compare = comparison_of(studies, name)
    if not compare:
        return None
    fresh = compare.without_selection_fold
    ci = fresh.accuracy_ci95.get("second")
    return PickedOn(fresh.excluded_text, ci) if ci else None


#: The study whose figure the headline study re-makes without choosing on the scored fold.
SELECTED_COUNTERPART = {"cv-inner-paper": "cv-paper"}


def _headline_sentences(studies: Mapping[str, StudyReport], name: str) -> str:
    """For a study of several training seeds: its training variance, and how far its pooled
    figure lies from the same recipe's figure with the epoch chosen on the scored fold."""
    cv = studies[name].cv
    variance = cv.training_variance
    text = ""
    if variance and len(cv.seed_list) > 1:
        text += (
            f" Training variance, measured: the {len(cv.seed_list)} training seeds of a fold differ by up to "
            f"{100 * variance.max_spread:.2f} pp (within-fold sd {100 * variance.within_fold_sd:.2f} pp); "
            "the interval counts each image once however many trainings scored it (a bootstrap over images, "
            "the trainings of an image kept together)."
        )
    counterpart = SELECTED_COUNTERPART.get(name)
    other = studies[counterpart].cv if counterpart in studies else None
    if other:
        here, there = cv.accuracy.estimate, other.accuracy.estimate
        text += (
            f" The same recipe with its epoch chosen on the scored fold ({STUDIES[counterpart]}) "
            f"reads {percent(there, 2)}: {100 * (here - there):+.2f} pp from it to this figure, which "
            "nothing was chosen on."
        )
    return text


def verdict_markdown(studies: Mapping[str, StudyReport]) -> Text:
    """The verdict in plain words, or what is still missing for it."""
    paper = PAPER.accuracy
    if not studies:
        return Text(
            "*No cross-validation study is published for this profile (`python -m catsdogs cv --profile full`).*\n"
        )
    lines = []
    for name, study in studies.items():
        label = f"**{study.label}**"
        if not study.cv:
            unit = "folds" if len(study.seeds) == 1 else "trainings"
            lines.append(
                f"- {label}: {len(study.folds)} of {_expected_trainings(study)} {unit} finished; no pooled estimate yet."
            )
            continue
        ci = study.cv.accuracy
        where = {
            "inside": f"the paper's {percent(paper)} lies inside this interval",
            "above": f"the interval lies above the paper's {percent(paper)}",
            "below": f"the interval lies below the paper's {percent(paper)}",
        }[_ci_position(ci, paper)]
        fair, _, diff = judge_accuracy(ci, paper, paper_validation_size())
        picked = without_selection_interval(studies, name)
        lines.append(
            f"- {label}: pooled out-of-fold accuracy {with_ci(ci, 2)} on "
            f"{study.cv.images:,} images (±{50 * (ci.high - ci.low):.2f} pp); {where}. "
            f"Against the paper's own sampling error ({paper_validation_size():,} validation images "
            f"assumed) the difference is {100 * diff.estimate:+.2f} pp (95 % CI "
            f"{100 * diff.low:+.2f} to {100 * diff.high:+.2f}): **{fair}**"
            + ("" if fair == REPRODUCED else ", ours is significantly lower")
            + "."
            + (
                f" Without {picked.excluded}, where this recipe was picked: {with_ci(picked.ci, 2)}; "
                + {
                    "inside": f"the paper's {percent(paper)} lies inside it",
                    "above": f"it lies above the paper's {percent(paper)}",
                    "below": f"it lies below the paper's {percent(paper)}",
                }[_ci_position(picked.ci, paper)]
                + (
                    " (so the strict reading's verdict depends on the fold the recipe was picked on)"
                    if _ci_position(picked.ci, paper) != _ci_position(ci, paper)
                    else ""
                )
                + "."
                if picked
                else ""
            )
            + _headline_sentences(studies, name)
        )
    for compare in comparisons(studies):
        lines.append(
            f"- **Paired comparison** ({STUDIES.get(compare.second, compare.second)} against "
            f"{STUDIES.get(compare.first, compare.first)}, the same {compare.images:,} images): "
            f"{100 * compare.accuracy.difference:+.2f} pp pooled: "
            + selection_sentence(compare, "the first", "the second")
        )
    audited = next((s for s in studies.values() if s.label_audit), None)
    if audited:
        lines.append(audit_verdict_line(audited.label_audit, audited.label))
    return Text("\n".join(lines) + "\n")


__all__ = [
    "STUDIES",
    "TARGET_ACCURACY",
    "target_sentence",
    "STUDY_NAMES",
    "gallery_figure",
    "book_figures_dir",
    "publish_study",
    "load_study",
    "studies_of",
    "fold_rows",
    "forest_rows",
    "headline_rows",
    "SELECTED_COUNTERPART",
    "comparisons",
    "comparison_of",
    "PickedOn",
    "without_selection_interval",
    "best_epochs",
    "FIXED_EPOCH",
    "EpochChoice",
    "epoch_choice",
    "epoch_choice_markdown",
    "verdict_markdown",
]
