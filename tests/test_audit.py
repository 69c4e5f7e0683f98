"""The label audit (:mod:`catsdogs.studies.label_audit`) and the phase-2 ablation record, on hand-made runs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy.special import logit

from catsdogs.config import get_config
from catsdogs.records import FlaggedImage, OutOfFold, Verdict
from catsdogs.runs import Run, save_predictions
from catsdogs.studies.ablation import ablation_rows, ablation_summary, record_ablation
from catsdogs.studies.label_audit import LABEL_AUDIT_FILE, VERDICTS, audit_predictions, audit_run, read_label_audit
from catsdogs.studies.label_audit import audit_markdown as label_audit_markdown

FILES = ["Cat/1.jpg", "Cat/2.jpg", "Cat/3.jpg", "Dog/1.jpg", "Dog/2.jpg", "Dog/3.jpg", "Dog/4.jpg", "Dog/5.jpg"]
LABELS = np.array([0, 0, 0, 1, 1, 1, 1, 1])
#: Wrong: Cat/3 (p=0.9), Dog/4 (logit -3), Dog/5 (logit -1); the rest right.
LOGITS = np.array([-4.0, -3.0, 2.2, 3.0, 4.0, 0.5, -3.0, -1.0])


def _write_audit(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("file,verdict,note\n" + "".join(f"{f},{v},{n}\n" for f, v, n in rows))
    return path


def test_shipped_audit_file_is_valid() -> None:
    verdicts = read_label_audit()
    assert len(verdicts) > 0
    assert {v.verdict for v in verdicts.values()} <= set(VERDICTS)
    assert all(f.split("/")[0] in ("Cat", "Dog") and f.endswith(".jpg") for f in verdicts)
    assert all(v.note for v in verdicts.values()), "every verdict says what the image shows"


def test_shipped_audit_names_real_files() -> None:
    root = Path(os.environ.get("CATSDOGS_DATA_DIR", "")).expanduser()
    if not os.environ.get("CATSDOGS_DATA_DIR") or not (root / "Cat").is_dir():
        pytest.skip("set CATSDOGS_DATA_DIR to the PetImages folder to check the audited files exist")
    missing = [f for f in read_label_audit() if not (root / f).is_file()]
    assert not missing, f"audited files not in {root}: {missing}"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("Cat/1.jpg", "maybe", "x")], "unknown verdict 'maybe' for Cat/1.jpg"),
        ([("Cat/1.jpg", "label_ok", "x"), ("Cat/1.jpg", "no_pet", "y")], "Cat/1.jpg is audited twice"),
        ([("Cat/1.jpg", "label_ok", "a cat, seen from behind")], "Cat/1.jpg has more fields than the header"),
    ],
)
def test_bad_audit_rows_are_named(tmp_path: Path, rows, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_label_audit(_write_audit(tmp_path / "audit.csv", rows))


def test_audit_counts_and_adjusted_accuracy() -> None:
    probs = 1 / (1 + np.exp(-LOGITS))
    verdicts = {
        "Cat/3.jpg": Verdict(verdict="other_class", note="a dog"),
        "Dog/4.jpg": Verdict(verdict="no_pet", note="a logo"),
        "Cat/1.jpg": Verdict(verdict="label_ok", note="right, and not a mistake"),
    }
    out = audit_predictions(FILES, LABELS, probs, verdicts).to_dict()
    assert [e["file"] for e in out["errors"]] == ["Cat/3.jpg", "Dog/4.jpg", "Dog/5.jpg"]
    assert out["counts"] == {"label_ok": 0, "other_class": 1, "no_pet": 1, "both": 0, "unclear": 0, "not_audited": 1}
    assert out["accuracy"] == pytest.approx(5 / 8)
    # Dog/4 dropped (no right answer); Cat/3 relabelled dog, which the model said: 6 right of 7.
    assert out["n_adjusted"] == 7
    assert out["accuracy_adjusted"] == pytest.approx(6 / 7)


def _hand_made_run(root: Path, name: str, logits: np.ndarray, **overrides) -> Run:
    run = Run.open(get_config("smoke", **overrides), root / name)
    save_predictions(run.file("phase2", "predictions_val.csv"), FILES, LABELS, logits)
    run.write_json("data/scan.json", {"manifest_sha256": "ab" * 32})
    run.write_json("phase1/result.json", {"phase": "phase1", "parameters": {}, "val_metrics": {"accuracy": 0.75}})
    run.write_json(
        "phase2/result.json",
        {"phase": "phase2", "parameters": {}, "history": {"epoch": [0, 1], "val_accuracy": [0.5, 0.625]}},
    )
    run.update_json("timings.json", phase2_train=125.0)
    return run


def test_audit_run_writes_record_and_page(tmp_path: Path) -> None:
    run = _hand_made_run(tmp_path, "run", LOGITS)
    audit = _write_audit(
        tmp_path / "audit.csv", [("Dog/5.jpg", "unclear", "blurred fur"), ("Cat/3.jpg", "label_ok", "a cat in a cage")]
    )
    result = audit_run(run, audit)
    assert run.read_json("audit.json") == result.to_dict()
    assert result.source == "phase2" and len(result.audit_sha256) == 64
    page = label_audit_markdown(result)
    assert "**3** validation images" in page and "**1** show the animal" in page
    assert "`Dog/5.jpg`" in page and "blurred fur" in page
    assert "`Cat/3.jpg`" not in page, "genuine mistakes are counted, not listed"
    assert "1 are not in the audit file" in page


def test_audit_page_without_record_says_how_to_make_it() -> None:
    assert "python -m catsdogs audit" in label_audit_markdown(None)


def test_ablation_records_every_run_with_epoch_curve(tmp_path: Path) -> None:
    base = _hand_made_run(tmp_path, "base", LOGITS)
    other = _hand_made_run(tmp_path, "lr", LOGITS + 3.0, phase2_lr=3e-5)
    result = record_ablation(base, [base, other])
    assert base.read_json("ablation.json") == result.to_dict()
    by_run = {e.run: e for e in result.runs}
    assert by_run["lr"].differs == {"phase2_lr": 3e-5}
    assert by_run["base"].final_accuracy.estimate == pytest.approx(5 / 8)
    assert by_run["lr"].final_accuracy.estimate == pytest.approx(
        6 / 8
    )  # Dog/4, Dog/5 turn right; Cat/2 reaches 0.5 = dog
    rows = {r["run"]: r for r in ablation_rows(result)}
    assert set(rows) == {"base (published)", "lr"}
    assert rows["lr"]["val. accuracy (%) per phase-2 epoch"] == "50.00 → 62.50"
    assert rows["lr"]["change"] == "phase-2 LR 3e-05" and rows["base (published)"]["change"] == "–"
    summary = ablation_summary(result)
    assert "published run, **base**: 62.50 %" in summary
    assert "most accurate configuration, **lr** (phase-2 LR 3e-05): 75.00 %" in summary
    assert "99.0 %" not in summary and "at most 12.50 percentage points" in summary
    from catsdogs.records import Interval
    from catsdogs.studies.ablation import ablation_markdown

    assert ablation_markdown(result, by_run["base"].final_accuracy).startswith("| run |")
    rerun = Interval(estimate=0.7, low=0.4, high=0.9)  # the published run is a later run of base's recipe
    text = ablation_markdown(result, rerun)
    assert text.startswith("The variants were forked from an earlier training of the published recipe")
    assert "| base (base) |" in text and "(published)" not in text and "70.00 % (95 % CI 40.00–90.00)" in text


def test_ablation_refuses_runs_with_another_split(tmp_path: Path) -> None:
    base = _hand_made_run(tmp_path, "base", LOGITS)
    other = _hand_made_run(tmp_path, "other", LOGITS, seed=7)
    other.write_json("data/scan.json", {"manifest_sha256": "cd" * 32})
    with pytest.raises(ValueError, match="do not share one validation split"):
        record_ablation(base, [base, other])


def test_package_ships_the_audit_file() -> None:
    assert LABEL_AUDIT_FILE.is_file()


def test_audit_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from catsdogs.cli.main import main

    run = _hand_made_run(tmp_path, "run", LOGITS)
    assert main(["audit", "--run-dir", str(run.path)]) == 0
    assert "None of this run's 3 validation mistakes is in the audit file" in capsys.readouterr().out
    assert run.has("audit.json")


# ----------------------------------------------------------------------------- dataset-wide search


def test_cleanlab_flags_the_flipped_labels_of_confident_probabilities():
    from catsdogs.studies.label_audit import suspected_label_issues

    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1], 200)
    prob_dog = np.clip(np.where(truth == 1, 0.9, 0.1) + rng.normal(0, 0.05, truth.size), 0.01, 0.99)
    labels = truth.copy()
    flipped = rng.choice(truth.size, size=8, replace=False)
    labels[flipped] = 1 - labels[flipped]
    prob_dog[flipped[0]] = 0.999 if truth[flipped[0]] else 0.001  # the most confident contradiction
    issues = suspected_label_issues(labels, prob_dog)
    # confident learning estimates how many labels are wrong and prunes that many: on this
    # clean synthetic set every flag is a flipped label, and most flipped labels are flagged
    assert set(issues.tolist()) <= set(flipped.tolist()) and len(issues) >= len(flipped) // 2
    assert issues[0] == flipped[0]  # ranked by self-confidence: the surest contradiction first


def test_audit_selection_applies_the_sampling_rule():
    from catsdogs.studies.label_audit import audit_selection

    assert audit_selection(np.arange(5), seed=0) == {"ranked": [0, 1, 2, 3, 4], "sampled": [], "unaudited": []}
    sel = audit_selection(np.arange(1000, 0, -1), seed=0, top=400, sample=100)
    assert sel["ranked"] == list(range(1000, 600, -1))
    assert len(sel["sampled"]) == 100 and len(sel["unaudited"]) == 500
    assert set(sel["sampled"]) | set(sel["unaudited"]) == set(range(600, 0, -1))
    assert sel == audit_selection(np.arange(1000, 0, -1), seed=0, top=400, sample=100)


def test_dataset_audit_summary_relabels_drops_and_estimates():
    from catsdogs.studies.label_audit import dataset_audit_summary, label_issue_rows

    rng = np.random.default_rng(1)
    truth = np.repeat([0, 1], 100)
    labels = truth.copy()
    labels[[3, 150]] = 1 - labels[[3, 150]]  # two flipped labels
    prob = np.clip(np.where(truth == 1, 0.95, 0.05) + rng.normal(0, 0.02, truth.size), 0.01, 0.99)
    oof = _oof(np.array([f"x/{i}.jpg" for i in range(truth.size)]), labels, prob)
    rows = label_issue_rows(oof, seed=0)
    assert {r.file for r in rows} == {"x/3.jpg", "x/150.jpg"} and all(r.audit == "ranked" for r in rows)
    verdicts = {"x/3.jpg": Verdict(verdict="other_class", note=""), "x/150.jpg": Verdict(verdict="no_pet", note="")}
    record = dataset_audit_summary(rows, oof, verdicts)
    summary = record.to_dict()
    assert summary["counts"]["other_class"] == 1 and summary["counts"]["no_pet"] == 1
    assert summary["precision"] == 1.0 and summary["unaudited"] == 0
    assert summary["accuracy_folder_labels"] == pytest.approx(198 / 200)
    assert summary["accuracy_audited_labels"] == 1.0 and summary["images_audited_labels"] == 199


def _oof(files: np.ndarray, labels: np.ndarray, prob: np.ndarray) -> OutOfFold:
    """Out-of-fold predictions of one training per image, five folds in turn."""
    n = files.size
    return OutOfFold(
        file=files, label=labels, logit=logit(prob), prob=prob, fold=np.arange(n) % 5, seed=np.zeros(n, dtype=int)
    )


def _oof_with_unflagged_mistakes():
    """200 images, two confidently flipped labels (cleanlab flags them) and two unsure
    mistakes (P(dog) near 0.5) that confident learning leaves alone."""
    rng = np.random.default_rng(1)
    truth = np.repeat([0, 1], 100)
    labels = truth.copy()
    labels[[3, 150]] = 1 - labels[[3, 150]]
    prob = np.clip(np.where(truth == 1, 0.95, 0.05) + rng.normal(0, 0.02, truth.size), 0.01, 0.99)
    prob[[10, 120]] = [0.55, 0.40]  # a cat called a dog and a dog called a cat, unsure
    return _oof(np.array([f"x/{i}.jpg" for i in range(truth.size)]), labels, prob)


def test_out_of_fold_mistakes_are_ranked_by_confidence():
    from catsdogs.studies.label_audit import out_of_fold_mistakes

    oof = _oof_with_unflagged_mistakes()
    mistakes = out_of_fold_mistakes(oof)
    assert sorted(mistakes) == [3, 10, 120, 150]
    assert mistakes[-1] == 10  # |0.55 - 0.5| is the least confident contradiction


def test_dataset_audit_counts_every_mistake_not_only_the_flagged():
    from catsdogs.studies.label_audit import (
        confirmed_label_errors,
        dataset_audit_markdown,
        dataset_audit_summary,
        label_issue_rows,
        out_of_fold_mistakes,
    )

    oof = _oof_with_unflagged_mistakes()
    rows = label_issue_rows(oof, seed=0)
    assert {r.file for r in rows} == {"x/3.jpg", "x/150.jpg"}
    verdicts = {
        "x/3.jpg": Verdict(verdict="other_class", note=""),
        "x/150.jpg": Verdict(verdict="label_ok", note=""),
        "x/10.jpg": Verdict(verdict="other_class", note=""),
    }
    record = dataset_audit_summary(rows, oof, verdicts)
    summary = record.to_dict()
    assert summary["precision"] == 0.5
    assert summary["mistakes"] == 4 and summary["mistakes_with_verdict"] == 3 and summary["without_verdict"] == 1
    assert summary["mistake_counts"] == {
        "label_ok": 1,
        "other_class": 2,
        "no_pet": 0,
        "both": 0,
        "unclear": 0,
        "not_audited": 1,
    }
    # two mistakes become right once relabelled; x/120 (no verdict) and x/150 stay wrong
    assert summary["accuracy_folder_labels"] == pytest.approx(196 / 200)
    assert summary["accuracy_audited_labels"] == pytest.approx(198 / 200)
    text = dataset_audit_markdown(record)
    assert "flags **2** images" in text and "precision is **50 %**" in text
    assert "All **4** out-of-fold mistakes are looked at" in text and "**1 still without a verdict**" in text
    assert "(1 of 2; 95 % CI" in text
    assert "**99.00 %**" in text and "98.00 %" in text

    # x/120 cannot be told: kept on audited labels, dropped under the stricter rule; a verdict on an
    # image these models got right (x/0, judged in an earlier audit) applies too: the audit corrects
    # labels both ways, so a right answer on an image without a pet no longer counts
    verdicts |= {"x/120.jpg": Verdict(verdict="unclear", note=""), "x/0.jpg": Verdict(verdict="no_pet", note="")}
    record = dataset_audit_summary(rows, oof, verdicts)
    summary = record.to_dict()
    assert summary["without_verdict"] == 0 and "still without a verdict" not in dataset_audit_markdown(record)
    assert summary["right_with_other_verdicts"] == 1
    assert summary["images_audited_labels"] == 199 and summary["accuracy_audited_labels"] == pytest.approx(197 / 199)
    assert summary["images_answerable"] == 198 and summary["accuracy_answerable"] == pytest.approx(197 / 198)
    errors = confirmed_label_errors(oof, out_of_fold_mistakes(oof), verdicts)
    assert [e.file for e in errors] == ["x/10.jpg", "x/3.jpg"]
    assert errors[0].title.endswith("cat folder, shows a dog")


def test_dataset_audit_without_summary_says_how_to_make_it():
    from catsdogs.studies.label_audit import dataset_audit_markdown

    assert "python -m catsdogs audit --cv" in dataset_audit_markdown(None)


def test_published_study_pages_show_the_dataset_audit(tmp_path: Path) -> None:
    """The book's cross-validation page, generated from the published records: the audit's
    figures are those of ``label_audit_summary.json`` and the gallery is the book's published figure."""
    import json

    from catsdogs.config import project_dir
    from catsdogs.report.book import write_generated_pages
    from catsdogs.runs import Run

    study = project_dir() / "results" / "cv-paper"
    if not (study / "label_audit_summary.json").is_file():
        pytest.skip("no published dataset audit in results/cv-paper")
    summary = json.loads((study / "label_audit_summary.json").read_text())
    write_generated_pages(Run.load(project_dir() / "results" / "full"), tmp_path)
    text = (tmp_path / "cv_label_audit.md").read_text()
    assert f"All **{summary['mistakes']:,}** out-of-fold mistakes are looked at" in text
    assert f"{100 * summary['accuracy_audited_labels']:.2f} %" in text
    assert "still without a verdict" not in text and summary["without_verdict"] == 0
    published_gallery = project_dir() / "book" / "_generated" / "cv-paper_label_errors.jpg"
    assert (tmp_path / published_gallery.name).read_bytes() == published_gallery.read_bytes()
    assert "_generated/cv-paper_label_errors.jpg" in text
    assert not list(study.glob("*.jpg")), "pictures are book figures, not records in results/"
    assert "**Label audit**" in (tmp_path / "cv_verdict.md").read_text()


