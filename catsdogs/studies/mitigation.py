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
import warnings
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from scipy.stats import DegenerateDataWarning, bootstrap

from catsdogs.files import file_sha256
from catsdogs.model.classifier import HEAD_LAYER, build_classifier, get_base, unfreeze_top
from catsdogs.records import (
    ArmAccuracy,
    CorruptionCurve,
    CorruptionStudy,
    Interval,
    MitigationComparison,
    MitigationEffect,
    Parameters,
    PhaseResult,
    RecoveredShare,
)
from catsdogs.runs import Run
from catsdogs.studies.robustness import FROM_CONFIG, evaluate_corruptions
from catsdogs.training.steps import fit_phase, phase_result, save_phase_result
from catsdogs.training.train import seed_everything

log = logging.getLogger(__name__)

#: The two further fine-tunings: name -> (run sub-directory, ``augment_robust``).
ARMS: dict[str, tuple[str, bool]] = {"robust": ("mitigation", True), "plain": ("mitigation_control", False)}
#: The corruption-study tag of each arm (``robustness/results_<tag>.json``).
STUDY_TAGS: dict[str, str] = {"robust": "mitigation", "plain": "mitigation_control"}


def _train_mitigation(run: Run, arm: str = "robust") -> PhaseResult:
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
    cfg = run.config
    source = run.final_model()
    if done := run.result(phase):
        if done.source_sha256 not in (None, file_sha256(source)):
            raise ValueError(
                f"{run.path / phase} was fine-tuned from another final model than {source}; "
                f"delete {run.path / phase} (and robustness/results_{STUDY_TAGS[arm]}.json) to train it again"
            )
        log.info("%s already done in %s; reusing it", phase, run.path)
        return done
    trained = keras.models.load_model(source, compile=False)
    seed_everything(cfg, 2)
    model = build_classifier(cfg.replace(augment_robust=robust), None)
    get_base(model).set_weights(get_base(trained).get_weights())
    model.get_layer(HEAD_LAYER).set_weights(trained.get_layer(HEAD_LAYER).get_weights())
    unfreeze_top(model, cfg.fine_tune_from)
    y_val, logits = fit_phase(run, model, phase, cfg.mitigation_epochs)
    return save_phase_result(
        run,
        phase_result(
            run,
            phase,
            Parameters(),
            y_val,
            logits,
            source_model=source.relative_to(run.path).as_posix(),
            source_sha256=file_sha256(source),
            learning_rate=cfg.phase2_lr,
            augment_robust=robust,
        ),
    )


