"""Cross-validation (:mod:`catsdogs.training.cv`) and the paired comparison (:mod:`catsdogs.studies.ablation`)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from catsdogs.config import UserError
from catsdogs.data.split import assign_folds, fold_manifest
from catsdogs.files import read_csv
from catsdogs.records import ManifestRow
from catsdogs.runs import read_manifest, read_oof
from catsdogs.studies.ablation import compare_studies, comparison_markdown, mcnemar_exact, verdict
from catsdogs.training import cv as cv_mod
from catsdogs.training import steps as steps_mod
from catsdogs.training import train as train_mod
from catsdogs.training.cv import CrossValidation

PUBLISHED_MANIFEST = Path(__file__).resolve().parent.parent / "results" / "full" / "data" / "manifest.csv"


# ----------------------------------------------------------------------------- folds


def _rows(n_cat: int, n_dog: int, val_every: int = 5) -> list[ManifestRow]:
    files = [(f"{c}/{i}.jpg", int(c == "Dog")) for c, n in (("Cat", n_cat), ("Dog", n_dog)) for i in range(n)]
    return [
        ManifestRow(file=f, label=y, split="val" if i % val_every == 0 else "train") for i, (f, y) in enumerate(files)
    ]


def _check_folds(rows: list[ManifestRow], folds: np.ndarray, k: int) -> None:
    assert len(folds) == len(rows) and set(folds) == set(range(k))  # every image in exactly one fold
    per_fold = {f: Counter(r.label for r, g in zip(rows, folds) if g == f) for f in range(k)}
    for label in (0, 1):
        counts = [per_fold[f][label] for f in range(1, k)]
        assert max(counts) - min(counts) <= 1, f"class {label} not stratified over folds 1..{k - 1}: {counts}"


def test_fold_zero_is_the_validation_split_and_the_rest_is_stratified():
    rows = _rows(23, 17)
    folds = assign_folds(rows, 5, seed=0)
    assert [r.split == "val" for r in rows] == list(folds == 0)
    _check_folds(rows, folds, 5)
    np.testing.assert_array_equal(folds, assign_folds(rows, 5, seed=0))  # seeded
    assert not np.array_equal(folds, assign_folds(rows, 5, seed=1))


def test_fold_zero_of_the_published_run_is_its_validation_split():
    rows = read_manifest(PUBLISHED_MANIFEST)
    folds = assign_folds(rows, 5, seed=42)
    assert len(rows) == 24998
    assert [r.file for r, f in zip(rows, folds) if f == 0] == [r.file for r in rows if r.split == "val"]
    _check_folds(rows, folds, 5)
    sizes = Counter(folds.tolist())
    assert max(sizes.values()) - min(sizes.values()) <= 2


def test_fold_manifest_validates_on_one_fold():
    rows = _rows(6, 6)
    folds = assign_folds(rows, 3, seed=0)
    m = fold_manifest(rows, folds, 2)
    assert [r.split == "val" for r in m] == list(folds == 2)
    assert rows[0].split in ("val", "train") and m is not rows


@pytest.mark.parametrize(("folds", "message"), [(1, "at least 2"), (5, "set test_fraction=0")])
def test_bad_fold_requests_say_what_to_do(folds, message):
    rows = _rows(5, 5)
    rows[0] = rows[0].moved_to("test")
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
    phase2 = {"phase": "phase2", "parameters": {}}
    fold.write_json("phase2/result.json", phase2 | {"epoch_seconds": [370.0, 314.0, 349.0, 356.0, 345.0, 335.0]})
    assert cv_mod.training_seconds(fold) == 10.0 + 2069.0 + 80.0  # resumed for the 6th epoch only
    fold.write_json("phase2/result.json", phase2 | {"epoch_seconds": [335.0]})
    assert cv_mod.training_seconds(fold) == 10.0 + 380.0 + 80.0
    fold.write_json("phase2/result.json", phase2)  # a record from before epochs were timed
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

    original = steps_mod._callbacks

    class InterruptFold2(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise Interrupted("simulated stop")

    def interrupting(run, phase, patience, epochs, checkpoint=True):
        cbs = original(run, phase, patience, epochs, checkpoint)
        return cbs + [InterruptFold2()] if run.path.name == "fold-2" and phase == "phase2" else cbs

    monkeypatch.setattr(steps_mod, "_callbacks", interrupting)
    with pytest.raises(Interrupted):
        study.run_all()
    assert study.run_done(0) and study.run_done(1) and not study.run_done(2)
    assert [r["epoch"] for r in read_csv(study.fold_dir(2) / "phase2" / "history.csv")] == ["0"]
    before = json.loads((study.fold_dir(2) / "phase2" / "epoch_seconds.json").read_text())
    assert list(before) == ["1"]

    monkeypatch.setattr(steps_mod, "_callbacks", original)
    study.run_all()
    assert [r["epoch"] for r in read_csv(study.fold_dir(2) / "phase2" / "history.csv")] == ["0", "1"]
    # the interrupted invocation's finished epoch keeps its time, next to the resumed one's
    epoch_seconds = json.loads((study.fold_dir(2) / "phase2" / "result.json").read_text())["epoch_seconds"]
    assert epoch_seconds[0] == before["1"] and len(epoch_seconds) == 2 and epoch_seconds[1] is not None
    result = study.summarize()

    oof = read_oof(study.path / cv_mod.OOF_FILE)
    manifest = read_manifest(study.path / "data" / "manifest.csv")
    assert sorted(oof.file) == sorted(r.file for r in manifest)  # every image exactly once
    assert len(set(oof.file)) == len(manifest) == result.images == 20
    folds = dict(zip(oof.file, oof.fold))
    for k in range(5):
        fold_files = [r.file for r in read_manifest(study.fold_dir(k) / "data" / "manifest.csv") if r.split == "val"]
        assert {f for f in fold_files} == {f for f, g in folds.items() if g == k}
    assert result.pooled.accuracy == pytest.approx(np.mean((oof.prob >= 0.5) == oof.label))
    assert set(json.loads((study.path / "fold_seconds.json").read_text())) == {str(k) for k in range(5)}

    # A phase-2 variant on the same folds shares each fold's phase 1, then the paired comparison.
    other = CrossValidation.open(cfg.replace(phase2_lr=3e-5), tmp_path / "cv-b", n_folds=5)
    other.run_all(phase1_from=study)
    other.summarize()
    for k in range(5):
        a, b = (json.loads((s.fold_dir(k) / "phase1" / "result.json").read_text()) for s in (study, other))
        assert a["val_metrics"] == b["val_metrics"]
    record = compare_studies(study, other)
    compared = record.to_dict()
    assert compared["images"] == 20 and len(compared["per_fold"]) == 5
    from catsdogs.studies.ablation import UNTESTABLE_COMPARISON

    # four images a fold: the folds may not differ at all, and then the test over folds has no verdict
    assert compared["verdict"] in ("better", "worse", "no detectable difference", UNTESTABLE_COMPARISON)
    fresh = compared["without_selection_fold"]
    assert fresh["fold"] == 0 and fresh["images"] == 16
    assert fresh["accuracy"]["first"] == pytest.approx(np.mean([f["first"] for f in compared["per_fold"][1:]]))
    assert json.loads((study.path / "compare.json").read_text())["mcnemar"]["p_value"] == compared["mcnemar"]["p_value"]
    table = comparison_markdown(record, {"cv-a": "paper", "cv-b": "lr3e-5"})
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
    from catsdogs.studies import cv_report
    from catsdogs.studies import label_audit as dataset_audit

    mistakes = [str(oof.file[i]) for i in dataset_audit.out_of_fold_mistakes(oof)]
    assert mistakes, "the smoke-size study makes out-of-fold mistakes to audit"
    audit_file = tmp_path / "audit.csv"
    audit_file.write_text(f"file,verdict,note\n{mistakes[0]},other_class,the other animal\n")
    summary = dataset_audit.audit_study(study.path, per_sheet=4, audit_file=audit_file)
    assert summary.mistakes == len(mistakes) and summary.without_verdict == len(mistakes) - 1
    flagged = {r["file"] for r in json.loads((study.path / "label_issues.json").read_text())["rows"]}
    looked_at = len(flagged | set(mistakes))
    assert len(list((study.path / "contact_sheets").glob("sheet-*.png"))) == -(-looked_at // 4)
    assert study.run.has(dataset_audit.GALLERY_FILE)

    # Published as the book reads it: every fold's accuracy, the pooled estimate, the verdict, the audit.
    from catsdogs.config import project_dir

    assert main(["publish-results", "--run-dir", str(study.path), "--out", str(tmp_path / "elsewhere")]) == 0
    assert not (project_dir() / "book" / "_generated" / cv_report.gallery_figure("cv-a")).exists()
    cv_report.publish_study(study, tmp_path / "results", figures=tmp_path / "figures")
    gallery = tmp_path / "figures" / cv_report.gallery_figure("cv-a")
    assert gallery.read_bytes() == (study.path / dataset_audit.GALLERY_FILE).read_bytes()
    assert not list((tmp_path / "results").rglob("*.jpg")), "the gallery is a book figure, not a record"
    published = cv_report.load_study(tmp_path / "results" / "cv-a", n_samples=50)
    assert [f.fold for f in published.folds] == list(range(5))
    assert published.cv.pooled.accuracy == result.pooled.accuracy
    assert published.compare == record
    assert published.label_audit == summary
    rows = cv_report.forest_rows({"cv-paper": published}, None)
    assert len(rows) == 6 and rows[-1]["pooled"] and rows[-1]["estimate"] == result.pooled_ci95["accuracy"].estimate
    text = cv_report.verdict_markdown({"cv-paper": published})
    assert "pooled out-of-fold accuracy" in text and compared["verdict"] in text
    assert f"1 of the {len(mistakes)} mistakes are mislabelled" in text
    assert ("looked at so far" in text) == (len(mistakes) > 1), "a partial audit says so"
    unfinished = dataclasses.replace(published, cv=None, folds=published.folds[:2])
    partial = cv_report.verdict_markdown({"cv-paper": unfinished})
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
    inner = {r.file for r in manifests[0] if r.split == "inner"}
    scored = {r.file for r in manifests[0] if r.split == "val"}
    assert inner and scored and not inner & scored
    assert {r.label for r in manifests[0] if r.split == "inner"} == {0, 1}  # stratified
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


# ----------------------------------------------------------------------------- exploration


@pytest.mark.slow
def test_a_candidate_explores_fold_0s_training_part_and_never_a_scored_image(petimages, tmp_path, monkeypatch, capsys):
    """``explore`` trains a declared candidate on fold 0's training part and scores it on a
    held-out share of that part: three disjoint, stratified sets, none of fold 0's scored images."""
    from conftest import tiny_config

    from catsdogs.cli.main import main
    from catsdogs.config import get_config
    from catsdogs.training import explore as explore_mod

    monkeypatch.setenv("CATSDOGS_CACHE_DIR", str(tmp_path / "cache"))
    cfg = tiny_config(petimages, protocol="inner", inner_val_fraction=0.25, phase2_epochs=2)
    smoke = get_config("smoke").training_dict()
    sets = [f"{k}={json.dumps(v)}" for k, v in cfg.training_dict().items() if v != smoke[k] and k != "weights"]
    common = ["--profile", "smoke", "--data-dir", str(petimages), "--weights", "none"]
    common += [a for s in sets for a in ("--set", s)]
    study_dir = tmp_path / "cv-inner"
    assert main(["cv", *common, "--run-dir", str(study_dir), "--prepare"]) == 0
    recipe = tmp_path / "candidate.json"
    changes = {"label_smoothing": 0.1, "phase2_schedule": "cosine", "tta_flip": True}
    recipe.write_text(json.dumps({"name": "candidate", "settings": changes, "why": {k: "tested" for k in changes}}))
    candidate = tmp_path / "explore" / "candidate"
    args = ["explore", *common, "--study", str(study_dir), "--recipe", str(recipe), "--run-dir", str(candidate)]
    assert main(args) == 0
    assert "accuracy on the exploration split" in capsys.readouterr().out

    record = json.loads((candidate / explore_mod.EXPLORE_FILE).read_text())
    assert record["changes"] == changes and record["fold"] == 0
    assert record["plain"]["n"] == record["flip"]["n"] == record["splits"]["val"]["total"]
    study = CrossValidation.load(study_dir)
    scored = {r.file for r, f in zip(study.manifest(), study.folds()) if f == 0}
    rows = read_manifest(candidate / "data" / "manifest.csv")
    by_split = {s: {r.file for r in rows if r.split == s} for s in ("train", "inner", "val")}
    assert all(by_split.values()) and not set().union(*by_split.values()) & scored
    assert sum(map(len, by_split.values())) == len(study.manifest()) - len(scored)
    assert not (by_split["train"] & by_split["inner"] or by_split["inner"] & by_split["val"])
    for split in ("inner", "val"):
        assert {r.label for r in rows if r.split == split} == {0, 1}, "stratified"
    assert json.loads((candidate / "phase2" / "result.json").read_text())["monitored_split"] == "inner"
    assert main(args) == 0, "a finished candidate is read back, not retrained"

    # The exploration split is the same for every candidate of the study.
    other = explore_mod.prepare_exploration(study, cfg.replace(dropout=0.3), tmp_path / "explore" / "other")
    assert read_manifest(other.path / "data" / "manifest.csv") == rows
    # A candidate must choose its epoch on the inner split, and use the study's features.
    with pytest.raises(UserError, match="protocol=inner"):
        explore_mod.check_candidate(study, cfg.replace(protocol="paper"))
    with pytest.raises(UserError, match="image_size"):
        explore_mod.check_candidate(study, cfg.replace(image_size=48))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ('{"settings": {}}', '"settings" object'),
        ('{"settings": {"phase2_lr": 3e-5}}', 'no reason \\("why"\\) for phase2_lr'),
        ('{"settings": {"lr": 1}, "why": {"lr": "x"}}', "unknown config field"),
    ],
)
def test_a_bad_recipe_file_is_named_with_what_to_fix(tmp_path, content, message):
    from catsdogs.config import load_recipe

    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(UserError, match=message) as info:
        load_recipe(path)
    assert str(path) in str(info.value)
    with pytest.raises(UserError, match="no recipe file"):
        load_recipe(tmp_path / "missing.json")


