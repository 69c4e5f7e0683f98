"""The exploration table (:mod:`catsdogs.studies.exploration`), from the published records."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from catsdogs.studies import exploration

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "results" / "explore"


def test_every_published_candidate_is_a_row_with_its_own_figures():
    records = exploration.load_explorations(PUBLISHED)
    assert records and next(iter(records)) == exploration.REFERENCE
    rows = exploration.exploration_rows(records)
    assert [r["candidate"] for r in rows] == [f"`{name}`" for name in records]
    for row, record in zip(rows, records.values()):
        plain = record.plain
        assert row["accuracy (95 % CI)"].startswith(f"{100 * plain.accuracy:.2f} %")
        assert row["phase 2"].startswith(f"{record.epochs_run} epochs")
        assert f"{100 * plain.ci95.low:.1f}–" in row["accuracy (95 % CI)"]
        assert row["with flip TTA"].startswith(f"{100 * record.flip.accuracy:.2f} %")
        for value in record.changes.values():
            assert str(value) in row["changes from the study's recipe"]


def test_the_page_says_what_it_is_measured_on_and_what_is_missing(tmp_path):
    one = tmp_path / "paper"
    shutil.copytree(PUBLISHED / exploration.REFERENCE, one)
    record = json.loads((one / "explore.json").read_text())
    text = exploration.exploration_markdown(exploration.load_explorations(tmp_path), ["deeper"])
    assert f"{record['splits']['val']['total']:,}" in text and "Inner-split figures only" in text
    assert "*Not finished yet: `deeper`.*" in text
    assert "No candidate recipe" in exploration.exploration_markdown({})
    assert exploration.changes_text({}) == "none (the study's recipe)"
    assert exploration.changes_text({"phase2_lr": 3e-5, "mixup": 0.2}) == "LR 3e-05, mixup = 0.2"


def test_every_recipe_file_loads_and_says_why():
    from catsdogs.config import load_recipe

    files = sorted((ROOT / "recipes").rglob("*.json"))
    assert files
    for path in files:
        settings = load_recipe(path)
        assert settings["protocol"] == "inner", path  # every candidate and declared recipe: the inner protocol


def test_the_declaration_says_whether_the_study_started_after_it(tmp_path):
    from catsdogs.provenance import file_first_commit

    declared = file_first_commit("recipes/README.md")
    if declared is None:
        pytest.skip("not a git checkout: the declaration's commit cannot be read")
    text = exploration.declaration_text("x", declared, None)
    assert f"`{declared.commit[:7]}`" in text and "no training of its study has started" in text
    for seconds, verdict in ((3600, "a commit that contains it."), (-3600, "**not** a later commit")):
        study = tmp_path / f"study{seconds}"
        (study / "fold-0").mkdir(parents=True)
        started = datetime.fromisoformat(declared.committed_at) + timedelta(seconds=seconds)
        env = {"recorded_at": started.isoformat(), "python": "3.11", "git": {"commit": declared.commit}}
        (study / "fold-0" / "provenance.json").write_text(json.dumps({"environment": env}))
        first = exploration.first_training(study)
        assert first.recorded_at == env["recorded_at"] and verdict in exploration.declaration_text("x", declared, first)
    assert "is not committed" in exploration.declaration_text("x", None, None)
    assert exploration.first_training(tmp_path / "none") is None


def test_a_declared_recipe_shows_each_setting_with_its_reason():
    for name, recipe in exploration.declared_recipes(ROOT).items():
        rows = exploration.recipe_rows(recipe)
        assert [r["setting"] for r in rows] == [f"`{k}`" for k in recipe["settings"]]
        assert all(r["why"] for r in rows), name
