"""Tests of :mod:`catsdogs.runs`: run directories, resume checks, timings, provenance."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from catsdogs.config import Config
from catsdogs.files import write_csv
from catsdogs.provenance import environment_info
from catsdogs.runs import Run, RunConfigMismatch, read_history

pytestmark = pytest.mark.usefixtures("isolated_env")


def test_open_writes_config_json(make_config, tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "data")
    run = Run.open(cfg, tmp_path / "run")
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert Config.from_dict(stored) == cfg
    assert run.config == cfg and run.path == tmp_path / "run"


def test_open_defaults_to_runs_dir(make_config, isolated_env: dict) -> None:
    run = Run.open(make_config())
    assert run.path == isolated_env["runs"] / "smoke"
    assert (run.path / "config.json").is_file()


def test_reopen_with_other_training_settings_names_the_field(make_config, tmp_path: Path) -> None:
    Run.open(make_config(), tmp_path / "run")
    with pytest.raises(RunConfigMismatch) as info:
        Run.open(make_config(phase2_lr=1e-4), tmp_path / "run")
    message = str(info.value)
    assert "phase2_lr" in message and "1e-05 there" in message and "0.0001 now" in message
    assert str(tmp_path / "run") in message and "--run-dir" in message
    assert "image_size" not in message  # only the differing field is named
    # The original config is untouched.
    assert json.loads((tmp_path / "run" / "config.json").read_text())["phase2_lr"] == 1e-5


def test_mismatch_is_a_value_error(make_config, tmp_path: Path) -> None:
    Run.open(make_config(), tmp_path / "run")
    with pytest.raises(ValueError, match="seed"):
        Run.open(make_config(seed=7), tmp_path / "run")


def test_location_changes_are_allowed(make_config, tmp_path: Path) -> None:
    Run.open(make_config(tmp_path / "a"), tmp_path / "run")
    moved = make_config(tmp_path / "b", weights="/elsewhere/w.tflite", cache_dir=str(tmp_path / "c"), notes="moved")
    run = Run.open(moved, tmp_path / "run")
    assert run.config.data_dir == str(tmp_path / "b")
    # config.json still records the settings the run was made with.
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data_dir"] == str(tmp_path / "a")


def test_load_requires_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="catsdogs train"):
        Run.load(tmp_path)


def test_for_notebook_reopens_existing_run(make_config, tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "a")
    Run.open(cfg, tmp_path / "run")
    run = Run.for_notebook("smoke", tmp_path / "run", data_dir=str(tmp_path / "b"), weights=None)
    assert run.config.training_dict() == cfg.training_dict()  # e.g. image_size 32, not smoke's 128
    assert run.config.image_size == 32
    assert run.config.data_dir == str(tmp_path / "b")  # location from the notebook
    assert run.config.weights == "none"  # None means "keep"


def test_for_notebook_rejects_another_profile_or_seed(make_config, tmp_path: Path) -> None:
    Run.open(make_config(), tmp_path / "run")
    with pytest.raises(RunConfigMismatch) as info:
        Run.for_notebook("full", tmp_path / "run")
    assert "profile='smoke'" in str(info.value) and "'full'" in str(info.value)
    with pytest.raises(RunConfigMismatch, match="seed"):
        Run.for_notebook("smoke", tmp_path / "run", seed=1)


def test_for_notebook_creates_new_run(tmp_path: Path) -> None:
    run = Run.for_notebook("smoke", tmp_path / "new", seed=3, weights="none")
    assert run.config.profile == "smoke" and run.config.seed == 3 and run.config.weights == "none"
    assert (tmp_path / "new" / "config.json").is_file()


def test_timed_records_timings(make_config, tmp_path: Path) -> None:
    run = Run.open(make_config(), tmp_path / "run")
    assert run.timings() == {}
    with run.timed("step_a"):
        pass
    with run.timed("step_b"):
        sum(range(1000))
    timings = run.timings()
    assert set(timings) == {"step_a", "step_b"}
    assert all(isinstance(v, float) and v >= 0 for v in timings.values())
    assert json.loads((run.path / "timings.json").read_text()) == timings


def test_record_provenance(make_config, tmp_path: Path) -> None:
    run = Run.open(make_config(), tmp_path / "run")
    run.record_provenance(data={"usable_images": 24})
    prov = run.record_provenance(weights={"kind": "random"})
    assert prov["data"] == {"usable_images": 24} and prov["weights"] == {"kind": "random"}
    env = prov["environment"]
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", env["python"])
    assert "numpy" in env["packages"] and "keras" in env["packages"]
    assert set(env["git"]) == {"commit", "dirty"}
    assert env["hardware"]["logical_cores"] >= 1 and env["hardware"]["cpu"]
    assert json.loads((run.path / "provenance.json").read_text()) == json.loads(json.dumps(prov))


def test_git_commit_is_recorded_inside_the_checkout() -> None:
    git = environment_info()["git"]
    if git["commit"] is None:
        pytest.skip("not running inside a git checkout")
    assert re.fullmatch(r"[0-9a-f]{40}", git["commit"]) and isinstance(git["dirty"], bool)


def test_read_json_missing_says_what_to_run(make_config, tmp_path: Path) -> None:
    run = Run.open(make_config(), tmp_path / "run")
    with pytest.raises(FileNotFoundError) as info:
        run.read_json("eval/metrics.json")
    assert str(tmp_path / "run" / "eval" / "metrics.json") in str(info.value)
    assert "python -m catsdogs train" in str(info.value)


def test_write_and_update_json(make_config, tmp_path: Path) -> None:
    import numpy as np

    run = Run.open(make_config(), tmp_path / "run")
    run.write_json("eval/x.json", {"n": np.int64(3), "p": np.float32(0.5), "a": np.arange(2), "path": tmp_path})
    assert run.read_json("eval/x.json") == {"n": 3, "p": 0.5, "a": [0, 1], "path": str(tmp_path)}
    assert run.update_json("eval/x.json", n=4)["n"] == 4
    assert not list((run.path / "eval").glob("*.tmp"))


def test_history_csv_round_trip(tmp_path: Path) -> None:
    write_csv(tmp_path / "h.csv", [{"epoch": 0, "loss": 0.5}, {"epoch": 1, "loss": 0.25}])
    assert read_history(tmp_path / "h.csv") == {"epoch": [0.0, 1.0], "loss": [0.5, 0.25]}
    assert read_history(tmp_path / "missing.csv") == {}


def test_for_notebook_takes_locations_from_the_environment(make_config, tmp_path: Path, monkeypatch) -> None:
    Run.open(make_config(tmp_path / "recorded"), tmp_path / "run")
    monkeypatch.setenv("CATSDOGS_DATA_DIR", str(tmp_path / "moved"))
    assert Run.for_notebook("smoke", tmp_path / "run").config.data_dir == str(tmp_path / "moved")
    given = Run.for_notebook("smoke", tmp_path / "run", data_dir=str(tmp_path / "given"))
    assert given.config.data_dir == str(tmp_path / "given")  # an explicit location wins
    monkeypatch.delenv("CATSDOGS_DATA_DIR")
    assert Run.for_notebook("smoke", tmp_path / "run").config.data_dir == str(tmp_path / "recorded")


def test_kept_epoch_is_the_first_lowest_validation_loss():
    from catsdogs.records import kept_epoch

    assert kept_epoch({"val_loss": [0.5, 0.3, 0.3, 0.4]}) == 2  # early stopping keeps the first best
    assert kept_epoch({"loss": [0.5]}) is None