def test_dataset_audit_over_400_flagged_applies_the_sampling_rule():
    """More than AUDIT_TOP flagged: the top ones and a random sample are audited; the
    sample's share estimates the flagged images still without a verdict."""
    from catsdogs.studies.label_audit import audit_selection, dataset_audit_markdown, dataset_audit_summary

    n, flagged = 1000, 600
    # the first 600 contradict their label
    oof = _oof(
        np.array([f"x/{i}.jpg" for i in range(n)]), np.zeros(n, dtype=int), np.where(np.arange(n) < flagged, 0.99, 0.01)
    )
    group = {i: g for g, members in audit_selection(np.arange(flagged), seed=0).items() for i in members}
    rows = [
        FlaggedImage(rank=i + 1, file=f"x/{i}.jpg", label=0, prob_dog=0.99, fold=i % 5, audit=group[i])
        for i in range(flagged)
    ]
    sampled = [i for i in range(flagged) if group[i] == "sampled"]
    verdicts = {f"x/{i}.jpg": Verdict(verdict="label_ok", note="") for i in range(400)}
    record = dataset_audit_summary(rows, oof, verdicts)
    summary = record.to_dict()
    assert summary["unaudited"] == 100 and summary["estimated_wrong_among_unaudited"] is None
    assert "not yet estimated" in dataset_audit_markdown(record)  # no crash before the sample is judged

    verdicts |= {f"x/{i}.jpg": Verdict(verdict="other_class" if k < 20 else "label_ok") for k, i in enumerate(sampled)}
    record = dataset_audit_summary(rows, oof, verdicts)
    summary = record.to_dict()
    assert summary["unaudited"] == 100 and summary["estimated_wrong_among_unaudited"] == 20  # 20 % of 100
    assert summary["precision"] == pytest.approx(20 / 500)
    assert "about 20 more wrong labels among the 100 flagged images without a verdict" in dataset_audit_markdown(record)
