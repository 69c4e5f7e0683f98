"""The mitigation experiment of the limitations study, with its control.

The final model is fine-tuned further twice, from the same weights, in the same data order,
for the same ``mitigation_epochs`` at the same layers and learning rate as phase 2:

* **robust**: with augmentation aimed at the paper's limitations (``augment_robust``:
  brightness, contrast, grayscale, random erasing), in ``mitigation/``;
* **plain** (the control): with the run's own augmentation only, in ``mitigation_control/``.

Both are then put through the same corruption study. What the robust augmentation is worth
is its difference from the control, which trained exactly as long: a comparison against the
final model alone would credit the remedy with whatever the extra epoch does by itself.
:func:`compare_mitigation` makes that comparison paired, image by image, and writes
``robustness/mitigation.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
from scipy.stats import bootstrap

from catsdogs.model.classifier import HEAD_LAYER, build_classifier, get_base, unfreeze_top
from catsdogs.runs import Run
from catsdogs.studies.robustness import FROM_CONFIG, evaluate_corruptions
from catsdogs.training.train import fine_tune, phase_result, save_phase_result, seed_everything

log = logging.getLogger(__name__)

#: The two further fine-tunings: name -> (run sub-directory, ``augment_robust``).
ARMS: dict[str, tuple[str, bool]] = {"robust": ("mitigation", True), "plain": ("mitigation_control", False)}
#: The corruption-study tag of each arm (``robustness/results_<tag>.json``).
STUDY_TAGS: dict[str, str] = {"robust": "mitigation", "plain": "mitigation_control"}


def train_mitigation(run: Run, arm: str = "robust") -> dict[str, Any]:
    """Fine-tune the final model further for ``mitigation_epochs`` epochs, same unfrozen
    layers and learning rate as phase 2, with the limitation-aimed augmentation
    (``arm="robust"``, into ``mitigation/``) or without it (``arm="plain"``, the control,
    into ``mitigation_control/``). Both arms start from the same weights with the same seed,
    so they see the same images in the same order.

    Writes ``<dir>/model.keras``, ``history.csv``, ``predictions_val.csv`` and
    ``result.json``; the run's final model is left untouched.
    """
    if arm not in ARMS:
        raise ValueError(f"unknown mitigation arm {arm!r}; choose from {', '.join(ARMS)}")
    phase, robust = ARMS[arm]
    if run.has(phase, "result.json"):
        log.info("%s already done in %s; reusing it", phase, run.path)
        return run.read_json(f"{phase}/result.json")
    cfg = run.config
    source = run.final_model()
    trained = keras.models.load_model(source, compile=False)
    seed_everything(cfg, 2)
    model = build_classifier(cfg.replace(augment_robust=robust), None)
    get_base(model).set_weights(get_base(trained).get_weights())
    model.get_layer(HEAD_LAYER).set_weights(trained.get_layer(HEAD_LAYER).get_weights())
    unfreeze_top(model, cfg.fine_tune_from)
    y_val, logits = fine_tune(run, model, phase, cfg.mitigation_epochs)
    result = phase_result(
        run,
        phase,
        {},
        run.path / phase / "history.csv",
        y_val,
        logits,
        {
            "source_model": source.relative_to(run.path).as_posix(),
            "learning_rate": cfg.phase2_lr,
            "augment_robust": robust,
        },
    )
    save_phase_result(run, phase, result)
    return result


def _per_image(entry: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Each image's correctness clean (level 0) and its mean correctness over the corrupted
    levels, from a corruption-study entry's ``correct`` strings."""
    right = np.array([[c == "1" for c in level] for level in entry["correct"]], dtype="float64")
    return right[0], right[1:].mean(axis=0)


def compare_mitigation(
    plain: Mapping[str, Any], robust: Mapping[str, Any], n_resamples: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """The robust augmentation against its control, per corruption, on the same images.

    For each corruption: both arms' clean accuracy and mean accuracy over the corrupted
    levels; the **gain** (robust minus plain, corrupted mean) and the **clean cost** (plain
    minus robust, clean); and the **share of the drop recovered**, the gain divided by the
    control's own drop (its clean minus its corrupted mean accuracy). Intervals are 95 %
    percentile bootstraps resampling images, both arms together (``scipy.stats.bootstrap``,
    ``paired=True``). The share is left undefined (``None``) where the control's drop is
    smaller than the study's smallest detectable drop: there is nothing measurable to recover.
    """
    out: dict[str, Any] = {
        "n_images": plain["n_images"],
        "smallest_detectable_drop": plain["smallest_detectable_drop"],
        "n_resamples": n_resamples,
        "corruptions": {},
    }
    for name, p_entry in plain["corruptions"].items():
        if name not in robust["corruptions"]:
            continue
        p_clean, p_corr = _per_image(p_entry)
        r_clean, r_corr = _per_image(robust["corruptions"][name])
        data = (p_clean, p_corr, r_clean, r_corr)

        def interval(statistic, data=data) -> dict[str, float]:
            point = float(statistic(*data))
            res = bootstrap(
                data,
                statistic,
                paired=True,
                vectorized=False,
                n_resamples=n_resamples,
                method="percentile",
                random_state=np.random.default_rng(seed),
            )
            low, high = res.confidence_interval
            return {"estimate": point, "low": float(low), "high": float(high)}

        drop = float(p_clean.mean() - p_corr.mean())
        entry: dict[str, Any] = {
            "plain": {"clean": float(p_clean.mean()), "corrupted": float(p_corr.mean())},
            "robust": {"clean": float(r_clean.mean()), "corrupted": float(r_corr.mean())},
            "plain_drop": drop,
            "gain": interval(lambda pc, pk, rc, rk: np.mean(rk) - np.mean(pk)),
            "clean_cost": interval(lambda pc, pk, rc, rk: np.mean(pc) - np.mean(rc)),
            "recovered_share": None,
        }
        if drop >= out["smallest_detectable_drop"] - 1e-9:  # equal counts as detectable
            entry["recovered_share"] = interval(
                lambda pc, pk, rc, rk: (np.mean(rk) - np.mean(pk)) / max(np.mean(pc) - np.mean(pk), 1e-9)
            )
        out["corruptions"][name] = entry
    return out


def mitigation_study(run: Run, per_class: int | None | str = FROM_CONFIG) -> dict[str, Any]:
    """Both arms trained (:func:`train_mitigation`), each through the corruption study
    (``robustness/results_<tag>.json``, reused when it holds per-image results), and their
    paired comparison (:func:`compare_mitigation`), written to ``robustness/mitigation.json``.

    Returns ``{"comparison": ..., "studies": {"plain": ..., "robust": ...}}``.
    """
    studies = {}
    for arm, (phase, _) in ARMS.items():
        train_mitigation(run, arm)
        tag = STUDY_TAGS[arm]
        studies[arm] = run.read_json_or_none(f"robustness/results_{tag}.json")
        if studies[arm] is None or "correct" not in next(iter(studies[arm]["corruptions"].values()), {}):
            studies[arm] = evaluate_corruptions(
                run, per_class=per_class, model_path=run.path / phase / "model.keras", tag=tag
            )
    cfg = run.config
    result = compare_mitigation(studies["plain"], studies["robust"], cfg.bootstrap_samples, cfg.seed)
    result["epochs"] = cfg.mitigation_epochs
    run.write_json("robustness/mitigation.json", result)
    return {"comparison": result, "studies": studies}
