"""The mitigation experiment of the limitations study: fine-tune the final model further
with augmentation aimed at the paper's limitations, then measure it like the original."""

from __future__ import annotations

import logging
from typing import Any

import keras

from catsdogs.model.classifier import HEAD_LAYER, build_classifier, get_base, unfreeze_top
from catsdogs.runs import Run
from catsdogs.training.train import fine_tune, phase_result, save_phase_result, seed_everything

log = logging.getLogger(__name__)


def train_mitigation(run: Run) -> dict[str, Any]:
    """Fine-tune the final model further with augmentation aimed at the paper's
    limitations (``augment_robust``: brightness, contrast, grayscale, erasing).

    Same unfrozen layers and learning rate as phase 2, ``mitigation_epochs`` epochs.
    Writes ``mitigation/model.keras``, ``history.csv``, ``predictions_val.csv`` and
    ``result.json``; the run's final model is left untouched.
    """

    if run.has("mitigation", "result.json"):
        log.info("mitigation already done in %s; reusing it", run.path)
        return run.read_json("mitigation/result.json")
    cfg = run.config
    source = run.final_model()
    trained = keras.models.load_model(source, compile=False)
    seed_everything(cfg, 2)
    model = build_classifier(cfg.replace(augment_robust=True), None)
    get_base(model).set_weights(get_base(trained).get_weights())
    model.get_layer(HEAD_LAYER).set_weights(trained.get_layer(HEAD_LAYER).get_weights())
    unfreeze_top(model, cfg.fine_tune_from)
    y_val, logits = fine_tune(run, model, "mitigation", cfg.mitigation_epochs)
    result = phase_result(
        run,
        "mitigation",
        {},
        run.path / "mitigation" / "history.csv",
        y_val,
        logits,
        {"source_model": source.relative_to(run.path).as_posix(), "learning_rate": cfg.phase2_lr},
    )
    save_phase_result(run, "mitigation", result)
    return result
