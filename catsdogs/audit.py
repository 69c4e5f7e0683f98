"""Label audit: are the final model's validation mistakes the model's, or the labels'?

``label_audit.csv`` (shipped with the package) records what a person saw in
PetImages files, one row per file (path relative to the data root): a
``verdict`` from :data:`VERDICTS` and a short description. It was made by looking
at every validation image the published full run (``runs/full``) or one of its
ablation runs gets wrong, shown at full resolution in contact sheets; it annotates
the dataset, not a run, so any run over the same data can be joined with it.

:func:`audit_run` joins it with a run's final validation predictions and writes
``audit.json``: the mistakes with their verdicts, verdict counts, and the accuracy
once images without a right answer are dropped and mislabelled ones relabelled.
Only mistakes were audited, so that second accuracy is an upper bound: a
mislabelled image the model "gets right" is counted as right.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from catsdogs.config import CLASS_NAMES
from catsdogs.evaluate import final_predictions_file
from catsdogs.files import file_sha256
from catsdogs.markdown import Text, markdown_table, percent
from catsdogs.metrics import predict_labels
from catsdogs.predict import read_predictions
from catsdogs.runs import Run

#: The audit file shipped with the package.
LABEL_AUDIT_FILE = Path(str(resources.files("catsdogs") / "label_audit.csv"))

#: How the audit file was made (stored with every audit record).
AUDIT_METHOD = (
    "every validation image misclassified by the published full run or by one of its phase-2 "
    "ablation runs, looked at by one person (the author of this reproduction) at full "
    "resolution; one verdict each"
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


def read_label_audit(path: Path | str = LABEL_AUDIT_FILE) -> dict[str, dict[str, str]]:
    """The audit file as ``{file: {"verdict": ..., "note": ...}}``.

    Raises
    ------
    ValueError
        If a row has an unknown verdict or a file appears twice; the message names it.
    """
    path = Path(path)
    out: dict[str, dict[str, str]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            file, verdict = row["file"].strip(), row["verdict"].strip()
            if verdict not in VERDICTS:
                raise ValueError(
                    f"{path}:{line}: unknown verdict {verdict!r} for {file}; use one of {', '.join(VERDICTS)}"
                )
            if file in out:
                raise ValueError(f"{path}:{line}: {file} is audited twice; keep one row")
            out[file] = {"verdict": verdict, "note": row.get("note", "").strip()}
    return out


def audit_predictions(
    files: list[str],
    labels: np.ndarray,
    probs: np.ndarray,
    verdicts: Mapping[str, Mapping[str, str]],
    threshold: float = 0.5,
) -> dict[str, Any]:
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
    dict
        ``errors`` (file, label, prob_dog, verdict, note; ``not_audited`` when the
        file has no row), ``counts`` per verdict, ``accuracy`` against the folder
        labels and ``accuracy_adjusted`` with ``NO_ANSWER`` images dropped and
        ``other_class`` images relabelled, plus the image counts behind both.
    """
    labels = np.asarray(labels).astype(int)
    predicted = predict_labels(probs, threshold)
    wrong = np.flatnonzero(predicted != labels)
    errors = []
    for i in wrong:
        v = verdicts.get(files[i], {"verdict": "not_audited", "note": ""})
        errors.append({"file": files[i], "label": int(labels[i]), "prob_dog": float(probs[i]), **v})
    counts = {k: sum(e["verdict"] == k for e in errors) for k in (*VERDICTS, "not_audited")}
    n = len(labels)
    dropped = sum(counts[k] for k in NO_ANSWER)
    correct_adjusted = n - len(errors) + counts["other_class"]
    return {
        "n_images": n,
        "n_errors": len(errors),
        "errors": errors,
        "counts": counts,
        "accuracy": (n - len(errors)) / n if n else None,
        "n_adjusted": n - dropped,
        "accuracy_adjusted": correct_adjusted / (n - dropped) if n > dropped else None,
    }


