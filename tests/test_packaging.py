"""environment.yml (conda users) and pyproject.toml declare the same dependencies."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    for extra in ("cpu", "test", "docs", "jupyter"):
        declared |= {_name(r) for r in project["optional-dependencies"][extra]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            listed |= {_name(r) for r in dep["pip"] if not r.startswith("-e")}
        elif not dep.startswith(("python", "pip")):
            listed.add(_name(dep))
    assert listed == declared, (
        f"only in environment.yml: {sorted(listed - declared)}; only in pyproject.toml: {sorted(declared - listed)}"
    )


def test_jupyter_book_is_pinned_to_1x():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"jupyter-book>=1.0.4,<2"' in text


def test_no_floor_is_above_what_colab_ships():
    """Installing the package on Colab must replace none of Colab's packages: every floor of
    a dependency Colab has is at most Colab's version (../shared/colab/pip-freeze.gpu.txt)."""
    import pytest
    from packaging.requirements import Requirement
    from packaging.version import Version

    freeze = ROOT.parent / "shared" / "colab" / "pip-freeze.gpu.txt"
    if not freeze.is_file():
        pytest.skip(f"no Colab freeze at {freeze}")
    colab = {
        _name(line): Version(line.split("==", 1)[1].strip())
        for line in freeze.read_text().splitlines()
        if "==" in line and " @ " not in line
    }
    deps = [Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    checked = [d for d in deps if _name(d.name) in colab]
    assert len(checked) >= 9, "the freeze should hold most of the dependencies"
    above = {d.name: str(colab[_name(d.name)]) for d in checked if not d.specifier.contains(colab[_name(d.name)])}
    assert above == {}, f"these requirements exclude Colab's own version: {above}"
