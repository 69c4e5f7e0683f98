"""The chapter notebooks and the book.

Fast checks read the committed sources (notebooks, ``_config.yml``, ``_toc.yml``). The
slow ones execute all six chapters at the smoke profile with papermill into a temporary
run directory, build the book from it (warnings are errors) and inspect the HTML; they
need the real data and weights (``CATSDOGS_DATA_DIR``, ``CATSDOGS_WEIGHTS``).
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from catsdogs.config import CHAPTERS, ENV_DATA_DIR, ENV_WEIGHTS, REPOSITORY_URL, get_config
from catsdogs.markdown import colab_url
from catsdogs.records import GitState, Parameters, PhaseResult

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MAX_LOGIC_LINES = 15
PARAMETERS = {"profile", "run_dir", "seed"}
#: Locations are not parameters: they come from the environment (CATSDOGS_DATA_DIR, ...).
LOCATIONS = {"data_dir", "weights", "cache_dir", "download"}
PAGES = ("intro", "method", "results", "limitations", "generalization", "reproducibility", "references")


def _notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def _logic_lines(source: str) -> int:
    """Lines that are not blank, comments or IPython magics."""
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith(("#", "%", "!")))


def _code_cells(nb: nbformat.NotebookNode) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


# ----------------------------------------------------------------------------- fast: sources


@pytest.mark.parametrize("name", CHAPTERS)
def test_notebook_has_one_parameters_cell_with_the_standard_names(name):
    cells = [c for c in _code_cells(_notebook(name)) if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{name}: expected exactly one cell tagged 'parameters', found {len(cells)}"
    assigned = {
        t.id
        for node in ast.parse(cells[0].source).body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert PARAMETERS <= assigned, f"{name}: parameters cell lacks {sorted(PARAMETERS - assigned)}"
    assert not assigned & LOCATIONS, f"{name}: locations come from the environment, not {sorted(assigned & LOCATIONS)}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_notebook_is_committed_clean(name):
    nb = _notebook(name)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(_code_cells(nb)):
        assert not cell.outputs and cell.execution_count is None, f"{name}: code cell {i} has outputs"
        n = _logic_lines(cell.source)
        assert n <= MAX_LOGIC_LINES, f"{name}: code cell {i} has {n} lines of logic; move logic into catsdogs"


@pytest.mark.parametrize("name", CHAPTERS)
def test_notebook_links_colab_and_installs_from_the_repository(name):
    nb = _notebook(name)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert colab_url(name) in nb.cells[0].source, f"{name}: Colab badge missing or pointing elsewhere"
    install = [c for c in _code_cells(nb) if "%pip install" in c.source]
    assert len(install) == 1 and f"git+{REPOSITORY_URL}" in install[0].source
    assert _logic_lines(install[0].source) <= 3


def test_book_config_matches_the_library():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"] == REPOSITORY_URL
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True
    assert config["launch_buttons"]["colab_url"]
    assert config["html"]["use_repository_button"] is True
    for bib in config["bibtex_bibfiles"]:
        assert (ROOT / bib).is_file()


def test_toc_lists_every_chapter_and_page():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    assert [f for f in files if f.startswith("book/chapters/")] == [f"book/chapters/{c}" for c in CHAPTERS]
    for page in PAGES:
        assert f"book/{page}" in files
        assert (ROOT / "book" / f"{page}.md").is_file()


def test_every_cited_key_is_in_the_bibliography():
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    cited = set()
    for page in (ROOT / "book").glob("*.md"):
        for group in re.findall(r"\{cite\}`([^`]+)`", page.read_text()):
            cited |= {k.strip() for k in group.split(",")}
    assert cited <= keys, f"cited but not in references.bib: {sorted(cited - keys)}"
    assert "paper" in cited


@pytest.mark.parametrize("name", CHAPTERS)
def test_published_chapter_shows_no_log_progress_bar_or_traceback(name):
    """The executed chapters of the book hold only what a reader should see."""
    from catsdogs.report.book import output_problems

    assert output_problems(ROOT / "book" / "chapters" / f"{name}.ipynb") == []


def test_output_problems_finds_a_long_stream_a_traceback_and_tensorflow_logs(tmp_path):
    from catsdogs.report.book import MAX_STREAM_LINES, output_problems

    nb = nbformat.v4.new_notebook()
    bar = "".join(f"{i}/626 [====>...] - ETA: 1s\n" for i in range(MAX_STREAM_LINES + 1))
    nb.cells = [
        nbformat.v4.new_code_cell("fit()", outputs=[nbformat.v4.new_output("stream", name="stdout", text=bar)]),
        nbformat.v4.new_code_cell(
            "x",
            outputs=[nbformat.v4.new_output("stream", name="stdout", text="WARNING:tensorflow:5 out of the last\n")],
        ),
        nbformat.v4.new_code_cell(
            "1/0",
            outputs=[
                nbformat.v4.new_output(
                    "error", ename="ZeroDivisionError", evalue="", traceback=["Traceback (most recent call last)"]
                )
            ],
        ),
        nbformat.v4.new_code_cell(
            "ok", outputs=[nbformat.v4.new_output("stream", name="stdout", text="3 lines\n" * 3)]
        ),
    ]
    nbformat.write(nb, tmp_path / "planted.ipynb")
    problems = output_problems(tmp_path / "planted.ipynb")
    assert [p.split(":")[0] for p in problems] == [
        "planted.ipynb cell 0",
        "planted.ipynb cell 1",
        "planted.ipynb cell 2",
    ]
    assert f"{MAX_STREAM_LINES + 1} lines of stdout" in problems[0]


def test_rendered_parameters_cell_shows_the_values_the_run_used():
    from catsdogs.report.book import with_injected_values

    defaults = 'profile = "smoke"  # "smoke": minutes on a CPU\nrun_dir = None  # None: runs/<profile>\nseed = 42'
    injected = '# Parameters\nprofile = "full"\nrun_dir = "runs/full"\n'
    assert with_injected_values(defaults, injected) == (
        'profile = "full"  # "smoke": minutes on a CPU\nrun_dir = "runs/full"  # None: runs/<profile>\nseed = 42'
    )
    extra = with_injected_values("seed = 42", "seed = 7\nper_class = 10\n")
    assert extra == "seed = 7\nper_class = 10  # set for this run"  # a value the defaults lack is not lost


# ----------------------------------------------------------------------------- slow: the smoke book


def _real_setting(name: str) -> Path:
    value = os.environ.get(name)
    if not value or not Path(value).expanduser().exists():
        pytest.skip(
            f"{name} does not point at an existing path: the smoke book needs the real "
            "PetImages data and ImageNet weights (set CATSDOGS_DATA_DIR and CATSDOGS_WEIGHTS)"
        )
    return Path(value).expanduser()


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory) -> dict[str, Path]:
    """Execute the six chapters at the smoke profile and build the book: ``{"run", "html"}``."""
    from catsdogs.report.book import build_book
    from catsdogs.report.notebooks import run_notebooks

    _real_setting(ENV_DATA_DIR)
    _real_setting(ENV_WEIGHTS)
    run_dir = run_notebooks(get_config("smoke"), run_dir=tmp_path_factory.mktemp("smoke") / "run")
    return {"run": run_dir, "html": build_book(run_dir)}


@pytest.mark.slow
@pytest.mark.real
@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_runs_on_its_own_in_an_empty_run_directory(name, tmp_path):
    """What a Colab user does: open one chapter in a fresh runtime and run it. Each chapter
    computes what it needs (a chapter after the first trains what the run lacks)."""
    import papermill as pm

    _real_setting(ENV_DATA_DIR)
    _real_setting(ENV_WEIGHTS)
    run_dir = tmp_path / "run"
    pm.execute_notebook(
        ROOT / "notebooks" / f"{name}.ipynb",
        tmp_path / f"{name}.ipynb",
        parameters={"profile": "smoke", "run_dir": str(run_dir)},
        cwd=str(ROOT / "notebooks"),
        progress_bar=False,
        kernel_name="python3",
    )
    wrote = {
        "01_dataset_exploration": "data/manifest.csv",
        "02_augmentation": "data/manifest.csv",
        "03_phase1_feature_extraction": "phase1/result.json",
        "04_phase2_fine_tuning": "phase2/result.json",
        "05_evaluation": "eval/metrics.json",
        "06_limitations": "robustness/results.json",
    }
    assert (run_dir / wrote[name]).is_file(), f"{name} ran but did not write {wrote[name]}"


def _local_images(page: Path) -> list[str]:
    sources = re.findall(r'<img[^>]*\bsrc="([^"]+)"', page.read_text())
    return [s for s in sources if not s.startswith(("http://", "https://", "data:"))]


@pytest.mark.slow
@pytest.mark.real
@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_page_has_its_figures(smoke_book, name):
    page = smoke_book["html"] / "book" / "chapters" / f"{name}.html"
    assert page.is_file(), f"no page for chapter {name}"
    images = _local_images(page)
    assert images, f"chapter {name} shows no figure"
    missing = [src for src in images if not (page.parent / src).is_file()]
    assert not missing, f"chapter {name}: figures missing from the build: {missing}"


@pytest.mark.slow
@pytest.mark.real
@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_page_launches_the_source_notebook_and_hides_local_paths(smoke_book, name):
    html = (smoke_book["html"] / "book" / "chapters" / f"{name}.html").read_text()
    assert colab_url(name) in html, "the Colab launch button should open notebooks/<name>.ipynb"
    assert str(smoke_book["run"].resolve()) not in html, "a machine-specific run path leaked into the page"


@pytest.mark.slow
@pytest.mark.real
def test_results_page_holds_the_comparison_table(smoke_book):
    from catsdogs.markdown import paper_percent
    from catsdogs.studies.paper import PAPER

    html = (smoke_book["html"] / "book" / "results.html").read_text()
    table = html[html.index("this reproduction (float Keras)") - 2000 :]
    assert "<table" in table and "int8 TFLite export" in table
    assert paper_percent(PAPER.accuracy) in table
    assert "95 % CI" in table


@pytest.mark.slow
@pytest.mark.real
@pytest.mark.parametrize("page", PAGES)
def test_book_page_exists(smoke_book, page):
    assert (smoke_book["html"] / "book" / f"{page}.html").is_file()


@pytest.mark.slow
@pytest.mark.real
@pytest.mark.parametrize("page", PAGES)
def test_book_page_loads_each_script_once_and_its_own_css(smoke_book, page):
    """book/_ext/theme_fixes.py: sphinx-thebe's inline configuration once (twice, the browser
    throws "Identifier 'THEBE_JS_URL' has already been declared"), the book's CSS linked."""
    html = (smoke_book["html"] / "book" / f"{page}.html").read_text()
    assert html.count("const THEBE_JS_URL") <= 1
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == len(set(scripts)), "an inline script is written twice"
    assert "catsdogs.css" in html
    assert not (smoke_book["html"] / "genindex.html").exists(), "an empty Index page"


