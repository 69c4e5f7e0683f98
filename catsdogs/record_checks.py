"""Figure-by-figure checks of a run's JSON records against a published record.

:func:`compare_records` reads the records both directories share (``data/scan.json``,
``phase*/result.json``, ``eval/metrics.json``, ``export/export.json``,
``robustness/*.json``, ``mitigation/result.json``, ``timings.json``,
``bench/bench.json``) and returns one :class:`Check` per headline figure, plus the
records the run lacks with the command that writes each. :mod:`catsdogs.verify`
turns them into the verdict of ``python -m catsdogs verify``.

The verdicts and the interval each figure is judged by are described in
:mod:`catsdogs.verify`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catsdogs.markdown import METRICS

IDENTICAL = "identical"
WITHIN_CI = "within the 95 % CI"
DIFFERS = "differs"
NOT_BIT_IDENTICAL = "not bit-identical"
SHOWN = "shown only"
MISSING = "missing"
#: Verdicts that make a run fail the check.
FAILING = (DIFFERS, MISSING)

Interval = tuple[float, float]


@dataclass(frozen=True)
class Check:
    """One row: a figure of a record, its published and its reproduced value.

    ``difference`` is ``this_run - published`` for numbers (``None`` otherwise);
    ``interval`` the 95 % interval ``(low, high)`` of the published value the
    verdict used, if any; ``note`` where the interval comes from or what to do.
    """

    section: str
    figure: str
    record: str
    published: Any
    this_run: Any
    verdict: str
    difference: float | None = None
    interval: tuple[float, float] | None = None
    note: str = ""


def value_text(value: Any) -> str:
    """A value as a table cell: 6 significant digits, sha256 digests shortened."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str) and len(value) == 64 and all(ch in "0123456789abcdef" for ch in value):
        return value[:12] + "…"
    return str(value)


class _Records:
    """The JSON records of one directory, read once; unreadable files count as absent."""

    def __init__(self, path: Path):
        self.path = path
        self._cache: dict[str, Any] = {}
        self.unreadable: dict[str, str] = {}

    def get(self, record: str) -> Any | None:
        if record not in self._cache:
            p = self.path / record
            value = None
            if p.is_file():
                try:
                    value = json.loads(p.read_text())
                except (OSError, ValueError) as exc:
                    self.unreadable[record] = f"{type(exc).__name__}: {exc}"
            self._cache[record] = value
        return self._cache[record]


def _field(obj: Any, keys: Sequence[Any]) -> Any | None:
    """``obj[k0][k1]...``, or ``None`` when any step is absent."""
    for k in keys:
        try:
            obj = obj[k]
        except (KeyError, IndexError, TypeError):
            return None
    return obj


def wilson_interval(proportion: float, n: int) -> tuple[float, float]:
    """Wilson 95 % interval of a proportion measured on ``n`` items (scipy's ``binomtest``)."""
    from scipy.stats import binomtest

    k = round(proportion * n)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Builder:
    """Collects the checks of a run's records against the published ones."""

    def __init__(self, pub: _Records, run: _Records, commands: Mapping[str, str]):
        self.pub, self.run, self.commands = pub, run, commands
        self.checks: list[Check] = []
        self.missing: dict[str, str] = {}

    def section(self, name: str, record: str) -> _Section | None:
        """The rows of ``record`` under the heading ``name``; ``None`` when the published
        record does not have it (nothing to compare) or the run lacks it (then it is
        listed in :attr:`missing` with the command that writes it)."""
        pub = self.pub.get(record)
        if pub is None:
            return None
        run = self.run.get(record)
        if run is not None and type(run) is not type(pub):
            self.run.unreadable[record] = f"holds a JSON {type(run).__name__}, not a {type(pub).__name__}"
            run = None
        if run is None:
            why = self.run.unreadable.get(record)
            command = self.commands.get(record, "python -m catsdogs reproduce --run-dir <run>")
            self.missing[record] = command + (f" (the file is unreadable: {why})" if why else "")
            return None
        return _Section(self, name, record, pub, run)


