"""Label audit: are the final model's validation mistakes the model's, or the labels'?

``label_audit.csv`` (shipped with the package) records what a person saw in
PetImages files, one row per file (path relative to the data root): a
``verdict`` from :data:`VERDICTS` and a short description (how it was made:
:data:`AUDIT_METHOD`). It annotates the dataset, not a run, so any run over the
same data can be joined with it; the second half of this module extends it to the
out-of-fold mistakes of a cross-validation study (:func:`audit_study`).

:func:`audit_run` joins it with a run's final validation predictions and writes
``audit.json``: the mistakes with their verdicts, verdict counts, and the accuracy
once images without a right answer are dropped and mislabelled ones relabelled.
Only mistakes were audited, so that second accuracy is an upper bound: a
mislabelled image the model "gets right" is counted as right.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from catsdogs.config import CLASS_NAMES, UserError
from catsdogs.data.images import load_images
from catsdogs.evaluation.metrics import predict_labels
from catsdogs.files import file_sha256
from catsdogs.markdown import Text, markdown_table, percent
from catsdogs.plots import image_grid
from catsdogs.records import (
    AuditedError,
    DatasetAudit,
    FlaggedImage,
    LabelIssues,
    OutOfFold,
    RunAudit,
    Verdict,
    VerdictCounts,
)
from catsdogs.runs import OOF_FILE, Run, read_oof, read_predictions

#: The audit file shipped with the package.
LABEL_AUDIT_FILE = Path(str(resources.files("catsdogs.studies") / "label_audit.csv"))

#: How the audit file was made (stored with every audit record).
AUDIT_METHOD = (
    "every validation image misclassified by the published full run or by one of its phase-2 "
    "ablation runs, looked at by the author of this reproduction at full resolution; and every "
    "out-of-fold mistake of the paper-faithful cross-validation study (cv-paper), given a first "
    "verdict by AI assistants from contact sheets and enlargements, every one re-checked by the "
    "author (the file's by column). One verdict per image; a drawing counts as the animal it shows"
)

#: Verdicts, with what each means.
VERDICTS: dict[str, str] = {
    "label_ok": "shows the animal its folder says: a genuine model mistake",
    "other_class": "shows the other animal: mislabelled",
    "no_pet": "shows neither a cat nor a dog (logo, banner, person)",
    "both": "shows a cat and a dog",
    "unclear": "too blurred or cropped to tell by eye",
}

#: Verdicts for which the image has no right answer, dropped from the adjusted accuracy.
NO_ANSWER = ("no_pet", "both", "unclear")


def read_label_audit(path: Path | str = LABEL_AUDIT_FILE) -> dict[str, Verdict]:
    """The audit file as ``{file: Verdict}`` (``by``: who gave the verdict, empty when the
    file has no such column).

    Raises
    ------
    ValueError
        If a row has an unknown verdict or too many fields, or a file appears twice;
        the message names the file and line.
    """
    path = Path(path)
    out: dict[str, Verdict] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            file, verdict = row["file"].strip(), row["verdict"].strip()
            if row.get(None):  # csv puts the fields beyond the header under None
                raise ValueError(
                    f"{path}:{line}: {file} has more fields than the header; quote a note that contains a comma"
                )
            if verdict not in VERDICTS:
                raise ValueError(
                    f"{path}:{line}: unknown verdict {verdict!r} for {file}; use one of {', '.join(VERDICTS)}"
                )
            if file in out:
                raise ValueError(f"{path}:{line}: {file} is audited twice; keep one row")
            out[file] = Verdict(verdict=verdict, note=row.get("note", "").strip(), by=(row.get("by") or "").strip())
    return out


def audit_predictions(
    files: list[str],
    labels: np.ndarray,
    probs: np.ndarray,
    verdicts: Mapping[str, Verdict],
    threshold: float = 0.5,
) -> RunAudit:
    """Join validation predictions with audit verdicts.

    Parameters
    ----------
    files
        Image paths relative to the data root (``Cat/1.jpg``), as in ``predictions_val.csv``.
    labels, probs
        Folder labels (0 cat, 1 dog) and predicted probabilities of dog.
    verdicts
        From :func:`read_label_audit`.

    Returns
    -------
    RunAudit
        ``errors`` (file, label, prob_dog, verdict, note; ``not_audited`` when the
        file has no row), ``counts`` per verdict, ``accuracy`` against the folder
        labels and ``accuracy_adjusted`` with ``NO_ANSWER`` images dropped and
        ``other_class`` images relabelled, plus the image counts behind both.
    """
    labels = np.asarray(labels).astype(int)
    predicted = predict_labels(probs, threshold)
    wrong = np.flatnonzero(predicted != labels)
    errors = [
        AuditedError(
            file=files[i],
            label=int(labels[i]),
            prob_dog=float(probs[i]),
            **verdicts.get(files[i], Verdict(verdict="not_audited")).to_dict(),
        )
        for i in wrong
    ]
    counts = VerdictCounts(**{k: sum(e.verdict == k for e in errors) for k in (*VERDICTS, "not_audited")})
    n = len(labels)
    dropped = counts.no_answer
    correct_adjusted = n - len(errors) + counts.other_class
    return RunAudit(
        n_images=n,
        n_errors=len(errors),
        errors=errors,
        counts=counts,
        accuracy=(n - len(errors)) / n if n else None,
        n_adjusted=n - dropped,
        accuracy_adjusted=correct_adjusted / (n - dropped) if n > dropped else None,
    )


def audit_run(run: Run, audit_file: Path | str = LABEL_AUDIT_FILE) -> RunAudit:
    """Audit the run's final validation mistakes; write and return ``audit.json``."""
    pred_file = run.final_predictions()
    pred = read_predictions(pred_file)
    result = audit_predictions(list(pred.file), pred.label, pred.prob, read_label_audit(audit_file)).replace(
        source=pred_file.parent.name,
        audit_file=Path(audit_file).name,
        audit_sha256=file_sha256(audit_file),
        method=AUDIT_METHOD,
        verdicts=dict(VERDICTS),
    )
    run.write_record(result)
    return result