@pytest.mark.slow
@pytest.mark.real
def test_reproduce_ends_with_the_check_against_the_smoke_record(smoke_book, monkeypatch, capsys):
    """``python -m catsdogs reproduce --profile smoke`` (what ``make reproduce PROFILE=smoke``
    runs) ends with the ``verify`` table against ``tests/fixtures/published-smoke``. The
    pipeline steps are this module's smoke run, not a second one."""
    from catsdogs.cli.main import main
    from catsdogs.report import book, notebooks

    monkeypatch.setattr(notebooks, "run_notebooks", lambda *args, **kwargs: smoke_book["run"])
    monkeypatch.setattr(book, "build_book", lambda *args, **kwargs: smoke_book["html"])
    status = main(["reproduce", "--profile", "smoke", "--run-dir", str(smoke_book["run"])])
    out = capsys.readouterr().out
    assert "reproduction check against the published record" in out and "published-smoke" in out
    assert "missing" not in out, out
    assert status == 0, f"the smoke run does not reproduce the smoke record:\n{out}"


def test_copied_chapter_names_no_machine_path(tmp_path: Path) -> None:
    from catsdogs.report.book import copy_chapter

    elsewhere = "/elsewhere/worktree"  # a pinned checkout the chapter was executed from
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(run.path)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{tmp_path}/run and {elsewhere}/notebooks\n")]
    nb.cells = [cell]
    nb.metadata["papermill"] = {"input_path": f"{elsewhere}/notebooks/01_x.ipynb", "output_path": "x"}
    src = tmp_path / "run" / "notebooks" / "01_x.ipynb"
    src.parent.mkdir(parents=True)
    nbformat.write(nb, src)
    text = copy_chapter(src, tmp_path / "copy.ipynb").read_text()
    assert elsewhere not in text and str(tmp_path) not in text
    assert "runs/run and ./notebooks" in text and '"input_path": "./notebooks/01_x.ipynb"' in text


