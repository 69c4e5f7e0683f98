"""Did this run reproduce the published one? A figure-by-figure check of two run records.

:func:`verify_run` reads the JSON records of a run directory and of a published
record (``results/full``, or any folder written by ``python -m catsdogs
publish-results``) and returns a :class:`Verification`: one :class:`Check` per
headline figure, which renders itself as a terminal table (:meth:`Verification.to_text`),
as Markdown (in a notebook) and as JSON (:meth:`Verification.to_dict`).

The figures compared are chosen by :func:`_compare_records` (the second half of this module). The run *reproduces* the record
(:attr:`Verification.ok`, exit status 0 of ``python -m catsdogs verify``) when no row
``differs`` and none is ``missing``.
When the training settings differ (another profile, split or image size) no figure
is compared: the check lists the differing settings and says which record to
compare with or how to re-run with the published settings.

A cross-validation study's directory (``cv.json``) and a candidate recipe's exploration
(``explore.json``) are checked the same way: their shape (protocol, folds, seeds, splits,
recipe changes) must be identical, their pooled and per-training accuracies lie within the
published intervals.

Verdicts
--------
Every row compares the published value with this run's value of the same field
of the same record:

``identical``
    The two values are equal as stored (JSON round trip: bit for bit).
``within the 95 % CI``
    The values differ but this run's value lies inside the 95 % interval of the
    published value. The interval is the one the record publishes where it has one
    (the percentile bootstrap ``ci95`` of ``eval/metrics.json``; ``accuracy_low`` /
    ``accuracy_high`` of each corruption level in ``robustness/*.json``). Every other
    proportion that comes with its number of images (phase-1 and per-epoch phase-2
    validation accuracy, export and mitigation accuracies, accuracy after temperature
    scaling, the share of out-of-distribution images flagged) is given the Wilson 95 %
    interval of the published value (scipy's ``binomtest``). The confusion matrix
    has no interval of its own: it is judged through the accuracy, precision and
    recall it implies, each against its bootstrap interval.
``differs``
    Outside the interval, or a figure that must be equal and is not: data counts,
    the split manifest's sha256, parameter counts, the number of phase-2 epochs and
    the training settings (``config.json``). These are the inputs and the shape of
    the experiment; a difference means another experiment was run.
``not bit-identical``
    A fingerprint of a trained artefact (the int8 export's sha256, export file sizes,
    the OOD confidence threshold) or a continuous figure for which no interval is
    published (ECE) that is not equal. Other CPUs, oneDNN settings, a GPU or another
    TensorFlow version change the last digits of training and therefore these; they
    are shown but do not fail the check, because the figures they produce are judged
    by their intervals. (The phase-2 ``model_sha256`` is not compared at all: the
    ``.keras`` file stores its save time, so it differs between identical models.)
``shown only``
    Timings and latency: measured on the machine, shown for information, never
    judged (``identical`` only when they are equal).
``missing``
    The run lacks a record (or a field of one) that the published record has; the
    table names the record and the command that writes it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from catsdogs import records
from catsdogs.config import LOCATION_FIELDS, PROFILES, Config, get_config, project_root, setting_differences
from catsdogs.evaluation.metrics import SHOWN_METRICS, wilson_interval
from catsdogs.markdown import hardware_text, markdown_table
from catsdogs.provenance import recorded_hardware
from catsdogs.records import RECORDS, CorruptionStudy, PhaseResult, judged_at
from catsdogs.runs import Run

#: Published record of each profile, relative to the project root. The smoke one is a smoke
#: run's ``publish-results`` output kept with the tests (see ``tests/test_verify.py``).
PUBLISHED_RECORD_OF_PROFILE: dict[str, str] = {
    "full": "results/full",
    "smoke": "tests/fixtures/published-smoke",
}

#: Config fields that say where things are, not what a run computes.


@dataclass
class Verification:
    """The outcome of :func:`verify_run`: rows, missing records, setting differences."""

    run_dir: str
    against: str
    checks: list[Check] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    """Record (relative path) -> the command that writes it."""
    setting_differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """Config field -> (published value, this run's value)."""
    advice: str = ""
    hardware: tuple[str, str] | None = None
    """(the record's, this run's) hardware, from their provenance, when they differ."""

    @property
    def comparable(self) -> bool:
        """``False`` when the run was made with other training settings than the record."""
        return not self.setting_differences

    @property
    def ok(self) -> bool:
        """Nothing differs beyond the 95 % CI and nothing is missing."""
        return self.comparable and not self.missing and all(c.verdict not in FAILING for c in self.checks)

    @property
    def bit_identical(self) -> bool:
        """Every judged figure is identical (timings and latency may differ: they are
        this machine's)."""
        return self.ok and all(c.verdict in (IDENTICAL, SHOWN) for c in self.checks)

    @property
    def exit_status(self) -> int:
        return 0 if self.ok else 1

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.checks:
            out[c.verdict] = out.get(c.verdict, 0) + 1
        return out

    def summary(self) -> str:
        """One line: reproduced or not, and how many rows got each verdict."""
        if not self.comparable:
            return f"not compared: {self.advice}"
        counts = ", ".join(f"{n} {v}" for v, n in self.counts().items())
        if self.bit_identical:
            head = "reproduced bit for bit: every judged figure is identical to the published record"
        elif self.ok:
            head = "reproduced within the published 95 % intervals (not bit-identical)"
            if self.hardware:
                head += (
                    f"; the record was made on {self.hardware[0]}, this run on {self.hardware[1]}: across "
                    "machines (a GPU included) the 95 % CI, not bit-identity, is the yardstick"
                )
        else:
            differ = sum(c.verdict in FAILING for c in self.checks)
            missing = f"{len(self.missing)} record(s) missing (commands above)" if self.missing else ""
            if differ:
                head = f"NOT reproduced: {differ} figure(s) differ or are missing" + (f"; {missing}" if missing else "")
            else:
                head = f"incomplete: {missing}; every figure compared is identical or within its 95 % CI"
        return f"{head} ({counts}; {self.run_dir} vs {self.against})"

    # ------------------------------------------------------------- rendering
    def rows(self) -> list[dict[str, str]]:
        """Table rows as text: section, figure, published, this run, verdict, 95 % CI."""
        return [
            {
                "section": c.section,
                "figure": c.figure,
                "published": _value_text(c.published),
                "this run": _value_text(c.this_run),
                "verdict": c.verdict + (f" ({c.difference:+.3g})" if c.difference and c.verdict != IDENTICAL else ""),
                "95 % CI": f"{_value_text(c.interval[0])}–{_value_text(c.interval[1])}" if c.interval else "",
            }
            for c in self.checks
        ]

    def notes(self) -> list[str]:
        """What a reader must act on: failing rows' notes, missing records, the advice."""
        if not self.comparable:
            return []
        lines = [f"{c.section} / {c.figure}: {c.note}" for c in self.checks if c.verdict in FAILING and c.note]
        lines += [f"missing {record}: make it with `{command}`" for record, command in self.missing.items()]
        return lines + ([self.advice] if self.advice else [])

    def footer(self) -> str:
        return "\n".join([*self.notes(), self.summary()])

    def to_text(self, width: int = 160) -> str:
        """A plain-text table (no colours) followed by the summary line."""
        import io

        from rich import box
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        rows = self.rows()
        text = ""
        if rows:
            table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
            for column in rows[0]:
                table.add_column(column, overflow="fold")
            for row in rows:
                table.add_row(*(Text(v) for v in row.values()))
            buffer = io.StringIO()
            Console(
                file=buffer, width=width, color_system=None, force_terminal=False, highlight=False, emoji=False
            ).print(table)
            text = "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
        return text + self.footer() + "\n"

    def _repr_markdown_(self) -> str:
        # in a notebook the verdict comes first (a terminal keeps it last, where the prompt returns)
        rows = self.rows()
        return "\n\n".join([self.summary(), *self.notes()]) + "\n\n" + (markdown_table(rows) if rows else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": self.run_dir,
            "against": self.against,
            "comparable": self.comparable,
            "reproduced": self.ok,
            "bit_identical": self.bit_identical,
            "exit_status": self.exit_status,
            "summary": self.summary(),
            "counts": self.counts(),
            "missing": [{"record": r, "command": c} for r, c in self.missing.items()],
            "setting_differences": {
                k: {"published": a, "this_run": b} for k, (a, b) in self.setting_differences.items()
            },
            "advice": self.advice,
            "checks": [asdict(c) for c in self.checks],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def _rerun_advice(pub_config: Mapping[str, Any], against: Path) -> str:
    """How to make a run with the record's settings: the profile plus any ``--set``."""
    profile = pub_config.get("profile", "full")
    if profile not in PROFILES:
        return f"the record {against} is of an unknown profile {profile!r}"
    defaults = get_config(profile).to_dict()
    sets = [
        f"--set {k}={json.dumps(v)}"
        for k, v in pub_config.items()
        if k not in LOCATION_FIELDS and k in defaults and defaults[k] != v
    ]
    return " ".join([f"python -m catsdogs reproduce --profile {profile} --run-dir runs/<new name>", *sets])


def _load_config(path: Path, role: str) -> dict[str, Any]:
    if not path.is_dir():
        raise FileNotFoundError(
            f"{role} {path} does not exist; pass an existing directory "
            f"({'--run-dir' if role == 'run directory' else '--against'})"
        )
    cfg = path / "config.json"
    if not cfg.is_file():
        what = (
            ("a run directory (no config.json): pass the run's --run-dir, or run `python -m catsdogs reproduce` first")
            if role == "run directory"
            else (
                "a published record (no config.json): pass --against a folder written by "
                "`python -m catsdogs publish-results`, e.g. results/full"
            )
        )
        raise FileNotFoundError(f"{path} is not {what}")
    try:
        return json.loads(cfg.read_text())
    except ValueError as exc:
        raise ValueError(f"{cfg} is not valid JSON ({exc}); restore it from the run or the repository") from exc


def verify_run(run_dir: Path | str, against: Path | str | None = None) -> Verification:
    """Compare the records of ``run_dir`` with the published record ``against``
    (default: :func:`published_record` of the run's profile).

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` or ``against`` is not a directory holding ``config.json``, or
        no record is published for the run's profile and ``against`` is not given.
    """
    run_dir = Path(run_dir)
    run_config = _load_config(run_dir, "run directory")
    if against is None:
        against = published_record(run_config.get("profile", ""))
        if against is None:
            raise FileNotFoundError(
                f"no published record of the {run_config.get('profile')!r} profile in this checkout; "
                "pass --against a folder written by `python -m catsdogs publish-results`"
            )
    against = Path(against)
    pub_config = _load_config(against, "published record")
    result = Verification(run_dir=str(run_dir), against=str(against))
    machines = tuple(hardware_text(recorded_hardware(d)) for d in (against, run_dir))
    if machines[0] != machines[1]:
        result.hardware = machines
    result.setting_differences = setting_differences(pub_config, run_config)
    if result.setting_differences:
        own = published_record(run_config.get("profile", ""))
        todo = [f"re-run with the record's settings: `{_rerun_advice(pub_config, against)}`"]
        if own is not None and own.resolve() != against.resolve():
            todo.insert(0, f"compare it with the record of its own profile (--against {own})")
        listed = "; ".join(f"{k}: {b!r} here, {a!r} published" for k, (a, b) in result.setting_differences.items())
        result.advice = (
            f"this run was made with other settings than {against} ({listed}), so its figures "
            f"are not comparable; {', or '.join(todo)}"
        )
        return result
    result.checks, result.missing = _compare_records(against, run_dir, run_config.get("profile", "full"))
    manifest = next((c for c in result.checks if c.figure == "split manifest sha256"), None)
    if manifest is not None and manifest.verdict == DIFFERS:
        result.advice = (
            "the split manifest differs: this run saw other image files than the published one; "
            "check that CATSDOGS_DATA_DIR (or --data-dir) is the complete Microsoft PetImages folder"
        )
    return result


# ----------------------------------------------------------------------------- published record lookup


def published_record(profile: str, root: Path | None = None) -> Path | None:
    """The published record of ``profile`` in the project checkout (``results/full``
    for ``full``, the test fixture for ``smoke``), or ``None`` when there is none."""
    root = root or project_root()
    rel = PUBLISHED_RECORD_OF_PROFILE.get(profile)
    if root is None or rel is None:
        return None
    path = root / rel
    return path if (path / "config.json").is_file() else None


def check_after_reproduce(run_dir: Path | str) -> tuple[str, int | None]:
    """What ``reproduce`` prints last: the check table against the published record
    of the run's profile, or why no check ran.

    Returns ``(text, status)``: status 1 when a figure differs beyond its interval, 0
    otherwise, ``None`` when no check ran. Records the run does not have yet (a
    ``reproduce --to 04``) are listed with their commands but do not make it 1.
    """
    run_dir = Path(run_dir)
    config = Config.from_dict(json.loads((run_dir / "config.json").read_text()))
    record = published_record(config.profile)
    if record is None:
        where = PUBLISHED_RECORD_OF_PROFILE.get(config.profile)
        why = f"no published record of the {config.profile!r} profile in this checkout" + (
            f" ({where} is absent)" if where else ""
        )
        text = (
            f"no reproduction check: {why}; `python -m catsdogs verify --run-dir {run_dir} --against <record>` "
            "compares the run with any record written by `python -m catsdogs publish-results`\n"
        )
        return text, None
    result = verify_run(run_dir, record)
    if not result.comparable:
        return f"no reproduction check: {result.advice}\n", None
    header = f"reproduction check against the published record {record}:\n"
    differs = any(c.verdict == DIFFERS for c in result.checks)
    return header + result.to_text(), 1 if differs else 0


def published_environment_markdown(
    run: Any, environment_rows: Callable[[Any], Sequence[Mapping[str, str]]], root: Path | None = None
) -> str:
    """The environment of the published full run (``results/full/provenance.json``), for
    the book's "Re-running this book" section, next to that of ``run`` (the
    :class:`~catsdogs.runs.Run` the book is built from, or ``None``).

    ``environment_rows(run)`` gives a run's environment as ``{"item", "value"}`` rows (the
    book passes its own table builder). One sentence when ``run`` has the published run's
    Python, package versions, hardware and platform; else both environments side by side
    (the published one alone without ``run``).
    """
    record = published_record("full", root)
    if record is None:
        return f"*No published record (`{PUBLISHED_RECORD_OF_PROFILE['full']}/`) in this copy of the project.*\n"
    published = environment_rows(Run(record, Config.from_dict(json.loads((record / "config.json").read_text()))))
    if run is None:
        return markdown_table(published)
    pub = {r["item"]: r["value"] for r in published}
    own = {r["item"]: r["value"] for r in environment_rows(run)}
    differing = [k for k in pub if k not in ("recorded at", "git commit") and own.get(k) != pub[k]]
    where = f"`{PUBLISHED_RECORD_OF_PROFILE['full']}/provenance.json`"
    if not differing:
        return (
            f"The published run ({where}) used the environment listed under *Environment* below: "
            "this run has the same Python, package versions, hardware and platform.\n"
        )
    rows = [{"item": k, "published run": v, "this run": own.get(k, "—")} for k, v in pub.items()]
    return f"The published run ({where}) and this run differ in {', '.join(differing)}:\n\n" + markdown_table(rows)


# -----------------------------------------------------------------------------
# Figure-by-figure checks of a run's JSON records against a published record.
#
# :func:`_compare_records` reads the records both directories share (``data/scan.json``,
# ``phase*/result.json``, ``eval/metrics.json``, ``export/export.json``,
# ``robustness/*.json``, ``mitigation/result.json``, ``timings.json``,
# ``bench/bench.json``) and returns one :class:`Check` per headline figure, plus the
# records the run lacks with the command that writes each. :mod:`catsdogs.report.verify`
# turns them into the verdict of ``python -m catsdogs verify``.
#
# The verdicts and the interval each figure is judged by are described in
# :mod:`catsdogs.report.verify`.
#

#: A row's verdict (what the table says); how a figure is compared is the record's
#: declaration, ``records.EXACT``, ``records.WITHIN_CI``, ``records.FINGERPRINT`` or ``records.SHOWN``.
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


def _value_text(value: Any) -> str:
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


def proportion_interval(proportion: float, n: int) -> tuple[float, float]:
    """Wilson 95 % interval of a proportion measured on ``n`` items
    (:func:`catsdogs.evaluation.metrics.wilson_interval`)."""
    ci = wilson_interval(round(proportion * n), n)
    return ci.low, ci.high


def _published_interval(record: Any, keys: Sequence[Any]) -> Interval | None:
    """The ``(low, high)`` of the interval a record publishes at ``keys``, or ``None``."""
    ci = _field(record, keys) or {}
    return (ci["low"], ci["high"]) if ci.get("low") is not None and ci.get("high") is not None else None


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
        #: the record's declaration in catsdogs.records (None for timings.json, a plain mapping)
        self.declared = _DECLARED.get(record) or next(
            (cls for pattern, cls in _DECLARED_LIKE if pattern.fullmatch(record)), None
        )

    def add(
        self,
        figure: str,
        keys: Sequence[Any],
        interval: Interval | None | Callable[[Any], Interval | None] = None,
        note: str = "",
    ) -> None:
        """Compare ``record[keys...]`` as the record's declaration says (:meth:`kind`):
        ``exact`` (must be equal), ``ci`` (judged by ``interval``, or by
        ``interval(published value)``), ``fingerprint`` or ``shown``. A figure the published
        record lacks is skipped."""
        kind = self.kind(keys)
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

    def kind(self, keys: Sequence[Any]) -> str:
        """How the value at ``keys`` is compared: declared in :mod:`catsdogs.records`
        (:func:`~catsdogs.records.judged_at`); ``timings.json``, a plain mapping of step to
        seconds, is shown only."""
        if self.declared is None and self.record == "timings.json":
            return records.SHOWN
        how = judged_at(self.declared, keys) if self.declared else None
        if how is None:
            raise ValueError(f"{self.record}: {keys} is not declared as judged in catsdogs.records")
        return how


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
    elif kind == records.SHOWN:
        verdict = SHOWN
    elif kind == records.FINGERPRINT:
        verdict = NOT_BIT_IDENTICAL
    elif kind == records.WITHIN_CI and interval is not None and diff is not None:
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
        tuple(interval) if interval is not None and kind == records.WITHIN_CI else None,
        note,
    )


def _wilson_of(n: int | None) -> Callable[[Any], Interval | None]:
    """The Wilson interval of a published proportion measured on ``n`` images."""
    return lambda p: (
        proportion_interval(p, int(n)) if _is_number(n) and n > 0 and _is_number(p) and 0 <= p <= 1 else None
    )


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


#: The record class of each record path verify reads, by path (or by pattern).
_DECLARED = dict(RECORDS)
_DECLARED_LIKE = (
    (re.compile(r"(phase1|phase2|mitigation|mitigation_control)/result\.json"), PhaseResult),
    (re.compile(r"robustness/results(_[a-z_]+)?\.json"), CorruptionStudy),
)

_WILSON = "Wilson interval"
_BOOTSTRAP = "bootstrap CI of the record"


def _data_checks(b: _Builder) -> None:
    if sec := b.section("data", "data/scan.json"):
        for figure, keys in _DATA_FIGURES.items():
            sec.add(figure, keys)


def _validation_accuracy(sec: _Section) -> None:
    """The row of a phase's validation accuracy, judged by its Wilson interval."""
    sec.add(
        "validation accuracy",
        ["val_metrics", "accuracy"],
        _wilson_of(_field(sec.pub, ["val_metrics", "n"])),
        _WILSON,
    )


def _training_checks(b: _Builder) -> None:
    if sec := b.section("phase 1", "phase1/result.json"):
        _validation_accuracy(sec)
    if sec := b.section("phase 2", "phase2/result.json"):
        sec.add("epochs run", ["epochs_run"])
        wilson = _wilson_of(_field(sec.pub, ["val_metrics", "n"]))
        pub_h = _field(sec.pub, ["history", "val_accuracy"]) or []
        run_h = _field(sec.run, ["history", "val_accuracy"]) or []
        for i in range(max(len(pub_h), len(run_h))):
            figure = f"epoch {i + 1} validation accuracy"
            if i < len(pub_h) and i < len(run_h):
                sec.add(figure, ["history", "val_accuracy", i], wilson, _WILSON)
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
        sec.add("trained parameters", ["parameters", "trainable"])


def _metric_checks(b: _Builder) -> None:
    sec = b.section("final model", "eval/metrics.json")
    if not sec:
        return
    for name, figure in SHOWN_METRICS.items():
        sec.add(figure, ["metrics", name], _published_interval(sec.pub, ["ci95", name]), _BOOTSTRAP)
    p_cm, r_cm = _field(sec.pub, ["metrics", "confusion_matrix"]), _field(sec.run, ["metrics", "confusion_matrix"])
    if p_cm is None or r_cm is None or r_cm == p_cm:
        sec.add("confusion matrix", ["metrics", "confusion_matrix"])
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
        sec.add(f"{kind} size (MB)", ["exports", kind, "size_mb"])
        sec.add(
            f"{kind} validation accuracy",
            ["exports", kind, "val_metrics", "accuracy"],
            _wilson_of(_field(entry, ["val_metrics", "n"])),
            _WILSON,
        )
    sec.add("tflite_int8 sha256", ["exports", "tflite_int8", "sha256"])


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
            (lo, hi) if lo is not None and hi is not None else None,
            _BOOTSTRAP,
        )

    if clean and corruptions:
        row("clean accuracy", next(iter(corruptions)), 0)
    for corruption in corruptions:
        row(f"{corruption} at {_value_text(_field(sec.pub, ['levels', corruption, -1]))} (harshest)", corruption, -1)