def audit_markdown(audit: RunAudit | None) -> Text:
    """The label audit of the final model's mistakes (``audit.json``, ``python -m catsdogs
    audit``): a sentence with the counts and both accuracies, then the mistakes whose
    image is not a genuine model mistake."""
    if not audit:
        return Text("*not measured in this run: run `python -m catsdogs audit --run-dir <run>`.*\n")
    c = audit.counts
    if (c.not_audited or 0) == audit.n_errors:
        return Text(
            f"None of this run's {audit.n_errors} validation mistakes is in the audit file, "
            "which covers the mistakes of the published full run, its ablations and the cross-validation "
            "study on PetImages; nothing to adjust.\n"
        )
    text = (
        f"Of the **{audit.n_errors}** validation images the final model gets wrong, looked at "
        f"one by one: **{c.label_ok}** show the animal their folder names (genuine mistakes), "
        f"{c.other_class} the other animal, {c.no_pet} no cat or dog at all, "
        f"{c.both} both animals and {c.unclear} cannot be judged by eye"
        + (f"; {c.not_audited} are not in the audit file" if c.not_audited else "")
        + f". Dropping the {c.no_answer} images with no right answer and "
        f"relabelling the mislabelled ones gives **{percent(audit.accuracy_adjusted, 2)}** on "
        f"{audit.n_adjusted:,} images, against {percent(audit.accuracy, 2)} on the folder "
        f"labels ({audit.n_images:,} images). Only mistakes were audited, so the adjusted "
        "figure is an upper bound.\n\n"
    )
    rows = [
        {
            "file": f"`{e.file}`",
            "folder": CLASS_NAMES[e.label],
            "P(dog)": f"{e.prob_dog:.2f}",
            "verdict": e.verdict,
            "what it shows": e.note,
        }
        for e in audit.errors
        if e.verdict != "label_ok"
    ]
    legend = "; ".join(f"*{k}*: {v}" for k, v in VERDICTS.items())
    return Text(text + (markdown_table(rows) + "\n" if rows else "") + f"Verdicts: {legend}.\n")