def audit_run(run: Run, audit_file: Path | str = LABEL_AUDIT_FILE) -> dict[str, Any]:
    """Audit the run's final validation mistakes; write and return ``audit.json``."""
    pred_file = final_predictions_file(run)
    pred = read_predictions(pred_file)
    result = audit_predictions(list(pred["file"]), pred["label"], pred["prob"], read_label_audit(audit_file))
    result.update(
        {
            "source": pred_file.parent.name,
            "audit_file": Path(audit_file).name,
            "audit_sha256": file_sha256(audit_file),
            "method": AUDIT_METHOD,
            "verdicts": VERDICTS,
        }
    )
    run.write_json("audit.json", result)
    return result


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
        find_label_issues(labels, pred_probs, return_indices_ranked_by="self_confidence", n_jobs=n_jobs), dtype=int
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


def label_issue_rows(oof: Mapping[str, np.ndarray], seed: int) -> list[dict[str, Any]]:
    """Every suspected label error of out-of-fold predictions (``cv.read_oof``), most
    suspicious first, each marked ``ranked`` / ``sampled`` (to audit) or ``unaudited``."""
    flagged = suspected_label_issues(oof["label"], oof["prob"])
    group = {i: g for g, members in audit_selection(flagged, seed).items() for i in members}
    return [
        {
            "rank": r + 1,
            "file": str(oof["file"][i]),
            "label": int(oof["label"][i]),
            "prob_dog": float(oof["prob"][i]),
            "fold": int(oof["fold"][i]),
            "audit": group[int(i)],
        }
        for r, i in enumerate(flagged)
    ]


