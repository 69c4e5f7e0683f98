"""The release files: LICENSE, NOTICE, CITATION.cff and the model card ``models/README.md``.

The model card's figures are typed into Markdown for readers of the repository. This test
recomputes every one of its tables from the records they come from (the publication record
``models/catsdogs_mobilenetv2.json`` and ``results/full/``) and checks that its prose holds
no other number, so the card cannot drift from the records.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tomllib
import yaml

from catsdogs.config import REPOSITORY_URL
from catsdogs.studies.corruptions import STUDY_LABELS

ROOT = Path(__file__).resolve().parents[1]
CARD = ROOT / "models" / "README.md"


def _json(rel: str) -> dict:
    return json.loads((ROOT / rel).read_text())


def _pct(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f} %"


def _pct_range(low: float, high: float, digits: int = 2) -> str:
    return f"{100 * low:.{digits}f}–{100 * high:.{digits}f} %"


#: How the card describes each file, each source of ImageNet weights, OOD kind and corruption.
FILE_FORMATS = {
    "catsdogs_mobilenetv2.keras": "Keras 3 model, float32, without optimizer state",
    "catsdogs_mobilenetv2.int8.tflite": "TFLite, full-integer int8 (calibrated on training images), "
    "uint8 input, float32 output",
}
WEIGHTS_KINDS = {
    "tflite-converted": "int8 TFLite MobileNetV2, dequantized to float (tflite-converted)",
    "keras-download": "Keras' ImageNet checkpoint (keras-download)",
    "keras-file": "a Keras ImageNet weights file (keras-file)",
}
OOD_KINDS = {
    "uniform_noise": "uniform noise",
    "gaussian_noise": "Gaussian noise",
    "solid_colour": "solid colours",
    "background_crop": "background crops (a corner of a real photo, 1/16 of its area, enlarged)",
}
#: The card labels each corruption as the study declares it (its name, what its parameter is).
CORRUPTIONS = STUDY_LABELS
#: The card's rows of the generalization test: set, its label.
EXTERNAL = {
    "oxford-pets-sample": "photos of pets: Oxford-IIIT Pet sample (Abyssinian and Bengal cats, American bulldogs)",
    "oxford-pets-breeds": "photos of pets: Oxford-IIIT Pet, 30 more breeds (10 of cats, 20 of dogs)",
    "cifar10-test": "thumbnails of pets: CIFAR-10 test cats and dogs, 32 x 32 pixels",
}
NON_PETS = (
    "photos of neither: CIFAR-10 test airplanes, cars, birds, deer, frogs, horses, ships, trucks (flagged unsure)"
)


def expected_rows() -> dict[str, list[str]]:
    """Every table row of the card, ``{first cell: other cells}``, from the records."""
    record = _json("models/catsdogs_mobilenetv2.json")
    cfg = record["config"]
    rows: dict[str, list[str]] = {}
    for name, f in record["files"].items():
        rows[f"`{name}`"] = [FILE_FORMATS[name], f"{f['size_mb']} MB", _pct(f["val_accuracy"]), _pct(f["val_f1"])]

    scan = _json("results/full/data/scan.json")
    rows["all usable"] = [f"{scan['per_class'][c]:,}" for c in ("cat", "dog")]
    for split in ("train", "val"):
        label = {"train": "training split", "val": "validation split"}[split]
        rows[label] = [f"{scan['split'][split][c]:,}" for c in ("cat", "dog")]

    augment = [
        name
        for flag, name in (
            (cfg["augment_flip"], "random horizontal flip"),
            (cfg["augment_rotation"], f"rotation (factor {cfg['augment_rotation']} of a turn)"),
            (cfg["augment_zoom"], f"zoom (factor {cfg['augment_zoom']})"),
        )
        if flag
    ]
    rows.update(
        {
            "input size": [str(cfg["image_size"])],
            "width multiplier (alpha)": [str(cfg["alpha"])],
            "ImageNet weights": [WEIGHTS_KINDS[_json("results/full/provenance.json")["weights"]["kind"]]],
            "head": [f"global average pooling, dropout {cfg['dropout']}, one logit"],
            "augmentation": [", ".join(augment)],
            "phase 1 (base frozen)": [
                f"at most {cfg['phase1_epochs']} epochs, Adam, learning rate {cfg['phase1_lr']}, "
                f"early stopping patience {cfg['phase1_patience']}"
            ],
            "phase 2 (fine-tuning)": [
                f"from {cfg['fine_tune_from']} on, at most {cfg['phase2_epochs']} epochs, learning rate "
                f"{cfg['phase2_lr']}, early stopping patience {cfg['phase2_patience']}"
            ],
            "batch size": [str(cfg["batch_size"])],
            "seed": [str(cfg["seed"])],
        }
    )

    evaluation = _json("results/full/eval/metrics.json")
    ci = evaluation["ci95"]
    for key, label in (("accuracy", "accuracy"), ("precision", "precision"), ("recall", "recall"), ("f1", "F1")):
        rows[label] = [_pct(ci[key]["estimate"]), _pct_range(ci[key]["low"], ci[key]["high"])]
    for key, label in (("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC")):
        rows[label] = [f"{ci[key]['estimate']:.4f}", f"{ci[key]['low']:.4f}–{ci[key]['high']:.4f}"]
    (tn, fp), (fn, tp) = evaluation["metrics"]["confusion_matrix"]
    rows["cat"], rows["dog"] = [f"{tn:,}", f"{fp:,}"], [f"{fn:,}", f"{tp:,}"]
    calibration = evaluation["calibration"]
    rows[f"expected calibration error ({calibration['n_bins']} bins)"] = [f"{calibration['ece']:.4f}"]

    ood = _json("results/full/robustness/ood.json")
    threshold, real = ood["threshold"], ood["in_distribution"]
    flagged = float(np.mean(np.asarray(real["confidence"]) < threshold))  # the unsure rule
    rows[f"real validation photos (threshold {threshold:.4f})"] = [_pct(flagged, 1), f"{real['mean_confidence']:.4f}"]
    for kind, label in OOD_KINDS.items():
        rows[label] = [_pct(ood["kinds"][kind]["share_flagged"], 1), f"{ood['kinds'][kind]['mean_confidence']:.4f}"]

    study = _json("results/full/robustness/results.json")
    for name, label in CORRUPTIONS.items():
        if name not in study["corruptions"]:  # a corruption added after the published run
            continue
        r = study["corruptions"][name]
        rows[label] = [
            f"{study['levels'][name][-1]:g}",
            _pct(r["accuracy"][0], 1),
            f"{_pct(r['accuracy'][-1], 1)} ({_pct_range(r['accuracy_low'][-1], r['accuracy_high'][-1], 1)})",
        ]
    keras, int8 = (_json(f"results/full/external/{name}.json")["sets"] for name in record["files"])
    for name, label in EXTERNAL.items():
        a, b = keras[name]["pets"], int8[name]["pets"]
        rows[label] = [
            f"{a['n']:,}",
            _with_range(a["accuracy"]),
            _with_range(b["accuracy"]),
            _pct(a["unsure"]["estimate"], 1),
        ]
    a, b = keras["cifar10-test"]["non_pets"], int8["cifar10-test"]["non_pets"]
    rows[NON_PETS] = [f"{a['n']:,}", _with_range(a["unsure"]), _with_range(b["unsure"]), "–"]
    return rows


def _with_range(interval: dict) -> str:
    return f"{_pct(interval['estimate'], 1)} ({_pct_range(interval['low'], interval['high'], 1)})"


def card_rows(text: str) -> dict[str, list[str]]:
    """The body rows of every Markdown table in ``text`` (header and rule rows skipped)."""
    rows: dict[str, list[str]] = {}
    table: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        for cells in table[2:]:
            assert cells[0] not in rows, f"two table rows are labelled {cells[0]!r}"
            rows[cells[0]] = cells[1:]
        table = []
    return rows


def prose(text: str) -> str:
    """``text`` without its tables and code blocks."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return "\n".join(line for line in text.splitlines() if not line.startswith("|"))


