"""Cross-validation (:mod:`catsdogs.training.cv`) and the paired comparison (:mod:`catsdogs.studies.ablation`)."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from catsdogs.data.split import assign_folds, fold_manifest
from catsdogs.files import read_csv
from catsdogs.runs import read_manifest, read_oof
from catsdogs.studies.ablation import compare_studies, comparison_markdown, mcnemar_exact, verdict
from catsdogs.training import cv as cv_mod
from catsdogs.training import train as train_mod
from catsdogs.training.cv import CrossValidation

PUBLISHED_MANIFEST = Path(__file__).resolve().parent.parent / "results" / "full" / "data" / "manifest.csv"


# ----------------------------------------------------------------------------- folds


def _rows(n_cat: int, n_dog: int, val_every: int = 5) -> list[dict]:
    rows = [
        {"file": f"{c}/{i}.jpg", "label": int(c == "Dog")}
        for c, n in (("Cat", n_cat), ("Dog", n_dog))
        for i in range(n)
    ]
    for i, r in enumerate(rows):
        r["split"] = "val" if i % val_every == 0 else "train"
    return rows


def _check_folds(rows: list[dict], folds: np.ndarray, k: int) -> None:
    assert len(folds) == len(rows) and set(folds) == set(range(k))  # every image in exactly one fold
    per_fold = {f: Counter(r["label"] for r, g in zip(rows, folds) if g == f) for f in range(k)}
    for label in (0, 1):
        counts = [per_fold[f][label] for f in range(1, k)]
        assert max(counts) - min(counts) <= 1, f"class {label} not stratified over folds 1..{k - 1}: {counts}"


def test_fold_zero_is_the_validation_split_and_the_rest_is_stratified():
    rows = _rows(23, 17)
    folds = assign_folds(rows, 5, seed=0)
    assert [r["split"] == "val" for r in rows] == list(folds == 0)
    _check_folds(rows, folds, 5)
    np.testing.assert_array_equal(folds, assign_folds(rows, 5, seed=0))  # seeded
    assert not np.array_equal(folds, assign_folds(rows, 5, seed=1))


def test_fold_zero_of_the_published_run_is_its_validation_split():
    rows = read_manifest(PUBLISHED_MANIFEST)
    folds = assign_folds(rows, 5, seed=42)
    assert len(rows) == 24998
    assert [r["file"] for r, f in zip(rows, folds) if f == 0] == [r["file"] for r in rows if r["split"] == "val"]
    _check_folds(rows, folds, 5)
    sizes = Counter(folds.tolist())
    assert max(sizes.values()) - min(sizes.values()) <= 2


def test_fold_manifest_validates_on_one_fold():
    rows = _rows(6, 6)
    folds = assign_folds(rows, 3, seed=0)
    m = fold_manifest(rows, folds, 2)
    assert [r["split"] == "val" for r in m] == list(folds == 2)
    assert rows[0]["split"] in ("val", "train") and m is not rows


@pytest.mark.parametrize(("folds", "message"), [(1, "at least 2"), (5, "set test_fraction=0")])
def test_bad_fold_requests_say_what_to_do(folds, message):
    rows = _rows(5, 5)
    rows[0]["split"] = "test"
    with pytest.raises(ValueError, match=message):
        assign_folds(rows, folds, seed=0)


def test_folds_must_match_the_validation_fraction(make_config, tmp_path):
    with pytest.raises(ValueError, match=r"val_fraction = 1/4.*--set val_fraction=0.25"):
        CrossValidation.open(make_config(), tmp_path / "cv", n_folds=4)


# ----------------------------------------------------------------------------- McNemar


def _exact_mcnemar_by_hand(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the binomial sum, written out for the test."""
    n = b + c
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


@pytest.mark.parametrize(("only_a", "only_b"), [(10, 2), (3, 3), (0, 7), (40, 25)])
def test_mcnemar_exact_matches_the_binomial_sum(only_a, only_b):
    both, neither = 50, 4
    a = np.array([True] * both + [True] * only_a + [False] * only_b + [False] * neither)
    b = np.array([True] * both + [False] * only_a + [True] * only_b + [False] * neither)
    result = mcnemar_exact(a, b)
    assert result["table"] == [[both, only_a], [only_b, neither]]
    assert result["p_value"] == pytest.approx(_exact_mcnemar_by_hand(only_a, only_b), rel=1e-9)