# -----------------------------------------------------------------------------
# The dataset-wide label audit: which PetImages labels are wrong, judged from the
# out-of-fold predictions of a cross-validation study (:mod:`catsdogs.training.cv`), where no
# model saw the label of the image it predicts.
#
# cleanlab's confident learning flags suspected label errors; they, and every other
# out-of-fold mistake, are looked at by eye (contact sheets) and their verdicts join the
# shared audit file (:data:`catsdogs.studies.label_audit.LABEL_AUDIT_FILE`). The summary gives the
# verdict counts, cleanlab's precision and the pooled out-of-fold accuracy on audited
# labels; the gallery shows the confirmed label errors.
#

#: The gallery of confirmed label errors, written into the study by :func:`audit_study`.
GALLERY_FILE = "label_errors.jpg"
#: What a confirmed label error shows, by verdict and folder label (0 cat, 1 dog).
_SHOWS = {
    ("other_class", 0): "shows a dog",
    ("other_class", 1): "shows a cat",
    ("no_pet", 0): "no cat or dog",
    ("no_pet", 1): "no cat or dog",
}


#: At most this many flagged images are audited one by one, the highest-ranked first.
AUDIT_TOP = 400
#: ... plus a seeded random sample of this many of the rest, to estimate the remainder.
AUDIT_SAMPLE = 100


def suspected_label_issues(labels: np.ndarray, prob_dog: np.ndarray, n_jobs: int = 1) -> np.ndarray:
    """Indices of suspected label errors, most suspicious first: cleanlab's confident
    learning (``cleanlab.filter.find_label_issues``, pruning by noise rate, ranked by
    self-confidence) on out-of-fold probabilities, which no model saw its own label for."""
    from cleanlab.filter import find_label_issues  # cleanlab loads pandas: only this audit needs it

    labels = np.asarray(labels, dtype=int)
    prob_dog = np.asarray(prob_dog, dtype=float)
    pred_probs = np.column_stack([1.0 - prob_dog, prob_dog])
    return np.asarray(
        find_label_issues(
            labels,
            pred_probs,
            filter_by="prune_by_noise_rate",
            return_indices_ranked_by="self_confidence",
            n_jobs=n_jobs,
        ),
        dtype=int,
    )


def audit_selection(
    flagged: np.ndarray, seed: int, top: int = AUDIT_TOP, sample: int = AUDIT_SAMPLE
) -> dict[str, list[int]]:
    """Which flagged images to look at: all of them when there are at most ``top``; else
    the ``top`` highest-ranked plus a seeded random ``sample`` of the rest (whose verdict
    shares estimate the unaudited remainder)."""
    flagged = [int(i) for i in flagged]
    if len(flagged) <= top:
        return {"ranked": flagged, "sampled": [], "unaudited": []}
    rest = flagged[top:]
    rng = np.random.default_rng(seed)
    sampled = sorted(rng.choice(len(rest), size=min(sample, len(rest)), replace=False).tolist())
    chosen = {rest[i] for i in sampled}
    return {
        "ranked": flagged[:top],
        "sampled": [rest[i] for i in sampled],
        "unaudited": [i for i in rest if i not in chosen],
    }


def label_issue_rows(oof: OutOfFold, seed: int) -> list[FlaggedImage]:
    """Every suspected label error of out-of-fold predictions (``cv.read_oof``), most
    suspicious first, each marked ``ranked`` / ``sampled`` (to audit) or ``unaudited``."""
    flagged = suspected_label_issues(oof.label, oof.prob)
    group = {i: g for g, members in audit_selection(flagged, seed).items() for i in members}
    return [
        FlaggedImage(
            rank=r + 1,
            file=str(oof.file[i]),
            label=int(oof.label[i]),
            prob_dog=float(oof.prob[i]),
            fold=int(oof.fold[i]),
            audit=group[int(i)],
        )
        for r, i in enumerate(flagged)
    ]


