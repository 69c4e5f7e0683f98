"""``python -m catsdogs verify`` (:mod:`catsdogs.report.verify`): a run's records against a published record.

A "run" here is a copy of a published record (``results/full`` or the smoke fixture
``tests/fixtures/published-smoke``): it holds the same JSON files a run directory
does. Expected values are always read from the records, never typed.

The smoke record is a smoke run's ``publish-results`` output (JSON/CSV only). When a change
to the pipeline changes what a smoke run computes, make it again and commit it::

    python -m catsdogs reproduce --profile smoke --run-dir runs/published-smoke --no-book
    python -m catsdogs publish-results --run-dir runs/published-smoke --out tests/fixtures
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from catsdogs.cli.main import main
from catsdogs.report import verify

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT / "results" / "full"
SMOKE = ROOT / "tests" / "fixtures" / "published-smoke"


def _copy(src: Path, tmp_path: Path, name: str = "run") -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def _verdicts(result: verify.Verification) -> dict[tuple[str, str], str]:
    return {(c.section, c.figure): c.verdict for c in result.checks}


@pytest.fixture
def full_copy(tmp_path: Path) -> Path:
    return _copy(FULL, tmp_path)


# ----------------------------------------------------------------------------- the published run against itself


def test_copy_of_the_published_run_is_identical_on_every_row(full_copy, capsys):
    result = verify.verify_run(full_copy, FULL)
    assert result.checks and set(_verdicts(result).values()) == {verify.IDENTICAL}
    assert result.ok and result.bit_identical and result.exit_status == 0 and not result.missing
    sections = {c.section for c in result.checks}
    assert {
        "data",
        "phase 1",
        "phase 2",
        "final model",
        "exports",
        "robustness",
        "mitigation",
        "calibration",
        "out-of-distribution",
        "timings",
        "latency",
    } <= sections
    # every corruption of the record has its harshest level checked
    corruptions = json.loads((FULL / "robustness" / "results.json").read_text())["corruptions"]
    robust = [c.figure for c in result.checks if c.section == "robustness"]
    assert all(any(f.startswith(f"{name} at ") for f in robust) for name in corruptions)

    assert main(["verify", "--run-dir", str(full_copy), "--against", str(FULL)]) == 0
    out = capsys.readouterr().out
    assert "every judged figure is identical" in out and "differs" not in out


def test_default_record_of_a_full_run_is_results_full(full_copy):
    assert verify.published_record("full", ROOT) == FULL
    assert Path(verify.verify_run(full_copy).against) == FULL


def test_json_output_holds_every_row(full_copy, capsys):
    assert main(["verify", "--run-dir", str(full_copy), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["reproduced"] is True and data["bit_identical"] is True and data["exit_status"] == 0
    assert len(data["checks"]) == len(verify.verify_run(full_copy, FULL).checks)
    cm = next(c for c in data["checks"] if c["figure"] == "confusion matrix")
    assert cm["published"] == json.loads((FULL / "eval" / "metrics.json").read_text())["metrics"]["confusion_matrix"]


# ----------------------------------------------------------------------------- altered records


def test_altered_figures_differ_on_exactly_the_affected_rows(full_copy, capsys):
    metrics = json.loads((FULL / "eval" / "metrics.json").read_text())
    ci = metrics["ci95"]
    robust = json.loads((FULL / "robustness" / "results.json").read_text())["corruptions"]
    last = list(robust)[-1]

    def eval_change(d):
        d["metrics"]["accuracy"] = ci["accuracy"]["high"] + 0.001  # beyond the CI
        d["metrics"]["precision"] = (ci["precision"]["estimate"] + ci["precision"]["high"]) / 2  # inside it

    def phase2_change(d):
        d["history"]["val_accuracy"][0] -= 0.05  # far beyond any interval

    _edit(full_copy / "eval" / "metrics.json", eval_change)
    _edit(full_copy / "phase2" / "result.json", phase2_change)
    _edit(
        full_copy / "robustness" / "results.json",
        lambda d: d["corruptions"][last]["accuracy"].__setitem__(-1, robust[last]["accuracy_low"][-1] - 0.01),
    )
    _edit(full_copy / "export" / "export.json", lambda d: d["exports"]["tflite_int8"].__setitem__("sha256", "0" * 64))
    _edit(full_copy / "timings.json", lambda d: d.__setitem__("phase2_train", 2 * d["phase2_train"]))

    result = verify.verify_run(full_copy, FULL)
    verdicts = _verdicts(result)
    level = json.loads((FULL / "robustness" / "results.json").read_text())["levels"][last][-1]
    harshest = next(
        f for s, f in verdicts if s == "robustness" and f.startswith(f"{last} at ") and f.endswith("(harshest)")
    )
    assert f"{level:.6g}" in harshest
    expected = {
        ("final model", "accuracy"): verify.DIFFERS,
        ("phase 2", "epoch 1 validation accuracy"): verify.DIFFERS,
        ("robustness", harshest): verify.DIFFERS,
        ("final model", "precision (dog)"): verify.WITHIN_CI,
        ("exports", "tflite_int8 sha256"): verify.NOT_BIT_IDENTICAL,
        ("timings", "phase2_train (s)"): verify.SHOWN,
    }
    changed = {key: v for key, v in verdicts.items() if v != verify.IDENTICAL}
    changed.pop(next(k for k in changed if k[0] == "timings" and k[1].startswith("total")), None)
    assert changed == expected
    assert not result.ok and result.exit_status == 1
    acc = next(c for c in result.checks if c.figure == "accuracy")
    assert acc.difference == pytest.approx(ci["accuracy"]["high"] + 0.001 - metrics["metrics"]["accuracy"])

    assert main(["verify", "--run-dir", str(full_copy), "--against", str(FULL)]) == 1
    out = capsys.readouterr().out
    assert "NOT reproduced" in out and out.count(f"{verify.DIFFERS} (") == 3


def test_changes_inside_the_intervals_and_fingerprints_still_reproduce(full_copy):
    ci = json.loads((FULL / "eval" / "metrics.json").read_text())["ci95"]
    _edit(
        full_copy / "eval" / "metrics.json",
        lambda d: d["metrics"].__setitem__("recall", (ci["recall"]["low"] + ci["recall"]["estimate"]) / 2),
    )
    _edit(full_copy / "export" / "export.json", lambda d: d["exports"]["tflite_int8"].__setitem__("sha256", "f" * 64))
    result = verify.verify_run(full_copy, FULL)
    assert result.ok and not result.bit_identical and result.exit_status == 0
    assert "within the published 95 % intervals" in result.summary()


def test_timings_and_latency_are_shown_never_judged(full_copy):
    _edit(full_copy / "timings.json", lambda d: d.update({k: 10 * v for k, v in d.items()}))
    _edit(
        full_copy / "bench" / "bench.json",
        lambda d: [m["single"].__setitem__("median_ms", 10 * m["single"]["median_ms"]) for m in d["models"].values()],
    )
    result = verify.verify_run(full_copy, FULL)
    shown = {c.section for c in result.checks if c.verdict == verify.SHOWN}
    assert shown == {"timings", "latency"}
    assert result.bit_identical and "bit for bit" in result.summary() and result.exit_status == 0


@pytest.mark.parametrize("beyond", [False, True])
def test_confusion_matrix_is_judged_through_the_metrics_it_implies(full_copy, beyond):
    metrics = json.loads((FULL / "eval" / "metrics.json").read_text())
    (tn, fp), (fn, tp) = metrics["metrics"]["confusion_matrix"]
    n, low = tn + fp + fn + tp, metrics["ci95"]["accuracy"]["low"]
    # move k true dogs from "dog" to "cat": enough to leave the accuracy CI, or just one
    k = int((tn + tp) - low * n) + 1 if beyond else 1
    _edit(
        full_copy / "eval" / "metrics.json",
        lambda d: d["metrics"].__setitem__("confusion_matrix", [[tn, fp], [fn + k, tp - k]]),
    )
    verdict = _verdicts(verify.verify_run(full_copy, FULL))[("final model", "confusion matrix")]
    assert verdict == (verify.DIFFERS if beyond else verify.WITHIN_CI)


def test_other_data_is_named(full_copy):
    _edit(full_copy / "data" / "scan.json", lambda d: d.__setitem__("manifest_sha256", "1" * 64))
    result = verify.verify_run(full_copy, FULL)
    assert _verdicts(result)[("data", "split manifest sha256")] == verify.DIFFERS
    assert "CATSDOGS_DATA_DIR" in result.advice and result.exit_status == 1


# ----------------------------------------------------------------------------- partial and mismatched runs


def test_partial_run_names_the_missing_records_and_their_commands(full_copy, capsys):
    shutil.rmtree(full_copy / "robustness")
    shutil.rmtree(full_copy / "mitigation")
    shutil.rmtree(full_copy / "mitigation_control")
    (full_copy / "bench" / "bench.json").unlink()
    (full_copy / "export" / "export.json").write_text("{ not json")
    (full_copy / "timings.json").write_text("[]")
    _edit(full_copy / "phase2" / "result.json", lambda d: d["parameters"].pop("trainable"))
    _edit(full_copy / "eval" / "metrics.json", lambda d: d["metrics"].pop("confusion_matrix"))

    result = verify.verify_run(full_copy, FULL)
    expected = {
        "robustness/results.json",
        "robustness/results_mitigation.json",
        "robustness/results_mitigation_control.json",
        "robustness/mitigation.json",
        "robustness/calibration.json",
        "robustness/ood.json",
        "mitigation/result.json",
        "mitigation_control/result.json",
        "bench/bench.json",
        "export/export.json",
        "timings.json",
    }
    assert set(result.missing) == expected
    assert "unreadable" in result.missing["export/export.json"] and "JSON list" in result.missing["timings.json"]
    assert _verdicts(result)[("final model", "confusion matrix")] == verify.MISSING
    assert "python -m catsdogs bench --profile full" in result.missing["bench/bench.json"]
    assert "--from 06" in result.missing["robustness/ood.json"]
    assert all(str(full_copy) in command for command in result.missing.values())
    assert _verdicts(result)[("phase 2", "trained parameters")] == verify.MISSING
    assert not result.ok and result.exit_status == 1

    assert main(["verify", "--run-dir", str(full_copy), "--against", str(FULL)]) == 1
    out = capsys.readouterr().out
    for record in expected:
        assert f"missing {record}: make it with `" in out


def test_run_with_only_its_data_step_never_crashes(tmp_path):
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    for rel in ("config.json", "data/scan.json"):
        shutil.copy2(FULL / rel, run / rel)
    result = verify.verify_run(run, FULL)
    assert {c.section for c in result.checks} == {"data"}
    assert "phase1/result.json" in result.missing and "eval/metrics.json" in result.missing
    assert "incomplete: " in result.to_text() and result.exit_status == 1


def test_other_image_size_says_what_differs_and_what_to_do(full_copy, capsys):
    size = json.loads((FULL / "config.json").read_text())["image_size"]
    _edit(full_copy / "config.json", lambda d: d.__setitem__("image_size", size // 2))
    result = verify.verify_run(full_copy, FULL)
    assert not result.comparable and not result.checks and result.exit_status == 1
    assert result.setting_differences == {"image_size": (size, size // 2)}
    assert "image_size" in result.advice and "python -m catsdogs reproduce --profile full" in result.advice
    assert main(["verify", "--run-dir", str(full_copy), "--against", str(FULL)]) == 1
    assert f"image_size: {size // 2} here, {size} published" in capsys.readouterr().out


def test_smoke_run_against_the_full_record_points_at_its_own_record(tmp_path):
    result = verify.verify_run(_copy(SMOKE, tmp_path), FULL)
    assert not result.comparable and "profile" in result.setting_differences
    assert f"--against {SMOKE}" in result.advice


def test_rerun_advice_sets_what_the_record_changed_from_its_profile(tmp_path):
    record = _copy(FULL, tmp_path, "record")
    _edit(record / "config.json", lambda d: d.__setitem__("phase2_epochs", d["phase2_epochs"] + 5))
    result = verify.verify_run(_copy(FULL, tmp_path), record)
    expected = json.loads((record / "config.json").read_text())["phase2_epochs"]
    assert f"--set phase2_epochs={expected}" in result.advice


@pytest.mark.parametrize("which", ["run", "against"])
def test_missing_directories_are_user_errors(full_copy, tmp_path, which, capsys):
    nowhere = tmp_path / "nowhere"
    argv = ["verify", "--run-dir", str(nowhere if which == "run" else full_copy)]
    argv += ["--against", str(nowhere if which == "against" else FULL)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(nowhere) in err and ("--run-dir" if which == "run" else "--against") in err


def test_a_folder_that_is_not_a_run_is_a_user_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["verify", "--run-dir", str(tmp_path / "empty"), "--against", str(FULL)]) == 2
    assert "no config.json" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the smoke record and reproduce


def test_smoke_fixture_is_a_portable_published_record(tmp_path):
    assert verify.published_record("smoke", ROOT) == SMOKE
    for f in SMOKE.rglob("*"):
        if f.is_file():
            assert f.suffix in (".json", ".csv"), f"{f}: the fixture holds JSON/CSV records only"
            text = f.read_text()
            machine_paths = [f"/{d}/" for d in ("work", "tmp", "root", "home")]
            assert not any(p in text for p in machine_paths), f"{f}: machine path"
    result = verify.verify_run(_copy(SMOKE, tmp_path), SMOKE)
    assert result.bit_identical and not result.missing


def test_reproduce_ends_with_the_check_or_says_why_not(tmp_path):
    text, status = verify.check_after_reproduce(_copy(SMOKE, tmp_path, "smoke-run"))
    assert f"against the published record {SMOKE}" in text and status == 0
    assert "every judged figure is identical" in text

    partial = _copy(SMOKE, tmp_path, "partial")  # reproduce --to 04: listed, not a failure
    shutil.rmtree(partial / "robustness")
    text, status = verify.check_after_reproduce(partial)
    assert "missing robustness/results.json" in text and status == 0
    _edit(partial / "eval" / "metrics.json", lambda d: d["metrics"].__setitem__("accuracy", 0.0))
    assert verify.check_after_reproduce(partial)[1] == 1

    other = _copy(SMOKE, tmp_path, "other")
    _edit(other / "config.json", lambda d: d.__setitem__("seed", d["seed"] + 1))
    text, status = verify.check_after_reproduce(other)
    assert text.startswith("no reproduction check:") and "seed" in text and status is None


def test_reproducibility_page_shows_the_published_environment(full_copy):
    from catsdogs.report.book import environment_rows
    from catsdogs.runs import Run

    env = json.loads((FULL / "provenance.json").read_text())["environment"]
    page = verify.published_environment_markdown(None, environment_rows, ROOT)
    assert env["python"] in page and env["packages"]["keras"] in page
    assert "same Python" in verify.published_environment_markdown(Run.load(full_copy), environment_rows, ROOT)
    _edit(full_copy / "provenance.json", lambda d: d["environment"]["packages"].__setitem__("keras", "0.0.1"))
    side_by_side = verify.published_environment_markdown(Run.load(full_copy), environment_rows, ROOT)
    assert "differ in `keras`" in side_by_side and "0.0.1" in side_by_side and env["packages"]["keras"] in side_by_side
    assert "No published record" in verify.published_environment_markdown(None, environment_rows, ROOT / "tests")


def test_proportion_interval_holds_the_proportion_and_narrows_with_n():
    from catsdogs.report.verify import proportion_interval

    lo, hi = proportion_interval(0.9, 100)
    lo2, hi2 = proportion_interval(0.9, 10_000)
    assert 0 <= lo < 0.9 < hi <= 1 and lo < lo2 < 0.9 < hi2 < hi


def test_a_run_on_other_hardware_is_judged_by_its_intervals():
    """A GPU (or another CPU) re-run is not bit-identical to the CPU-made record: the
    summary says which machines made each and that the CI is the yardstick."""
    from catsdogs.report.verify import WITHIN_CI, Check, Verification

    v = Verification(run_dir="runs/full", against="results/full")
    v.checks = [Check("metrics", "accuracy", "eval/metrics.json", 0.9874, 0.9880, WITHIN_CI, 0.0006, (0.984, 0.990))]
    v.hardware = ("AMD EPYC (2 logical cores), no GPU", "Intel Xeon (8 logical cores), GPU: Tesla T4")
    text = v.summary()
    assert text.startswith("reproduced within the published 95 % intervals (not bit-identical); the record was made")
    assert "GPU: Tesla T4" in text and "the 95 % CI, not bit-identity, is the yardstick" in text


def test_in_a_notebook_the_verdict_comes_before_the_table(full_copy):
    _edit(full_copy / "eval" / "metrics.json", lambda d: d["metrics"].update(accuracy=0.5))
    result = verify.verify_run(full_copy, FULL)
    markdown = result._repr_markdown_()
    assert markdown.startswith(result.summary()) and not result.ok
    assert markdown.index("| section |") > markdown.index("final model / accuracy")  # its note, before the table


# ----------------------------------------------------------------------------- studies and explorations


def _study_copy(tmp_path: Path, name: str) -> Path:
    """The study's own records (its JSON files and scan; not its trainings' folders)."""
    src, dst = ROOT / "results" / name, tmp_path / name
    dst.mkdir()
    for rel in [p.name for p in src.glob("*.json")] + ["data/scan.json"]:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / rel, dst / rel)
    return dst


def test_a_study_is_checked_training_by_training(tmp_path):
    pub = ROOT / "results" / "cv-inner-paper"
    run = _study_copy(tmp_path, "cv-inner-paper")
    result = verify.verify_run(run, pub)
    verdicts = _verdicts(result)
    cv = json.loads((pub / "cv.json").read_text())
    trainings = {(e["fold"], e["seed"]) for e in cv["per_fold"]}
    assert len(trainings) == cv["trainings"]
    assert {f"fold {f} seed {s} accuracy" for f, s in trainings} <= {f for s, f in verdicts if s == "study"}
    assert ("study", "protocol") in verdicts and result.bit_identical

    def change(d):
        d["per_fold"][-1]["accuracy"] -= 0.02  # far outside its Wilson interval
        d["pooled"]["accuracy"] = d["pooled_ci95"]["accuracy"]["low"] + 1e-5  # inside the bootstrap CI
        d["protocol"] = "paper"
        del d["per_fold"][0]

    _edit(run / "cv.json", change)
    last, first = cv["per_fold"][-1], cv["per_fold"][0]
    changed = {k: v for k, v in _verdicts(verify.verify_run(run, pub)).items() if v != verify.IDENTICAL}
    assert changed == {
        ("study", "protocol"): verify.DIFFERS,
        ("study", "pooled accuracy"): verify.WITHIN_CI,
        ("study", f"fold {last['fold']} seed {last['seed']} accuracy"): verify.DIFFERS,
        ("study", f"fold {first['fold']} seed {first['seed']} accuracy"): verify.MISSING,
    }


def test_an_exploration_is_judged_by_its_intervals(tmp_path):
    pub = ROOT / "results" / "explore" / "longer-cosine"
    run = _copy(pub, tmp_path)
    assert verify.verify_run(run, pub).bit_identical
    record = json.loads((pub / "explore.json").read_text())

    def change(d):
        d["flip"]["accuracy"] = d["flip"]["ci95"]["high"] + 0.001
        d["changes"]["phase2_lr"] = 1e-4

    _edit(run / "explore.json", change)
    changed = {k: v for k, v in _verdicts(verify.verify_run(run, pub)).items() if v != verify.IDENTICAL}
    assert changed == {
        ("exploration", "accuracy with flip TTA"): verify.DIFFERS,
        ("exploration", "recipe changes"): verify.DIFFERS,
    }
    assert record["plain"]["ci95"]["n"] == record["splits"]["val"]["total"]
    missing = _copy(pub, tmp_path, "partial")
    (missing / "explore.json").unlink()
    assert "explore.json" in verify.verify_run(missing, pub).missing


def test_a_figure_the_records_do_not_declare_judged_is_a_programming_error(full_copy):
    """verify takes how to compare each figure from catsdogs.records; a figure whose field
    carries no declaration is refused, not compared some default way."""
    from catsdogs.report.verify import _Builder, _Records, _Section

    records = _Records(ROOT / "results" / "full")
    section = _Section(_Builder(records, records, {}), "data", "data/scan.json", {"root": "a"}, {"root": "a"})
    with pytest.raises(ValueError, match=r"data/scan.json: \['root'\] is not declared as judged"):
        section.add("data root", ["root"])