def _per_image(curve: CorruptionCurve, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Each image's correctness clean (level 0) and its mean correctness over the corrupted
    levels, from a corruption curve's ``correct`` strings (``name``: the corruption, for errors)."""
    if curve.correct is None:
        raise ValueError(
            f"the {name} curve of a mitigation arm's corruption study has no per-image results "
            "(robustness/results_<arm>.json made by an older catsdogs); delete that file and run the study again"
        )
    right = np.array([[c == "1" for c in level] for level in curve.correct], dtype="float64")
    return right[0], right[1:].mean(axis=0)


def _paired_statistics(p_clean, p_corr, r_clean, r_corr, axis=-1):
    """Gain, clean cost, the control's drop and the share of it recovered, for one (re)sample
    of images; the share is NaN where the control did not drop (it is undefined there)."""
    gain = np.mean(r_corr, axis=axis) - np.mean(p_corr, axis=axis)
    cost = np.mean(p_clean, axis=axis) - np.mean(r_clean, axis=axis)
    drop = np.mean(p_clean, axis=axis) - np.mean(p_corr, axis=axis)
    share = np.divide(gain, drop, out=np.full_like(gain, np.nan), where=drop > 0)
    return np.stack([gain, cost, drop, share])


#: The share of the drop recovered gets an interval only when at most this fraction of the
#: resamples leave it undefined (no drop to divide by); else its interval is unbounded.
UNDEFINED_SHARE_ALLOWED = 0.025


def compare_mitigation(
    plain: CorruptionStudy, robust: CorruptionStudy, n_resamples: int = 1000, seed: int = 0, **fields: Any
) -> MitigationComparison:
    """The robust augmentation against its control, per corruption, on the same images.

    For each corruption: both arms' clean accuracy and mean accuracy over the corrupted
    levels; the **gain** (robust minus plain, corrupted mean), the **clean cost** (plain minus
    robust, clean), the control's own **drop** (its clean minus its corrupted mean) and the
    **share of the drop recovered** (gain / drop). Intervals are 95 % percentile bootstraps
    resampling images, both arms and all four figures on the same resamples
    (``scipy.stats.bootstrap``, ``paired=True``). The share is reported only where the drop's
    interval lies above zero; its interval is left open (``low``/``high`` ``None``) when more
    than :data:`UNDEFINED_SHARE_ALLOWED` of the resamples have no drop to divide by.
    ``fields`` (``epochs``, ``source_sha256``) are recorded beside.

    The two studies must cover the same images and levels. Occlusion at the Grad-CAM peak
    hides each arm's own peak, so there "the same images" means the same photos.
    """
    for key in ("n_images", "per_class", "levels"):
        if getattr(plain, key) != getattr(robust, key):
            raise ValueError(
                f"the two corruption studies differ in {key}: {getattr(plain, key)!r} and {getattr(robust, key)!r}"
            )
    effects = {}
    for name, p_curve in plain.corruptions.items():
        if name not in robust.corruptions:
            continue
        data = (*_per_image(p_curve, name), *_per_image(robust.corruptions[name], name))
        point = _paired_statistics(*data)
        with warnings.catch_warnings():
            # a figure every resample gives alike (no image changed, e.g. no clean cost) has a
            # degenerate but correct interval [x, x]: scipy's warning about it is noise here
            warnings.simplefilter("ignore", DegenerateDataWarning)
            res = bootstrap(
                data,
                _paired_statistics,
                paired=True,
                vectorized=True,
                n_resamples=n_resamples,
                method="percentile",
                rng=np.random.default_rng(seed),
            )
        low, high = res.confidence_interval

        def interval(i: int, low=low, high=high, point=point) -> Interval:
            return Interval(estimate=float(point[i]), low=float(low[i]), high=float(high[i]))

        share = None
        if interval(2).low > 0:
            shares = res.bootstrap_distribution[3]
            undefined = float(np.mean(np.isnan(shares)))
            lo, hi = np.nanpercentile(shares, [2.5, 97.5]) if undefined <= UNDEFINED_SHARE_ALLOWED else (None, None)
            share = RecoveredShare(
                estimate=float(point[3]),
                low=None if lo is None else float(lo),
                high=None if hi is None else float(hi),
                undefined_resamples=undefined,
            )
        effects[name] = MitigationEffect(
            plain=ArmAccuracy(clean=float(np.mean(data[0])), corrupted=float(np.mean(data[1]))),
            robust=ArmAccuracy(clean=float(np.mean(data[2])), corrupted=float(np.mean(data[3]))),
            gain=interval(0),
            clean_cost=interval(1),
            plain_drop=interval(2),
            recovered_share=share,
        )
    return MitigationComparison(n_images=plain.n_images, n_resamples=n_resamples, corruptions=effects, **fields)


@dataclass(frozen=True)
class MitigationStudy:
    """:func:`mitigation_study`'s result: the paired comparison and each arm's corruption study."""

    comparison: MitigationComparison
    studies: dict[str, CorruptionStudy]


def mitigation_study(run: Run, per_class: int | None | str = FROM_CONFIG) -> MitigationStudy:
    """Both arms trained (:func:`_train_mitigation`), each through the corruption study
    (``robustness/results_<tag>.json``, reused when made by that arm's model at this
    ``per_class`` with per-image results), and their
    paired comparison (:func:`compare_mitigation`), written to ``robustness/mitigation.json``.
    """
    studies = {}
    cfg = run.config
    wanted = cfg.robustness_per_class if per_class == FROM_CONFIG else per_class
    for arm, (phase, _) in ARMS.items():
        _train_mitigation(run, arm)
        model, tag = run.model_path(phase), STUDY_TAGS[arm]
        done = run.corruption_study(tag)
        reusable = (
            done is not None
            and done.per_class == wanted
            and done.model_sha256 == file_sha256(model)
            and all(curve.correct is not None for curve in done.corruptions.values())
        )
        studies[arm] = done if reusable else evaluate_corruptions(run, per_class=per_class, model_path=model, tag=tag)
    result = compare_mitigation(
        studies["plain"],
        studies["robust"],
        cfg.bootstrap_samples,
        cfg.seed,
        epochs=cfg.mitigation_epochs,
        source_sha256=file_sha256(run.final_model()),
    )
    run.write_record(result)
    return MitigationStudy(result, studies)