def out_of_fold_mistakes(oof: OutOfFold) -> list[int]:
    """Indices of the out-of-fold predictions that contradict the folder label, the
    most confident contradiction first."""
    wrong = np.flatnonzero(~oof.right)
    return [int(i) for i in wrong[np.argsort(-np.abs(oof.prob[wrong] - 0.5), kind="stable")]]


def dataset_audit_summary(
    rows: Sequence[FlaggedImage], oof: OutOfFold, verdicts: Mapping[str, Verdict]
) -> DatasetAudit:
    """What the by-eye verdicts say about the dataset.

    ``rows`` are cleanlab's flagged images (:func:`label_issue_rows`); besides them every
    out-of-fold mistake is audited, so the summary holds the verdict counts of the
    flagged images, cleanlab's precision (share of those with a verdict really wrong or
    without a pet), the estimate for the flagged images still without one outside the
    audit groups (from the random sample's share), the verdict
    counts of all mistakes, and the pooled out-of-fold accuracy on audited labels: every
    image with a verdict in the audit file (looked at here, or as a mistake of another
    model, whether this study got it right or wrong), those showing the other class
    relabelled and those with neither animal dropped, every other image keeping its folder
    label (so a mislabelled image no model got wrong stays unseen); and the same with the
    images without one right answer (both animals, unclear) dropped too, the run-level rule."""
    audited = [r for r in rows if r.audit != "unaudited"]
    # a flagged image outside the audit groups still gets a verdict when it is an out-of-fold mistake
    seen = [r for r in rows if r.file in verdicts]
    counts = VerdictCounts(**{k: sum(verdicts[r.file].verdict == k for r in seen) for k in VERDICTS})
    wrong = ("other_class", "no_pet")
    precision = counts.mislabelled / len(seen) if seen else None
    sample = [r for r in seen if r.audit == "sampled"]
    sample_share = sum(verdicts[r.file].verdict in wrong for r in sample) / len(sample) if sample else None
    unaudited = sum(r.audit == "unaudited" and r.file not in verdicts for r in rows)
    files = [str(f) for f in oof.file]
    mistakes = out_of_fold_mistakes(oof)
    census = audit_predictions(files, oof.label, oof.prob, verdicts).counts
    index = {f: i for i, f in enumerate(files)}
    looked_at = {index[r.file] for r in audited} | set(mistakes)
    # every verdict of the file corrects its image's label, right or wrong here: applied to the
    # mistakes only, a mislabelled image a model happened to "get right" would count as right
    verdict_of = np.array([verdicts[f].verdict if f in verdicts else "" for f in files], dtype=object)
    right_folder = oof.right
    labels = np.where(verdict_of == "other_class", 1 - oof.label.astype(int), oof.label)
    keep = verdict_of != "no_pet"
    answerable = ~np.isin(verdict_of, NO_ANSWER)  # the run-level audit's rule: also drop both / unclear
    right = (oof.prob >= 0.5) == (labels == 1)
    return DatasetAudit(
        flagged=len(rows),
        audited=len(audited),
        with_verdict=len(seen),
        counts=counts,
        precision=precision,
        unaudited=unaudited,
        estimated_wrong_among_unaudited=None if sample_share is None else round(sample_share * unaudited),
        mistakes=len(mistakes),
        flagged_mistakes=len({index[r.file] for r in rows} & set(mistakes)),
        mistakes_with_verdict=len(mistakes) - census.not_audited,
        mistake_counts=census,
        without_verdict=sum(files[i] not in verdicts for i in looked_at),
        verdicts_by=dict(Counter(verdicts[files[i]].by or "" for i in looked_at if files[i] in verdicts)),
        accuracy_folder_labels=float(np.mean(oof.right)),
        right_with_other_verdicts=int(np.sum(right_folder & ~np.isin(verdict_of, ("", "label_ok")))),
        accuracy_audited_labels=float(np.mean(right[keep])),
        images_audited_labels=int(keep.sum()),
        accuracy_answerable=float(np.mean(right[answerable])),
        images_answerable=int(answerable.sum()),
    )