def _limitation_checks(b: _Builder) -> None:
    _robustness_checks(b, "robustness", "robustness/results.json", clean=True)
    if sec := b.section("mitigation", "mitigation/result.json"):
        _validation_accuracy(sec)
    _robustness_checks(b, "mitigation", "robustness/results_mitigation.json", clean=False)
    if sec := b.section("mitigation control", "mitigation_control/result.json"):
        _validation_accuracy(sec)
    _robustness_checks(b, "mitigation control", "robustness/results_mitigation_control.json", clean=False)
    if sec := b.section("mitigation against its control", "robustness/mitigation.json"):
        for corruption in _field(sec.pub, ["corruptions"]) or {}:
            sec.add(f"{corruption}: gain over the control", ["corruptions", corruption, "gain", "estimate"])
    if sec := b.section("calibration", "robustness/calibration.json"):
        sec.add("ECE before scaling", ["before", "ece"], note="no CI published")
        sec.add("ECE after scaling", ["after", "ece"], note="no CI published")
        sec.add("accuracy after scaling", ["accuracy_after"], _wilson_of(_field(sec.pub, ["before", "n"])), _WILSON)
    if sec := b.section("out-of-distribution", "robustness/ood.json"):
        sec.add("confidence threshold", ["threshold"])
        for kind in _field(sec.pub, ["kinds"]) or {}:
            sec.add(
                f"{kind} flagged",
                ["kinds", kind, "share_flagged"],
                _wilson_of(_field(sec.pub, ["n_images"])),
                _WILSON,
            )


