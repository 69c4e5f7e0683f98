"""The paper's claims next to this reproduction's figures: the comparison table of the
results page (:func:`comparison_rows`) and the claim-by-claim reproduction summary at the
top of the book (:func:`claim_rows`), each verdict computed from the published records
(the run, and the cross-validation studies of :mod:`catsdogs.studies.cv_report`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from catsdogs.evaluation.metrics import PRF_READINGS, SHOWN_METRICS
from catsdogs.markdown import (
    NOT_MEASURED,
    NOT_REPORTED,
    Row,
    Table,
    Text,
    and_list,
    duration,
    hardware_text,
    millions,
    paper_percent,
    percent,
    table_builder,
    with_ci,
)
from catsdogs.records import Bench, Export, Interval
from catsdogs.runs import Run
from catsdogs.studies.cv_report import StudyReport, comparison_of, without_selection_interval
from catsdogs.studies.generalization import NOT_TESTABLE, GeneralizationSummary, claim_status
from catsdogs.studies.paper import PAPER, paper_figure
from catsdogs.studies.verdicts import (
    DIFFERS_EXPLAINED,
    NO_DETECTABLE_DROP,
    NOT_REPRODUCED,
    REPRODUCED,
    judge_accuracy,
    judge_limitation,
    judge_rounded,
    judge_size,
    paper_validation_size,
)

# ----------------------------------------------------------------------------- the paper next to ours


@table_builder
def paper_claim_rows() -> Table:
    """The paper's headline figures (:data:`catsdogs.studies.paper.PAPER`)."""
    P = PAPER
    return [
        {"claim": "images (PetImages, both classes)", "paper": f"{P.images:,}"},
        {"claim": "validation accuracy", "paper": paper_percent(P.accuracy)},
        {"claim": "precision / recall / F1", "paper": f"{P.precision} / {P.recall} / {P.f1}"},
        {"claim": "parameters", "paper": f"≈{P.parameters / 1e6:.1f} M"},
        {"claim": "model file size", "paper": f"{P.file_size_mb:.0f} MB"},
        {"claim": "inference latency", "paper": f"≈{P.latency_ms_per_image:.0f} ms/image, {P.latency_hardware}"},
    ]


def _training_seconds(timings: Mapping[str, float]) -> float | None:
    steps = [s for s in ("phase1_features", "phase1_train", "phase2_train") if s in timings]
    return sum(timings[s] for s in steps) if steps else None


def _latency(bench: Bench | None, model: str) -> str:
    if not bench or model not in bench.models:
        return NOT_MEASURED
    entry = bench.models[model]
    return (
        f"{entry.single.median_ms:.1f} ms single image; "
        f"{entry.batched_per_image.median_ms:.1f} ms/image over {bench.batch_size} images"
        + (" (one call per image)" if entry.batched_mode else " (one batched call)")
    )


