"""The deploy workflow: it builds the committed book with the README's command and deploys
it to GitHub Pages, and passes zizmor, the GitHub Actions linter, offline."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _steps(job: str) -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"][job]["steps"]


def test_workflow_builds_with_the_readmes_command_and_deploys_to_pages():
    runs = " ".join(s.get("run", "") for s in _steps("build"))
    uses = [s.get("uses", "").split("@")[0] for s in _steps("build") + _steps("deploy")]
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"^(jupyter-book build \.)", readme, re.M)
    assert command, "the README gives no `jupyter-book build .` command"
    assert command.group(1) in runs and '-e ".[cpu,docs]"' in runs
    assert "catsdogs address --check" in runs  # a fork fails with a clear message
    assert not re.search(r"\b(reproduce|train|papermill)\b", runs)  # from the committed records only
    assert {"actions/setup-node", "actions/upload-pages-artifact", "actions/deploy-pages"} <= set(uses)


def test_workflow_passes_zizmor():
    # the test extra installs it beside this Python (make test does not activate the venv)
    beside = Path(sys.executable).with_name("zizmor")
    zizmor = str(beside) if beside.is_file() else shutil.which("zizmor")
    if zizmor is None:
        pytest.fail("zizmor not installed: pip install -e '.[test]' (it is in the test extra)")
    proc = subprocess.run([zizmor, "--offline", "--format", "plain", str(WORKFLOW)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
