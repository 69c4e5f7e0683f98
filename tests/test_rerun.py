"""The steps of ``notebooks/reproduce.ipynb`` (:mod:`catsdogs.report.rerun`); the notebook
itself runs end to end under nbval (``make test``)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import write_petimages

from catsdogs.config import REPOSITORY_URL
from catsdogs.report import rerun
from catsdogs.report.verify import PUBLISHED_RECORD_OF_PROFILE
from catsdogs.runs import Run

ROOT = Path(__file__).resolve().parents[1]


def test_archive_book_zips_the_html_folder(tmp_path: Path) -> None:
    html = tmp_path / "book" / "_build" / "html"
    (html / "_static").mkdir(parents=True)
    (html / "index.html").write_text("<html></html>")
    (html / "_static" / "a.css").write_text("p{}")
    archive = rerun.archive_book(html)
    assert archive == tmp_path / "book" / "catsdogs-book.zip"
    assert sorted(zipfile.ZipFile(archive).namelist()) == ["_static/", "_static/a.css", "index.html"]


def test_archive_book_takes_a_relative_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "_build" / "html").mkdir(parents=True)
    (tmp_path / "_build" / "html" / "index.html").write_text("<html></html>")
    monkeypatch.chdir(tmp_path)
    assert rerun.archive_book("_build/html") == tmp_path / "catsdogs-book.zip"


def test_archive_book_refuses_a_folder_without_a_built_book(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no index.html"):
        rerun.archive_book(tmp_path)


def test_expected_times_come_from_each_profiles_record(tmp_path: Path) -> None:
    timings = {
        "data_scan": 1.0,
        "phase1_features": 60.0,
        "phase1_train": 30.0,
        "phase2_train": 90.0,
        "notebook_01_dataset_exploration": 100.0,
        "notebook_06_limitations": 20.0,
        "export_convert": 500.0,
    }
    record = tmp_path / PUBLISHED_RECORD_OF_PROFILE["smoke"]
    record.mkdir(parents=True)
    (record / "timings.json").write_text(json.dumps(timings))
    assert rerun.recorded_seconds(record) == (180.0, 120.0)
    rows = rerun.expected_time_rows(tmp_path)
    assert [r["profile"] for r in rows] == ["`smoke`"]  # the full record is absent from this root
    assert rows[0]["training, both phases"] == "3 min 00 s"
    assert rows[0]["the six chapters"] == "2 min 00 s"
    assert rows[0]["what it runs"].startswith("150 images per class at 128 px, 1 phase-2 epoch")


def test_dataset_says_where_the_images_come_from(tmp_path: Path, isolated_env, make_config) -> None:
    configured = write_petimages(tmp_path / "PetImages", n_per_class=3)
    run = Run.open(make_config(configured), tmp_path / "run")
    text = rerun.dataset(run)
    assert f"`{configured}` (configured; 3 Cat, 3 Dog files" in text

    cached = write_petimages(isolated_env["cache"] / "datasets" / "PetImages", n_per_class=2)
    run.config = run.config.replace(data_dir=None)
    assert f"`{cached}` (the cache's earlier download; 2 Cat, 2 Dog files" in rerun.dataset(run)


def test_outside_colab_the_download_is_a_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not rerun.in_colab()
    archive = tmp_path / "catsdogs-book.zip"
    archive.write_bytes(b"PK")
    monkeypatch.chdir(tmp_path)
    assert rerun.offer_download(archive).path == "catsdogs-book.zip"


def test_reproduce_notebook_is_only_calls_into_the_library() -> None:
    nb = nbformat.read(ROOT / "notebooks" / "reproduce.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c for c in code if "parameters" in c.metadata.get("tags", [])][0].source.startswith('profile = "smoke"')
    assert max(len(c.source.splitlines()) for c in code) <= 10
    assert any(REPOSITORY_URL in c.source for c in code)  # the Colab clone: `address --set` rewrites it
    assert "verify.verify_run" in code[-2].source and "archive_book" in code[-1].source