@table_builder
def comparison_rows(run: Run) -> Table:
    """The paper's claims next to this run's float Keras model and its int8 TFLite export.

    Columns: ``quantity``, ``paper``, ``this reproduction (float Keras)``,
    ``int8 TFLite export``. A cell whose measuring step has not run (evaluation,
    ``python -m catsdogs export`` / ``bench``) reads :data:`NOT_MEASURED`.
    """
    ev, final, export, bench = run.evaluation, run.final_result(), run.export, run.bench
    prov, timings = run.provenance, run.timings()
    int8 = export.int8 if export else None
    cols = ("paper", "this reproduction (float Keras)", "int8 TFLite export")

    def row(name: str, *cells: str) -> Row:
        return {"quantity": name, **dict(zip(cols, cells))}

    data = prov.data if prov else None
    rows = [
        row(
            "images used",
            f"{PAPER.images:,}",
            f"{data.usable_images:,}" if data else NOT_MEASURED,
            "same validation split",
        )
    ]
    for key, label in SHOWN_METRICS.items():
        paper = paper_figure(key) if PAPER.has(key) else NOT_REPORTED
        # a metric added after a record was made is "not measured" there, not an error
        # two decimals: at one, 98.76 % and 98.86 % read 98.8 % and 98.9 % (the paper's figure)
        ours = with_ci(ev.ci95[key], 2) if ev and key in ev.ci95 else NOT_MEASURED
        theirs = getattr(int8.val_metrics, key, None) if int8 else None
        rows.append(row(label, paper, ours, percent(theirs, 2) if theirs is not None else NOT_MEASURED))
    params = final.parameters.total if final else None
    rows.append(
        row(
            "parameters",
            f"≈{PAPER.parameters / 1e6:.1f} M",
            millions(params) if params else NOT_MEASURED,
            millions(export.parameters.total) if export else NOT_MEASURED,
        )
    )
    rows.append(
        row(
            "model file size",
            f"{PAPER.file_size_mb:.0f} MB",
            _keras_size(run, export),
            f"{int8.size_mb:.1f} MB" if int8 else NOT_MEASURED,
        )
    )
    rows.append(
        row(
            "latency",
            f"≈{PAPER.latency_ms_per_image:.0f} ms/image",
            _latency(bench, "keras"),
            _latency(bench, "tflite_int8"),
        )
    )
    train_s = _training_seconds(timings)
    rows.append(
        row(
            "training time",
            NOT_REPORTED,
            duration(train_s) if train_s else NOT_MEASURED,
            f"+ {duration(timings['export_convert'])} conversion" if "export_convert" in timings else NOT_MEASURED,
        )
    )
    rows.append(
        row(
            "training hardware",
            NOT_REPORTED,
            hardware_text(prov.hardware if prov else None),
            "the same model, converted",
        )
    )
    latency_hw = hardware_text(bench.hardware) if bench else NOT_MEASURED
    rows.append(row("latency hardware", PAPER.latency_hardware, latency_hw, latency_hw))
    return rows


def _keras_size(run: Run, export: Export | None) -> str:
    if export:
        return f"{export.keras.size_mb:.1f} MB"
    for phase in ("phase2", "phase1"):
        path = run.model_path(phase)
        if path.is_file():
            return f"{path.stat().st_size / 1e6:.1f} MB (training checkpoint, with optimizer state)"
    return NOT_MEASURED


# ----------------------------------------------------------------------------- claim by claim


@dataclass(frozen=True)
class Claim:
    """One row of the claim table: ``key`` names the claim for :func:`bottom_line`; ``strict``
    is the verdict under the strict reading, where the rule has one."""

    key: str
    claim: str
    paper: str
    ours: str
    verdict: str
    evidence: str
    strict: str | None = None
    recipe: str = ""
    note: str = ""
    #: How the verdicts change without the fold the recipe was picked on ("" when they do not).
    without_selection: str = ""

    def row(self) -> dict[str, str]:
        verdict = f"**{self.verdict}**"
        if self.strict is not None and (self.strict != self.verdict or self.without_selection):
            verdict += (
                f" (strict: {self.strict}" + (f"; {self.without_selection}" if self.without_selection else "") + ")"
            )
        return {
            "claim": self.claim,
            "paper": self.paper,
            "this reproduction": self.ours,
            "verdict": verdict,
            "evidence": self.evidence,
        }


#: Which reading of the paper's single "0.99" the claim table judges: the macro average over
#: both classes, the summary line of scikit-learn's ``classification_report`` (the usual source
#: of one precision, one recall and one F1 for a two-class problem); the dog-class figures,
#: which this package reports elsewhere, are shown beside it and judged too.
JUDGED_PRF = "macro"
PRF_LABELS = {"macro": "macro average", "dog": "dog class"}


def prf_text(ci: Mapping[str, Interval], keys: Sequence[str]) -> str:
    """Precision / recall / F1 with their 95 % CIs, as percentages with two decimals (as every
    rate this book measures; the paper's own figure is quoted as it wrote it, 0.99)."""
    return " / ".join(f"{percent(ci[k].estimate, 2)} ({100 * ci[k].low:.2f}–{100 * ci[k].high:.2f})" for k in keys)