def dataset_audit_summary(
    rows: Sequence[Mapping[str, Any]], oof: Mapping[str, np.ndarray], verdicts: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    """What the by-eye verdicts say about the flagged images: counts per verdict among the
    audited ones, cleanlab's precision (share really wrong or without a pet), the estimate
    for the unaudited rest (from the random sample), and the pooled out-of-fold accuracy on
    audited labels (wrong-class images relabelled, images with no pet dropped)."""
    audited = [r for r in rows if r["audit"] != "unaudited"]
    seen = [r for r in audited if r["file"] in verdicts]
    counts = {k: sum(verdicts[r["file"]]["verdict"] == k for r in seen) for k in VERDICTS}
    wrong = ("other_class", "no_pet")
    precision = sum(counts[k] for k in wrong) / len(seen) if seen else None
    sample = [r for r in seen if r["audit"] == "sampled"]
    sample_share = sum(verdicts[r["file"]]["verdict"] in wrong for r in sample) / len(sample) if sample else None
    unaudited = sum(r["audit"] == "unaudited" for r in rows)
    labels, keep = np.array(oof["label"]).copy(), np.ones(len(oof["label"]), dtype=bool)
    index = {f: i for i, f in enumerate(oof["file"])}
    for r in seen:
        v = verdicts[r["file"]]["verdict"]
        if v == "other_class":
            labels[index[r["file"]]] = 1 - labels[index[r["file"]]]
        elif v == "no_pet":
            keep[index[r["file"]]] = False
    right = (np.asarray(oof["prob"]) >= 0.5) == (labels == 1)
    return {
        "flagged": len(rows),
        "audited": len(audited),
        "with_verdict": len(seen),
        "counts": counts,
        "precision": precision,
        "unaudited": unaudited,
        "estimated_wrong_among_unaudited": None if sample_share is None else round(sample_share * unaudited),
        "accuracy_folder_labels": float(np.mean((np.asarray(oof["prob"]) >= 0.5) == (np.asarray(oof["label"]) == 1))),
        "accuracy_audited_labels": float(np.mean(right[keep])),
        "images_audited_labels": int(keep.sum()),
    }


def audit_study(study_dir: Path | str, per_sheet: int = 30, image_size: int = 180) -> dict[str, Any]:
    """The dataset-wide audit of a finished cross-validation study: ``label_issues.json``
    (every flagged image, ranked, with its audit group), contact sheets of the images to
    look at (``contact_sheets/sheet-NN.png``, titled with rank, file, folder and P(dog)),
    and ``label_audit_summary.json`` from the verdicts recorded so far in
    :data:`LABEL_AUDIT_FILE`."""
    from catsdogs.cv import OOF_FILE, read_oof  # cv imports the training code; the run-level audit does not need it
    from catsdogs.images import load_images
    from catsdogs.plots import image_grid  # matplotlib: only the contact sheets need it

    study = Run.load(study_dir)
    oof = read_oof(study.path / OOF_FILE)
    rows = label_issue_rows(oof, study.config.seed)
    study.write_json(
        "label_issues.json",
        {
            "method": "cleanlab.filter.find_label_issues on out-of-fold P(dog), "
            f"prune_by_noise_rate, ranked by self-confidence; the top {AUDIT_TOP} "
            f"and a seeded random {AUDIT_SAMPLE} of the rest are audited",
            "rows": rows,
        },
    )
    by_file = {r["file"]: r for r in study.manifest()}
    chosen = [r for r in rows if r["audit"] != "unaudited"]
    for page, start in enumerate(range(0, len(chosen), per_sheet), start=1):
        part = chosen[start : start + per_sheet]
        paths = study.paths_of([by_file[r["file"]] for r in part])
        titles = [
            f"#{r['rank']} {r['file']}\n{CLASS_NAMES[r['label']]} folder, P(dog) {r['prob_dog']:.2f}" for r in part
        ]
        fig = image_grid(list(load_images(paths, image_size)), titles, ncols=6)
        fig.savefig(study.file("contact_sheets", f"sheet-{page:02d}.png"), dpi=90)
    summary = dataset_audit_summary(rows, oof, read_label_audit())
    study.write_json("label_audit_summary.json", summary)
    return summary


def audit_markdown(audit: Mapping[str, Any] | None) -> Text:
    """The label audit of the final model's mistakes (``audit.json``, ``python -m catsdogs
    audit``): a sentence with the counts and both accuracies, then the mistakes whose
    image is not a genuine model mistake."""
    if not audit:
        return Text("*not measured in this run: run `python -m catsdogs audit --run-dir <run>`.*\n")
    c = audit["counts"]
    if c.get("not_audited", 0) == audit["n_errors"]:
        return Text(
            f"None of this run's {audit['n_errors']} validation mistakes is in the audit file, "
            "which covers the mistakes of the published full run; nothing to adjust.\n"
        )
    text = (
        f"Of the **{audit['n_errors']}** validation images the final model gets wrong, looked at "
        f"one by one: **{c['label_ok']}** show the animal their folder names (genuine mistakes), "
        f"{c['other_class']} the other animal, {c['no_pet']} no cat or dog at all, "
        f"{c['both']} both animals and {c['unclear']} cannot be judged by eye"
        + (f"; {c['not_audited']} are not in the audit file" if c.get("not_audited") else "")
        + f". Dropping the {sum(c[k] for k in NO_ANSWER)} images with no right answer and "
        f"relabelling the mislabelled ones gives **{percent(audit['accuracy_adjusted'], 2)}** on "
        f"{audit['n_adjusted']:,} images, against {percent(audit['accuracy'], 2)} on the folder "
        f"labels ({audit['n_images']:,} images). Only mistakes were audited, so the adjusted "
        "figure is an upper bound.\n\n"
    )
    rows = [
        {
            "file": f"`{e['file']}`",
            "folder": CLASS_NAMES[e["label"]],
            "P(dog)": f"{e['prob_dog']:.2f}",
            "verdict": e["verdict"],
            "what it shows": e["note"],
        }
        for e in audit["errors"]
        if e["verdict"] != "label_ok"
    ]
    legend = "; ".join(f"*{k}*: {v}" for k, v in VERDICTS.items())
    return Text(text + (markdown_table(rows) + "\n" if rows else "") + f"Verdicts: {legend}.\n")


__all__ = [
    "audit_study",
    "label_issue_rows",
    "dataset_audit_summary",
    "AUDIT_SAMPLE",
    "AUDIT_TOP",
    "audit_selection",
    "suspected_label_issues",
    "audit_markdown",
    "AUDIT_METHOD",
    "LABEL_AUDIT_FILE",
    "NO_ANSWER",
    "VERDICTS",
    "audit_predictions",
    "audit_run",
    "read_label_audit",
]
