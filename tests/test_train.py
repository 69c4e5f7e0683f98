"""Tests of :mod:`catsdogs.training.steps` and :mod:`catsdogs.training.train`, :mod:`catsdogs.model.classifier` and :func:`catsdogs.evaluation.evaluate.evaluate_run`.

Training runs on a dozen synthetic images per class at 32 pixels with a randomly
initialised MobileNetV2 (``weights="none"``): the point is the plumbing (run
directory, both phase-1 modes, resume), not the accuracy. One full run is shared by
the module; the resume test reuses its data split and phase 1.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_config, write_petimages

from catsdogs.data.images import read_image_file
from catsdogs.files import file_sha256, read_csv
from catsdogs.runs import Run, read_manifest, read_predictions, select
from catsdogs.training import steps

pytestmark = pytest.mark.usefixtures("isolated_env")

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Both phases trained once (cached phase-1 features) on synthetic data."""
    base = tmp_path_factory.mktemp("trained")
    root = write_petimages(base / "PetImages", n_per_class=12, size=40)
    cfg = tiny_config(root, cache_dir=str(base / "cache"))
    with pytest.MonkeyPatch.context() as mp:  # no real locations leak in
        for name in ("CATSDOGS_DATA_DIR", "CATSDOGS_WEIGHTS"):
            mp.delenv(name, raising=False)
        mp.setenv("CATSDOGS_CACHE_DIR", str(base / "cache"))
        return steps.train_run(cfg, base / "run")


EXPECTED_FILES = [
    "config.json",
    "provenance.json",
    "timings.json",
    "data/scan.json",
    "data/manifest.csv",
    "phase1/history.csv",
    "phase1/result.json",
    "phase1/model.keras",
    "phase1/predictions_val.csv",
    "phase2/history.csv",
    "phase2/result.json",
    "phase2/model.keras",
    "phase2/predictions_val.csv",
]


# ----------------------------------------------------------------------------- a full run


def test_train_writes_a_complete_run_dir(trained_run: Run) -> None:
    missing = [f for f in EXPECTED_FILES if not (trained_run.path / f).is_file()]
    assert missing == []
    assert not (trained_run.path / "phase2" / "backup").exists()  # removed after a finished fit

    prov = trained_run.read_json("provenance.json")
    assert {"environment", "data", "weights"} <= set(prov)
    assert prov["data"]["usable_images"] == 24 and prov["data"]["per_class"] == {"cat": 12, "dog": 12}
    assert prov["data"]["manifest_sha256"] == file_sha256(trained_run.path / "data" / "manifest.csv")
    assert prov["weights"]["kind"] == "random" and prov["weights"]["source"] == "none"

    timings = trained_run.timings()
    assert {"data_scan", "phase1_features", "phase1_train", "phase2_train"} <= set(timings)

    scan = trained_run.read_json("data/scan.json")
    assert scan["usable"] == 24 and scan["split"]["val"]["total"] == 5


def test_phase_results(trained_run: Run) -> None:
    p1 = trained_run.read_json("phase1/result.json")
    p2 = trained_run.read_json("phase2/result.json")
    assert p1["phase"] == "phase1" and p1["cached_features"] is True
    assert p1["epochs_run"] == 2 and p1["history"]["epoch"] == [0.0, 1.0]
    assert p2["epochs_run"] == 2 and p2["history"]["epoch"] == [0.0, 1.0]
    assert {"accuracy", "precision", "recall", "f1"} <= set(p1["val_metrics"])

    unfrozen = p2["unfrozen"]
    assert unfrozen["first_layer"] == "block_16_expand" and unfrozen["n_unfrozen"] > 0
    assert p2["parameters"]["trainable"] > p1["parameters"]["trainable"]
    assert p2["parameters"]["total"] == p1["parameters"]["total"]
    assert p2["model_sha256"] == file_sha256(trained_run.path / "phase2" / "model.keras")


def test_predictions_csv_matches_val_split(trained_run: Run) -> None:
    val = select(read_manifest(trained_run.path / "data" / "manifest.csv"), "val")
    for phase in ("phase1", "phase2"):
        rows = read_csv(trained_run.path / phase / "predictions_val.csv")
        assert [r["file"] for r in rows] == [r.file for r in val]
        assert [int(r["label"]) for r in rows] == [r.label for r in val]
        probs = np.array([float(r["prob_dog"]) for r in rows])
        logits = np.array([float(r["logit"]) for r in rows])
        assert np.all((probs >= 0) & (probs <= 1))
        np.testing.assert_allclose(probs, 1 / (1 + np.exp(-logits)), atol=1e-5)


