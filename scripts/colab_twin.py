"""A twin of Google Colab's GPU runtime, made from its published ``pip freeze`` (issue 28).

Colab's runtime is Python 3.13 with its own versions of TensorFlow, Keras, numpy, ipykernel and
the rest (``../shared/colab/pip-freeze.gpu.txt``, see its README). This script makes a virtual
environment that holds those versions of every package the project or the kernel touches
(``tensorflow-cpu`` standing in for ``tensorflow``: the same version without CUDA), then checks
the Colab path in it, as a new user's notebook would meet it:

``build``
    The twin: ``python3.13 -m venv`` and Colab's versions of the packages that installing
    ``catsdogs`` would bring (found by ``pip install --dry-run --report`` under the freeze as
    constraints) plus the kernel's own. Lines ``@ file:`` / ``@ git+`` of the freeze are
    Colab's own builds and are left out.
``cell``
    The chapters' install cell as written (only the repository address pointed at this
    checkout's git history), run by IPython in the twin; then no package the twin had may
    have changed version.
``chapters``
    Every chapter alone at the smoke profile, each in a fresh run directory, by papermill in
    the twin's kernel, with the data and ImageNet weights of ``CATSDOGS_DATA_DIR`` and
    ``CATSDOGS_WEIGHTS``.
``reproduce``
    ``notebooks/reproduce.ipynb`` end to end at the smoke profile, as on a fresh runtime: its
    first cell clones this checkout's history (instead of the repository's address) and
    installs it, then the six chapters run into one run directory, the book is built (by a
    toolchain in an environment of its own, :mod:`catsdogs.report.toolchain`), ``verify``
    compares the run with the smoke record and the book is archived. No package of the twin
    may change version; ``verify``'s verdicts are recorded (Colab's TensorFlow is not the one
    the record was made with, so they are shown, not required).

Usage (``make colab-twin`` runs all four)::

    python scripts/colab_twin.py --twin .cache/colab-twin [--steps build,cell,chapters,reproduce]

Writes ``<twin>/twin.json`` (each step's outcome and wall time, the packages the install cell
changed or added) and prints a table; exits 1 when a step fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Colab's published freeze (``$CATSDOGS_COLAB_FREEZE`` to use another).
FREEZE = Path(os.environ.get("CATSDOGS_COLAB_FREEZE", ROOT.parent / "shared" / "colab" / "pip-freeze.gpu.txt"))
#: In the twin whether or not catsdogs asks for them: Colab's TensorFlow (catsdogs leaves it to
#: the runtime, its ``cpu`` extra is for machines without one) and the kernel's own packages.
ALWAYS = ("tensorflow-cpu", "ipykernel", "ipython", "jupyter-client", "jupyter-core", "traitlets", "tornado", "pyzmq")
#: What the chapters' install cell installs from (swapped for this checkout, as tests/test_colab.py does).
REPOSITORY = "git+https://github.com/catsdogs-reproduction/catsdogs"


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installable_freeze(path: Path) -> dict[str, str]:
    """``{name: version}`` of the freeze's ``name==version`` lines, ``tensorflow`` read as
    ``tensorflow-cpu``; Colab's own builds (``name @ file:...``, ``@ git+...``) are left out."""
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and " @ " not in line and not line.startswith("#"):
            name, version = line.strip().split("==", 1)
            pins["tensorflow-cpu" if canonical(name) == "tensorflow" else canonical(name)] = version
    return pins


def run(cmd: list, log: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run ``cmd``, appending its output to ``log``; raise with the log's tail if it fails."""
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n")
        out.flush()
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, text=True, **kwargs)
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed (exit {done.returncode}); see {log}:\n{tail}")
    return done


def installed(python: Path) -> dict[str, str]:
    """``{name: version}`` of every distribution in the environment of ``python``."""
    script = "import importlib.metadata as m, json; print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    with tempfile.TemporaryDirectory() as cwd:  # not this checkout, whose catsdogs.egg-info would count
        out = subprocess.run([python, "-c", script], capture_output=True, text=True, check=True, cwd=cwd).stdout
    return {canonical(k): v for k, v in json.loads(out).items()}