def prf_verdict(ci: Mapping[str, Interval], keys: Sequence[str]) -> str:
    """*Reproduced* when each of precision, recall and F1 is (:func:`judge_rounded`)."""
    return (
        REPRODUCED
        if all(judge_rounded(ci[k], getattr(PAPER, k.removeprefix("macro_"))) == REPRODUCED for k in keys)
        else NOT_REPRODUCED
    )


def _accuracy_evidence(run: Run, studies: Mapping[str, StudyReport]) -> list[tuple[str, dict[str, Interval], str, str]]:
    """The strongest accuracy evidence available, as (recipe, CIs, images, link): the pooled
    out-of-fold estimate of each finished study (the paper-faithful recipe first), else the
    run's single validation split."""
    link = "[Is 98.9 % reproducible?](reproducible.md)"

    def images(name: str, study: StudyReport) -> str:
        what = f"{study.cv.images:,} out-of-fold images"
        compare = comparison_of(studies, name)
        if compare:  # a recipe picked on some images: the figure without them too
            fresh = compare.without_selection_fold
            what += f" ({percent(fresh.accuracy.second, 2)} without {fresh.excluded_text}, where it was picked)"
        return what

    pooled = [(s.label, s.cv.pooled_ci95, images(name, s), link) for name, s in studies.items() if s.cv]
    if pooled:
        return pooled
    ev = run.evaluation
    if not ev:
        return []
    return [("", ev.ci95, f"{ev.metrics.n:,} validation images", "[Results](results.md)")]


