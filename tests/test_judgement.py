"""The verdicts that must survive an audit: the comparison over folds, the choice of epoch on
the scored fold, one identity per training, and the published pages recomputed from the records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from catsdogs.studies.ablation import corrected_fold_test

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"


# ----------------------------------------------------------------------------- the test over folds


def test_corrected_fold_test_matches_the_formula_written_out():
    d = [0.0016, 0.0022, -0.0014, 0.0018]
    out = corrected_fold_test(d, 0.25)
    mean, var, j = np.mean(d), np.var(d, ddof=1), len(d)
    t = mean / np.sqrt((1 / j + 0.25) * var)
    assert out.t == pytest.approx(t) and out.df == 3
    assert out.p_value == pytest.approx(2 * stats.t.sf(abs(t), 3))
    # without the correction it is scipy's one-sample (paired) t-test, whose p is smaller
    assert out.paired_t_p_value == pytest.approx(stats.ttest_1samp(d, 0).pvalue)
    assert out.paired_t_p_value < out.p_value
    assert (out.sign_test.second_better, out.sign_test.of) == (3, 4)
    assert out.sign_test.p_value == pytest.approx(0.625)
    # the smallest significant mean difference is exactly where p crosses alpha
    edge = out.smallest_significant_difference
    shifted = corrected_fold_test(np.array(d) - mean + edge, 0.25)
    assert shifted.p_value == pytest.approx(0.05)


def test_corrected_fold_test_without_spread_or_folds_has_no_verdict():
    from catsdogs.studies.ablation import UNTESTABLE_COMPARISON, verdict

    for differences in ([0.001, 0.001], [0.0, 0.0], [0.002]):
        test = corrected_fold_test(differences, 0.25)
        assert test.p_value is None and test.t is None
        assert verdict(test.mean_difference, test.p_value) == UNTESTABLE_COMPARISON


def test_published_comparison_verdict_follows_the_fold_test_without_the_selection_fold():
    compare = json.loads((RESULTS / "cv-paper" / "compare.json").read_text())
    fresh = compare["without_selection_fold"]
    assert fresh["fold"] == 0 and 0 not in fresh["fold_test"]["fold_ids"]
    per_fold = {f["fold"]: f["difference"] for f in compare["per_fold"]}
    redone = corrected_fold_test([per_fold[k] for k in fresh["fold_test"]["fold_ids"]], 1 / (compare_folds() - 1))
    assert redone.p_value == pytest.approx(fresh["fold_test"]["p_value"])
    expected = "no detectable difference" if redone.p_value >= compare["alpha"] else None
    assert compare["verdict"] == fresh["verdict"] == (expected or compare["verdict"])
    # McNemar stays, as a secondary figure with its own verdict
    assert compare["mcnemar"]["verdict"] in ("better", "worse", "no detectable difference")


def compare_folds() -> int:
    return len(json.loads((RESULTS / "cv-paper" / "cv.json").read_text())["per_fold"])


# ----------------------------------------------------------------------------- the choice of epoch


def _study(epochs_by_fold, final_by_fold, n=100, protocol="paper"):
    from catsdogs.records import CVSummary, Interval
    from catsdogs.studies.cv_report import ScoredTraining, StudyReport

    folds = [
        ScoredTraining(k, 0, n, Interval(estimate=final, low=final, high=final), None, "val", epochs, [], 0.0)
        for k, (epochs, final) in enumerate(zip(epochs_by_fold, final_by_fold))
    ]
    return StudyReport("cv-paper", len(folds), [0], folds, CVSummary(protocol=protocol), None, None)


def test_epoch_choice_reads_the_restored_last_and_fixed_epochs():
    from catsdogs.studies.cv_report import epoch_choice

    study = _study([[0.97, 0.99, 0.98], [0.96, 0.97, 0.98, 0.95]], [0.99, 0.98])
    choice = epoch_choice(study)
    assert choice.restored == pytest.approx(0.985)
    assert choice.last == pytest.approx((0.98 + 0.95) / 2)
    assert choice.fixed == pytest.approx((0.98 + 0.98) / 2) and choice.fixed_epoch == 3
    assert epoch_choice(_study([[0.97, 0.99]], [0.99])).fixed is None  # a fold stopped before epoch 3
    assert epoch_choice(_study([[0.97, 0.99, 0.98]], [0.99], protocol="inner")) is None  # nothing chosen on it


def test_published_selection_table_recomputes_from_the_histories():
    """The audit's figures: restoring adds about 0.02 pp and 0.14 pp to the two recipes."""
    from catsdogs.config import get_config
    from catsdogs.runs import Run
    from catsdogs.studies.cv_report import epoch_choice, studies_of

    run = Run(RESULTS / "full", get_config("full"))
    choices = {n: c for n, s in studies_of(run, RESULTS).items() if (c := epoch_choice(s))}
    assert set(choices) == {"cv-paper", "cv-lr3e-5"}, "only the paper protocol chooses on the scored fold"
    for name, choice in choices.items():
        cv = json.loads((RESULTS / name / "cv.json").read_text())
        assert choice.restored == pytest.approx(cv["pooled"]["accuracy"], abs=1e-9)
        last = sum(round(f["phase2_val_accuracy_by_epoch"][-1] * f["n"]) for f in cv["per_fold"]) / cv["images"]
        assert choice.last == pytest.approx(last)
    assert 100 * choices["cv-lr3e-5"].gap == pytest.approx(0.14, abs=0.01)
    assert 100 * choices["cv-paper"].gap == pytest.approx(0.02, abs=0.01)