def test_a_listing_newer_than_its_record_says_so():
    """``show_source(..., made_by=record)`` compares the code with the commit that made the
    record: a record made when ``show_source`` had no ``made_by`` yet gets a note under the
    listing; a record naming no commit gets none; an unknown commit adds nothing either."""
    import inspect
    import subprocess
    import textwrap

    from catsdogs.markdown import show_source

    found = subprocess.run(
        ["git", "log", "--format=%H", "-S", "def show_source", "--", "catsdogs/markdown.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True, text=True)
    if found.returncode != 0 or not found.stdout.split() or shallow.stdout.strip() == "true":
        pytest.skip("not a git checkout with the whole history of catsdogs/markdown.py")
    introduced = found.stdout.split()[-1]  # the commit that added show_source, before made_by
    made = PhaseResult(phase="phase1", parameters=Parameters(), code=GitState(commit=introduced))
    note = show_source(show_source, made_by=made)
    assert f"Newer than the record beside it: `show_source` changed after commit `{introduced[:7]}`" in note
    assert show_source(show_source, made_by=made.replace(code=None)).endswith("```\n")
    assert show_source(show_source, made_by=made.replace(code=GitState(commit="0" * 40))).endswith("```\n")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    # at HEAD, show_source has only a docstring or nothing to tell from the checkout's: no note
    # unless the checkout changed its code
    from catsdogs.markdown import _code_key
    from catsdogs.provenance import source_at

    changed = _code_key(source_at(show_source, head)) != _code_key(textwrap.dedent(inspect.getsource(show_source)))
    # (the listing of show_source itself holds the note's words: look for the note's commit)
    noted = f"changed after commit `{head[:7]}`" in show_source(
        show_source, made_by=made.replace(code=GitState(commit=head))
    )
    assert noted == changed