def changed_versions(before: dict[str, str], after: dict[str, str]) -> dict[str, str]:
    """``{name: "old -> new"}`` of the packages ``before`` had whose version ``after`` differs."""
    return {n: f"{before[n]} -> {after.get(n)}" for n in before if after.get(n) != before[n]}


def build(twin: Path, python313: str, log: Path) -> dict:
    """The twin: Colab's versions of what the project and the kernel touch."""
    pins = installable_freeze(FREEZE)
    constraints = twin.parent / f"{twin.name}-constraints.txt"
    if twin.exists():
        shutil.rmtree(twin)
    run([python313, "-m", "venv", twin], log)
    python = twin / "bin" / "python"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
    report = twin / "dry-run.json"
    run([python, "-m", "pip", "install", "--dry-run", "--quiet", "--report", report, "-c", constraints, ROOT], log)
    wanted = {canonical(p["metadata"]["name"]) for p in json.loads(report.read_text())["install"]}
    colab = sorted((wanted | set(ALWAYS)) & set(pins))
    run([python, "-m", "pip", "install", "--quiet", "-c", constraints, *[f"{n}=={pins[n]}" for n in colab]], log)
    run([python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], log)
    have = installed(python)
    off = {n: (pins[n], have.get(n)) for n in colab if have.get(n) != pins[n]}
    if off:
        raise RuntimeError(f"the twin does not hold Colab's versions: {off}")
    return {
        "python": subprocess.run([python, "--version"], capture_output=True, text=True).stdout.strip(),
        "colab_packages": len(colab),
    }


#: Runs a cell the way a notebook does (IPython: ``%pip``, ``{...}`` expansion); exit code = pip's.
RUN_CELL = """
import sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
ok = shell.run_cell(sys.stdin.read()).success
sys.exit(0 if ok and not shell.user_ns.get("_exit_code") else 1)
"""


