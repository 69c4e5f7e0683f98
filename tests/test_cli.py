"""Tests of ``python -m catsdogs`` (:mod:`catsdogs.cli`), called in-process through
:func:`catsdogs.cli.main.main` except for the ``--help`` and exit-code checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_image, tiny_config
from PIL import Image

from catsdogs.cli.main import main

pytestmark = pytest.mark.usefixtures("isolated_env")

PROJECT = Path(__file__).resolve().parents[1]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def run_error(argv: list[str], capsys) -> str:
    """Run the CLI expecting a user error: exit 2 and exactly one ``error:`` line; return it."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    (line,) = error_lines(captured.err)
    assert "Traceback" not in captured.err
    return line


# ----------------------------------------------------------------------------- clear errors


def test_missing_data_dir(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nowhere"
    line = run_error(["data", "--data-dir", str(missing)], capsys)
    assert str(missing) in line and "does not exist" in line
    assert "--data-dir" in line and "CATSDOGS_DATA_DIR" in line


def test_no_data_configured(capsys) -> None:
    line = run_error(["data"], capsys)
    assert "CATSDOGS_DATA_DIR" in line and "--download" in line


def test_empty_class_folder(make_petimages, capsys) -> None:
    root = make_petimages(n_per_class=2)
    for f in (root / "Cat").iterdir():
        f.unlink()
    line = run_error(["data", "--data-dir", str(root)], capsys)
    assert str(root / "Cat") in line and "no usable image" in line and "--data-dir" in line


def test_unknown_profile(capsys) -> None:
    line = run_error(["config", "--profile", "tiny"], capsys)
    assert "'tiny'" in line and "full" in line and "smoke" in line


@pytest.mark.parametrize("command", ["evaluate", "export", "bench"])
def test_commands_on_a_missing_run_create_nothing(command: str, isolated_env, capsys) -> None:
    line = run_error([command, "--profile", "smoke"], capsys)
    assert "not a run directory" in line and "--run-dir" in line
    assert not (isolated_env["runs"] / "smoke").exists()


def test_missing_weights_file(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "mobilenet_v2.tflite"
    line = run_error(["weights", "--weights", str(missing)], capsys)
    assert str(missing) in line and "does not exist" in line
    assert "--weights" in line and "CATSDOGS_WEIGHTS" in line


def test_unrecognised_weights_setting(capsys) -> None:
    line = run_error(["weights", "--weights", "model.pt"], capsys)
    assert "'model.pt'" in line and ".tflite" in line


@pytest.mark.parametrize("pair", ["image_size", "=3"])
def test_bad_set_syntax(pair: str, capsys) -> None:
    line = run_error(["config", "--set", pair], capsys)
    if "=" not in pair:
        assert "--set expects KEY=VALUE" in line and repr(pair) in line
    else:
        assert "unknown config option" in line


def test_unknown_set_field(capsys) -> None:
    line = run_error(["config", "--set", "imag_size=64"], capsys)
    assert "imag_size" in line and "valid options" in line and "image_size" in line


@pytest.mark.parametrize(
    ("pair", "named"),
    [("image_size=-5", "image_size must be an integer >= 32"), ("batch_size=big", "batch_size must be an integer")],
)
def test_bad_setting_fails_before_any_work(
    pair: str, named: str, make_petimages, tmp_path: Path, isolated_env, monkeypatch, capsys
) -> None:
    from catsdogs.data import scan

    def no_scan(*args, **kwargs):
        raise AssertionError("the data was touched before the settings were checked")

    monkeypatch.setattr(scan, "find_data_dir", no_scan)
    monkeypatch.setattr(scan, "scan_dataset", no_scan)
    root = make_petimages(n_per_class=2)
    argv = ["train", "--profile", "smoke", "--data-dir", str(root), "--set", pair, "--run-dir", str(tmp_path / "r")]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    (line,) = captured.err.strip().splitlines()  # one line, no traceback
    assert line.startswith("error: invalid setting: ") and named in line
    assert not (tmp_path / "r").exists()
    assert not isolated_env["cache"].exists() or not any(isolated_env["cache"].iterdir())


def test_run_dir_with_other_settings(make_petimages, tmp_path: Path, capsys) -> None:
    root = make_petimages(n_per_class=5)
    base = ["train", "--phase", "data", "--data-dir", str(root), "--run-dir", str(tmp_path / "run")]
    assert main(base + ["--set", "image_size=32"]) == 0
    capsys.readouterr()
    line = run_error(base + ["--set", "image_size=48"], capsys)
    assert "image_size: 32 there, 48 now" in line and str(tmp_path / "run") in line


def test_too_few_images_to_split(make_petimages, capsys) -> None:
    root = make_petimages(n_per_class=2)
    line = run_error(["data", "--data-dir", str(root)], capsys)
    assert "cannot split 4 images" in line and "max_images_per_class" in line


# ----------------------------------------------------------------------------- commands that work


def test_config_prints_json(capsys) -> None:
    assert main(["config", "--profile", "smoke", "--set", "image_size=64", "--set", "notes=hello"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["profile"] == "smoke" and cfg["image_size"] == 64 and cfg["notes"] == "hello"
    assert cfg["max_images_per_class"] == 150


def test_data_prints_counts(make_petimages, capsys) -> None:
    root = make_petimages(n_per_class=12)
    (root / "Dog" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0junk")
    assert main(["data", "--data-dir", str(root), "--set", "max_images_per_class=null"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["per_class"] == {"cat": 12, "dog": 12} and out["usable"] == 24
    assert out["skipped_by_reason"] == {"not an image": 1}
    assert out["split"]["val"]["total"] + out["split"]["train"]["total"] == 24


# ----------------------------------------------------------------------------- predict


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 32-pixel classifier saved as ``.keras`` (enough for the plumbing)."""
    from catsdogs.model.classifier import build_classifier

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    build_classifier(tiny_config(), None).save(path)
    return path


@pytest.fixture
def good_image(tmp_path: Path) -> Path:
    path = tmp_path / "cat.jpg"
    synthetic_image("Cat", np.random.default_rng(0), 40).save(path)
    return path


def test_predict_good_image_prints_label_and_probability(model_file: Path, good_image: Path, capsys) -> None:
    assert main(["predict", str(good_image), "--model", str(model_file)]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    file, label, prob = line.split("\t")
    assert file == str(good_image) and label in {"cat", "dog"}
    assert prob.startswith("P(dog)=") and 0.0 <= float(prob.split("=")[1]) <= 1.0

    assert main(["predict", str(good_image), "--model", str(model_file), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["label"] == ("dog" if record["prob_dog"] >= 0.5 else "cat")
    assert 0.5 <= record["confidence"] <= 1.0


def test_predict_png_with_alpha(model_file: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "pet.png"
    Image.new("RGBA", (50, 30), (10, 20, 200, 128)).save(path)
    assert main(["predict", str(path), "--model", str(model_file)]) == 0
    assert "P(dog)=" in capsys.readouterr().out


def test_predict_unreadable_image_names_the_file(model_file: Path, good_image: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    assert main(["predict", str(bad), "--model", str(model_file)]) == 2
    out = capsys.readouterr().out
    assert str(bad) in out and "not an image" in out and "error:" in out

    # With one good and one bad file: both reported, in order, exit 1.
    assert main(["predict", str(bad), str(good_image), "--model", str(model_file)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0].startswith(f"{bad}\terror:") and lines[1].startswith(f"{good_image}\t")
    assert error_lines(captured.err) == ["error: 1 of 2 files could not be read (see their lines above)"]


def test_predict_exit_status_counts_unreadable_files(
    model_file: Path, good_image: Path, tmp_path: Path, capsys
) -> None:
    missing = tmp_path / "missing.jpg"
    for flags in ([], ["--json"]):
        assert (
            main(["predict", str(good_image), str(missing), str(good_image), "--model", str(model_file), *flags]) == 1
        )
        captured = capsys.readouterr()
        out = captured.out.strip().splitlines()
        assert len(out) == 3 and str(missing) in out[1] and "not found" in out[1]
        assert all(str(good_image) in line and "error" not in line for line in (out[0], out[2]))
        assert error_lines(captured.err) == ["error: 1 of 3 files could not be read (see their lines above)"]
    assert main(["predict", str(good_image), "--model", str(model_file)]) == 0
    assert error_lines(capsys.readouterr().err) == []


def test_predict_missing_image_and_missing_model(model_file: Path, tmp_path: Path, capsys) -> None:
    missing = tmp_path / "missing.jpg"
    assert main(["predict", str(missing), "--model", str(model_file)]) == 2
    out = capsys.readouterr().out
    assert str(missing) in out and "not found" in out

    no_model = tmp_path / "no_model.keras"
    line = run_error(["predict", str(missing), "--model", str(no_model)], capsys)
    assert str(no_model) in line and "catsdogs train" in line


# ----------------------------------------------------------------------------- as a program


def test_module_help_runs_in_a_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "catsdogs", "--help"], capture_output=True, text=True, cwd=PROJECT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m catsdogs")
    for command in ("data", "train", "evaluate", "predict", "reproduce", "export", "bench"):
        assert command in proc.stdout


def test_module_exit_code_on_user_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "catsdogs", "config", "--profile", "nope"],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert error_lines(proc.stderr) == [proc.stderr.strip()]
    assert "unknown profile 'nope'" in proc.stderr


# ----------------------------------------------------------------------------- what users meet first

PUBLISHED_INT8 = PROJECT / "models" / "catsdogs_mobilenetv2.int8.tflite"
#: What TensorFlow and LiteRT print at start-up when nobody silences them.
STARTUP_NOISE = ("oneDNN", "absl::InitializeLog", "cpu_feature_guard", "XNNPACK", "port.cc")


def _run_cli(*argv: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "catsdogs", *argv], capture_output=True, text=True, cwd=cwd, timeout=300, env=env
    )


def test_predict_finds_the_published_model_from_another_directory(tmp_path: Path) -> None:
    Image.new("RGB", (64, 64), (200, 30, 200)).save(tmp_path / "magenta.png")
    proc = _run_cli("predict", "magenta.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("magenta.png\t") and "unsure" in proc.stdout


def test_predict_says_unsure_on_a_solid_colour_and_stays_quiet(tmp_path: Path) -> None:
    from conftest import REAL_ENV

    orange = tmp_path / "orange.png"
    Image.new("RGB", (300, 200), (240, 140, 30)).save(orange)
    files = [str(orange)]
    cat = Path(REAL_ENV["CATSDOGS_DATA_DIR"] or "/nonexistent") / "Cat" / "1.jpg"
    if cat.is_file():  # a clear cat photo of the real data, when configured
        files.append(str(cat))
    proc = _run_cli("predict", "--model", str(PUBLISHED_INT8), *files)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith(f"{orange}\t") and lines[0].endswith("\tunsure")
    if cat.is_file():
        assert lines[1].split("\t")[1] == "cat" and "unsure" not in lines[1]
    assert not [n for n in STARTUP_NOISE if n in proc.stderr], proc.stderr
    verbose = _run_cli("-v", "predict", "--model", str(PUBLISHED_INT8), str(orange))
    assert verbose.returncode == 0 and "XNNPACK" in verbose.stderr  # -v still shows the runtime's lines


def test_predict_json_lines_and_folders(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "photos" / "inner"
    folder.mkdir(parents=True)
    Image.new("RGB", (64, 64), (20, 200, 20)).save(folder / "green.jpg")
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    assert main(["predict", "--model", str(PUBLISHED_INT8), "--json", str(tmp_path / "photos")]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["file"].endswith("green.jpg") and record["unsure"] is True
    assert set(record) == {"file", "label", "prob_dog", "confidence", "unsure"}


def test_evaluate_and_bench_print_tables_and_json_equals_the_record(make_petimages, tmp_path: Path, capsys) -> None:
    from catsdogs.training import steps

    run_dir = tmp_path / "run"
    steps.train_run(tiny_config(make_petimages(n_per_class=8)), run_dir)
    assert main(["evaluate", "--profile", "smoke", "--run-dir", str(run_dir)]) == 0
    table = capsys.readouterr().out
    assert "accuracy" in table and "95 % CI" in table and "confusion matrix" in table and "{" not in table
    assert main(["evaluate", "--profile", "smoke", "--run-dir", str(run_dir), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert main(["export", "--profile", "smoke", "--run-dir", str(run_dir)]) == 0
    capsys.readouterr()
    assert main(["bench", "--profile", "smoke", "--run-dir", str(run_dir), "--repeats", "2"]) == 0
    assert "tflite_int8" in capsys.readouterr().out
    assert main(["bench", "--profile", "smoke", "--run-dir", str(run_dir), "--repeats", "2", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((run_dir / "bench" / "bench.json").read_text())


def test_train_stops_after_the_step_asked_for(make_petimages, tmp_path: Path) -> None:
    """`train --phase data` and `steps.train_run(until="data")` are one path: the split, no phase."""
    from catsdogs.training import steps

    root = make_petimages(n_per_class=4)
    assert main(["train", "--phase", "data", "--data-dir", str(root), "--run-dir", str(tmp_path / "cli")]) == 0
    run = steps.train_run(tiny_config(root), tmp_path / "lib", until="data")
    assert run.has("data", "manifest.csv") and not run.has("phase1", "result.json")
    assert (tmp_path / "cli" / "data" / "manifest.csv").is_file() and not (tmp_path / "cli" / "phase1").exists()
    with pytest.raises(ValueError, match="until must be one of data, phase1, phase2"):
        steps.train_run(tiny_config(root), tmp_path / "other", until="1")