def _sheet_titles(oof: OutOfFold, order: Sequence[int], rank: Mapping[str, int]) -> list[str]:
    titles = []
    for n, i in enumerate(order, start=1):
        file, label = str(oof.file[i]), int(oof.label[i])
        flag = f", flagged #{rank[file]}" if file in rank else ""
        titles.append(f"{n}. {file}{flag}\n{CLASS_NAMES[label]} folder, P(dog) {oof.prob[i]:.2f}")
    return titles


def _summarize_study_audit(study_dir: Path | str, audit_file: Path | str = LABEL_AUDIT_FILE) -> DatasetAudit:
    """``label_audit_summary.json`` of a study from its ``label_issues.json``, its out-of-fold
    predictions and the verdicts of ``audit_file`` (:func:`dataset_audit_summary`): needs no
    image, so a published study (``results/cv-*``) can be summarized again when the audit
    file or the rule changes."""
    study = Run.load(study_dir)
    rows = study.record(LabelIssues).rows
    summary = dataset_audit_summary(rows, read_oof(study.path / OOF_FILE), read_label_audit(audit_file)).replace(
        method=AUDIT_METHOD, audit_sha256=file_sha256(audit_file)
    )
    study.write_record(summary)
    return summary


def audit_study(
    study_dir: Path | str, per_sheet: int = 30, image_size: int = 180, audit_file: Path | str = LABEL_AUDIT_FILE
) -> DatasetAudit:
    """The dataset-wide audit of a finished cross-validation study: ``label_issues.json``
    (every image cleanlab flags, ranked, with its audit group), contact sheets of the
    images to look at (``contact_sheets/sheet-NN.png``: the flagged ones to audit, then
    every other out-of-fold mistake, each titled with its number, file, folder, P(dog)
    and cleanlab rank), and ``label_audit_summary.json`` from the verdicts recorded so
    far in ``audit_file``, plus the gallery of confirmed label errors (:data:`GALLERY_FILE`)."""
    from importlib.metadata import version

    study_dir = Path(study_dir)
    missing = [n for n in (OOF_FILE, "config.json", "data/manifest.csv") if not (study_dir / n).is_file()]
    if missing:
        raise UserError(
            f"{study_dir} is not a finished cross-validation study run directory (no {', '.join(missing)}); "
            "pass the study's run directory, e.g. --cv runs/cv-paper, once `python -m catsdogs cv` has finished it"
        )
    study = Run.load(study_dir)
    oof = read_oof(study.path / OOF_FILE)
    rows = label_issue_rows(oof, study.config.seed)
    study.write_record(
        LabelIssues(
            method="cleanlab.filter.find_label_issues on out-of-fold P(dog), "
            f"filter_by=prune_by_noise_rate, ranked by self-confidence; the top {AUDIT_TOP} "
            f"and a seeded random {AUDIT_SAMPLE} of the rest are audited, and every other "
            "out-of-fold mistake too",
            cleanlab=version("cleanlab"),
            rows=rows,
        )
    )
    # a re-run replaces the sheets and the gallery: none of an earlier run's may linger
    for old in [*study.path.glob("contact_sheets/sheet-*.png"), study.path / GALLERY_FILE]:
        old.unlink(missing_ok=True)
    index = {str(f): i for i, f in enumerate(oof.file)}
    chosen = [index[r.file] for r in rows if r.audit != "unaudited"]
    taken = set(chosen)
    order = chosen + [i for i in out_of_fold_mistakes(oof) if i not in taken]
    titles = _sheet_titles(oof, order, {r.file: r.rank for r in rows})
    by_file = {r.file: r for r in study.manifest()}
    for page, start in enumerate(range(0, len(order), per_sheet), start=1):
        part = order[start : start + per_sheet]
        paths = study.paths_of([by_file[str(oof.file[i])] for i in part])
        fig = image_grid(list(load_images(paths, image_size)), titles[start : start + per_sheet], ncols=6)
        fig.savefig(study.file("contact_sheets", f"sheet-{page:02d}.png"), dpi=110)
    summary = _summarize_study_audit(study.path, audit_file)
    verdicts = read_label_audit(audit_file)
    errors = confirmed_label_errors(oof, order, verdicts)
    if errors:
        paths = study.paths_of([by_file[e.file] for e in errors])
        fig = image_grid(list(load_images(paths, image_size)), [e.title for e in errors], ncols=6)
        fig.savefig(study.path / GALLERY_FILE, dpi=100, pil_kwargs={"quality": 85})  # photos: JPEG, a fifth of PNG
    return summary


