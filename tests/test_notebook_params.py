"""Every chapter's ``parameters`` cell is readable by papermill's own inspection, the one
behind ``papermill --help-notebook``: each assignment is listed with its default, and
papermill logs no "Unable to parse line" warning (it gives up on any line holding more than
one ``=``, comments included)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import nbformat
import papermill
import pytest

from catsdogs.config import CHAPTERS

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _assigned_defaults(source: str) -> dict[str, str]:
    """``{name: source text of its value}`` for each plain assignment of the cell."""
    return {
        target.id: ast.get_source_segment(source, node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def inspect_parameters(
    path: Path, caplog: pytest.LogCaptureFixture
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(assigned defaults, papermill's inferred defaults, papermill's warnings) of ``path``."""
    cells = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: expected one cell tagged 'parameters', found {len(cells)}"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="papermill"):
        inferred = papermill.inspect_notebook(str(path))
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("papermill")]
    return _assigned_defaults(cells[0].source), {k: v["default"] for k, v in inferred.items()}, warnings


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_papermill_lists_every_parameter_with_its_default(chapter: str, caplog: pytest.LogCaptureFixture) -> None:
    assigned, inferred, warnings = inspect_parameters(NOTEBOOKS / f"{chapter}.ipynb", caplog)
    assert not warnings, f"{chapter}: papermill cannot parse its parameters cell: {warnings}"
    assert inferred == assigned, f"{chapter}: papermill --help-notebook would list {inferred}, the cell sets {assigned}"


def test_the_check_catches_a_second_equals_sign_in_a_comment(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
    )
    nb.cells = [
        nbformat.v4.new_code_cell(
            'seed = 42\nper_class = "config"  # "config" = the profile\'s value', metadata={"tags": ["parameters"]}
        )
    ]
    path = tmp_path / "bad.ipynb"
    nbformat.write(nb, path)
    assigned, inferred, warnings = inspect_parameters(path, caplog)
    assert any("Unable to parse line" in w for w in warnings)
    assert inferred != assigned
