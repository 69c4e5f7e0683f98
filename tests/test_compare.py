"""The paired comparison of two studies (:func:`catsdogs.studies.ablation.compare_studies`) when a
study has several training seeds, and when the recipe was chosen on the exploration split;
read from the published studies (copied: ``compare`` writes ``compare.json`` into the first)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from catsdogs.runs import read_oof_trainings
from catsdogs.studies import ablation

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


@pytest.fixture
def studies(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name in ("cv-paper", "cv-inner-paper"):
        out[name] = tmp_path / name
        shutil.copytree(RESULTS / name, out[name], ignore=shutil.ignore_patterns("fold-*"))
    return out


def test_a_seeded_study_counts_each_image_as_the_share_of_its_trainings_right(studies):
    oof = read_oof_trainings(studies["cv-inner-paper"] / "oof_predictions.csv")
    images = ablation.per_image(oof)
    assert images.seeds == [0, 1] and images.file.size == oof.file.size // 2
    assert set(np.unique(images.right)) <= {0.0, 0.5, 1.0}
    cv = json.loads((studies["cv-inner-paper"] / "cv.json").read_text())
    assert images.right.mean() == pytest.approx(cv["pooled"]["accuracy"])
    # each fold's accuracy is the mean of its seeds' accuracies
    for k in range(5):
        by_seed = [f["accuracy"] for f in cv["per_fold"] if f["fold"] == k]
        assert images.right[images.fold == k].mean() == pytest.approx(np.mean(by_seed))
    seed0 = oof.subset(oof.seed == 0)
    missing = dataclasses.replace(seed0, seed=np.where(np.arange(seed0.seed.size) % 2, 1, 0))  # half lack seed 0
    with pytest.raises(ValueError, match="once per training seed"):
        ablation.per_image(missing, "the study")


def test_a_recipe_chosen_on_the_exploration_split_is_judged_without_it(studies):
    from catsdogs.training.explore import exploration_files

    record = ablation.compare_dirs(studies["cv-paper"], studies["cv-inner-paper"], "exploration")
    result = record.to_dict()
    explored = exploration_files(ablation.CVStudy.load(studies["cv-inner-paper"]))
    fresh = result["without_selection_fold"]
    assert len(explored) == 2000 and fresh["images"] == result["images"] - len(explored)
    assert fresh["fold"] is None and fresh["excluded"] == "the 2,000 images of the exploration split"
    assert fresh["fold_test"]["fold_ids"] == [0, 1, 2, 3, 4]  # every fold keeps images
    assert result["seeds"] == {"first": [0], "second": [0, 1]}
    assert result["verdict"] == fresh["verdict"] and "without the 2,000 images" in result["verdict_basis"]
    cv = json.loads((studies["cv-inner-paper"] / "cv.json").read_text())
    assert result["accuracy"]["second"] == pytest.approx(cv["pooled"]["accuracy"])
    text = ablation.comparison_markdown(record)
    assert "seed 0's trainings only" in text and "without the 2,000 images of the exploration split" in text
    assert json.loads((studies["cv-paper"] / "compare.json").read_text())["verdict"] == result["verdict"]


def test_one_seed_studies_compare_as_published(studies, tmp_path):
    lr = tmp_path / "cv-lr3e-5"
    shutil.copytree(RESULTS / "cv-lr3e-5", lr, ignore=shutil.ignore_patterns("fold-*"))
    published = json.loads((RESULTS / "cv-paper" / "compare.json").read_text())
    result = ablation.compare_dirs(studies["cv-paper"], lr).to_dict()
    for key in ("accuracy", "fold_test", "mcnemar", "per_fold", "verdict", "verdict_basis"):
        assert result[key] == published[key], key
    assert result["without_selection_fold"]["accuracy_ci95"] == published["without_selection_fold"]["accuracy_ci95"]
    with pytest.raises(ablation.UserError, match="--picked-on"):
        ablation.compare_dirs(studies["cv-paper"], lr, "fold3")
