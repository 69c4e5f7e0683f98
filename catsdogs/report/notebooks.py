"""Batch re-execution of the six chapters with papermill.

:func:`run_notebooks` executes ``notebooks/NN_*.ipynb`` in order into
``<run_dir>/notebooks/``, with the chapter, papermill's cell progress and the running
cell's own output shown live; :mod:`catsdogs.report.book` then builds the book from them.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from unittest import mock

from tqdm import TqdmWarning

from catsdogs.config import CHAPTERS, Config, UserError, project_dir
from catsdogs.runs import LOCATION_VARIABLES, Run

log = logging.getLogger(__name__)


class ChapterFailed(UserError):
    """A notebook failed; the message names it, the cell and the partial output."""


#: TensorFlow's C++ log lines (absl format; the TFLite converter and XNNPACK start-up),
#: which the kernel forwards as cell output; they stay in the executed notebook only.
_TF_CPP_LINE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] .*"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\."
    r"|INFO: Created TensorFlow Lite \w+ delegate for CPU\."
    r"|fully_quantize: \d+, inference_type: .*"
)


class _LiveCellOutput:
    """File-like target for one stream of the running cell (papermill's ``stdout_file`` /
    ``stderr_file``): written to the terminal as it arrives, without TensorFlow's C++
    start-up lines, around papermill's progress bar (cleared before a new line of output,
    redrawn once the line is complete, so ``\\r`` progress bars of the cell stay visible)."""

    partial = False  # shared by stdout and stderr: the terminal has one cursor

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        from tqdm import tqdm

        kept = "".join(
            line for line in text.splitlines(keepends=True) if not _TF_CPP_LINE.fullmatch(line.rstrip("\r\n"))
        )
        if kept:
            bars = list(getattr(tqdm, "_instances", []))
            if not _LiveCellOutput.partial:
                for bar in bars:
                    bar.clear()
            self.stream.write(kept)
            self.stream.flush()
            _LiveCellOutput.partial = not kept.endswith("\n")
            if not _LiveCellOutput.partial:
                for bar in bars:
                    bar.refresh()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def _kernel_writing_to(log_file) -> type:
    """A kernel manager whose kernel process writes its own stdout/stderr (TensorFlow's C++
    start-up lines, ipykernel warnings, a crash) to ``log_file`` instead of the terminal;
    what the cells print still reaches papermill."""
    from jupyter_client.manager import AsyncKernelManager

    class KernelWritingToFile(AsyncKernelManager):
        async def start_kernel(self, **kw):
            kw.setdefault("stdout", log_file)
            kw.setdefault("stderr", subprocess.STDOUT)
            return await super().start_kernel(**kw)

    return KernelWritingToFile


def _chapter_index(name: str) -> int:
    """Position of a chapter given ``"04"``, ``"4"`` or a full notebook name."""
    for i, ch in enumerate(CHAPTERS):
        if name == ch or name.zfill(2) == ch[:2]:
            return i
    raise ValueError(f"unknown chapter {name!r}; use one of {', '.join(c[:2] for c in CHAPTERS)}")


def _notebook_parameters(run: Run) -> dict:
    """The ``parameters`` cell values papermill injects for ``run``. Locations are not
    among them: the chapters reopen the run directory, whose ``config.json`` holds those
    given to this run, and otherwise read the environment variables."""
    cfg = run.config
    return {"profile": cfg.profile, "run_dir": str(run.path.resolve()), "seed": cfg.seed}


def run_notebooks(config: Config, run_dir: Path | str | None = None, start: str = "01", stop: str = "06") -> Path:
    """Execute chapters ``start``..``stop`` in order; return the run directory.

    Raises
    ------
    ChapterFailed
        When a chapter raises; the partial executed notebook is kept.
    """
    import papermill as pm

    with warnings.catch_warnings():
        # papermill's bar is tqdm.auto: in a Jupyter kernel without ipywidgets (the
        # reproduce.ipynb notebook) it falls back to the text bar, warning once on import
        warnings.simplefilter("ignore", TqdmWarning)
        import tqdm.auto  # noqa: F401

    run = Run.open(config, run_dir)
    first, last = _chapter_index(start), _chapter_index(stop)
    out_dir = run.path / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    for earlier in CHAPTERS[:first]:
        if not (out_dir / f"{earlier}.ipynb").is_file():
            raise ChapterFailed(
                f"--from {start}: chapter {earlier} has not been executed in {run.path}; "
                f"start from {earlier[:2]} instead"
            )
    src_dir = project_dir() / "notebooks"
    papermill_log = logging.getLogger("papermill")
    quiet = papermill_log.level == logging.NOTSET and not log.isEnabledFor(logging.DEBUG)
    # the chapters read locations from the environment (Run.for_notebook): pass this command's
    locations = {var: str(getattr(config, f)) for f, var in LOCATION_VARIABLES.items() if getattr(config, f)}
    with mock.patch.dict(os.environ, locations):
        for chapter in CHAPTERS[first : last + 1]:
            src, dst = src_dir / f"{chapter}.ipynb", out_dir / f"{chapter}.ipynb"
            kernel_log = out_dir / f"{chapter}.kernel.log"
            log.info("chapter %s (%d of %d) -> %s", chapter, CHAPTERS.index(chapter) + 1, len(CHAPTERS), dst)
            # papermill's cell progress bar, with the cells' own output (epoch lines, tqdm) streamed above it
            bar = {
                "desc": chapter[:2],
                "unit": "cell",
                "file": sys.stderr,
                "bar_format": "{l_bar}{bar:20}| {n_fmt}/{total_fmt} cells [{elapsed}]",
            }
            _LiveCellOutput.partial = False
            if quiet:
                papermill_log.setLevel(logging.WARNING)  # "Input Notebook: ...", "Executing notebook with kernel"
            with run.timed(f"notebook_{chapter}"), open(kernel_log, "w") as kernel_out:
                try:
                    pm.execute_notebook(
                        str(src),
                        str(dst),
                        parameters=_notebook_parameters(run),
                        cwd=str(src_dir),
                        kernel_name="python3",
                        progress_bar=bar,
                        log_output=False,
                        stdout_file=_LiveCellOutput(sys.stdout),
                        stderr_file=_LiveCellOutput(sys.stderr),
                        kernel_manager_class=_kernel_writing_to(kernel_out),
                    )
                except pm.PapermillExecutionError as exc:
                    raise ChapterFailed(
                        f"chapter {chapter} failed in cell {exc.exec_count} ({exc.ename}: {exc.evalue}); "
                        f"the partial executed notebook is {dst} (the kernel's own log: {kernel_log}); "
                        f"fix it and rerun with --from {chapter[:2]}"
                    ) from exc
                finally:
                    if quiet:
                        papermill_log.setLevel(logging.NOTSET)
    return run.path