def install_cell() -> str:
    """The chapters' first code cell (the same in all six), installing from this checkout."""
    import nbformat

    cells = {
        next(c.source for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code")
        for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    }
    if len(cells) != 1 or REPOSITORY not in next(iter(cells)):
        raise RuntimeError(f"the chapters' install cells differ or do not install from {REPOSITORY}")
    return next(iter(cells)).replace(REPOSITORY, f"git+{ROOT.as_uri()}")


def check_cell(twin: Path, log: Path) -> dict:
    """The install cell in the twin: which of Colab's packages it changed (none allowed)."""
    python = twin / "bin" / "python"
    before = installed(python)
    with tempfile.TemporaryDirectory() as cwd:
        run([python, "-c", RUN_CELL], log, input=install_cell(), cwd=cwd)
    after = installed(python)
    changed = changed_versions(before, after)
    added = sorted(f"{n}=={after[n]}" for n in set(after) - set(before))
    if "catsdogs" not in after:
        raise RuntimeError("the install cell did not install catsdogs")
    if changed:
        raise RuntimeError(f"the install cell changed Colab's packages: {changed}")
    return {"changed": changed, "added": added}


def run_chapters(twin: Path, log: Path, out: Path) -> dict:
    """Each chapter alone at the smoke profile, in a fresh run directory, in the twin's kernel."""
    python, times = twin / "bin" / "python", {}
    out.mkdir(parents=True, exist_ok=True)
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as runs:
            env = {**os.environ, "CATSDOGS_RUNS_DIR": runs, "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg"}
            cmd = [python, "-m", "papermill", nb, out / nb.name, "-k", "python3", "-p", "profile", "smoke"]
            run([*cmd, "--cwd", runs, "--no-progress-bar"], log, env=env)
        times[nb.stem] = round(time.perf_counter() - start, 1)
    return {"chapter_seconds": times}


def run_reproduce(twin: Path, log: Path, out: Path) -> dict:
    """The re-run notebook end to end at the smoke profile, from a clone of this checkout."""
    import nbformat

    python, address = twin / "bin" / "python", REPOSITORY.removeprefix("git+")
    nb = nbformat.read(ROOT / "notebooks" / "reproduce.ipynb", as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    if address not in setup.source:
        raise RuntimeError(f"the re-run notebook's first cell does not clone {address}")
    setup.source = setup.source.replace(address, ROOT.as_uri())
    out.mkdir(parents=True, exist_ok=True)
    before = installed(python)
    with tempfile.TemporaryDirectory() as work:
        source, runs = Path(work) / "reproduce.ipynb", Path(work) / "runs"
        nbformat.write(nb, source)
        env = {**os.environ, "CATSDOGS_RUNS_DIR": str(runs), "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg"}
        cmd = [python, "-m", "papermill", source, out / "reproduce.ipynb", "-k", "python3", "-p", "profile", "smoke"]
        run([*cmd, "--cwd", work, "--no-progress-bar"], log, env=env)
        if not (runs / "smoke" / "book" / "catsdogs-book.zip").is_file():
            raise RuntimeError("the re-run notebook finished without its archive of the book")
        check = [python, "-m", "catsdogs", "verify", "--run-dir", runs / "smoke", "--json"]
        done = subprocess.run(check, capture_output=True, text=True, env=env, cwd=Path(work) / "catsdogs")
        try:
            verdicts = json.loads(done.stdout)
        except ValueError:
            raise RuntimeError(
                f"verify of the re-run wrote no JSON (exit {done.returncode}):\n{done.stderr[-2000:]}"
            ) from None
    after = installed(python)
    changed = changed_versions(before, after)
    if changed:
        raise RuntimeError(f"the re-run notebook changed the twin's packages: {changed}")
    return {"changed": changed, "verify": {k: verdicts[k] for k in ("reproduced", "summary", "counts")}}


def find_python() -> str | None:
    """A Python 3.13 that runs: ``python3.13`` on the PATH (a pyenv shim needs
    ``PYENV_VERSION``), else pyenv's own 3.13 install."""
    roots = [Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"]
    found = [shutil.which("python3.13")] + sorted(str(p) for r in roots for p in r.glob("3.13*/bin/python3.13"))
    for python in filter(None, found):
        done = subprocess.run([python, "--version"], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.startswith("Python 3.13"):
            return python
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--twin", type=Path, default=ROOT / ".cache" / "colab-twin", help="the twin's directory")
    parser.add_argument("--python", help="Colab's Python, 3.13 (default: python3.13 or pyenv's 3.13)")
    parser.add_argument(
        "--steps", default="build,cell,chapters,reproduce", help="comma-separated: build, cell, chapters, reproduce"
    )
    args = parser.parse_args(argv)
    if not FREEZE.is_file():
        print(f"no Colab freeze at {FREEZE}: set CATSDOGS_COLAB_FREEZE to pip-freeze.gpu.txt", file=sys.stderr)
        return 2
    args.python = args.python or find_python()
    if args.python is None:
        print("no Python 3.13 found: install one (pyenv install 3.13.0) or pass --python", file=sys.stderr)
        return 2
    args.twin = args.twin.resolve()
    args.twin.parent.mkdir(parents=True, exist_ok=True)
    log, summary_file = args.twin.parent / f"{args.twin.name}.log", args.twin.parent / f"{args.twin.name}.json"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    steps = {
        "build": lambda: build(args.twin, args.python, log),
        "cell": lambda: check_cell(args.twin, log),
        "chapters": lambda: run_chapters(args.twin, log, args.twin.parent / f"{args.twin.name}-notebooks"),
        "reproduce": lambda: run_reproduce(args.twin, log, args.twin.parent / f"{args.twin.name}-notebooks"),
    }
    status = 0
    for step in args.steps.split(","):
        start = time.perf_counter()
        try:
            summary[step] = {"ok": True, **steps[step]()}
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            summary[step], status = {"ok": False, "error": str(exc)}, 1
        summary[step]["wall_seconds"] = round(time.perf_counter() - start, 1)
        print(f"{step:<10} {'ok' if summary[step]['ok'] else 'FAILED':<7} {summary[step]['wall_seconds']:>7.0f} s")
        summary_file.write_text(json.dumps(summary, indent=2) + "\n")
        if status:
            print(summary[step]["error"], file=sys.stderr)
            break
    return status


if __name__ == "__main__":
    sys.exit(main())
