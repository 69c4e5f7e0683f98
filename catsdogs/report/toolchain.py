"""The book's build toolchain: Jupyter Book 1, from this environment or from its own.

Jupyter Book 1 needs Sphinx 7. A runtime that ships another Sphinx (Colab's is 8.2.3) would
lose its own if the toolchain were installed beside the kernel, so when this environment has
no ``jupyter-book`` the book is built by one in a virtual environment of its own under the
cache (made on first use, reused after). That environment sees this one's packages *behind*
its own (a ``.pth`` file), because the book's Try page extension imports ``catsdogs`` (and so
numpy and LiteRT): its own Sphinx 7 comes first, the runtime's packages are read, never changed.
"""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

from catsdogs.config import Config, UserError, cache_dir, project_root

log = logging.getLogger(__name__)

#: Marks a toolchain environment whose install finished (a killed install is made again).
READY = ".catsdogs-ready"


def docs_requirements() -> list[str]:
    """The ``docs`` extra of the installed ``catsdogs`` (``jupyter-book>=1.0.4,<2``): the
    toolchain is declared once, in ``pyproject.toml``."""
    marker = 'extra == "docs"'
    found = [r.split(";")[0].strip() for r in importlib.metadata.requires("catsdogs") or () if marker in r]
    if not found:
        raise UserError("the installed catsdogs declares no `docs` extra; reinstall it from the repository")
    return found


def own_jupyter_book() -> Path | None:
    """``jupyter-book`` installed beside this Python (a clone's ``make install``), if any."""
    found = shutil.which("jupyter-book", path=str(Path(sys.executable).parent))
    return Path(found) if found else None


def _toolchain_dir(config: Config | None = None) -> Path:
    """Where the toolchain's own environment lives: the cache, one per Python version."""
    return cache_dir(config or Config()) / f"book-toolchain-py{sys.version_info.major}{sys.version_info.minor}"


def make_toolchain(path: Path) -> Path:
    """Create the toolchain environment at ``path`` (unless done); return its ``jupyter-book``.

    Pinned by the repository's ``constraints.txt`` when there is one, the versions CI builds
    the book with."""
    jb = path / "bin" / "jupyter-book"
    if (path / READY).is_file() and jb.is_file():
        return jb
    if path.exists():
        shutil.rmtree(path)
    log.info(
        "installing the book's toolchain (%s) into %s, apart from this runtime", ", ".join(docs_requirements()), path
    )
    venv.EnvBuilder(with_pip=True).create(path)
    python = path / "bin" / "python"
    root = project_root() or project_root(Path(__file__).resolve().parent)
    pins = ["-c", str(root / "constraints.txt")] if root and (root / "constraints.txt").is_file() else []
    cmd = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins, *docs_requirements()]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise UserError(f"installing the book's toolchain into {path} failed:\n{tail}")
    # This runtime's packages, after the toolchain's own: `import` lines of a .pth file run at
    # start-up, and addsitedir also reads the .pth files there (an editable catsdogs is one).
    site_packages = next((path / "lib").glob("python3*/site-packages"))
    dirs = [d for d in site.getsitepackages() if Path(d).is_dir()]
    (site_packages / "zz_catsdogs_runtime.pth").write_text(
        "import site; " + "; ".join(f"site.addsitedir({d!r})" for d in dirs) + "\n"
    )
    (path / READY).write_text(" ".join(docs_requirements()) + "\n")
    return jb


def jupyter_book(config: Config | None = None) -> Path:
    """The ``jupyter-book`` to build with: this environment's, else the toolchain's own."""
    return own_jupyter_book() or make_toolchain(_toolchain_dir(config))


__all__ = ["docs_requirements", "jupyter_book", "make_toolchain", "own_jupyter_book"]