def judge_claims(
    run: Run,
    studies: Mapping[str, StudyReport],
    generalization: GeneralizationSummary | None = None,
    imagenet_model: Mapping[str, float] | None = None,
) -> list[Claim]:
    """Each claim of the paper with this reproduction's figure and its verdict under
    :func:`verdict_rules`. The paper gives no learning rate or epochs, so each pre-declared
    recipe of the study gets its own accuracy and precision / recall / F1 rows.
    ``imagenet_model`` holds ``parameters`` and ``size_mb`` of MobileNetV2 with its ImageNet
    head (the explanation of a parameter or size difference); ``generalization`` is the
    published models' :func:`~catsdogs.studies.generalization.generalization_summary`."""
    P, out = PAPER, []
    top = imagenet_model or {}
    picked = {s.label: c for n, s in studies.items() if (c := without_selection_interval(studies, n))}
    for recipe, ci, what, link in _accuracy_evidence(run, studies):
        acc, of = ci["accuracy"], f" ({recipe})" if recipe else ""
        fair, strict, _ = judge_accuracy(acc, P.accuracy, paper_validation_size())
        changed = ""
        if recipe in picked:  # a verdict that changes without the fold the recipe was picked on says so
            fresh = picked[recipe]
            fair_fresh, strict_fresh, _ = judge_accuracy(fresh.ci, P.accuracy, paper_validation_size())
            changed = "; ".join(
                f"{what} without {fresh.excluded}: {after}"
                for what, before, after in (("", fair, fair_fresh), ("strict", strict, strict_fresh))
                if after != before
            ).strip()
        out.append(
            Claim(
                "accuracy",
                f"validation accuracy{of}",
                percent(P.accuracy),
                f"{with_ci(acc, 2)}, {what}",
                fair,
                link,
                strict=strict,
                recipe=recipe,
                without_selection=changed,
            )
        )
        readings = {name: keys for name, keys in PRF_READINGS.items() if all(k in ci for k in keys)}
        judged = {name: prf_verdict(ci, keys) for name, keys in readings.items()}
        main = JUDGED_PRF if JUDGED_PRF in judged else "dog"
        other = [n for n in judged if n != main and judged[n] != judged[main]]
        out.append(
            Claim(
                "prf",
                f"precision / recall / F1{of}",
                " / ".join(paper_figure(k) for k in ("precision", "recall", "f1")),
                "; ".join(f"{PRF_LABELS[name]}: {prf_text(ci, keys)}" for name, keys in readings.items()),
                judged[main],
                link
                + (
                    f" ({PRF_LABELS[main]} judged; {', '.join(f'{PRF_LABELS[n]}: {judged[n]}' for n in other)})"
                    if other
                    else ""
                ),
                recipe=recipe,
            )
        )
    final = run.final_result()
    if final:
        ours = final.parameters.total
        out.append(
            Claim(
                "parameters",
                "parameters",
                f"≈{P.parameters / 1e6:.1f} M",
                f"{ours / 1e6:.2f} M (binary model)",
                judge_size(ours, P.parameters, top.get("parameters")),
                "[Results: parameters and size](results.md)",
            )
        )
    export = run.export
    if export:
        size = export.keras.size_mb
        out.append(
            Claim(
                "size",
                "model file size",
                f"{P.file_size_mb:.0f} MB",
                f"{size:.1f} MB (Keras)",
                judge_size(size, P.file_size_mb, top.get("size_mb")),
                "[Results: parameters and size](results.md)",
            )
        )
    prov = run.provenance
    gpus = prov.hardware.gpus if prov and prov.hardware else []
    bench = run.bench
    cpu = (
        f"{bench.int8.single.median_ms:.1f} ms/image int8 on "
        f"{bench.hardware.cpu} ({bench.hardware.logical_cores} cores)"
        if bench
        else NOT_MEASURED
    )
    out.append(
        Claim(
            "latency",
            "latency",
            f"≈{P.latency_ms_per_image:.0f} ms/image, GPU",
            cpu,
            NOT_TESTABLE if not gpus else NOT_REPRODUCED,
            "[Results](results.md)",
        )
    )
    if generalization is not None:
        ours, status = claim_status(generalization)
        out.append(
            Claim(
                "generalization",
                "strong generalization",
                "claimed, not measured",
                ours,
                status,
                "[Beyond PetImages](generalization.md)",
            )
        )
    robust = run.corruption_study()
    for name, claim in LIMITATION_CLAIMS.items():
        if robust and name in robust.corruptions:
            c = robust.corruptions[name]
            clean, worst = c.interval(0), c.interval(-1)
            paired = (
                f"; {c.lost[-1]} images made wrong, {c.gained[-1]} made right, paired p = {c.paired_p[-1]:.2g}"
                if c.paired_p is not None
                else ""
            )
            verdict = judge_limitation(c)
            floor = robust.smallest_detectable_drop
            note = (
                f"a drop under {100 * floor:.1f} pp could not be shown with {robust.n_images:,} images"
                if verdict == NO_DETECTABLE_DROP and floor
                else ""
            )
            out.append(
                Claim(
                    name,
                    claim,
                    "named, not measured",
                    f"{with_ci(clean)} → {with_ci(worst)}, {robust.n_images:,} validation images{paired}"
                    + (f"; {note}" if note else ""),
                    verdict,
                    "[Limitations](limitations.md)",
                    note=note,
                )
            )
    return out


#: The paper's named limitations: ``{corruption: claim}``.
LIMITATION_CLAIMS = {
    "low_light": "weak in poor lighting",
    "occlusion": "weak under partial occlusion",
    "grayscale": "weak on grayscale images",
}


@table_builder
def claim_rows(
    run: Run,
    studies: Mapping[str, StudyReport],
    generalization: GeneralizationSummary | None = None,
    imagenet_model: Mapping[str, float] | None = None,
) -> list[dict]:
    """The claim table: :func:`judge_claims` as rows (the strict reading beside a verdict it changes)."""
    return [c.row() for c in judge_claims(run, studies, generalization, imagenet_model)]


