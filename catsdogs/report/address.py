"""The repository's address: one setting, written everywhere it must appear.

The setting is :data:`catsdogs.config.REPOSITORY_URL`. The notebooks' Colab badges and
install cells, the book's ``_config.yml`` and links, ``CITATION.cff`` and the README must
name the same repository, or the Colab buttons open someone else's notebooks.
:func:`set_repository_address` (``python -m catsdogs address --set URL``) rewrites all of
them from the setting's current value; :func:`address_mismatches` lists what disagrees.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from catsdogs.config import UserError, project_dir

#: A GitHub repository's address, ``https://github.com/<owner>/<name>``.
GITHUB_URL = re.compile(r"^https://github\.com/(?P<slug>[A-Za-z0-9](?:[A-Za-z0-9-]*)/[A-Za-z0-9._-]+)$")
#: Where the address appears (glob patterns, relative to the checkout).
ADDRESS_FILES = (
    "catsdogs/config.py",
    "_config.yml",
    "CITATION.cff",
    "README.md",
    "book/*.md",
    "models/README.md",
    "notebooks/*.ipynb",
    "book/chapters/*.ipynb",
)
#: Other projects' repositories the files may link to (none yet): every other GitHub
#: address in :data:`ADDRESS_FILES` must be this project's.
OTHER_REPOSITORIES: frozenset[str] = frozenset()
#: A GitHub repository named in a file: ``github.com/<owner>/<name>`` (Colab's ``.../github/<owner>/<name>`` too).
_NAMED = re.compile(
    r"(?:github\.com|colab\.research\.google\.com/github)/([A-Za-z0-9-]+/[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)"
)
_SETTING = re.compile(r'^REPOSITORY_URL = "(?P<url>[^"]+)"$', re.M)


def _repository_slug(url: str) -> str:
    """``owner/name`` of a GitHub address; a clear error for anything else."""
    match = GITHUB_URL.match(url.strip().removesuffix("/").removesuffix(".git"))
    if not match:
        raise UserError(f"{url!r} is not a GitHub repository address: give https://github.com/<owner>/<name>")
    return match["slug"]


def configured_address(root: Path | str | None = None) -> str:
    """The setting's value in the checkout ``root`` (read from its ``catsdogs/config.py``, so
    a scratch copy is read as it is, not as the imported package says)."""
    path = Path(root or project_dir()) / "catsdogs" / "config.py"
    match = _SETTING.search(path.read_text())
    if not match:
        raise UserError(f'{path} has no line REPOSITORY_URL = "https://github.com/<owner>/<name>"')
    return match["url"]


def address_files(root: Path | str | None = None) -> list[Path]:
    """The files of :data:`ADDRESS_FILES` present in ``root``."""
    root = Path(root or project_dir())
    return sorted({p for pattern in ADDRESS_FILES for p in root.glob(pattern) if p.is_file()})


def set_repository_address(url: str, root: Path | str | None = None) -> list[Path]:
    """Write the address ``url`` into the setting and every file that names the current one;
    returns the files changed. The current and new ``owner/name`` are replaced as text, which
    covers both ``https://github.com/<owner>/<name>`` and Colab's ``.../github/<owner>/<name>/...``."""
    root = Path(root or project_dir())
    new = _repository_slug(url)
    old = _repository_slug(configured_address(root))
    changed = []
    for path in address_files(root):
        text = path.read_text()
        # the whole owner/name only: not a prefix of a longer name (owner/name-data)
        rewritten = re.sub(re.escape(old) + r"(?![A-Za-z0-9_-])", new, text)
        if rewritten != text:
            path.write_text(rewritten)
            changed.append(path)
    return changed


def address_mismatches(root: Path | str | None = None) -> list[str]:
    """Where the checkout ``root`` names another repository than its setting (one line each)."""
    root = Path(root or project_dir())
    url = configured_address(root)
    slug = _repository_slug(url)
    problems = []
    config = yaml.safe_load((root / "_config.yml").read_text())
    if config["repository"]["url"] != url:
        problems.append(f"_config.yml: repository.url is {config['repository']['url']}, not {url}")
    for path in address_files(root):
        named = {found.removesuffix(".git") for found in _NAMED.findall(path.read_text())}
        for found in sorted(named - {slug, *OTHER_REPOSITORIES}):
            problems.append(f"{path.relative_to(root)}: names {found}, not {slug}")
    return problems


def check_repository(repository: str, root: Path | str | None = None) -> None:
    """Raise a clear error when the checkout's setting is not ``repository`` (``owner/name``,
    e.g. GitHub Actions' ``github.repository``): a fork must set its own address first."""
    slug = _repository_slug(configured_address(root))
    if slug.lower() != repository.strip().lower():
        raise UserError(
            f"this checkout's repository address is {slug} but it is being built in {repository}: "
            f"run `python -m catsdogs address --set https://github.com/{repository}`, commit, and push"
        )