class _Section:
    """Both versions of one record; :meth:`add` appends one row per figure."""

    def __init__(self, builder: _Builder, name: str, record: str, pub: Any, run: Any):
        self.builder, self.name, self.record, self.pub, self.run = builder, name, record, pub, run

    def add(
        self,
        figure: str,
        keys: Sequence[Any],
        kind: str,
        interval: Interval | None | Callable[[Any], Interval | None] = None,
        note: str = "",
    ) -> None:
        """Compare ``record[keys...]``: ``kind`` is ``exact`` (must be equal), ``ci``
        (judged by ``interval``, or by ``interval(published value)``), ``fingerprint`` or
        ``shown``. A figure the published record lacks is skipped."""
        p, r = _field(self.pub, keys), _field(self.run, keys)
        if p is None:
            return
        if r is None:
            command = self.builder.commands.get(self.record, "rerun that step")
            self.append(
                Check(
                    self.name, figure, self.record, p, None, MISSING, note=f"not in this run's {self.record}: {command}"
                )
            )
            return
        if callable(interval):
            interval = interval(p)
        self.append(judge(self.name, figure, self.record, p, r, kind, interval, note))

    def append(self, check: Check) -> None:
        self.builder.checks.append(check)


def judge(
    section: str,
    figure: str,
    record: str,
    published: Any,
    this_run: Any,
    kind: str,
    interval: Interval | None = None,
    note: str = "",
) -> Check:
    """The :class:`Check` of one figure (see the module docstring for the verdicts)."""
    diff = this_run - published if _is_number(published) and _is_number(this_run) else None
    if this_run == published:
        verdict = IDENTICAL
    elif kind == "shown":
        verdict = SHOWN
    elif kind == "fingerprint":
        verdict = NOT_BIT_IDENTICAL
    elif kind == "ci" and interval is not None and diff is not None:
        verdict = WITHIN_CI if interval[0] <= this_run <= interval[1] else DIFFERS
    else:
        verdict = DIFFERS
    return Check(
        section,
        figure,
        record,
        published,
        this_run,
        verdict,
        diff,
        tuple(interval) if interval is not None and kind == "ci" else None,
        note,
    )


def _wilson_of(n: int | None) -> Callable[[Any], Interval | None]:
    """The Wilson interval of a published proportion measured on ``n`` images."""
    return lambda p: wilson_interval(p, int(n)) if _is_number(n) and n > 0 and _is_number(p) and 0 <= p <= 1 else None


#: Rows of ``data/scan.json``: figure -> keys. All must be identical.
_DATA_FIGURES = {
    "usable images": ["usable"],
    "cats": ["per_class", "cat"],
    "dogs": ["per_class", "dog"],
    "skipped files": ["skipped"],
    "converted files": ["converted"],
    "train images": ["split", "train", "total"],
    "validation images": ["split", "val", "total"],
    "test images": ["split", "test", "total"],
    "split manifest sha256": ["manifest_sha256"],
}


_WILSON = "Wilson interval"
_BOOTSTRAP = "bootstrap CI of the record"


def _data_checks(b: _Builder) -> None:
    if sec := b.section("data", "data/scan.json"):
        for figure, keys in _DATA_FIGURES.items():
            sec.add(figure, keys, "exact")


def _validation_accuracy(sec: _Section) -> None:
    """The row of a phase's validation accuracy, judged by its Wilson interval."""
    sec.add(
        "validation accuracy",
        ["val_metrics", "accuracy"],
        "ci",
        _wilson_of(_field(sec.pub, ["val_metrics", "n"])),
        _WILSON,
    )


