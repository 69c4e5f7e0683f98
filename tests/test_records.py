"""The declared records read every published record and write it back key for key."""

import json
from pathlib import Path

import pytest

from catsdogs import records
from catsdogs.records import (
    Evaluation,
    Export,
    Metrics,
    PhaseResult,
    RecordError,
)

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = [ROOT / "results", ROOT / "tests" / "fixtures"]


def _published(relpath: str) -> list[Path]:
    """Every published file that is the record at ``relpath`` of a run directory."""
    name = relpath.split("/")[-1]
    found = []
    for top in PUBLISHED:
        for path in sorted(top.rglob(name)):
            if str(path.relative_to(top)).endswith(relpath) or "{phase}" in relpath:
                found.append(path)
    return found


CASES = [
    (PhaseResult, path)
    for phase in ("phase1", "phase2", "mitigation", "mitigation_control")
    for path in _published(f"{phase}/result.json")
    if path.parent.name == phase
] + [(cls, path) for cls in records.RECORDS.values() for path in _published(cls.PATH)]
CASES += [
    (records.CorruptionStudy, path) for top in PUBLISHED for path in sorted(top.rglob("robustness/results*.json"))
]
CASES += [(records.PublishedModels, ROOT / "models" / records.PublishedModels.PATH)]
CASES += [
    (records.ExternalEvaluation, path)
    for top in PUBLISHED
    for path in sorted(top.rglob("external/*.json"))
    if path.name.endswith((".keras.json", ".tflite.json"))
]


def test_every_kind_of_record_is_published_somewhere():
    assert {cls for cls, _ in CASES} == {
        PhaseResult,
        records.CorruptionStudy,
        records.ExternalEvaluation,
        records.PublishedModels,
        *records.RECORDS.values(),
    }
    assert len(CASES) > 60


@pytest.mark.parametrize(("cls", "path"), CASES, ids=[str(p.relative_to(ROOT)) for _, p in CASES])
def test_published_record_round_trips(cls, path):
    data = json.loads(path.read_text())
    record = cls.read(path)
    back = record.to_dict()
    assert back == data
    assert json.dumps(back) == json.dumps(data)  # the same keys in the same order


def test_unknown_field_is_named_with_its_file(tmp_path):
    path = tmp_path / "metrics.json"
    data = json.loads((ROOT / "results/full/eval/metrics.json").read_text())
    data["metrics"]["kappa"] = 0.5
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError, match=r"metrics.json\.metrics: unknown field\(s\) kappa"):
        Evaluation.read(path)


def test_missing_field_and_bad_json_are_named(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"source_model": "phase2/model.keras"}))
    with pytest.raises(RecordError, match="export.json"):
        Export.read(path)
    path.write_text("{")
    with pytest.raises(RecordError, match="not valid JSON"):
        Export.read(path)


def test_metrics_of_classification_metrics():
    from catsdogs.evaluation.metrics import classification_metrics

    m = Metrics.from_dict(classification_metrics([0, 1, 1, 0], [0.2, 0.9, 0.4, 0.6]))
    assert (m.accuracy, m.confusion_matrix, m.per_class["dog"].support) == (0.5, [[1, 1], [1, 1]], 2)


def test_kept_epoch_is_the_first_lowest_validation_loss():
    r = PhaseResult.read(ROOT / "results/full/phase1/result.json")
    losses = r.history["val_loss"]
    assert r.kept_epoch == losses.index(min(losses)) + 1


def test_judged_at_reads_field_metadata():
    assert records.judged_at(Metrics, ["accuracy"]) == records.WITHIN_CI
    assert records.judged_at(Latency := records.Latency, ["median_ms"]) == records.SHOWN
    assert records.judged_at(Latency, ["nothing"]) is None


def test_a_null_a_step_wrote_is_written_back():
    """Fields a writer always wrote, even as ``null``, keep their key: an undefined interval,
    a machine that reports no memory, a study of every image (``per_class`` null)."""
    undefined = {"estimate": None, "low": None, "high": None}
    assert records.Interval.from_dict(undefined).to_dict() == undefined
    hardware = {"cpu": "X", "logical_cores": 2, "memory_gb": None, "gpus": [], "platform": "p"}
    assert records.Hardware.from_dict(hardware).to_dict() == hardware
    control = {"corruption": "low_resolution", "levels": [0, 32], "models": {}, "n_images": 10, "per_class": None}
    assert records.ResolutionControl.from_dict(control).to_dict() == control


def test_a_set_from_arrays_or_a_download_keeps_its_details():
    published = json.loads((ROOT / "results/full/external/catsdogs_mobilenetv2.keras.json").read_text())
    data = published["sets"]["cifar10-test"]["data"]
    data = {k: v for k, v in data.items() if k not in ("file_list_sha256", "content_hash_of")}
    data |= {"arrays_sha256": "0" * 64, "content_hash_of": "the arrays"}
    data |= {"arrays": "the original uint8 arrays", "selection": "every cat and dog", "download": {"url": "u"}}
    assert json.dumps(records.SetDescription.from_dict(data).to_dict()) == json.dumps(data)


def test_external_records_reads_the_model_records_only(tmp_path):
    from catsdogs.studies.generalization import external_records

    folder = tmp_path / "external"
    folder.mkdir()
    source = ROOT / "results/full/external/catsdogs_mobilenetv2.keras.json"
    (folder / source.name).write_text(source.read_text())
    (folder / "notes.json").write_text("{}")
    assert list(external_records(tmp_path)) == ["catsdogs_mobilenetv2.keras"]


def test_judged_at_finds_the_declaration_nearest_the_value():
    """verify compares each figure as the record declares it: a field's own declaration,
    else that of the field (dict, list) holding it."""
    assert records.judged_at(records.Scan, ["split", "val", "total"]) == records.EXACT
    assert records.judged_at(records.Scan, ["manifest_sha256"]) == records.EXACT  # another manifest: another experiment
    assert records.judged_at(PhaseResult, ["history", "val_accuracy", 2]) == records.WITHIN_CI
    assert records.judged_at(Export, ["exports", "tflite_int8", "val_metrics", "accuracy"]) == records.WITHIN_CI
    assert records.judged_at(Export, ["exports", "tflite_int8", "sha256"]) == records.FINGERPRINT
    assert records.judged_at(records.Bench, ["models", "keras", "single", "median_ms"]) == records.SHOWN
    assert records.judged_at(records.CVSummary, ["per_fold", 0, "accuracy"]) == records.WITHIN_CI
    assert records.judged_at(records.Scan, ["root"]) is None  # not judged
    assert records.judged_at(records.Scan, ["no_such_field"]) is None