# ----------------------------------------------------------------------------- one identity per training


def test_every_published_training_has_one_record():
    from catsdogs.studies.trainings import published_trainings, repeated_trainings

    trainings = published_trainings(RESULTS)
    shas = [t.model_sha256 for t in trainings if t.model_sha256]
    assert len(shas) == len(set(shas)), "a model listed under two names"
    records = {t.record for t in trainings}
    assert "full" in records and "cv-paper/fold-0" not in records, "fold 0 of cv-paper is the published run"
    assert "cv-lr3e-5/fold-0" in records and "full-lr3e-5" in records, "two trainings, two records"
    cv = json.loads((RESULTS / "cv-lr3e-5" / "cv.json").read_text())
    assert cv["per_fold"][0]["reused_run"] is None, "a reuse is recorded only for the same model"
    groups = repeated_trainings(trainings)
    assert {tuple(sorted(t.record for t in g))[0] for g in groups} >= {"cv-lr3e-5/fold-0"}


def test_a_reuse_is_kept_only_for_the_same_model(tmp_path):
    from conftest import tiny_config

    from catsdogs.runs import CVStudy, Run

    def phase2(path: Path, sha: str) -> None:
        Run.open(tiny_config(), path).write_json(
            "phase2/result.json", {"phase": "phase2", "parameters": {}, "model_sha256": sha}
        )

    study = Run.open(tiny_config(), tmp_path / "cv")
    study.write_json("cv.json", {"per_fold": [{"fold": 0, "reused_run": "full"}]})
    phase2(tmp_path / "cv" / "fold-0", "a" * 64)
    phase2(tmp_path / "full", "a" * 64)
    assert CVStudy(study, 5).reused_run(0) == "full"
    phase2(tmp_path / "full", "b" * 64)
    assert CVStudy(study, 5).reused_run(0) is None


# ----------------------------------------------------------------------------- the pages, from the records

#: The generated pages whose every figure and verdict comes from ``results/``.
JUDGED_PAGES = (
    "claims_summary.md",
    "bottom_line.md",
    "verdict_rules.md",
    "cv_verdict.md",
    "cv_headline.md",
    "cv_explore.md",
    "cv_compare.md",
    "cv_selection.md",
    "cv_trainings.md",
    "compute_budget.md",
    "ablation.md",
)


@pytest.mark.slow
def test_committed_verdicts_are_what_the_records_give(tmp_path):
    """Every verdict of the claim table and the cross-validation page, recomputed from the
    published records with the book's own code, is the committed page, word for word."""
    from catsdogs.report.book import write_generated_pages
    from catsdogs.runs import Run

    write_generated_pages(Run.load(RESULTS / "full"), tmp_path)
    for page in JUDGED_PAGES:
        assert (tmp_path / page).read_text() == (ROOT / "book" / "_generated" / page).read_text(), page


def test_claim_table_judges_the_macro_average_and_shows_every_interval():
    from catsdogs.records import Interval
    from catsdogs.studies.claims import prf_text, prf_verdict
    from catsdogs.studies.verdicts import NOT_REPRODUCED, REPRODUCED

    ci = {k: Interval(estimate=0.9849, low=0.9828, high=0.9870) for k in ("precision", "recall", "f1")}
    ci |= {f"macro_{k}": Interval(estimate=0.99, low=0.988, high=0.992) for k in ("precision", "recall", "f1")}
    assert prf_verdict(ci, ("macro_precision", "macro_recall", "macro_f1")) == REPRODUCED
    low = {k: Interval(estimate=0.980, low=0.978, high=0.982) for k in ("precision", "recall", "f1")}
    assert prf_verdict(low, ("precision", "recall", "f1")) == NOT_REPRODUCED
    assert prf_text(ci, ("precision",)) == "98.49 % (98.28–98.70)"
    summary = (ROOT / "book" / "_generated" / "claims_summary.md").read_text()
    cv = json.loads((RESULTS / "cv-paper" / "cv.json").read_text())["pooled_ci95"]
    for key in ("precision", "macro_f1"):
        assert prf_text({key: Interval.from_dict(cv[key])}, (key,)) in summary
        assert f"{100 * cv[key]['estimate']:.2f} % ({100 * cv[key]['low']:.2f}–{100 * cv[key]['high']:.2f})" in summary