@dataclass(frozen=True)
class LabelError:
    """An image whose by-eye verdict says its folder label is wrong, titled for the gallery."""

    file: str
    label: int
    verdict: str
    title: str


def confirmed_label_errors(
    oof: OutOfFold, looked_at: Sequence[int], verdicts: Mapping[str, Verdict]
) -> list[LabelError]:
    """The looked-at images (indices into ``oof``) whose verdict says the folder label is
    wrong (``other_class``, ``no_pet``), mislabelled ones first, each with a short title."""
    out = []
    for i in looked_at:
        file, label = str(oof.file[i]), int(oof.label[i])
        verdict = verdicts[file].verdict if file in verdicts else None
        if verdict in ("other_class", "no_pet"):
            title = f"{file}\n{CLASS_NAMES[label]} folder, {_SHOWS[verdict, label]}"
            out.append(LabelError(file=file, label=label, verdict=verdict, title=title))
    return sorted(out, key=lambda e: (e.verdict != "other_class", e.file))


def audit_verdict_line(summary: DatasetAudit, study: str) -> str:
    """The audit's bullet in the book's verdict: what the label errors change."""
    m = summary.mistake_counts
    looked = (
        "every out-of-fold mistake looked at"
        if not summary.without_verdict
        else f"{summary.mistakes_with_verdict:,} of {summary.mistakes:,} out-of-fold mistakes looked at so far"
    )
    return (
        f"- **Label audit** ({study}, {looked}): {m.other_class} of the {summary.mistakes:,} mistakes are "
        f"mislabelled and {m.no_pet} show neither a cat nor a dog; on audited labels the pooled out-of-fold "
        f"accuracy is {percent(summary.accuracy_audited_labels, 2)} (an upper bound), against "
        f"{percent(summary.accuracy_folder_labels, 2)} on the folder labels."
    )


def _by_sentence(by: Mapping[str, int]) -> str:
    """Who gave the verdicts of the images looked at (the audit file's ``by`` column)."""
    if not by:
        return ""
    parts = [f"{n:,} {who or 'unattributed'}" for who, n in sorted(by.items(), key=lambda kv: -kv[1])]
    return f" Who gave these verdicts (the audit file's `by` column): {'; '.join(parts)}."


def _precision_sentence(counts: VerdictCounts, n: int) -> str:
    """cleanlab's precision among the ``n`` flagged images with a verdict, with its exact
    (Clopper-Pearson) 95 % interval, strictly and counting unanswerable images too."""
    from scipy.stats import binomtest

    if not n:
        return "None of them has a verdict yet."
    wrong = counts.mislabelled
    loose = wrong + counts.both + counts.unclear
    ci = binomtest(wrong, n).proportion_ci(confidence_level=0.95, method="exact")
    return (
        f"By eye, {counts.other_class} of them show the other animal and {counts.no_pet} neither a cat "
        f"nor a dog: cleanlab's precision is **{percent(wrong / n, 0)}** ({wrong} of {n}; 95 % CI "
        f"{percent(ci.low, 0)}–{percent(ci.high, 0)}), or {loose} of {n} ({percent(loose / n, 0)}) counting "
        "the images that show both animals or cannot be told as label problems too."
    )