def test_model_card_tables_match_the_records() -> None:
    card, expected = card_rows(CARD.read_text()), expected_rows()
    assert card.keys() == expected.keys(), (
        f"rows only in the card: {sorted(card.keys() - expected.keys())}; "
        f"rows the records call for: {sorted(expected.keys() - card.keys())}"
    )
    wrong = {label: (card[label], expected[label]) for label in card if card[label] != expected[label]}
    assert not wrong, f"card rows differing from the records (card, records): {wrong}"


def test_model_card_prose_has_no_other_figures() -> None:
    cfg = _json("models/catsdogs_mobilenetv2.json")["config"]
    study = _json("results/full/robustness/results.json")
    keep = _json("results/full/robustness/ood.json")["keep_in_distribution"]
    evaluation = _json("results/full/eval/metrics.json")["metrics"]
    paper_year = yaml.safe_load((ROOT / "CITATION.cff").read_text())["references"][0]["year"]
    allowed = {
        "0",
        "1",
        "8",
        "255",
        "6",  # pixel values (8 bits, 0 to 255), 1 - P, the chapter number
        str(cfg["image_size"]),
        f"{evaluation['n']:,}",
        str(evaluation["threshold"]),
        str(study["n_images"]),
        str(study["per_class"]),
        f"{100 * keep:g}",
        f"{1 / (1 - keep):g}",
        str(paper_year),
    }
    numbers = re.findall(r"(?<![\w.\-])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])", prose(CARD.read_text()))
    assert set(numbers) <= allowed, (
        f"numbers in the card's prose that no record backs: {sorted(set(numbers) - allowed)}"
    )