def test_the_cosine_schedule_warms_up_over_one_epoch_then_decays_to_zero():
    from catsdogs.model.classifier import learning_rate_schedule

    assert learning_rate_schedule("constant", 1e-5, 3, 100) == 1e-5
    schedule = learning_rate_schedule("cosine", 1e-5, 3, 100)
    rate = [float(schedule(step)) for step in (0, 50, 100, 200, 300)]
    assert rate[0] == pytest.approx(1e-6) and rate[1] == pytest.approx(5.5e-6)
    assert rate[2] == pytest.approx(1e-5) and rate[3] == pytest.approx(5e-6) and rate[4] == pytest.approx(0, abs=1e-12)


def test_flip_test_time_augmentation_averages_an_image_and_its_mirror():
    import keras
    import tensorflow as tf

    # A "model" whose logit is the mean of the image's left half minus its right half:
    # the mirror image has the opposite logit, so the flip average is zero.
    inputs = keras.Input((4, 4, 3))
    half = keras.layers.Lambda(
        lambda x: tf.reduce_mean(x[:, :, :2], axis=(1, 2, 3)) - tf.reduce_mean(x[:, :, 2:], axis=(1, 2, 3))
    )
    model = keras.Model(inputs, keras.layers.Reshape((1,))(half(inputs)))
    images = np.random.default_rng(0).uniform(0, 1, (6, 4, 4, 3)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((images, np.zeros(6, "float32"))).batch(4)
    plain = train_mod.predict_logits(model, ds)
    assert np.abs(plain).min() > 0
    np.testing.assert_allclose(train_mod.predict_logits(model, ds, flip=True), 0, atol=1e-6)