def _study_checks(b: _Builder) -> None:
    """A cross-validation study's ``cv.json``: its shape (protocol, folds, seeds, images) must be
    identical; the pooled metrics are judged by their bootstrap CIs, each training's accuracy on
    its scored fold by its Wilson interval (trainings matched by fold and seed)."""
    sec = b.section("study", "cv.json")
    if not sec:
        return
    for figure, key in (
        ("protocol", "protocol"),
        ("trainings", "trainings"),
        ("seeds", "seeds"),
        ("images scored", "images"),
    ):
        sec.add(figure, [key])
    for name, figure in SHOWN_METRICS.items():
        sec.add(f"pooled {figure}", ["pooled", name], _published_interval(sec.pub, ["pooled_ci95", name]), _BOOTSTRAP)
    # the trainings as raw JSON, each matched by fold and seed: a partial or odd cv.json is
    # compared as far as it goes (verify never raises on a record it cannot read)
    kind = sec.kind(["per_fold", 0, "accuracy"])
    run_index = {(e.get("fold"), e.get("seed", 0)): i for i, e in enumerate(_field(sec.run, ["per_fold"]) or [])}
    for entry in _field(sec.pub, ["per_fold"]) or []:
        fold, seed = entry.get("fold"), entry.get("seed", 0)
        figure = f"fold {fold} seed {seed} accuracy"
        if (fold, seed) not in run_index:
            sec.append(
                Check(sec.name, figure, sec.record, entry.get("accuracy"), None, MISSING, note="training not run here")
            )
            continue
        r = sec.run["per_fold"][run_index[fold, seed]].get("accuracy")
        interval = _wilson_of(entry.get("n"))(entry.get("accuracy"))
        sec.append(judge(sec.name, figure, sec.record, entry.get("accuracy"), r, kind, interval, _WILSON))
    sec.add("largest seed spread", ["training_variance", "max_spread"])
    sec.add("out-of-fold predictions sha256", ["oof_sha256"])


