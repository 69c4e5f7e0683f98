"""The data split as a function of the settings: validate the files, split them, and say
what was found. Writing it into a run directory is the step layer's
(:func:`catsdogs.training.steps.prepare_data`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from catsdogs.config import Config, cache_dir
from catsdogs.data import download, scan
from catsdogs.data.split import carve_inner, split_manifest, split_table
from catsdogs.records import DataProvenance, FetchRecord, ManifestRow, Scan


@dataclass(frozen=True)
class PreparedData:
    """A validated, split dataset: the scan's report, the folder it read, its manifest rows
    (file, label, size, split) and the record of its download (``None`` if none)."""

    root: Path
    report: scan.ScanReport
    rows: list[ManifestRow]
    download: FetchRecord | None

    def records(self, manifest_sha256: str) -> tuple[Scan, DataProvenance]:
        """``data/scan.json`` and the data section of ``provenance.json``, once the manifest
        is written and its sha256 known."""
        report = self.report
        summary = Scan(
            **report.summary(),
            converted_root=report.converted_root,
            manifest_sha256=manifest_sha256,
            split=split_table(self.rows),
            skipped_detail=[list(s) for s in report.skipped],
            converted_detail=[[r.file, r.note] for r in report.converted],
        )
        provenance = DataProvenance(
            root=str(self.root),
            usable_images=len(self.rows),
            per_class=report.counts(),
            skipped=len(report.skipped),
            converted=len(report.converted),
            manifest_sha256=manifest_sha256,
            download=self.download,
        )
        return summary, provenance


def prepare_split(cfg: Config, progress: bool = True, inner: bool = True) -> PreparedData:
    """Validate the dataset of ``cfg`` and split it.

    Under the inner protocol (and unless ``inner`` is false: a cross-validation study's
    whole-dataset manifest, whose folds carve their own), part of the training images
    becomes the ``inner`` split (:func:`~catsdogs.data.split.carve_inner`).
    """
    root = scan.find_data_dir(cfg)
    report = scan.scan_dataset(
        root, cache_dir(cfg), max_per_class=cfg.max_images_per_class, seed=cfg.seed, progress=progress
    )
    rows = split_manifest(report, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    if inner and cfg.protocol == "inner":
        rows = carve_inner(rows, cfg.inner_val_fraction, cfg.seed)
    return PreparedData(root=root, report=report, rows=rows, download=download.fetch_record(cache_dir(cfg)))
