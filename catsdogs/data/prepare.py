"""A run's data: validate the files, split them, write the manifest; and the ``tf.data``
pipeline of one split of that manifest."""

from __future__ import annotations

from typing import Any

from catsdogs.config import cache_dir
from catsdogs.data import download, images, scan
from catsdogs.data.split import carve_inner, split_manifest, split_table
from catsdogs.runs import Run, write_manifest


def prepare_data(run: Run, progress: bool = True, inner: bool = True) -> dict[str, Any]:
    """Validate the dataset and write the split manifest (skipped when done).

    Under the inner protocol (and unless ``inner`` is false: a cross-validation study's
    whole-dataset manifest, whose folds carve their own), part of the training images
    becomes the ``inner`` split (:func:`~catsdogs.data.split.carve_inner`).
    Writes ``data/scan.json`` (counts, skipped files and reasons, conversions),
    ``data/manifest.csv`` and the data section of ``provenance.json``.
    """
    if run.has("data", "scan.json") and run.has("data", "manifest.csv"):
        return run.read_json("data/scan.json")
    cfg = run.config
    with run.timed("data_scan"):
        root = scan.find_data_dir(cfg)
        report = scan.scan_dataset(
            root, cache_dir(cfg), max_per_class=cfg.max_images_per_class, seed=cfg.seed, progress=progress
        )
        rows = split_manifest(report, cfg.val_fraction, cfg.test_fraction, cfg.seed)
        if inner and cfg.protocol == "inner":
            rows = carve_inner(rows, cfg.inner_val_fraction, cfg.seed)
        sha = write_manifest(rows, run.file("data", "manifest.csv"))
    summary = report.summary() | {
        "converted_root": report.converted_root,
        "manifest_sha256": sha,
        "split": split_table(rows),
        "skipped_detail": report.skipped,
        "converted_detail": [(r.file, r.note) for r in report.converted],
    }
    run.write_json("data/scan.json", summary)
    run.record_provenance(
        data={
            "root": str(root),
            "usable_images": len(rows),
            "per_class": report.counts(),
            "skipped": len(report.skipped),
            "converted": len(report.converted),
            "manifest_sha256": sha,
            "download": download.fetch_record(cache_dir(cfg)),
        }
    )
    return summary


def split_dataset(run: Run, split: str, shuffle: bool = False):
    """The ``tf.data`` pipeline of one split (batched, prefetched)."""
    cfg = run.config
    paths, labels = run.split_paths(split)
    return images.image_dataset(paths, labels, cfg.image_size, cfg.batch_size, shuffle=shuffle, seed=cfg.training_seed)
