"""Label audit: are the final model's validation mistakes the model's, or the labels'?

``label_audit.csv`` (shipped with the package) records what a person saw in
PetImages files, one row per file (path relative to the data root): a
``verdict`` from :data:`VERDICTS` and a short description (how it was made:
:data:`AUDIT_METHOD`). It annotates the dataset, not a run, so any run over the
same data can be joined with it; :mod:`catsdogs.dataset_audit` extends it to the
out-of-fold mistakes of a cross-validation study.

:func:`audit_run` joins it with a run's final validation predictions and writes
``audit.json``: the mistakes with their verdicts, verdict counts, and the accuracy
once images without a right answer are dropped and mislabelled ones relabelled.
Only mistakes were audited, so that second accuracy is an upper bound: a
mislabelled image the model "gets right" is counted as right.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
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


def read_label_audit(path: Path | str = LABEL_AUDIT_FILE) -> dict[str, dict[str, str]]:
    """The audit file as ``{file: {"verdict": ..., "note": ..., "by": ...}}`` (``by``: who
    gave the verdict, empty when the file has no such column).

    Raises
    ------
    ValueError
        If a row has an unknown verdict or too many fields, or a file appears twice;
        the message names the file and line.
    """
    path = Path(path)
    out: dict[str, dict[str, str]] = {}
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
            out[file] = {"verdict": verdict, "note": row.get("note", "").strip(), "by": (row.get("by") or "").strip()}
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
            "which covers the mistakes of the published full run, its ablations and the cross-validation "
            "study on PetImages; nothing to adjust.\n"
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
    "audit_markdown",
    "AUDIT_METHOD",
    "LABEL_AUDIT_FILE",
    "NO_ANSWER",
    "VERDICTS",
    "audit_predictions",
    "audit_run",
    "read_label_audit",
]