def test_mcnemar_without_discordant_pairs_and_verdicts():
    same = np.array([True, False, True])
    assert mcnemar_exact(same, same)["p_value"] == 1.0
    assert verdict(0.01, 0.2) == "no detectable difference"
    assert verdict(0.01, 0.01) == "better" and verdict(-0.01, 0.01) == "worse"


def test_training_seconds_keep_the_epochs_of_a_killed_invocation(tmp_path):
    """A killed invocation never records its step timing; its finished epochs are in
    ``phase2/result.json`` and count. Without a kill, the step timing (model loading
    included) is the larger figure and counts."""
    from catsdogs.config import get_config
    from catsdogs.runs import Run

    fold = Run.open(get_config("smoke"), tmp_path / "fold-4")
    fold.update_json(
        "timings.json", phase1_features=5.0, phase1_train=10.0, phase2_train=380.0, phase2_predict_val=80.0
    )
    fold.write_json("phase2/result.json", {"epoch_seconds": [370.0, 314.0, 349.0, 356.0, 345.0, 335.0]})
    assert cv_mod.training_seconds(fold) == 10.0 + 2069.0 + 80.0  # resumed for the 6th epoch only
    fold.write_json("phase2/result.json", {"epoch_seconds": [335.0]})
    assert cv_mod.training_seconds(fold) == 10.0 + 380.0 + 80.0
    fold.write_json("phase2/result.json", {})  # a record from before epochs were timed
    assert cv_mod.training_seconds(fold) == 10.0 + 380.0 + 80.0


# ----------------------------------------------------------------------------- the study


@pytest.fixture(scope="module")
def petimages(tmp_path_factory):
    from conftest import write_petimages

    return write_petimages(tmp_path_factory.mktemp("cvdata") / "PetImages", n_per_class=10, size=36)


class Interrupted(Exception):
    pass