def test_saved_model_predicts_like_the_predictions_file(trained_run: Run) -> None:
    model = keras.models.load_model(trained_run.path / "phase2" / "model.keras", compile=False)
    assert model.input_shape == (None, 32, 32, 3)
    paths, _ = trained_run.split_paths("val")
    images = np.stack([read_image_file(p, 32) for p in paths])
    logits = model.predict(images, verbose=0).reshape(-1)
    saved = read_predictions(trained_run.path / "phase2" / "predictions_val.csv").logit
    np.testing.assert_allclose(logits, saved, atol=1e-3)


def test_second_call_is_a_noop(trained_run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    before = {p: p.stat().st_mtime_ns for p in trained_run.path.rglob("*") if p.is_file()}

    def must_not_run(*args, **kwargs):
        raise AssertionError("finished work was redone")

    monkeypatch.setattr("catsdogs.model.classifier.build_classifier", must_not_run)
    monkeypatch.setattr("catsdogs.data.scan.scan_dataset", must_not_run)
    monkeypatch.setattr(keras.models, "load_model", must_not_run)
    again = steps.train_run(trained_run.config, trained_run.path)
    assert again.path == trained_run.path
    after = {p: p.stat().st_mtime_ns for p in before}
    assert after == before


def test_evaluate_run_writes_metrics_with_ci(trained_run: Run) -> None:
    from catsdogs.evaluation.evaluate import evaluate_run

    result = evaluate_run(trained_run)
    stored = json.loads((trained_run.path / "eval" / "metrics.json").read_text())
    assert stored == result.to_dict()
    assert stored["source"] == "phase2" and stored["split"] == "val"
    assert {"accuracy", "f1"} <= set(stored["metrics"])
    ci = stored["ci95"]["accuracy"]
    assert ci["low"] <= ci["estimate"] <= ci["high"]
    assert ci["estimate"] == stored["metrics"]["accuracy"]


# ----------------------------------------------------------------------------- phase 1 end to end


def test_phase1_without_cached_features(make_petimages, make_config, tmp_path: Path) -> None:
    cfg = make_config(make_petimages(n_per_class=8), phase1_cached_features=False, phase1_epochs=1)
    run = Run.open(cfg, tmp_path / "run")
    result = steps.train_phase1(run)
    assert result.cached_features is False and result.epochs_run == 1
    for f in ("phase1/model.keras", "phase1/history.csv", "phase1/predictions_val.csv", "phase1/last_epoch.keras"):
        assert (run.path / f).is_file(), f
    assert not list((run.path / "phase1").glob("features_*.npy"))  # trained through the base
    assert "phase1_features" not in run.timings() and "phase1_train" in run.timings()
    assert run.final_model() == run.path / "phase1" / "model.keras"


# ----------------------------------------------------------------------------- resume


class Interrupted(Exception):
    """Stands in for a Colab disconnect / Ctrl-C in the middle of phase 2."""


def test_phase2_resumes_after_interruption(trained_run: Run, tmp_path: Path, monkeypatch) -> None:
    # A run whose data split and phase 1 are done (copied from the module's run).
    path = tmp_path / "run"
    path.mkdir()
    shutil.copy(trained_run.path / "config.json", path / "config.json")
    for folder in ("data", "phase1"):
        shutil.copytree(trained_run.path / folder, path / folder)
    cfg = trained_run.config
    assert cfg.phase2_epochs == 2

    class InterruptAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:  # "Epoch 1/2": after BackupAndRestore (first callback) saved it
                raise Interrupted("simulated interruption")

    original = steps._callbacks

    def interrupting(run, phase, patience, epochs, checkpoint=True):
        cbs = original(run, phase, patience, epochs, checkpoint)
        assert isinstance(cbs[0], keras.callbacks.BackupAndRestore)
        return cbs + [InterruptAfterFirstEpoch()] if phase == "phase2" else cbs

    monkeypatch.setattr(steps, "_callbacks", interrupting)
    with pytest.raises(Interrupted):
        steps.train_run(cfg, path)
    assert not (path / "phase2" / "result.json").exists()
    assert (path / "phase2" / "backup").is_dir()
    assert [r["epoch"] for r in read_csv(path / "phase2" / "history.csv")] == ["0"]
    assert json.loads((path / "phase2" / "resume" / "state.json").read_text())["epoch"] == 1

    monkeypatch.setattr(steps, "_callbacks", original)
    steps.train_run(cfg, path)
    epochs = [r["epoch"] for r in read_csv(path / "phase2" / "history.csv")]
    assert epochs == ["0", "1"], f"finished epochs were repeated: {epochs}"
    result = json.loads((path / "phase2" / "result.json").read_text())
    assert result["epochs_run"] == 2
    assert not (path / "phase2" / "backup").exists() and not (path / "phase2" / "resume").exists()
    # and it ends exactly where the uninterrupted run of the module did
    assert read_csv(path / "phase2" / "history.csv") == read_csv(trained_run.path / "phase2" / "history.csv")
    resumed, whole = (read_predictions(r / "phase2" / "predictions_val.csv") for r in (path, trained_run.path))
    np.testing.assert_array_equal(resumed.logit, whole.logit)


# ----------------------------------------------------------------------------- the model


@pytest.fixture(scope="module")
def classifier():
    from catsdogs.model.classifier import build_classifier

    return build_classifier(tiny_config(), None)


def test_unfreeze_top_unknown_layer_lists_valid_names(classifier) -> None:
    from catsdogs.model.classifier import unfreeze_top

    with pytest.raises(ValueError) as info:
        unfreeze_top(classifier, "block_99_expand")
    message = str(info.value)
    assert "block_99_expand" in message and "fine_tune_from" in message
    assert "block_16_expand" in message and "Conv_1" in message
    base = classifier.get_layer("mobilenetv2_base")
    assert "block_16_expand" in [layer.name for layer in base.layers]


def test_preprocess_layer_matches_keras_preprocess_input(classifier) -> None:
    from keras.applications.mobilenet_v2 import preprocess_input

    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    ours = keras.ops.convert_to_numpy(classifier.get_layer("preprocess")(x))
    np.testing.assert_allclose(ours, preprocess_input(x.copy()), rtol=1e-6, atol=1e-6)


def test_feature_extractor_and_head_shapes(classifier) -> None:
    from catsdogs.model.classifier import build_head, feature_extractor

    x = np.zeros((3, 32, 32, 3), "float32")
    feats = feature_extractor(classifier).predict(x, verbose=0)
    assert feats.shape == (3, 1280)
    assert classifier.predict(x, verbose=0).shape == (3, 1)
    assert build_head(tiny_config(), 1280).output_shape == (None, 1)


def test_trainable_parameters_grow_from_phase1_to_phase2() -> None:
    from catsdogs.model.classifier import build_classifier, get_base, parameter_counts, unfreeze_top

    model = build_classifier(tiny_config(), None)
    phase1 = parameter_counts(model)
    assert phase1.trainable == 1280 + 1  # only the head's Dense layer
    info = unfreeze_top(model, "block_16_expand")
    phase2 = parameter_counts(model)
    assert phase2.trainable > phase1.trainable
    assert phase2.total == phase1.total == phase2.trainable + phase2.non_trainable
    base = get_base(model)
    assert not any(layer.trainable for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization))
    assert not base.get_layer("block_15_expand").trainable and base.get_layer("block_16_expand").trainable
    assert info.first_layer == "block_16_expand" and info.n_unfrozen > 0


def test_export_is_reused_until_the_final_model_changes(trained_run: Run, tmp_path: Path, monkeypatch) -> None:
    from catsdogs.evaluation import export

    run = Run.load(shutil.copytree(trained_run.path, tmp_path / "run"))
    first = export.export_run(run, calibration_images=8)
    assert first.source_sha256 == file_sha256(run.path / "phase2" / "model.keras")
    assert export.current_export(run) == first

    def must_not_run(*args, **kwargs):
        raise AssertionError("an up-to-date export was redone")

    monkeypatch.setattr(export, "convert_to_tflite", must_not_run)
    assert export.export_run(run) == first
    with pytest.raises(AssertionError, match="redone"):
        export.export_run(run, force=True)
    shutil.copy(run.path / "phase1" / "model.keras", run.path / "phase2" / "model.keras")
    assert export.current_export(run) is None, "a changed final model makes the export stale"