def _training_checks(b: _Builder) -> None:
    if sec := b.section("phase 1", "phase1/result.json"):
        _validation_accuracy(sec)
    if sec := b.section("phase 2", "phase2/result.json"):
        sec.add("epochs run", ["epochs_run"], "exact")
        wilson = _wilson_of(_field(sec.pub, ["val_metrics", "n"]))
        pub_h = _field(sec.pub, ["history", "val_accuracy"]) or []
        run_h = _field(sec.run, ["history", "val_accuracy"]) or []
        for i in range(max(len(pub_h), len(run_h))):
            figure = f"epoch {i + 1} validation accuracy"
            if i < len(pub_h) and i < len(run_h):
                sec.add(figure, ["history", "val_accuracy", i], "ci", wilson, _WILSON)
            else:
                p, r = (pub_h[i], None) if i < len(pub_h) else (None, run_h[i])
                sec.append(
                    Check(
                        sec.name,
                        figure,
                        sec.record,
                        p,
                        r,
                        DIFFERS,
                        note="epoch not run here" if r is None else "epoch not in the published run",
                    )
                )
        sec.add("trained parameters", ["parameters", "trainable"], "exact")


def _metric_checks(b: _Builder) -> None:
    sec = b.section("final model", "eval/metrics.json")
    if not sec:
        return
    for name, figure in METRICS.items():
        ci = _field(sec.pub, ["ci95", name]) or {}
        interval = (ci["low"], ci["high"]) if ci.get("low") is not None and ci.get("high") is not None else None
        sec.add(figure, ["metrics", name], "ci", interval, _BOOTSTRAP)
    p_cm, r_cm = _field(sec.pub, ["metrics", "confusion_matrix"]), _field(sec.run, ["metrics", "confusion_matrix"])
    if p_cm is None or r_cm is None or r_cm == p_cm:
        sec.add("confusion matrix", ["metrics", "confusion_matrix"], "exact")
        return
    implied = _confusion_metrics(r_cm)
    inside = implied is not None and all(
        _is_number(lo := _field(sec.pub, ["ci95", m, "low"]))
        and _is_number(hi := _field(sec.pub, ["ci95", m, "high"]))
        and lo <= implied[m] <= hi
        for m in implied
    )
    sec.append(
        Check(
            sec.name,
            "confusion matrix",
            sec.record,
            p_cm,
            r_cm,
            WITHIN_CI if inside else DIFFERS,
            note="judged by the accuracy, precision and recall it implies, against their bootstrap CIs",
        )
    )


def _confusion_metrics(cm: Any) -> dict[str, float] | None:
    """Accuracy, precision and recall (dog = positive) of ``[[tn, fp], [fn, tp]]``."""
    try:
        (tn, fp), (fn, tp) = cm
        return {"accuracy": (tn + tp) / (tn + fp + fn + tp), "precision": tp / (tp + fp), "recall": tp / (tp + fn)}
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _export_checks(b: _Builder) -> None:
    sec = b.section("exports", "export/export.json")
    if not sec:
        return
    for kind, entry in (_field(sec.pub, ["exports"]) or {}).items():
        sec.add(f"{kind} size (MB)", ["exports", kind, "size_mb"], "fingerprint")
        sec.add(
            f"{kind} validation accuracy",
            ["exports", kind, "val_metrics", "accuracy"],
            "ci",
            _wilson_of(_field(entry, ["val_metrics", "n"])),
            _WILSON,
        )
    sec.add("tflite_int8 sha256", ["exports", "tflite_int8", "sha256"], "fingerprint")


def _robustness_checks(b: _Builder, name: str, record: str, clean: bool) -> None:
    """The clean accuracy (if ``clean``) and each corruption's harshest level."""
    sec = b.section(name, record)
    if not sec:
        return
    corruptions = _field(sec.pub, ["corruptions"]) or {}

    def row(figure: str, corruption: str, i: int) -> None:
        entry = corruptions[corruption]
        lo, hi = _field(entry, ["accuracy_low", i]), _field(entry, ["accuracy_high", i])
        sec.add(
            figure,
            ["corruptions", corruption, "accuracy", i],
            "ci",
            (lo, hi) if lo is not None and hi is not None else None,
            _BOOTSTRAP,
        )

    if clean and corruptions:
        row("clean accuracy", next(iter(corruptions)), 0)
    for corruption in corruptions:
        row(f"{corruption} at {value_text(_field(sec.pub, ['levels', corruption, -1]))} (harshest)", corruption, -1)


