"""The book's toolchain in an environment of its own (catsdogs.report.toolchain).

The real install (pip, Jupyter Book 1 and Sphinx 7 from the package index) is exercised by the
Colab twin's ``reproduce`` step (scripts/colab_twin.py); here pip and venv are stand-ins."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

from catsdogs.report import toolchain

ROOT = Path(__file__).resolve().parents[1]


def test_the_toolchain_is_the_docs_extra_of_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["docs"]
    assert [Requirement(r) for r in toolchain.docs_requirements()] == [Requirement(r) for r in declared]


@pytest.fixture
def fake_install(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """venv and pip stand-ins: the environment's layout, and a jupyter-book pip 'installs'."""
    calls: list[list[str]] = []

    class Builder:
        def __init__(self, **kwargs) -> None:
            pass

        def create(self, path: Path) -> None:
            (path / "bin").mkdir(parents=True)
            (path / "lib" / "python3.99" / "site-packages").mkdir(parents=True)

    def pip(cmd, **kwargs):
        calls.append(cmd)
        (Path(cmd[0]).parent / "jupyter-book").write_text("#!/bin/sh\n")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(toolchain.venv, "EnvBuilder", Builder)
    monkeypatch.setattr(toolchain.subprocess, "run", pip)
    return calls


def test_toolchain_is_made_once_and_sees_this_runtime_behind_its_own(tmp_path: Path, fake_install) -> None:
    jb = toolchain.make_toolchain(tmp_path / "tc")
    assert jb == tmp_path / "tc" / "bin" / "jupyter-book" and jb.is_file()
    (cmd,) = fake_install
    assert cmd[-len(toolchain.docs_requirements()) :] == toolchain.docs_requirements()
    assert ["-c", str(ROOT / "constraints.txt")] == cmd[cmd.index("-c") : cmd.index("-c") + 2]
    pth = (tmp_path / "tc" / "lib" / "python3.99" / "site-packages" / "zz_catsdogs_runtime.pth").read_text()
    assert pth.startswith("import site; ")
    assert all(f"site.addsitedir({d!r})" in pth for d in toolchain.site.getsitepackages() if Path(d).is_dir())
    assert toolchain.make_toolchain(tmp_path / "tc") == jb and len(fake_install) == 1  # reused


def test_an_unfinished_toolchain_is_made_again(tmp_path: Path, fake_install) -> None:
    (tmp_path / "tc" / "bin").mkdir(parents=True)
    (tmp_path / "tc" / "bin" / "jupyter-book").write_text("left by a killed install")
    toolchain.make_toolchain(tmp_path / "tc")
    assert len(fake_install) == 1 and (tmp_path / "tc" / toolchain.READY).is_file()


def test_a_failed_install_says_where_and_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_install) -> None:
    monkeypatch.setattr(
        toolchain.subprocess,
        "run",
        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "No matching distribution"),
    )
    with pytest.raises(toolchain.UserError, match=r"toolchain into .*tc failed:\nNo matching distribution"):
        toolchain.make_toolchain(tmp_path / "tc")
    assert not (tmp_path / "tc" / toolchain.READY).exists()


def test_this_environments_jupyter_book_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolchain, "own_jupyter_book", lambda: Path("/opt/own/jupyter-book"))
    monkeypatch.setattr(toolchain, "make_toolchain", lambda path: pytest.fail("made a toolchain"))
    assert toolchain.jupyter_book() == Path("/opt/own/jupyter-book")
