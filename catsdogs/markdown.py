"""Markdown for people: small display objects and number formatting.

A :class:`Table` is a list of row dicts (column name -> text) that renders itself as
a Markdown table in a notebook (``_repr_markdown_``) and as text in the book's
generated pages (:meth:`Table.markdown`); :class:`Text` does the same for a
paragraph. Nothing here reads a run: :mod:`catsdogs.report.tables` builds the tables.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from catsdogs.config import REPOSITORY_URL
from catsdogs.provenance import source_at
from catsdogs.records import Hardware, Interval, PhaseResult

Row = dict[str, str]

#: What a cell says when the step that measures it has not run in this run directory.
NOT_MEASURED = "not measured in this run"


class Table(list):
    """Rows of a table (dicts sharing their keys); shows itself as Markdown in Jupyter."""

    def __init__(self, rows: Sequence[Mapping[str, Any]] = (), columns: Sequence[str] | None = None):
        super().__init__(rows)
        self.columns = list(columns) if columns else None

    def markdown(self) -> str:
        return markdown_table(self, self.columns)

    def _repr_markdown_(self) -> str:
        return self.markdown()


def table_builder(builder: Callable[..., Sequence[Mapping[str, Any]]]) -> Callable[..., Table]:
    """Decorate a function returning row dicts so it returns a :class:`Table`."""

    @functools.wraps(builder)
    def build(*args: Any, **kwargs: Any) -> Table:
        return Table(builder(*args, **kwargs))

    return build


class Text(str):
    """A Markdown paragraph that shows itself rendered in Jupyter."""

    def _repr_markdown_(self) -> str:
        return str(self)


def _code_key(source: str) -> str:
    """What a function or class does, as text: its syntax tree without decorators, docstring
    and positions (so an edited docstring or moved line is not "newer code")."""
    node = ast.parse(textwrap.dedent(source)).body[0]
    node.decorator_list = []
    first = node.body[0] if node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        node.body = node.body[1:]
    return ast.dump(node)


def show_source(*objects: Any, docstrings: bool = False, made_by: PhaseResult | None = None) -> Text:
    """The source code of library functions or classes, as one Markdown code block.

    The chapters call it where the text explains a step, so the reader sees the code that
    runs (d2l's "defined where explained"), read from the installed package itself.
    Docstrings are left out unless ``docstrings`` is true (the chapter's text explains).

    ``made_by`` is the record the listing sits beside (e.g. ``phase1/result.json``): when
    it names the commit that made it (its ``code``) and an object's source differs at that
    commit, a note under the listing says the code shown is newer than the record. Where
    that cannot be told (no git checkout, as on Colab) nothing is added.
    """
    commit = made_by.code.commit if made_by is not None and made_by.code is not None else None
    blocks, newer = [], []
    for obj in objects:
        source = textwrap.dedent(inspect.getsource(obj))
        if commit and (old := source_at(obj, commit)) is not None and _code_key(old) != _code_key(source):
            newer.append(f"`{obj.__qualname__}`")
        if not docstrings:
            node = ast.parse(source).body[0]
            first = node.body[0] if getattr(node, "body", None) else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                lines = source.splitlines(keepends=True)
                after = first.end_lineno + (first.end_lineno < len(lines) and not lines[first.end_lineno].strip())
                source = "".join(lines[: first.lineno - 1] + lines[after:])
        blocks.append(source.rstrip())
    note = (
        f"\n*Newer than the record beside it: {and_list(newer)} changed after commit `{commit[:7]}`, "
        "which made that record.*\n"
        if newer
        else ""
    )
    return Text("```python\n" + "\n\n\n".join(blocks) + "\n```\n" + note)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub/MyST Markdown table of ``rows`` (dicts sharing their keys).

    ``columns`` picks and orders the columns (default: the first row's keys).
    Cells are converted with ``str``; ``|`` inside a cell is escaped.

    Raises
    ------
    ValueError
        If ``rows`` is empty (there is no header to write).
    """
    if not rows:
        raise ValueError("markdown_table needs at least one row (a dict column -> value)")
    columns = list(columns or rows[0])

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def bullet_list(items: Sequence[str]) -> str:
    """Markdown bullet list, one item per line."""
    return "".join(f"- {item}\n" for item in items)


def and_list(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``: items joined as a sentence lists them."""
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + (items[-1] if items else "")


def percent(value: float | None, digits: int = 1) -> str:
    """``0.989`` -> ``"98.9 %"``; ``None`` -> ``"undefined"``."""
    return "undefined" if value is None else f"{100 * value:.{digits}f} %"


def paper_percent(value: float) -> str:
    """A paper figure as a percentage with no more digits than the paper gave: ``0.99`` -> ``"99 %"``."""
    return f"{100 * value:.4g} %"


def with_ci(interval: Interval | Mapping[str, float | None], digits: int = 1) -> str:
    """An :class:`~catsdogs.records.Interval` (or ``{"estimate", "low", "high"}``) ->
    ``"95.0 % (95 % CI 90.0-100.0)"``."""
    if isinstance(interval, Mapping):
        interval = Interval(estimate=interval["estimate"], low=interval.get("low"), high=interval.get("high"))
    text = percent(interval.estimate, digits)
    if interval.low is None or interval.high is None:
        return text
    return f"{text} (95 % CI {100 * interval.low:.{digits}f}–{100 * interval.high:.{digits}f})"


def millions(count: float) -> str:
    """``2259265`` -> ``"2.26 M"``."""
    return f"{count / 1e6:.2f} M"


def duration(seconds: float) -> str:
    """``75.3`` -> ``"1 min 15 s"``; under a minute: ``"12.3 s"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def colab_url(notebook: str) -> str:
    """The Colab address of source notebook ``notebooks/<notebook>.ipynb`` on ``main``."""
    path = REPOSITORY_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{path}/blob/main/notebooks/{notebook}.ipynb"


NOT_REPORTED = "not reported"


def hardware_text(hw: Hardware | Mapping[str, Any] | None) -> str:
    if not hw:
        return NOT_MEASURED
    if isinstance(hw, Mapping):
        hw = Hardware.from_dict(hw)
    gpus = f", GPU: {', '.join(hw.gpus)}" if hw.gpus else ", no GPU"
    return f"{hw.cpu} ({hw.logical_cores} logical cores){gpus}"


__all__ = [
    "NOT_REPORTED",
    "and_list",
    "hardware_text",
    "show_source",
    "NOT_MEASURED",
    "Row",
    "Table",
    "Text",
    "table_builder",
    "markdown_table",
    "bullet_list",
    "percent",
    "paper_percent",
    "with_ci",
    "millions",
    "duration",
    "colab_url",
]
