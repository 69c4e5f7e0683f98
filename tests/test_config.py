"""Tests of :mod:`catsdogs.config`: profiles, overrides, locations from the environment,
each setting's reason, the validation of every field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from catsdogs.config import (
    ENV_CACHE_DIR,
    ENV_DATA_DIR,
    ENV_RUNS_DIR,
    ENV_WEIGHTS,
    NOT_GIVEN,
    PROFILES,
    RULES,
    Config,
    InvalidSetting,
    UserError,
    cache_dir,
    data_dir_setting,
    default_run_dir,
    get_config,
    runs_dir,
    weights_spec,
)

pytestmark = pytest.mark.usefixtures("isolated_env")

PROJECT = Path(__file__).resolve().parents[1]

LOCATION_FIELDS = {"data_dir", "weights", "cache_dir", "download", "notes"}


def test_profiles_exist_and_name_themselves() -> None:
    assert {"smoke", "full"} <= set(PROFILES)
    for name in PROFILES:
        assert get_config(name).profile == name


def test_smoke_is_smaller_than_full() -> None:
    smoke, full = get_config("smoke"), get_config("full")
    assert smoke.max_images_per_class is not None and full.max_images_per_class is None
    assert smoke.image_size < full.image_size


def test_overrides_apply_and_config_is_frozen() -> None:
    cfg = get_config("smoke", image_size=32, batch_size=8, phase2_epochs=2, fine_tune_from="block_16_expand")
    assert (cfg.image_size, cfg.batch_size, cfg.phase2_epochs) == (32, 8, 2)
    assert cfg.fine_tune_from == "block_16_expand"
    assert cfg.profile == "smoke"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.image_size = 64  # type: ignore[misc]


def test_none_override_keeps_profile_value() -> None:
    # get_config ignores None (so CLI options left unset do not clobber the profile).
    assert get_config("smoke", max_images_per_class=NOT_GIVEN).max_images_per_class == 150
    assert get_config("smoke", max_images_per_class=None).max_images_per_class is None  # an explicit None applies
    assert get_config("smoke").replace(max_images_per_class=None).max_images_per_class is None


def test_unknown_profile_names_valid_choices() -> None:
    with pytest.raises(ValueError) as info:
        get_config("tiny")
    message = str(info.value)
    assert "'tiny'" in message
    for name in PROFILES:
        assert name in message


def test_unknown_override_names_valid_options() -> None:
    with pytest.raises(ValueError) as info:
        get_config("smoke", imag_size=32)
    message = str(info.value)
    assert "imag_size" in message
    assert "image_size" in message and "phase2_epochs" in message


def test_replace_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="epochs"):
        Config().replace(epochs=3)


def test_training_dict_excludes_locations() -> None:
    cfg = get_config("smoke", data_dir="/somewhere", weights="/w.tflite", cache_dir="/c", notes="hi")
    training = cfg.training_dict()
    assert not LOCATION_FIELDS & set(training)
    assert set(training) == {f.name for f in dataclasses.fields(Config)} - LOCATION_FIELDS
    moved = cfg.replace(data_dir="/elsewhere", weights="imagenet", cache_dir="/c2", download=True)
    assert moved.training_dict() == training
    assert cfg.replace(seed=1).training_dict() != training


def test_json_round_trip() -> None:
    cfg = get_config("smoke", image_size=32, data_dir="/d")
    again = Config.from_dict(json.loads(cfg.to_json()))
    assert again == cfg
    # Fields unknown to this version (from a newer/older run) are ignored, not fatal.
    assert Config.from_dict(cfg.to_dict() | {"removed_field": 1}) == cfg


def test_weights_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert weights_spec(get_config("smoke")) == "imagenet"
    monkeypatch.setenv(ENV_WEIGHTS, "/env/model.tflite")
    assert weights_spec(get_config("smoke")) == "/env/model.tflite"
    assert weights_spec(get_config("smoke", weights="none")) == "none"


def test_data_dir_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert data_dir_setting(get_config("smoke")) is None
    monkeypatch.setenv(ENV_DATA_DIR, "/env/PetImages")
    assert data_dir_setting(get_config("smoke")) == "/env/PetImages"
    assert data_dir_setting(get_config("smoke", data_dir="/cfg/PetImages")) == "/cfg/PetImages"
    monkeypatch.setenv(ENV_DATA_DIR, "")
    assert data_dir_setting(get_config("smoke")) is None


def test_cache_dir_resolution_order(tmp_path: Path, isolated_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_dir(get_config("smoke")) == isolated_env["cache"]
    assert isolated_env["cache"].is_dir()  # created on demand
    explicit = tmp_path / "explicit"
    assert cache_dir(get_config("smoke", cache_dir=str(explicit))) == explicit
    assert explicit.is_dir()
    monkeypatch.delenv(ENV_CACHE_DIR)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir(get_config("smoke")) == tmp_path / "home" / ".cache" / "catsdogs"


def test_runs_dir_from_environment(isolated_env: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert runs_dir() == isolated_env["runs"]
    assert default_run_dir("smoke") == isolated_env["runs"] / "smoke"
    monkeypatch.delenv(ENV_RUNS_DIR)
    monkeypatch.chdir(tmp_path)  # not inside the project: ./runs
    assert runs_dir() == tmp_path / "runs"


def test_field_roles_come_from_metadata() -> None:
    cfg = get_config("smoke", data_dir="/d", notes="n")
    assert {"data_dir", "weights", "cache_dir", "download", "notes"}.isdisjoint(cfg.training_dict())
    assert {"image_size", "seed", "phase1_lr"} <= set(cfg.training_dict())
    after = Config.after_phase1_fields()
    assert {"phase2_lr", "phase2_epochs", "fine_tune_from"} <= after
    assert not after & {"image_size", "seed", "phase1_lr", "val_fraction", "max_images_per_class"}


# ----------------------------------------------------------------------------- reasons


def test_every_reason_is_text_and_the_book_shows_them() -> None:
    from catsdogs.report.book import CONFIG_ROW_ORDER, config_rows

    reasons = Config.reasons()
    assert {"image_size", "phase2_lr", "seed"} <= set(reasons)
    assert not LOCATION_FIELDS & set(reasons)  # where files live needs no justification
    for name, why in reasons.items():
        assert isinstance(why, str) and why.strip() == why and len(why) > 10, name
    assert set(CONFIG_ROW_ORDER) == set(reasons) and len(CONFIG_ROW_ORDER) == len(reasons)
    rows = config_rows(get_config("smoke"))
    assert [r["setting"] for r in rows] == [f"`{n}`" for n in CONFIG_ROW_ORDER]
    assert [r["why"] for r in rows] == [reasons[n] for n in CONFIG_ROW_ORDER]
    assert rows[0]["this run"] == "`128`" and rows[0]["`full` profile"] == "`224`"  # image_size


# ----------------------------------------------------------------------------- validation


def test_every_field_has_a_rule() -> None:
    assert list(RULES) == [f.name for f in dataclasses.fields(Config)]


def test_profiles_defaults_and_every_committed_config_are_valid() -> None:
    Config()
    for name in PROFILES:
        get_config(name)
    files = sorted([*PROJECT.glob("results/**/config.json"), *PROJECT.glob("tests/fixtures/**/config.json")])
    assert files, "the published records hold config.json files"
    for path in files:
        Config.from_dict(json.loads(path.read_text()))


@pytest.mark.parametrize(
    "overrides",
    [
        {"phase2_epochs": 0},  # phase 2 skipped: the phase-1 model is the final one
        {"mitigation_epochs": 0, "phase1_patience": 0, "dropout": 0, "augment_rotation": 0, "augment_zoom": 0},
        {"test_fraction": 0.1, "val_fraction": 0.2},
        {"max_images_per_class": None, "robustness_per_class": None},
        {"image_size": 32, "batch_size": 1, "alpha": 0.35, "phase1_lr": 1},
        {"seed": 0, "profile": "my-variant"},
    ],
)
def test_edge_values_are_accepted(overrides: dict) -> None:
    cfg = get_config("smoke").replace(**overrides)
    assert all(getattr(cfg, k) == v for k, v in overrides.items())


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("image_size", -5, ">= 32"),
        ("image_size", 16, ">= 32"),
        ("image_size", "big", "integer"),  # --set image_size=big arrives as text
        ("image_size", 224.0, "integer"),
        ("batch_size", 0, ">= 1"),
        ("val_fraction", 0, "between 0 and 1"),
        ("val_fraction", 1.5, "between 0 and 1"),
        ("test_fraction", -0.1, "from 0"),
        ("phase1_epochs", 0, ">= 1"),
        ("phase2_epochs", -1, ">= 0"),
        ("phase1_lr", 0, "> 0"),
        ("phase2_lr", -1e-5, "> 0"),
        ("phase2_lr", float("nan"), "> 0"),
        ("phase2_lr", "1e-5x", "number"),
        ("dropout", 1.0, "not including, 1"),
        ("augment_rotation", -0.1, ">= 0"),
        ("augment_zoom", 1.5, "RandomZoom"),
        ("phase1_patience", -1, ">= 0"),
        ("alpha", 0.6, "0.35, 0.5, 0.75, 1.0, 1.3, 1.4"),
        ("max_images_per_class", 0, "null for all images"),
        ("robustness_per_class", 2.5, "integer"),
        ("bootstrap_samples", 0, ">= 1"),
        ("mitigation_epochs", -1, ">= 0"),
        ("fine_tune_from", "", "layer name"),
        ("profile", "", "non-empty"),
        ("seed", "42", "integer"),
        ("seed", -1, "from 0"),
        ("augment_flip", "yes", "true or false"),
        ("weights", 3, "or null"),
        ("notes", 42, "text"),
    ],
)
def test_bad_values_name_the_field_and_what_is_allowed(name: str, value, allowed: str) -> None:
    with pytest.raises(InvalidSetting) as info:
        get_config("smoke").replace(**{name: value})
    message = str(info.value)
    assert f"{name} must be" in message and allowed in message and "\n" not in message
    assert message.endswith(f"got {json.dumps(value)}")
    assert isinstance(info.value, UserError) and isinstance(info.value, ValueError)


def test_fractions_must_leave_a_training_split_and_all_problems_are_named() -> None:
    with pytest.raises(InvalidSetting, match=r"val_fraction \+ test_fraction must be below 1.*got 0.6 \+ 0.4"):
        get_config("smoke", val_fraction=0.6, test_fraction=0.4)
    with pytest.raises(InvalidSetting) as info:
        Config.from_dict(get_config("smoke").to_dict() | {"image_size": 0, "batch_size": "32"})
    assert "image_size must be" in str(info.value) and "batch_size must be" in str(info.value)