def bottom_line(found: Sequence[Claim], caveats: Sequence[str] = ()) -> Text:
    """The reproduction's conclusion in a few sentences, composed from the claims' verdicts
    (:func:`judge_claims`) and the caveats that bear on every figure."""
    by_key: dict[str, list[Claim]] = {}
    for c in found:
        by_key.setdefault(c.key, []).append(c)
    paper, sentences = paper_percent(PAPER.accuracy), []
    accuracy = by_key.get("accuracy", [])
    if accuracy:
        held = [c for c in accuracy if c.verdict == REPRODUCED]
        head = (
            "**The paper's headline accuracy is reproduced, within its sampling error.**"
            if len(held) == len(accuracy)
            else "**The paper's headline accuracy is reproduced by one recipe only.**"
            if held
            else "**The paper's headline accuracy is not reproduced.**"
        )
        first, *others = (f"the {c.recipe or 'run'} {c.ours.split(', ')[0]}" for c in accuracy)
        where = "Cross-validated over every image" if "out-of-fold" in accuracy[0].ours else "On the validation split"
        text = f"{where}: {first}, against its {paper}"
        if others:
            text += f"; for comparison, {and_list(others)}"
        # read as an exact figure: the CIs the paper's value lies above (a picked recipe's without its fold)
        strict_fail = [c for c in held if c.strict == NOT_REPRODUCED]
        picked_fail = [c for c in held if c not in strict_fail and "strict without" in c.without_selection]
        above = strict_fail + picked_fail
        if above:
            spared = [c for c in accuracy if c not in above]
            text += f". Read as an exact figure, {paper} lies above " + (
                "each of these CIs"
                if len(above) == len(accuracy) > 1
                # recipe names hold commas: name the one CI it does not lie above rather than list the rest
                else f"each of these CIs but that of the {spared[0].recipe or 'run'}"
                if len(spared) == 1 and len(above) > 1
                else "the CI of " + " and of ".join(f"the {c.recipe or 'run'}" for c in above)
            )
        if picked_fail:
            text += (
                f" ({and_list([f'the {c.recipe}' for c in picked_fail])}: once the fold it was picked on is left out)"
            )
        sentences += [head, text + "."]
    model_parts = []
    prf = by_key.get("prf", [])
    if prf:
        ok = all(c.verdict == REPRODUCED for c in prf)
        model_parts.append(
            f"precision, recall and F1 {'are' if ok else 'are not all'} consistent with its "
            f"{PAPER.precision} (our 95 % CIs overlap 0.985–0.995, the values that round to it)"
        )
    model = by_key.get("parameters", []) + by_key.get("size", [])
    if model and all(c.verdict == DIFFERS_EXPLAINED for c in model):
        ours = " and ".join(c.ours.split(" (")[0] for c in model)
        model_parts.append(
            "its parameter count and file size are those of MobileNetV2 with the 1,000-class ImageNet "
            f"head (the binary model: {ours})"
        )
    elif model:
        model_parts += [f"{c.claim}: {c.verdict}" for c in model]
    latency = by_key.get("latency", [])
    if latency and latency[0].verdict == NOT_TESTABLE:
        model_parts.append("its GPU latency is not testable here")
    if model_parts:
        text = "; ".join(model_parts)
        sentences.append(text[0].upper() + text[1:] + ".")
    limits = [c for key in LIMITATION_CLAIMS for c in by_key.get(key, [])]
    if limits:
        costly = [c.claim.removeprefix("weak ") for c in limits if c.verdict == REPRODUCED]
        mild = [c.claim.removeprefix("weak ") for c in limits if c.verdict != REPRODUCED]
        text = f"Accuracy falls {and_list(costly)}" if costly else "No named weakness costs accuracy detectably"
        if costly and mild:
            text += f"; no drop was detectable {and_list(mild)}"
        notes = sorted({c.note for c in limits if c.verdict == NO_DETECTABLE_DROP and c.note})
        if mild and notes:
            text += f" ({'; '.join(notes)})"
        gen = by_key.get("generalization")
        if gen and gen[0].verdict != NOT_TESTABLE:
            text += f'; "strong generalization": {gen[0].verdict.replace("; ", ", but ")}'
        sentences.append(text + ".")
    if caveats:
        sentences.append("Caveats for every figure: " + "; ".join(caveats) + ".")
    return Text(" ".join(sentences) + "\n")


__all__ = [
    "JUDGED_PRF",
    "PRF_LABELS",
    "prf_text",
    "prf_verdict",
    "Claim",
    "judge_claims",
    "bottom_line",
    "paper_claim_rows",
    "comparison_rows",
    "claim_rows",
]