def test_model_card_names_the_ood_threshold_field_and_rule() -> None:
    text = CARD.read_text()
    assert "`ood_threshold`" in text and "max(P(dog), 1 - P(dog))" in text
    keep = _json("results/full/robustness/ood.json")["keep_in_distribution"]
    assert f"keeps {100 * keep:g} % of real validation images" in " ".join(text.split())


def test_license_is_mit_and_notice_states_the_data_and_weights_terms() -> None:
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License") and "Copyright (c) 2026 the catsdogs contributors" in license_text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"}
    notice = " ".join((ROOT / "NOTICE").read_text().split())
    for phrase in (
        "Kaggle Cats and Dogs Dataset",
        "Microsoft Research",
        "Apache License 2.0",
        "google-coral/test_data",
        "tf2_mobilenet_v2_1.0_224_ptq.tflite",
    ):
        assert phrase in notice, phrase


def test_citation_cff_cites_this_reproduction_and_the_paper() -> None:
    from pybtex.database import parse_file

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert {"authors", "message", "title"} <= cff.keys()
    assert cff["version"] == project["version"] and cff["license"] == project["license"]["text"]
    assert cff["repository-code"] == REPOSITORY_URL
    paper, entry = cff["references"][0], parse_file(ROOT / "book" / "references.bib").entries["paper"]
    assert " ".join(paper["title"].split()) == entry.fields["title"].replace("{", "").replace("}", "")
    assert int(entry.fields["year"]) == paper["year"]
    (author,) = entry.persons["author"]
    assert paper["authors"] == [
        {"family-names": " ".join(author.last_names), "given-names": " ".join(author.first_names + author.middle_names)}
    ]
    assert paper["url"] == entry.fields["url"]


@pytest.mark.parametrize("name", ["LICENSE", "NOTICE", "CITATION.cff", "models/README.md"])
def test_book_intro_links_the_release_file(name: str) -> None:
    assert (ROOT / name).is_file()
    assert f"({REPOSITORY_URL}/blob/main/{name})" in (ROOT / "book" / "intro.md").read_text()