def _exploration_checks(b: _Builder) -> None:
    """A candidate recipe's ``explore.json``: the same study, fold, splits and changes (exact),
    its accuracy with and without flip test-time augmentation within their Wilson intervals."""
    sec = b.section("exploration", "explore.json")
    if not sec:
        return
    sec.add("study", ["study"])
    sec.add("fold", ["fold"])
    for split in _field(sec.pub, ["splits"]) or {}:
        sec.add(f"{split} images", ["splits", split, "total"])
    sec.add("recipe changes", ["changes"])
    sec.add("epochs run", ["epochs_run"])
    for variant, label in (("plain", "accuracy"), ("flip", "accuracy with flip TTA")):
        sec.add(label, [variant, "accuracy"], _published_interval(sec.pub, [variant, "ci95"]), _WILSON)
        sec.add(f"log loss ({variant})", [variant, "log_loss"], note="no CI published")
    sec.add("phase 2 training (s)", ["phase2_seconds"])


def _shown_checks(b: _Builder) -> None:
    if sec := b.section("timings", "timings.json"):
        steps = [k for k in sec.pub if _is_number(sec.pub[k]) and _is_number(sec.run.get(k))]
        total = [round(sum(d[k] for k in steps), 2) for d in (sec.pub, sec.run)]
        sec.append(judge(sec.name, f"total of {len(steps)} steps (s)", sec.record, *total, sec.kind([])))
        for step in ("phase1_features", "phase2_train"):
            sec.add(f"{step} (s)", [step])
    if sec := b.section("latency", "bench/bench.json"):
        for model in _field(sec.pub, ["models"]) or {}:
            sec.add(f"{model} single image (ms)", ["models", model, "single", "median_ms"])


