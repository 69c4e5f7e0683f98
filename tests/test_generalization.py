"""The verdict on "strong generalization": its rules on fixed inputs, the summary of external
records, the claim row (including *not testable here*) and the published records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from catsdogs.records import ExternalEvaluation, Interval, NonPetShares, Proportion, PublishedModels
from catsdogs.studies import claims
from catsdogs.studies import generalization as gen

ROOT = Path(__file__).resolve().parents[1]
#: A published record, whose sets the hand-made records below change.
PUBLISHED = ExternalEvaluation.read(ROOT / "results" / "full" / "external" / "catsdogs_mobilenetv2.keras.json")


def ci(estimate: float, low: float, high: float) -> Interval:
    return Interval(estimate=estimate, low=low, high=high)


@pytest.mark.parametrize(
    ("interval", "reference", "verdict"),
    [
        (ci(0.984, 0.974, 0.993), 0.9878, gen.HOLDS),  # the Oxford sample: 98.78 % inside its CI
        (ci(0.658, 0.637, 0.677), 0.9878, gen.DOES_NOT_HOLD),  # the thumbnails: the whole CI below
        (ci(0.995, 0.990, 0.999), 0.9878, gen.BETTER),
        (ci(0.970, 0.960, 0.9878), 0.9878, gen.HOLDS),  # on the edge: still inside
        (ci(0.984, 0.974, 0.993), None, gen.NOT_TESTABLE),
    ],
)
def test_accuracy_verdict(interval, reference, verdict):
    assert gen.accuracy_verdict(interval, reference) == verdict


def test_resolution_verdict():
    cifar = ci(0.658, 0.637, 0.677)
    assert gen.resolution_verdict(cifar, ci(0.66, 0.62, 0.70), 0.988) == "explains all of the drop"
    assert gen.resolution_verdict(cifar, ci(0.60, 0.55, 0.65), 0.988) == "explains all of the drop"
    assert gen.resolution_verdict(cifar, ci(0.808, 0.768, 0.845), 0.988) == "explains part of the drop"
    assert gen.resolution_verdict(cifar, ci(0.99, 0.98, 1.0), 0.988) == "explains none of the drop"
    assert gen.resolution_verdict(cifar, None, 0.988) == gen.NOT_MEASURED


def _record(model: str, sets: dict) -> dict:
    not_available = {"oxford-iiit-pet": "not found: set it"}
    return ExternalEvaluation(
        model=PUBLISHED.model.replace(file=model), sets=sets, not_available=not_available
    ).to_dict()


def _pets(acc: Interval, n: int = 100):
    entry = PUBLISHED.sets["oxford-pets-sample"]
    return entry.replace(pets=entry.pets.replace(n=n, accuracy=acc, mistakes=[], groups={}), non_pets=None)


def _write_records(record_dir: Path) -> dict:
    external = record_dir / gen.EXTERNAL_DIR
    external.mkdir(parents=True)
    sets = {"oxford-pets-sample": _pets(ci(0.98, 0.97, 0.99)), "cifar10-test": _pets(ci(0.60, 0.58, 0.62))}
    (external / "m.keras.json").write_text(json.dumps(_record("m.keras", sets)))
    resolution = {
        "corruption": "low_resolution",
        "levels": [0.0, 112.0, 64.0, 48.0, 32.0, 24.0],
        "models": {
            "m.keras": {
                "accuracy": [0.99, 0.98, 0.95, 0.9, 0.8, 0.7],
                "accuracy_low": [0.0] * 6,
                "accuracy_high": [1.0] * 6,
            }
        },
    }
    (external / gen.RESOLUTION_FILE).write_text(json.dumps(resolution))
    return PublishedModels.from_dict({"files": {"m.keras": {"val_accuracy": 0.985}}})


def test_summary_and_claim_row_from_records(tmp_path: Path):
    models = _write_records(tmp_path)
    summary = gen.generalization_summary(tmp_path, models)
    sets = summary.models["m.keras"].sets
    assert sets["oxford-pets-sample"].verdict == gen.HOLDS
    assert sets["cifar10-test"].verdict == gen.DOES_NOT_HOLD
    assert sets["cifar10-test"].shrunk.estimate == 0.8  # the 32 px level of the control
    assert sets["cifar10-test"].resolution == "explains part of the drop"
    assert list(summary.not_available) == ["oxford-iiit-pet"]
    ours, status = gen.claim_status(summary)
    # CIFAR-10 thumbnails are a stress test outside the claim (photos of pets): the verdict
    # is on the Oxford photos, with how large a drop their sample could have missed
    assert status == "no detectable drop on the Oxford pets sample"
    assert "98.0 %" in ours and "60.0 %" in ours and "outside the claim, CIFAR-10 pets (a stress test)" in ours
    drop = sets["oxford-pets-sample"].detectable_drop
    assert f"a drop under {100 * drop:.1f} pp would not show" in ours
    n = sets["oxford-pets-sample"].n
    # the verdict's own interval, the percentile bootstrap: at that drop its upper end falls below
    # the validation accuracy, one image right more and it does not
    from catsdogs.evaluation.bootstrap import bootstrap_ci

    def upper(right: int) -> float:
        labels = np.ones(n, dtype=int)
        probs = np.r_[np.ones(right), np.zeros(n - right)]
        return bootstrap_ci(labels, probs, n_samples=4000, seed=0, metric_names=("accuracy",))["accuracy"]["high"]

    right = round((0.985 - drop) * n)
    assert upper(right) < 0.985 and upper(right + 1) >= 0.985 - 1 / n
    page = gen.generalization_markdown(summary)
    assert "does not hold" in page and "Oxford-IIIT Pet" in page


def test_without_records_the_claim_is_not_testable_here(tmp_path: Path):
    summary = gen.generalization_summary(tmp_path, None)
    assert gen.claim_status(summary) == (gen.NOT_MEASURED, gen.NOT_TESTABLE)
    assert "not testable here" in gen.generalization_markdown(summary)


def test_claim_table_gets_the_generalization_row(tmp_path: Path):
    from catsdogs.config import get_config
    from catsdogs.runs import Run

    run = Run.open(get_config("smoke"), tmp_path / "run")
    models = _write_records(tmp_path / "record")
    rows = claims.claim_rows(run, {}, gen.generalization_summary(tmp_path / "record", models))
    row = next(r for r in rows if r["claim"] == "strong generalization")
    assert "no detectable drop on the Oxford pets sample" in row["verdict"]
    assert all(r["claim"] != "strong generalization" for r in claims.claim_rows(run, {}))


def test_published_records_give_the_published_verdict():
    record_dir = ROOT / "results" / "full"
    if not (record_dir / gen.EXTERNAL_DIR).is_dir():
        pytest.skip("no published external records")
    models = PublishedModels.read(ROOT / "models" / "catsdogs_mobilenetv2.json")
    summary = gen.generalization_summary(record_dir, models)
    assert set(summary.models) == set(models.files)  # both published models were evaluated
    for entry in summary.models.values():
        assert entry.sets["cifar10-test"].shrunk, "the resolution control covers every model"
    page = (ROOT / "book" / "_generated" / "generalization.md").read_text()
    assert page.startswith(gen.generalization_markdown(summary)), "book/_generated/generalization.md is stale"


def test_cli_prints_the_verdict_of_the_published_records(capsys):
    from catsdogs.cli.main import main

    if not (ROOT / "results" / "full" / gen.EXTERNAL_DIR).is_dir():
        pytest.skip("no published external records")
    assert main(["generalization"]) == 0
    out = capsys.readouterr().out
    assert "strong generalization" in out and "| Keras | Oxford pets sample (570) |" in out
    assert main(["generalization", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["models"]["catsdogs_mobilenetv2.keras"]["sets"]["cifar10-test"]["verdict"] == gen.DOES_NOT_HOLD


def test_without_a_validation_accuracy_nothing_is_judged(tmp_path: Path):
    _write_records(tmp_path)
    summary = gen.generalization_summary(tmp_path, None)  # no models record: nothing to judge against
    assert {row.verdict for row in summary.models["m.keras"].sets.values()} == {gen.NOT_TESTABLE}
    assert gen.claim_status(summary)[1] == gen.NOT_TESTABLE


def test_non_pet_rows_without_an_ood_threshold():
    # a model with no recorded threshold: no unsure share
    non = NonPetShares(n=10, called_dog=Proportion(k=6, n=10, estimate=0.6, low=0.3, high=0.8))
    rows = gen.non_pet_rows(gen.GeneralizationSummary(models={"m.keras": gen.ModelGeneralization(non_pets=non)}))
    assert rows[0]["flagged unsure"] == gen.NOT_MEASURED and rows[0]["called dog"] == "60.0 %"


def test_near_duplicates_find_a_reencoded_resized_copy_and_not_other_photos(tmp_path: Path):
    """A photo saved again at another size and JPEG quality is found; other photos are not."""
    from PIL import Image

    from catsdogs.data.duplicates import duplicate_record, phash_bits

    rng = np.random.default_rng(0)
    originals = []
    for i in range(6):
        # smooth random pictures (low frequencies carry the hash), one per file
        small = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
        path = tmp_path / f"a{i}.jpg"
        Image.fromarray(small).resize((180, 180), Image.BICUBIC).save(path, quality=95)
        originals.append(path)
    copy = tmp_path / "copy.png"
    Image.open(originals[3]).resize((300, 240)).save(copy)
    other = tmp_path / "other.jpg"
    Image.fromarray(rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)).resize((200, 200)).save(other)
    record = duplicate_record(
        [p.name for p in originals], phash_bits(originals), ["copy.png", "other.jpg"], phash_bits([copy, other]), 6
    )
    assert [(p["a"], p["b"]) for p in record["pairs"]] == [("a3.jpg", "copy.png")]
    assert record["images_of_b_with_a_pair"] == 1 and record["images"] == [6, 2]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(OSError, match="broken.jpg: cannot be read"):
        phash_bits([broken])


def test_the_duplicate_record_is_not_taken_for_a_model_record(tmp_path: Path):
    models = _write_records(tmp_path)
    entry = {"hash": "imagehash.phash, 64 bits", "images": [10, 570], "images_of_b_with_a_pair": 0, "max_distance": 6}
    dup = {"petimages": 10, "sets": {"oxford-pets-sample": entry}}
    (tmp_path / gen.EXTERNAL_DIR / gen.DUPLICATES_FILE).write_text(json.dumps(dup))
    summary = gen.generalization_summary(tmp_path, models)
    assert list(summary.models) == ["m.keras"]
    assert "Oxford pets sample: 0 of 570" in gen.generalization_markdown(summary)


def test_gallery_titles_name_the_image_in_words():
    from catsdogs.studies.generalization import _image_title

    assert _image_title("american_bulldog_12.jpg") == "american bulldog 12"
    assert _image_title("Maine_Coon_16.jpg") == "Maine Coon 16"
    assert _image_title("0515.jpg") == "image 515"
