"""The repository address: one setting, one command that writes it everywhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from catsdogs.cli.main import main
from catsdogs.config import UserError
from catsdogs.report import address

ROOT = Path(__file__).resolve().parents[1]


def _scratch_copy(tmp_path: Path) -> Path:
    for path in address.address_files(ROOT):
        dst = tmp_path / path.relative_to(ROOT)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, dst)
    return tmp_path


def test_the_checkout_names_one_repository():
    assert address.address_mismatches(ROOT) == []
    from catsdogs.config import REPOSITORY_URL

    assert address.configured_address(ROOT) == REPOSITORY_URL


def test_set_rewrites_every_file_and_the_tree_agrees(tmp_path):
    root = _scratch_copy(tmp_path)
    changed = address.set_repository_address("https://github.com/someone/cats-fork", root)
    assert {p.relative_to(root).as_posix() for p in changed} >= {"catsdogs/config.py", "_config.yml", "CITATION.cff"}
    assert address.configured_address(root) == "https://github.com/someone/cats-fork"
    assert address.address_mismatches(root) == []
    assert (
        yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]
        == "https://github.com/someone/cats-fork"
    )
    notebook = (root / "notebooks" / "01_dataset_exploration.ipynb").read_text()
    assert "colab.research.google.com/github/someone/cats-fork/blob/main/notebooks/" in notebook
    assert "git+https://github.com/someone/cats-fork" in notebook and "catsdogs-reproduction" not in notebook
    address.check_repository("someone/cats-fork", root)
    with pytest.raises(UserError, match="address --set https://github.com/catsdogs-reproduction/catsdogs"):
        address.check_repository("catsdogs-reproduction/catsdogs", root)


def test_a_stale_address_is_found(tmp_path):
    root = _scratch_copy(tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text() + "\nSee https://github.com/old-owner/catsdogs/issues.\n")
    assert address.address_mismatches(root) == [
        "README.md: names old-owner/catsdogs, not catsdogs-reproduction/catsdogs"
    ]


@pytest.mark.parametrize("url", ["github.com/a/b", "https://gitlab.com/a/b", "https://github.com/a", ""])
def test_a_bad_address_is_refused_before_anything_changes(tmp_path, url):
    root = _scratch_copy(tmp_path)
    before = {p: p.read_text() for p in address.address_files(root)}
    with pytest.raises(UserError, match="https://github.com/<owner>/<name>"):
        address.set_repository_address(url, root)
    assert {p: p.read_text() for p in address.address_files(root)} == before


def test_cli_prints_the_address_and_checks_a_build(capsys):
    assert main(["address"]) == 0
    assert capsys.readouterr().out.strip() == address.configured_address(ROOT)
    assert main(["address", "--check", "someone/else"]) == 2
    assert "address --set https://github.com/someone/else" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, named",
    [
        ("See https://github.com/a/cats.", "a/cats"),  # a sentence's end
        ("https://github.com/b/cats, and more", "b/cats"),
        ('"git+https://github.com/c/cats\\n",', "c/cats"),  # a notebook's JSON source line
        ("git clone https://github.com/d/cats.git", "d/cats"),
        ("https://colab.research.google.com/github/e/cats/blob/main/x.ipynb", "e/cats"),
    ],
)
def test_a_stale_address_is_found_wherever_it_stands(tmp_path, text, named):
    root = _scratch_copy(tmp_path)
    (root / "README.md").write_text(text + "\n")
    assert address.address_mismatches(root) == [f"README.md: names {named}, not catsdogs-reproduction/catsdogs"]


def test_set_leaves_a_longer_repository_name_alone(tmp_path):
    root = _scratch_copy(tmp_path)
    readme = root / "README.md"
    readme.write_text("data: https://github.com/catsdogs-reproduction/catsdogs-data\n")
    address.set_repository_address("https://github.com/someone/fork", root)
    assert readme.read_text() == "data: https://github.com/catsdogs-reproduction/catsdogs-data\n"
