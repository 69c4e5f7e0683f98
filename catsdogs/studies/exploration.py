"""The exploration of candidate recipes, as the book shows it (issue 27 item 4).

Every candidate was trained on fold 0's training part of a study and scored on its
exploration split (:mod:`catsdogs.training.explore`); this module reads their published
``explore.json`` records and tabulates them. Its figures are inner-split figures: none of
fold 0's scored images is among them (the exploration split's images are scored by folds 1-4
of a study), and they are not comparable to a study's pooled accuracy (2,000 images, one
training each).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from catsdogs.markdown import Text, markdown_table, percent
from catsdogs.provenance import FirstCommit
from catsdogs.records import Environment, Exploration, ExploredScore, Provenance

#: The candidate every other one is read against: the study's own recipe on the same split.
REFERENCE = "paper"


def load_explorations(root: Path | str) -> dict[str, Exploration]:
    """``{candidate: explore.json}`` of every ``<root>/<candidate>/explore.json``, the
    reference candidate first, then by name; ``{}`` when ``root`` holds none."""
    found = {p.parent.name: Exploration.read(p) for p in sorted(Path(root).glob(f"*/{Exploration.PATH}"))}
    return dict(sorted(found.items(), key=lambda item: (item[0] != REFERENCE, item[0])))


#: How the table words a changed setting (any other reads ``name = value``).
SETTING_WORDS = {
    "phase2_lr": "LR {}",
    "phase2_epochs": "{} epochs",
    "phase2_patience": "patience {}",
    "phase2_schedule": "{} schedule",
    "label_smoothing": "label smoothing {}",
    "fine_tune_from": "fine-tune from {}",
}


def changes_text(changes: Mapping[str, Any]) -> str:
    """A candidate's settings that differ from its study's recipe, in words."""
    words = [SETTING_WORDS.get(name, f"{name} = {{}}").format(value) for name, value in changes.items()]
    return ", ".join(words) or "none (the study's recipe)"


def _accuracy_cell(score: ExploredScore) -> str:
    return f"{percent(score.accuracy, 2)} ({100 * score.ci95.low:.1f}–{100 * score.ci95.high:.1f})"


def exploration_rows(records: Mapping[str, Exploration]) -> list[dict[str, str]]:
    """One row per candidate: its changes, accuracy with Wilson interval, plain and with flip
    test-time augmentation, and its phase-2 epochs and CPU time."""
    return [
        {
            "candidate": f"`{name}`",
            "changes from the study's recipe": changes_text(r.changes),
            "accuracy (95 % CI)": _accuracy_cell(r.plain),
            "with flip TTA": _accuracy_cell(r.flip),
            "phase 2": f"{r.epochs_run} epochs, {r.phase2_seconds / 60:.0f} min",
        }
        for name, r in records.items()
    ]


def exploration_markdown(records: Mapping[str, Exploration], pending: Sequence[str] = ()) -> Text:
    """The exploration table with what it is measured on, or a line saying none is published."""
    if not records:
        return Text("*No candidate recipe has been explored yet (`python -m catsdogs explore`).*\n")
    first = next(iter(records.values()))
    train, inner, val = (first.splits[split].total for split in ("train", "inner", "val"))
    text = (
        f"Inner-split figures only: each candidate trained once on {train:,} images of "
        f"fold {first.fold}'s training part of `{first.study}`, chose its epoch on "
        f"{inner:,} more, and is scored on the **exploration split** "
        f"({val:,} further images of that part). None of fold {first.fold}'s scored images is "
        "among them, so in a five-fold study of the recipe chosen here, that fold is the one untouched by the "
        "choice (the exploration split's images are scored by the other folds). Wilson 95 % intervals.\n\n"
    )
    text += markdown_table(exploration_rows(records))
    if pending:
        text += f"\n*Not finished yet: {', '.join(f'`{p}`' for p in pending)}.*\n"
    return Text(text)


# ----------------------------------------------------------------------------- the declared recipe


def declared_recipes(root: Path | str) -> dict[str, dict[str, Any]]:
    """``{name: recipe}`` of every declared recipe file ``<root>/recipes/<name>.json`` (the
    candidates live in ``recipes/candidates/``), by name."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((Path(root) / "recipes").glob("*.json"))}


def study_name(recipe: str) -> str:
    """The directory of a declared recipe's five-fold study: ``cv-<recipe>``."""
    return f"cv-{recipe}"


def _utc(stamp: str) -> str:
    """An ISO 8601 time as ``2026-12-05 19:08 UTC``."""
    return datetime.fromisoformat(stamp).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def declaration_text(recipe: str, declared: FirstCommit | None, first: Environment | None) -> str:
    """When the recipe file was committed, and whether its study's first training ran on that
    commit or a later one (``declared``: :func:`catsdogs.provenance.file_first_commit`;
    ``first``: the first training's ``provenance.json`` environment)."""
    from catsdogs.provenance import is_ancestor

    path = f"`recipes/{recipe}.json`"
    if declared is None:
        return f"{path} is not committed in this checkout, so this page cannot show when it was fixed."
    text = f"{path} was committed in `{declared.commit[:7]}` at {_utc(declared.committed_at)}"
    commit = first.git.commit if first and first.git else None
    if not commit:
        return text + "; no training of its study has started."
    started, fixed = (datetime.fromisoformat(s) for s in (first.recorded_at, declared.committed_at))
    after = started > fixed and is_ancestor(declared.commit, commit)
    return text + (
        f"; the study's first training started at {_utc(first.recorded_at)} from `{commit[:7]}`, "
        + ("a commit that contains it." if after else "**not** a later commit that contains it.")
    )


def recipe_rows(recipe: Mapping[str, Any]) -> list[dict[str, str]]:
    """A declared recipe's settings, each with its value and the reason given for it."""
    return [
        {"setting": f"`{name}`", "value": f"`{json.dumps(value)}`", "why": recipe["why"].get(name, "")}
        for name, value in recipe["settings"].items()
    ]


def first_training(study_dir: Path | str) -> Environment | None:
    """The ``provenance.json`` environment of a study's earliest training (by its record's
    time), or ``None`` before any."""
    found = [Provenance.read(p).environment for p in Path(study_dir).glob("fold-*/provenance.json")]
    return min(found, key=lambda env: datetime.fromisoformat(env.recorded_at), default=None)


def declared_markdown(recipe: str, settings: Mapping[str, Any], declaration: str) -> Text:
    """The declared recipe: when it was fixed, then its settings and why."""
    return Text(declaration + "\n\n" + markdown_table(recipe_rows(settings)))