def dataset_audit_markdown(summary: DatasetAudit | None) -> Text:
    """The dataset-wide label audit (``label_audit_summary.json``, ``python -m catsdogs
    audit --cv``) in words and a table of verdicts: cleanlab's flags, then every
    out-of-fold mistake."""
    if not summary:
        return Text("*not measured: run `python -m catsdogs audit --cv <study>`.*\n")
    c, m = summary.counts, summary.mistake_counts
    if summary.flagged <= AUDIT_TOP:
        rule = f"all {summary.flagged:,} are looked at"
    else:
        rule = f"the {AUDIT_TOP} highest-ranked and a random {AUDIT_SAMPLE} of the rest are looked at"
        estimate = summary.estimated_wrong_among_unaudited
        if summary.unaudited and estimate is not None:
            rule += (
                f"; the sample's share puts about {estimate:,} more wrong labels among the "
                f"{summary.unaudited:,} flagged images without a verdict"
            )
        elif summary.unaudited:
            rule += f" ({summary.unaudited:,} others without a verdict, not yet estimated: the sample has none)"
    text = (
        f"Confident learning (cleanlab) flags **{summary.flagged:,}** images as likely mislabelled; {rule}. "
        + _precision_sentence(c, summary.with_verdict)
        + f" All **{summary.mistakes:,}** out-of-fold mistakes are looked at"
        + (f" (the {summary.flagged_mistakes:,} flagged ones among them)" if summary.flagged_mistakes else "")
        + f": {m.label_ok} are genuine model mistakes, {m.other_class} mislabelled, {m.no_pet} show "
        f"neither a cat nor a dog, {m.both} show both animals and {m.unclear} cannot be told by eye"
        + (f" (**{summary.without_verdict:,} still without a verdict**)" if summary.without_verdict else "")
        + ". With the mislabelled images relabelled and those showing neither animal dropped, the pooled "
        f"out-of-fold accuracy **on audited labels** is **{percent(summary.accuracy_audited_labels, 2)}** "
        f"({summary.images_audited_labels:,} images), against {percent(summary.accuracy_folder_labels, 2)} "
        "on the folder labels; dropping the images without one right answer (both animals, or unclear) too "
        f"gives {percent(summary.accuracy_answerable, 2)} ({summary.images_answerable:,} images). Every "
        "verdict of the audit file applies, to images these models got wrong or right"
        + (
            f" ({summary.right_with_other_verdicts} images they got right carry a verdict other than "
            "*label_ok*, from the audits of other models' mistakes)"
            if summary.right_with_other_verdicts
            else ""
        )
        + ". Mistakes were what was looked at, so both audited figures are upper bounds as far as mislabelled "
        "images every model agrees with go (those stay unseen). The paper's 98.9 % is a folder-label figure, so the verdict "
        "compares it with ours on the folder labels." + _by_sentence(summary.verdicts_by) + "\n\n"
    )
    rows = [
        {
            "verdict": k,
            "meaning": VERDICTS[k],
            "all out-of-fold mistakes": getattr(m, k),
            "flagged by cleanlab": getattr(c, k),
        }
        for k in VERDICTS
    ]
    return Text(text + markdown_table(rows) + "\n")


__all__ = [
    "audit_markdown",
    "AUDIT_METHOD",
    "LABEL_AUDIT_FILE",
    "NO_ANSWER",
    "VERDICTS",
    "audit_predictions",
    "audit_run",
    "read_label_audit",
    "AUDIT_SAMPLE",
    "AUDIT_TOP",
    "audit_selection",
    "audit_study",
    "audit_verdict_line",
    "confirmed_label_errors",
    "GALLERY_FILE",
    "dataset_audit_markdown",
    "dataset_audit_summary",
    "label_issue_rows",
    "out_of_fold_mistakes",
    "suspected_label_issues",
]