def _limitation_checks(b: _Builder) -> None:
    _robustness_checks(b, "robustness", "robustness/results.json", clean=True)
    if sec := b.section("mitigation", "mitigation/result.json"):
        _validation_accuracy(sec)
    _robustness_checks(b, "mitigation", "robustness/results_mitigation.json", clean=False)
    if sec := b.section("calibration", "robustness/calibration.json"):
        sec.add("ECE before scaling", ["before", "ece"], "fingerprint", note="no CI published")
        sec.add("ECE after scaling", ["after", "ece"], "fingerprint", note="no CI published")
        sec.add(
            "accuracy after scaling", ["accuracy_after"], "ci", _wilson_of(_field(sec.pub, ["before", "n"])), _WILSON
        )
    if sec := b.section("out-of-distribution", "robustness/ood.json"):
        sec.add("confidence threshold", ["threshold"], "fingerprint")
        for kind in _field(sec.pub, ["kinds"]) or {}:
            sec.add(
                f"{kind} flagged",
                ["kinds", kind, "share_flagged"],
                "ci",
                _wilson_of(_field(sec.pub, ["n_images"])),
                _WILSON,
            )


def _shown_checks(b: _Builder) -> None:
    if sec := b.section("timings", "timings.json"):
        steps = [k for k in sec.pub if _is_number(sec.pub[k]) and _is_number(sec.run.get(k))]
        total = [round(sum(d[k] for k in steps), 2) for d in (sec.pub, sec.run)]
        sec.append(judge(sec.name, f"total of {len(steps)} steps (s)", sec.record, *total, "shown"))
        for step in ("phase1_features", "phase2_train"):
            sec.add(f"{step} (s)", [step], "shown")
    if sec := b.section("latency", "bench/bench.json"):
        for model in _field(sec.pub, ["models"]) or {}:
            sec.add(f"{model} single image (ms)", ["models", model, "single", "median_ms"], "shown")


def step_commands(profile: str, run_dir: str) -> dict[str, str]:
    """The command that writes each record of a run directory."""
    common = f"--profile {profile} --run-dir {run_dir}"
    chapter = {n: f"python -m catsdogs reproduce {common} --from {n}" for n in ("01", "03", "04", "05", "06")}
    return {
        "data/scan.json": f"python -m catsdogs train {common} --phase data (or {chapter['01']})",
        "phase1/result.json": f"python -m catsdogs train {common} --phase 1 (or {chapter['03']})",
        "phase2/result.json": f"python -m catsdogs train {common} (or {chapter['04']})",
        "eval/metrics.json": f"python -m catsdogs evaluate {common} (or {chapter['05']})",
        "export/export.json": f"python -m catsdogs export {common} (or {chapter['05']})",
        "bench/bench.json": f"python -m catsdogs bench {common} (or {chapter['05']})",
        "robustness/results.json": chapter["06"],
        "robustness/calibration.json": chapter["06"],
        "robustness/ood.json": chapter["06"],
        "mitigation/result.json": chapter["06"],
        "robustness/results_mitigation.json": chapter["06"],
        "timings.json": f"python -m catsdogs reproduce {common}",
    }


def compare_records(published: Path | str, run_dir: Path | str, profile: str) -> tuple[list[Check], dict[str, str]]:
    """Every check of ``run_dir``'s records against ``published`` (same settings assumed),
    and the records the run lacks as ``{record: command that writes it}``; the commands
    name ``profile`` and ``run_dir``. Never raises on a partial or unreadable record."""
    b = _Builder(_Records(Path(published)), _Records(Path(run_dir)), step_commands(profile, str(run_dir)))
    for step in (_data_checks, _training_checks, _metric_checks, _export_checks, _limitation_checks, _shown_checks):
        step(b)
    return b.checks, b.missing


__all__ = [
    "IDENTICAL",
    "WITHIN_CI",
    "DIFFERS",
    "NOT_BIT_IDENTICAL",
    "SHOWN",
    "MISSING",
    "FAILING",
    "Check",
    "judge",
    "wilson_interval",
    "value_text",
    "step_commands",
    "compare_records",
]
