"""The limitations study: corrupt validation images at graded severities and measure.

The corruptions themselves are declared in :mod:`catsdogs.studies.corruptions`. The study starts
from 8-bit images (the resized validation images rounded to integers, as a camera
or an image file would hold them), so its clean accuracy can differ by an image or
two from chapter 5's, which scores the unrounded training pipeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import keras
import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from tqdm import tqdm

from catsdogs.data import images
from catsdogs.data.split import stratified_subset
from catsdogs.evaluation import calibration
from catsdogs.evaluation.bootstrap import bootstrap_ci
from catsdogs.evaluation.explain import gradcam, peak_locations
from catsdogs.evaluation.export import current_export
from catsdogs.evaluation.predict import (
    KEEP_IN_DISTRIBUTION,
    confidence,
    fit_ood_threshold,
    load_predictor,
    predict_paths,
)
from catsdogs.files import file_sha256
from catsdogs.records import (
    CalibrationStudy,
    CorruptionCurve,
    CorruptionStudy,
    InDistribution,
    OODKind,
    OODStudy,
    Reliability,
)
from catsdogs.runs import read_predictions
from catsdogs.studies.corruptions import (
    CORRUPTIONS,
    GRADCAM_OCCLUSION,
    SEVERITIES,
    STUDY,
    corrupt,
    levels,
    occlude,
)

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- study


#: Default of ``per_class`` arguments: take ``config.robustness_per_class``.
FROM_CONFIG = "config"


def _per_class(run, per_class):
    return run.config.robustness_per_class if per_class == FROM_CONFIG else per_class


def evaluate_corruptions(
    run,
    names=STUDY,
    severities=SEVERITIES,
    per_class: int | None | str = FROM_CONFIG,
    model_path=None,
    tag: str = "",
) -> CorruptionStudy:
    """Accuracy, F1 (with bootstrap 95% CIs) and mean confidence per corruption and level
    (:func:`corruption_curves`), written to ``robustness/results.json``
    (``results_<tag>.json`` with a ``tag``) and returned."""
    results = corruption_curves(run, names, severities, per_class, model_path)
    run.write_record(results, CorruptionStudy.name_of(tag))
    return results


def corruption_curves(
    run,
    names=STUDY,
    severities=SEVERITIES,
    per_class: int | None | str = FROM_CONFIG,
    model_path=None,
) -> CorruptionStudy:
    """Accuracy, F1 (with bootstrap 95% CIs), mean confidence, and the change against the
    clean images, paired (:func:`_paired_change`), per corruption and level.

    Uses the run's final model (or ``model_path``) on a fixed stratified subset of
    the validation split (``per_class`` images of each class; ``None``: all; by
    default the config's ``robustness_per_class``); the run may be a published record
    (``results/full``), whose images are found through ``$CATSDOGS_DATA_DIR``.
    """
    per_class = _per_class(run, per_class)
    cfg = run.config
    predictor = load_predictor(model_path or run.final_model())
    paths, labels = run.split_paths("val")
    idx = stratified_subset(labels, per_class, cfg.seed)
    labels = labels[idx]
    clean = images.load_images([paths[i] for i in idx], predictor.image_size).astype("float32")
    unknown = [n for n in names if n not in CORRUPTIONS and n != GRADCAM_OCCLUSION]
    if unknown:
        raise ValueError(f"unknown corruption(s) {unknown}; choose from {', '.join(STUDY)}")
    clean_probs = predictor.predict(clean)
    clean_right = (clean_probs >= 0.5) == (labels == 1)
    peaks = None
    if GRADCAM_OCCLUSION in names:
        heatmaps, _ = gradcam(keras.models.load_model(predictor.path, compile=False), clean)
        peaks = peak_locations(heatmaps)
    curves: dict[str, dict[str, list]] = {}
    steps = [(n, s) for n in names for s in severities]
    for name, sev in tqdm(steps, desc="corruptions", unit="level"):
        if sev == 0:
            probs = clean_probs
        elif name == GRADCAM_OCCLUSION:
            probs = predictor.predict(occlude(clean, levels("occlusion")[sev], centers=peaks))
        else:
            probs = predictor.predict(corrupt(clean, name, sev, seed=cfg.seed))
        ci = bootstrap_ci(
            labels, probs, n_samples=cfg.bootstrap_samples, seed=cfg.seed, metric_names=("accuracy", "f1")
        )
        right = (probs >= 0.5) == (labels == 1)
        level = {
            "severity": sev,
            **{f"{m}{end}": ci[m][part] for m in ("accuracy", "f1") for end, part in CI_PARTS},
            "mean_confidence": float(np.mean(confidence(probs))),
            # each image's outcome, one character per image ("1": right), for paired comparisons
            "correct": "".join("1" if r else "0" for r in right),
            # paired with the clean images: which images the corruption broke, which it fixed
            **_paired_change(clean_right, right),
        }
        for key, value in level.items():
            curves.setdefault(name, {}).setdefault(key, []).append(value)
    return CorruptionStudy(
        model=str(predictor.path.name),
        model_sha256=file_sha256(predictor.path),
        n_images=int(len(idx)),
        per_class=per_class,
        levels={n: list(levels(n if n in CORRUPTIONS else "occlusion")) for n in names},
        corruptions={name: CorruptionCurve(**curve) for name, curve in curves.items()},
        smallest_detectable_drop=smallest_detectable_drop(len(idx)),
    )


#: A metric's estimate and its 95 % interval's ends, as a corruption curve names them
#: (``accuracy``, ``accuracy_low``, ``accuracy_high``) and as :func:`bootstrap_ci` does.
CI_PARTS = (("", "estimate"), ("_low", "low"), ("_high", "high"))


def _paired_change(clean_right: np.ndarray, corrupted_right: np.ndarray) -> dict[str, float | int]:
    """The same images clean and corrupted: how many the corruption made wrong (``lost``)
    and right (``gained``), and the exact McNemar p-value of that split (a two-sided
    binomial test of the changed images against 1/2, :func:`scipy.stats.binomtest`)."""
    lost = int(np.sum(clean_right & ~corrupted_right))
    gained = int(np.sum(~clean_right & corrupted_right))
    p = binomtest(lost, lost + gained, 0.5).pvalue if lost + gained else 1.0
    return {"lost": lost, "gained": gained, "paired_p": float(p)}


def smallest_detectable_drop(n_images: int, alpha: float = 0.05) -> float:
    """The smallest accuracy drop a paired test on ``n_images`` images could call significant
    at ``alpha``: ``k / n`` for the least ``k`` images lost, none gained, whose exact McNemar
    p-value is below ``alpha`` (6 at 0.05). Any gain raises it: a smaller drop is invisible."""
    k = 1
    while binomtest(k, k, 0.5).pvalue >= alpha:
        k += 1
    return k / n_images


# ----------------------------------------------------------------------------- OOD

OOD_KINDS: tuple[str, ...] = ("uniform_noise", "gaussian_noise", "solid_colour", "background_crop")


def make_ood(clean: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """Images that are neither cat nor dog, made from the data's own format.

    ``uniform_noise`` / ``gaussian_noise``: pixel noise; ``solid_colour``: one random
    colour per image; ``background_crop``: a random corner of each real image,
    a quarter of its width and height (1/16 of its area, where the animal rarely
    is), upsampled back to full size -- mostly background.
    """
    rng = np.random.default_rng(seed)
    n, h, w, _ = clean.shape
    if kind == "uniform_noise":
        return rng.uniform(0, 255, clean.shape).astype("float32")
    if kind == "gaussian_noise":
        return np.clip(rng.normal(127.5, 50, clean.shape), 0, 255).astype("float32")
    if kind == "solid_colour":
        colours = rng.uniform(0, 255, (n, 1, 1, 3))
        return np.broadcast_to(colours, clean.shape).astype("float32").copy()
    if kind == "background_crop":
        ch, cw = h // 4, w // 4
        corners = rng.integers(0, 4, size=n)
        out = np.empty_like(clean, dtype="float32")
        for i, c in enumerate(corners):
            top = 0 if c in (0, 1) else h - ch
            left = 0 if c in (0, 2) else w - cw
            out[i] = images.resize_image(clean[i, top : top + ch, left : left + cw], h).numpy()
        return out
    raise ValueError(f"unknown out-of-distribution kind {kind!r}; choose from {', '.join(OOD_KINDS)}")


#: Where :func:`unsure_threshold` found the threshold of a run with an export.
EXPORTED_THRESHOLD = "export/export.json"


@dataclass(frozen=True)
class UnsureThreshold:
    """The threshold of the *unsure* flag, where it was found and on how many images it was fitted."""

    threshold: float
    source: str
    n_images: int


def unsure_threshold(run) -> UnsureThreshold:
    """The threshold of the *unsure* flag exactly as the model is published with it: the
    Keras export's ``ood_threshold`` (``export/export.json``: the confidence quantile that
    keeps :data:`~catsdogs.evaluation.predict.KEEP_IN_DISTRIBUTION` of the whole validation
    split), when that export was made from the current final model. A run not yet exported
    (chapter 6 opened on its own) fits it the same way, on
    the final model's predictions of the whole validation split.

    The model card, ``predict``, the Try page and chapter 6 then show one value."""
    export = current_export(run)  # made from the run's current final model, or None
    if export is not None:
        keras_export = export.keras
        return UnsureThreshold(float(keras_export.ood_threshold), EXPORTED_THRESHOLD, int(keras_export.val_metrics.n))
    paths, _ = run.split_paths("val")
    probs = predict_paths(load_predictor(run.final_model()), paths)
    return UnsureThreshold(fit_ood_threshold(probs), "the final model on the validation split", len(paths))


def ood_study(run, kinds=OOD_KINDS, per_class: int | None | str = FROM_CONFIG) -> OODStudy:
    """What the model says on non-pet images, and whether the *unsure* flag catches them.

    The threshold is the published one (:func:`unsure_threshold`, fitted on the whole
    validation split to keep :data:`~catsdogs.evaluation.predict.KEEP_IN_DISTRIBUTION` of
    its images); for the real images of the study and each kind of made-up input we report
    the mean confidence, the share called "dog", the share flagged (confidence below the
    threshold) and the AUROC of confidence for separating real from made-up images. Writes
    ``robustness/ood.json``.
    """
    cfg = run.config
    per_class = _per_class(run, per_class)
    predictor = load_predictor(run.final_model())
    paths, labels = run.split_paths("val")
    idx = stratified_subset(labels, per_class, cfg.seed)
    clean = images.load_images([paths[i] for i in idx], predictor.image_size).astype("float32")
    probs_id = predictor.predict(clean)
    conf_id = confidence(probs_id)
    fitted = unsure_threshold(run)
    by_kind = {}
    for kind in kinds:
        probs = predictor.predict(make_ood(clean, kind, seed=cfg.seed))
        conf = confidence(probs)
        y = np.r_[np.ones_like(conf_id), np.zeros_like(conf)]
        by_kind[kind] = OODKind(
            mean_confidence=float(conf.mean()),
            share_called_dog=float(np.mean(probs >= 0.5)),
            share_flagged=float(np.mean(conf < fitted.threshold)),
            auroc_confidence=float(roc_auc_score(y, np.r_[conf_id, conf])),
            confidence=conf.round(4).tolist(),
        )
    result = OODStudy(
        n_images=int(len(idx)),
        threshold=fitted.threshold,
        threshold_source=fitted.source,
        threshold_n_images=fitted.n_images,
        keep_in_distribution=KEEP_IN_DISTRIBUTION,
        in_distribution=InDistribution(
            mean_confidence=float(conf_id.mean()),
            share_flagged=float(np.mean(conf_id < fitted.threshold)),
            confidence=conf_id.round(4).tolist(),
        ),
        kinds=by_kind,
    )
    run.write_record(result)
    return result


# ----------------------------------------------------------------------------- calibration


def calibration_study(run, n_bins: int = 15) -> CalibrationStudy:
    """Reliability and ECE of the final model, before and after temperature scaling.

    The full run trains on every training image, so the temperature is fitted by
    two-fold cross-fitting on the validation split (scikit-learn's seeded
    ``StratifiedKFold``: fit on one stratified half, apply to the other, and swap);
    every validation image is then scored by a temperature it was not used to fit.
    Writes ``robustness/calibration.json``.
    """
    p = read_predictions(run.final_predictions())
    y, logits = p.label, p.logit
    scaled = np.empty(len(y))
    temps = []
    halves = StratifiedKFold(n_splits=2, shuffle=True, random_state=run.config.seed)
    for apply, fit in halves.split(logits, y):
        t = calibration.fit_temperature(logits[fit], y[fit])
        temps.append(t)
        scaled[apply] = calibration.apply_temperature(logits[apply], t)
    result = CalibrationStudy(
        temperatures=temps,
        before=Reliability.from_dict(calibration.reliability(y, p.prob, n_bins=n_bins)),
        after=Reliability.from_dict(calibration.reliability(y, scaled, n_bins=n_bins)),
        accuracy_before=float(np.mean((p.prob >= 0.5) == y)),
        accuracy_after=float(np.mean((scaled >= 0.5) == y)),
    )
    run.write_record(result)
    return result
