"""``notebooks.run_notebooks`` shows what is running: the chapter, papermill's cell
progress, and each cell's own output live, without TensorFlow's C++ log lines (those,
and everything else the kernel process itself prints, go to ``<chapter>.kernel.log``)."""

from __future__ import annotations

import logging
from pathlib import Path

import nbformat
import pytest

from catsdogs.report import notebooks

#: A TensorFlow C++ start-up line as the kernel forwards it (absl format).
TF_LINE = (
    "I0000 00:00:1795690526.346837   13676 port.cc:153] oneDNN custom operations are on. "
    "You may see slightly different numerical results."
)


def _chapter(path: Path) -> Path:
    """A stand-in chapter: a parameters cell, then cells printing like Keras, tqdm and TF's C++ runtime."""
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
    )
    nb.cells = [
        nbformat.v4.new_code_cell(
            'profile = "smoke"\nrun_dir = data_dir = weights = cache_dir = None\nseed = 42',
            metadata={"tags": ["parameters"]},
        ),
        nbformat.v4.new_code_cell(
            f"import os, sys\nprint('Epoch 1/2')\nprint({TF_LINE!r}, file=sys.stderr)\n"
            f"os.write(2, b'from the kernel process itself\\n')"
        ),
        nbformat.v4.new_code_cell("for i in range(3):\n    print(f'\\rbatch {i + 1}/3', end='', flush=True)\nprint()"),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_run_notebooks_streams_cell_output_without_tensorflow_lines(
    tmp_path: Path,
    make_config,
    isolated_env,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chapter = notebooks.CHAPTERS[0]
    _chapter(tmp_path / "project" / "notebooks" / f"{chapter}.ipynb")
    monkeypatch.setattr(notebooks, "project_dir", lambda: tmp_path / "project")
    with caplog.at_level(logging.INFO, logger="catsdogs"):
        run_dir = notebooks.run_notebooks(make_config(), tmp_path / "run", start="01", stop="01")
    out, err = capfd.readouterr()
    terminal = out + err
    assert any(chapter in r.getMessage() and "1 of 6" in r.getMessage() for r in caplog.records)
    assert "Epoch 1/2" in out and "batch 3/3" in out  # the cell's own output, live
    assert "4/4 cells" in err  # papermill's progress bar (its injected-parameters cell + these three)
    assert "port.cc" not in terminal and "from the kernel process itself" not in terminal
    kernel_log = (run_dir / "notebooks" / f"{chapter}.kernel.log").read_text()
    assert "from the kernel process itself" in kernel_log
    executed = nbformat.read(run_dir / "notebooks" / f"{chapter}.ipynb", as_version=4)
    assert any(TF_LINE in o.get("text", "") for c in executed.cells for o in c.get("outputs", []))


def test_live_output_drops_only_tensorflow_cpp_lines(capsys: pytest.CaptureFixture) -> None:
    import sys

    sink = notebooks._LiveCellOutput(sys.stdout)
    sink.write(
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        f"{TF_LINE}\nEpoch 3/10\n"
    )
    sink.write("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    sink.write("E0000 00:00:1795690526.3 13676 cuda.cc:1] a real error stays visible\n")
    assert (
        capsys.readouterr().out == "Epoch 3/10\nE0000 00:00:1795690526.3 13676 cuda.cc:1] a real error stays visible\n"
    )