@pytest.mark.slow
def test_cv_runs_every_fold_resumes_after_interruption_and_compares(
    petimages, make_config, tmp_path, monkeypatch, capsys
):
    import keras

    monkeypatch.setenv("CATSDOGS_CACHE_DIR", str(tmp_path / "cache"))
    cfg = make_config(petimages)
    study = CrossValidation.open(cfg, tmp_path / "cv-a", n_folds=5)

    original = train_mod._callbacks

    class InterruptFold2(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise Interrupted("simulated stop")

    def interrupting(run, phase, patience, epochs, checkpoint=True):
        cbs = original(run, phase, patience, epochs, checkpoint)
        return cbs + [InterruptFold2()] if run.path.name == "fold-2" and phase == "phase2" else cbs

    monkeypatch.setattr(train_mod, "_callbacks", interrupting)
    with pytest.raises(Interrupted):
        study.run_all()
    assert study.run_done(0) and study.run_done(1) and not study.run_done(2)
    assert [r["epoch"] for r in read_csv(study.fold_dir(2) / "phase2" / "history.csv")] == ["0"]
    before = json.loads((study.fold_dir(2) / "phase2" / "epoch_seconds.json").read_text())
    assert list(before) == ["1"]

    monkeypatch.setattr(train_mod, "_callbacks", original)
    study.run_all()
    assert [r["epoch"] for r in read_csv(study.fold_dir(2) / "phase2" / "history.csv")] == ["0", "1"]
    # the interrupted invocation's finished epoch keeps its time, next to the resumed one's
    epoch_seconds = json.loads((study.fold_dir(2) / "phase2" / "result.json").read_text())["epoch_seconds"]
    assert epoch_seconds[0] == before["1"] and len(epoch_seconds) == 2 and epoch_seconds[1] is not None
    result = study.summarize()

    oof = read_oof(study.path / cv_mod.OOF_FILE)
    manifest = read_manifest(study.path / "data" / "manifest.csv")
    assert sorted(oof["file"]) == sorted(r["file"] for r in manifest)  # every image exactly once
    assert len(set(oof["file"])) == len(manifest) == result["images"] == 20
    folds = dict(zip(oof["file"], oof["fold"]))
    for k in range(5):
        fold_files = [
            r["file"] for r in read_manifest(study.fold_dir(k) / "data" / "manifest.csv") if r["split"] == "val"
        ]
        assert {f for f in fold_files} == {f for f, g in folds.items() if g == k}
    assert result["pooled"]["accuracy"] == pytest.approx(np.mean((oof["prob"] >= 0.5) == oof["label"]))
    assert set(json.loads((study.path / "fold_seconds.json").read_text())) == {str(k) for k in range(5)}

    # A phase-2 variant on the same folds shares each fold's phase 1, then the paired comparison.
    other = CrossValidation.open(cfg.replace(phase2_lr=3e-5), tmp_path / "cv-b", n_folds=5)
    other.run_all(phase1_from=study)
    other.summarize()
    for k in range(5):
        a, b = (json.loads((s.fold_dir(k) / "phase1" / "result.json").read_text()) for s in (study, other))
        assert a["val_metrics"] == b["val_metrics"]
    compared = compare_studies(study, other)
    assert compared["images"] == 20 and len(compared["per_fold"]) == 5
    from catsdogs.studies.ablation import UNTESTABLE_COMPARISON

    # four images a fold: the folds may not differ at all, and then the test over folds has no verdict
    assert compared["verdict"] in ("better", "worse", "no detectable difference", UNTESTABLE_COMPARISON)
    fresh = compared["without_selection_fold"]
    assert fresh["fold"] == 0 and fresh["images"] == 16
    assert fresh["accuracy"]["first"] == pytest.approx(np.mean([f["first"] for f in compared["per_fold"][1:]]))
    assert json.loads((study.path / "compare.json").read_text())["mcnemar"]["p_value"] == compared["mcnemar"]["p_value"]
    table = comparison_markdown(compared, {"cv-a": "paper", "cv-b": "lr3e-5"})
    assert "| fold | paper | lr3e-5 | difference |" in table and "**pooled** (20 images)" in table
    assert f"p = {compared['mcnemar']['p_value']:.3g}" in table and f"**{compared['verdict']}**" in table
    # the verdict is the corrected t-test over the folds the recipe was not picked on
    assert compared["verdict"] == fresh["verdict"] and fresh["fold_test"]["fold_ids"] == [1, 2, 3, 4]
    p_fresh = fresh["fold_test"]["p_value"]
    assert ("no p-value" if p_fresh is None else f"p = {p_fresh:.2g}") in table and "over folds 1, 2, 3, 4" in table
    assert compared["mcnemar"]["verdict"] in ("better", "worse", "no detectable difference")
    from catsdogs.cli.main import main

    capsys.readouterr()  # what training printed
    assert main(["compare", str(study.path), str(other.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["per_fold"] == compared["per_fold"]
    # The dataset-wide label audit: contact sheets of every mistake, the gallery of confirmed errors.
    from catsdogs.studies import cv_report as verdict_mod
    from catsdogs.studies import label_audit as dataset_audit

    mistakes = [str(oof["file"][i]) for i in dataset_audit.out_of_fold_mistakes(oof)]
    assert mistakes, "the smoke-size study makes out-of-fold mistakes to audit"
    audit_file = tmp_path / "audit.csv"
    audit_file.write_text(f"file,verdict,note\n{mistakes[0]},other_class,the other animal\n")
    summary = dataset_audit.audit_study(study.path, per_sheet=4, audit_file=audit_file)
    assert summary["mistakes"] == len(mistakes) and summary["without_verdict"] == len(mistakes) - 1
    flagged = {r["file"] for r in json.loads((study.path / "label_issues.json").read_text())["rows"]}
    looked_at = len(flagged | set(mistakes))
    assert len(list((study.path / "contact_sheets").glob("sheet-*.png"))) == -(-looked_at // 4)
    assert study.run.has(dataset_audit.GALLERY_FILE)

    # Published as the book reads it: every fold's accuracy, the pooled estimate, the verdict, the audit.
    from catsdogs.config import project_dir

    assert main(["publish-results", "--run-dir", str(study.path), "--out", str(tmp_path / "elsewhere")]) == 0
    assert not (project_dir() / "book" / "_generated" / verdict_mod.gallery_figure("cv-a")).exists()
    verdict_mod.publish_study(study, tmp_path / "results", figures=tmp_path / "figures")
    gallery = tmp_path / "figures" / verdict_mod.gallery_figure("cv-a")
    assert gallery.read_bytes() == (study.path / dataset_audit.GALLERY_FILE).read_bytes()
    assert not list((tmp_path / "results").rglob("*.jpg")), "the gallery is a book figure, not a record"
    published = verdict_mod.load_study(tmp_path / "results" / "cv-a", n_samples=50)
    assert [f["fold"] for f in published["folds"]] == list(range(5))
    assert published["cv"]["pooled"]["accuracy"] == result["pooled"]["accuracy"]
    assert published["compare"]["verdict"] == compared["verdict"]
    assert published["label_audit"] == summary
    rows = verdict_mod.forest_rows({"cv-paper": published}, None)
    assert (
        len(rows) == 6 and rows[-1]["pooled"] and rows[-1]["estimate"] == result["pooled_ci95"]["accuracy"]["estimate"]
    )
    text = verdict_mod.verdict_markdown({"cv-paper": published})
    assert "pooled out-of-fold accuracy" in text and compared["verdict"] in text
    assert f"1 of the {len(mistakes)} mistakes are mislabelled" in text
    assert ("looked at so far" in text) == (len(mistakes) > 1), "a partial audit says so"
    partial = verdict_mod.verdict_markdown({"cv-paper": published | {"cv": None, "folds": published["folds"][:2]}})
    assert "2 of 5 folds finished" in partial


@pytest.mark.slow
def test_inner_protocol_one_training_per_command_and_the_merge(petimages, tmp_path, monkeypatch, capsys):
    """``cv --fold k --seed s`` trains one training of the inner protocol into its own record;
    ``cv --merge`` pools whatever exists and says when not every fold has every seed."""
    from conftest import tiny_config

    from catsdogs.cli.main import main
    from catsdogs.config import get_config

    monkeypatch.setenv("CATSDOGS_CACHE_DIR", str(tmp_path / "cache"))
    cfg = tiny_config(petimages, protocol="inner", inner_val_fraction=0.25, phase2_epochs=1)
    smoke = get_config("smoke").training_dict()
    sets = [f"{k}={json.dumps(v)}" for k, v in cfg.training_dict().items() if v != smoke[k] and k != "weights"]
    common = ["--profile", "smoke", "--data-dir", str(petimages), "--weights", "none", "--run-dir"]
    assert 'protocol="inner"' in sets
    common += [str(tmp_path / "cv-inner"), *(a for s in sets for a in ("--set", s))]
    assert main(["cv", *common, "--prepare"]) == 0
    assert main(["cv", *common, "--fold", "1", "--seed", "0"]) == 0
    assert main(["cv", *common, "--fold", "1", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "fold-1-seed-1: accuracy on the scored fold" in out and "cv --merge" in out

    study = CrossValidation.load(tmp_path / "cv-inner")
    assert study.trainings() == [(1, 0), (1, 1)]
    manifests = [read_manifest(study.fold_dir(1, s) / "data" / "manifest.csv") for s in (0, 1)]
    assert manifests[0] == manifests[1], "the seeds train on the same images"
    inner = {r["file"] for r in manifests[0] if r["split"] == "inner"}
    scored = {r["file"] for r in manifests[0] if r["split"] == "val"}
    assert inner and scored and not inner & scored
    assert {r["label"] for r in manifests[0] if r["split"] == "inner"} == {0, 1}  # stratified
    for s in (0, 1):
        for phase in ("phase1", "phase2"):
            assert json.loads((study.fold_dir(1, s) / phase / "result.json").read_text())["monitored_split"] == "inner"
    assert study.fold_run(1, 1).config.train_seed == 1 and study.fold_run(1, 1).config.training_seed == 1042
    preds = [read_csv(study.fold_dir(1, s) / "phase2" / "predictions_val.csv") for s in (0, 1)]
    assert [p["file"] for p in preds[0]] == [p["file"] for p in preds[1]]
    assert [p["logit"] for p in preds[0]] != [p["logit"] for p in preds[1]], "another seed, another training"

    assert main(["cv", "--run-dir", str(study.path), "--merge"]) == 0
    assert "partial" in capsys.readouterr().out
    merged = json.loads((study.path / "cv.json").read_text())
    assert merged["protocol"] == "inner" and merged["seeds"] == [0, 1] and merged["trainings"] == 2
    assert merged["complete"] is False and merged["images"] == 4 and merged["dataset_images"] == 20
    accuracies = [t["accuracy"] for t in merged["per_fold"]]
    assert merged["pooled"]["accuracy"] == pytest.approx(np.mean(accuracies))
    spread = merged["training_variance"]["per_fold"][0]
    assert spread["spread"] == pytest.approx(max(accuracies) - min(accuracies))
    oof = read_csv(study.path / cv_mod.OOF_FILE)
    assert len(oof) == 8 and {r["seed"] for r in oof} == {"0", "1"}

    # A training of another recipe dropped into the study is refused by the merge.
    from catsdogs.runs import Run

    Run.open(cfg.replace(protocol="paper"), study.fold_dir(2)).write_json("phase2/result.json", {})
    with pytest.raises(ValueError, match="protocol: 'inner' in the study, 'paper' there"):
        study.summarize()
