"""Batch re-execution of the six chapters with papermill, and the book build.

``run_notebooks`` executes ``notebooks/NN_*.ipynb`` in order into
``<run_dir>/notebooks/``; ``build_book`` assembles the Jupyter Book from those
executed copies (never re-executing them) plus pages generated from the run's
JSON records, and builds HTML with warnings as errors.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

from catsdogs.config import Config, project_root
from catsdogs.runs import Run

log = logging.getLogger(__name__)

CHAPTERS: tuple[str, ...] = (
    "01_dataset_exploration",
    "02_augmentation",
    "03_phase1_feature_extraction",
    "04_phase2_fine_tuning",
    "05_evaluation",
    "06_limitations",
)


class ChapterFailed(RuntimeError):
    """A notebook failed; the message names it, the cell and the partial output."""


def _root() -> Path:
    root = project_root()
    if root is None:
        raise FileNotFoundError(
            "cannot find the catsdogs project (pyproject.toml + notebooks/): run this from a "
            "clone of the repository"
        )
    return root


def chapter_index(name: str) -> int:
    """Position of a chapter given ``"04"``, ``"4"`` or a full notebook name."""
    for i, ch in enumerate(CHAPTERS):
        if name == ch or name.zfill(2) == ch[:2]:
            return i
    raise ValueError(f"unknown chapter {name!r}; use one of {', '.join(c[:2] for c in CHAPTERS)}")


def notebook_parameters(run: Run) -> dict:
    """The ``parameters`` cell values papermill injects for ``run``."""
    cfg = run.config
    return {
        "profile": cfg.profile,
        "run_dir": str(run.path.resolve()),
        "data_dir": cfg.data_dir,
        "weights": cfg.weights,
        "cache_dir": cfg.cache_dir,
        "seed": cfg.seed,
    }


def run_notebooks(config: Config, run_dir: Path | str | None = None, start: str = "01", stop: str = "06") -> Path:
    """Execute chapters ``start``..``stop`` in order; return the run directory.

    Raises
    ------
    ChapterFailed
        When a chapter raises; the partial executed notebook is kept.
    """
    import papermill as pm

    run = Run.open(config, run_dir)
    first, last = chapter_index(start), chapter_index(stop)
    out_dir = run.path / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    for earlier in CHAPTERS[:first]:
        if not (out_dir / f"{earlier}.ipynb").is_file():
            raise ChapterFailed(
                f"--from {start}: chapter {earlier} has not been executed in {run.path}; "
                f"start from {earlier[:2]} instead"
            )
    src_dir = _root() / "notebooks"
    for chapter in CHAPTERS[first : last + 1]:
        src, dst = src_dir / f"{chapter}.ipynb", out_dir / f"{chapter}.ipynb"
        log.info("executing %s -> %s", src.name, dst)
        with run.timed(f"notebook_{chapter}"):
            try:
                pm.execute_notebook(
                    str(src), str(dst), parameters=notebook_parameters(run), cwd=str(src_dir),
                    kernel_name="python3", progress_bar=sys.stderr.isatty(), log_output=False,
                )
            except pm.PapermillExecutionError as exc:
                raise ChapterFailed(
                    f"chapter {chapter} failed in cell {exc.exec_count} ({exc.ename}: {exc.evalue}); "
                    f"the partial executed notebook is {dst}; fix it and rerun with --from {chapter[:2]}"
                ) from exc
    return run.path


# ----------------------------------------------------------------------------- book


def assemble_book(run_dir: Path | str, out: Path | str) -> Path:
    """Copy the book sources and the run's executed chapters into ``out``; write the
    generated pages. Returns ``out``. ``out`` may be the project root itself (the
    published book), in which case only ``book/chapters`` and generated pages change."""
    from catsdogs import report

    run = Run.load(run_dir)
    root, out = _root(), Path(out)
    if out.resolve() != root.resolve():
        out.mkdir(parents=True, exist_ok=True)
        for name in ("_config.yml", "_toc.yml"):
            shutil.copy2(root / name, out / name)
        if (out / "book").exists():
            shutil.rmtree(out / "book")
        shutil.copytree(root / "book", out / "book", ignore=shutil.ignore_patterns("chapters", "_generated"))
    chapters = out / "book" / "chapters"
    chapters.mkdir(parents=True, exist_ok=True)
    missing = [c for c in CHAPTERS if not (run.path / "notebooks" / f"{c}.ipynb").is_file()]
    if missing:
        raise FileNotFoundError(
            f"run {run.path} has no executed notebook for {', '.join(missing)}: run "
            f"`python -m catsdogs reproduce --run-dir {run.path}` first"
        )
    for c in CHAPTERS:
        report.copy_chapter(run.path / "notebooks" / f"{c}.ipynb", chapters / f"{c}.ipynb")
    report.write_generated_pages(run, out / "book" / "_generated")
    return out


def build_book(run_dir: Path | str, out: Path | str | None = None) -> Path:
    """Assemble and build the book (HTML, warnings as errors); return the HTML folder."""
    out = Path(out) if out else Path(run_dir) / "book"
    assemble_book(run_dir, out)
    cmd = [sys.executable, "-m", "jupyter_book", "build", str(out), "--warningiserror", "--nitpick", "--keep-going"]
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent))
    if jb:
        cmd = [jb, *cmd[3:]]
    log.info("building the book: %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise RuntimeError(f"jupyter-book build of {out} failed (warnings are errors):\n{tail}")
    html = out / "_build" / "html"
    (html / "build_record.json").write_text(json.dumps({"run_dir": str(Path(run_dir).resolve())}) + "\n")
    return html