def _step_commands(profile: str, run_dir: str) -> dict[str, str]:
    """The command that writes each record of a run directory."""
    common = f"--profile {profile} --run-dir {run_dir}"
    chapter = {n: f"python -m catsdogs reproduce {common} --from {n}" for n in ("01", "03", "04", "05", "06")}
    limitations = chapter["06"]
    return {
        "data/scan.json": f"python -m catsdogs train {common} --phase data (or {chapter['01']})",
        "phase1/result.json": f"python -m catsdogs train {common} --phase 1 (or {chapter['03']})",
        "phase2/result.json": f"python -m catsdogs train {common} (or {chapter['04']})",
        "eval/metrics.json": f"python -m catsdogs evaluate {common} (or {chapter['05']})",
        "export/export.json": f"python -m catsdogs export {common} (or {chapter['05']})",
        "bench/bench.json": f"python -m catsdogs bench {common} (or {chapter['05']})",
        "robustness/results.json": limitations,
        "robustness/calibration.json": limitations,
        "robustness/ood.json": limitations,
        "mitigation/result.json": limitations,
        "robustness/results_mitigation.json": limitations,
        "mitigation_control/result.json": limitations,
        "robustness/results_mitigation_control.json": limitations,
        "robustness/mitigation.json": limitations,
        "timings.json": f"python -m catsdogs reproduce {common}",
        "cv.json": f"python -m catsdogs cv --run-dir {run_dir} --merge (after its trainings: cv --fold K --seed S)",
        "explore.json": f"python -m catsdogs explore --study <study> --recipe <recipe.json> --run-dir {run_dir}",
    }


def _compare_records(published: Path | str, run_dir: Path | str, profile: str) -> tuple[list[Check], dict[str, str]]:
    """Every check of ``run_dir``'s records against ``published`` (same settings assumed),
    and the records the run lacks as ``{record: command that writes it}``; the commands
    name ``profile`` and ``run_dir``. Never raises on a partial or unreadable record."""
    b = _Builder(_Records(Path(published)), _Records(Path(run_dir)), _step_commands(profile, str(run_dir)))
    steps = (_data_checks, _training_checks, _metric_checks, _export_checks, _limitation_checks)
    for step in (*steps, _study_checks, _exploration_checks, _shown_checks):
        step(b)
    return b.checks, b.missing


__all__ = [
    "IDENTICAL",
    "WITHIN_CI",
    "DIFFERS",
    "NOT_BIT_IDENTICAL",
    "SHOWN",
    "MISSING",
    "Check",
    "Verification",
    "verify_run",
    "setting_differences",
    "published_record",
    "check_after_reproduce",
    "published_environment_markdown",
    "FAILING",
    "judge",
    "proportion_interval",
]
