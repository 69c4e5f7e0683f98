"""The Colab path, offline.

On Colab nothing is configured: the notebooks' first cell installs this package next to
Colab's own TensorFlow, and the ImageNet weights come from Keras' own download
(``weights="imagenet"``). Both are exercised here without internet:

* Keras' download is replaced by a seeded cache: ``$KERAS_HOME/models/`` gets the no-top
  MobileNetV2 file under the exact name Keras asks for, made from the converted TFLite
  weights (``$CATSDOGS_WEIGHTS``), and ``python -m catsdogs train`` runs at the smoke size
  with no weights setting at all, the notebooks' default;
* the notebooks' own install cell runs in a fresh virtual environment that already has
  TensorFlow (the project's, seen through a ``.pth`` file, as Colab's is), with the GitHub
  URL swapped for this checkout's git URL and ``--no-index --no-build-isolation`` added;
  TensorFlow must be the same version at the same place afterwards.

The dataset download is tested against a local HTTP server in ``test_download.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import REAL_ENV, write_petimages

from catsdogs.config import ENV_CACHE_DIR, ENV_DATA_DIR, ENV_RUNS_DIR, ENV_WEIGHTS, REPOSITORY_URL, get_config

ROOT = Path(__file__).resolve().parents[1]

#: Input sizes Keras has ImageNet MobileNetV2 checkpoints for; any other size loads the 224 one.
KERAS_CHECKPOINT_SIZES = (96, 128, 160, 192, 224)


def keras_notop_file_name(image_size: int, alpha: float = 1.0) -> str:
    """The file ``keras.applications.MobileNetV2(weights="imagenet", include_top=False)``
    looks for in ``$KERAS_HOME/models/`` (keras/src/applications/mobilenet_v2.py)."""
    rows = image_size if image_size in KERAS_CHECKPOINT_SIZES else 224
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5"


def _subprocess_env(**extra: str) -> dict[str, str]:
    """This environment without the user's catsdogs settings (Colab has none), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV_DATA_DIR, ENV_WEIGHTS, ENV_CACHE_DIR, ENV_RUNS_DIR)}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return {**env, **extra}


@pytest.mark.slow
@pytest.mark.real
def test_imagenet_weights_through_keras_cache_train_at_smoke_size(tmp_path: Path) -> None:
    source = REAL_ENV[ENV_WEIGHTS]
    if not source or not Path(source).expanduser().is_file():
        pytest.skip(f"{ENV_WEIGHTS} is not set to the ImageNet weights file: nothing to seed Keras' cache with")
    import keras

    from catsdogs.model.weights import resolve_weights

    cfg = get_config("smoke", weights=source, cache_dir=REAL_ENV[ENV_CACHE_DIR] or str(tmp_path / "cache"))
    converted = resolve_weights(cfg)  # the int8 TFLite dequantized, or the given .h5
    size = cfg.image_size
    seeded = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), include_top=False, weights=converted.keras_weights
    )
    keras_home = tmp_path / "keras"
    (keras_home / "models").mkdir(parents=True)
    # Keras reads a legacy .h5 by layer order (a whole-model .h5 too): what its download is.
    seeded.save(keras_home / "models" / keras_notop_file_name(size, cfg.alpha))

    data = write_petimages(tmp_path / "PetImages", n_per_class=12, size=64)
    run_dir = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "catsdogs",
        "train",
        "--profile",
        "smoke",
        "--data-dir",
        str(data),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--run-dir",
        str(run_dir),
    ]
    proc = subprocess.run(
        cmd,
        env=_subprocess_env(KERAS_HOME=str(keras_home)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}"

    weights = json.loads((run_dir / "provenance.json").read_text())["weights"]
    assert (weights["kind"], weights["source"], weights["keras_weights"]) == ("keras-download", "imagenet", "imagenet")
    assert json.loads((run_dir / "config.json").read_text())["image_size"] == size
    for phase in ("phase1", "phase2"):
        result = json.loads((run_dir / phase / "result.json").read_text())
        assert 0.0 <= result["val_metrics"]["accuracy"] <= 1.0
    # The trained model's frozen stem holds the seeded weights: Keras loaded our file.
    model = keras.models.load_model(run_dir / "phase2" / "model.keras")
    stem = model.get_layer("mobilenetv2_base").get_layer("Conv1").get_weights()
    for trained, ours in zip(stem, seeded.get_layer("Conv1").get_weights(), strict=True):
        np.testing.assert_array_equal(trained, ours)


def _install_cell() -> str:
    """The notebooks' first code cell (the same in all six), made offline: this checkout's
    git URL instead of GitHub's, and no package index, no isolated build environment."""
    cells = {
        nb.stem: next(c.source for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code")
        for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    }
    assert len(set(cells.values())) == 1, f"the notebooks' install cells differ: {cells}"
    cell = next(iter(cells.values()))
    online, offline = f"git+{REPOSITORY_URL}", f"git+{ROOT.as_uri()}"
    assert cell.count(online) == 1 and cell.count("%pip install -q ") == 1, f"unexpected install cell:\n{cell}"
    return cell.replace(online, offline).replace("%pip install -q ", "%pip install -q --no-index --no-build-isolation ")


#: Runs a cell the way a notebook does (IPython: ``%pip``, ``{...}`` expansion); exit code = pip's.
RUN_CELL = """
import sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
ok = shell.run_cell(sys.stdin.read()).success
sys.exit(0 if ok and not shell.user_ns.get("_exit_code") else 1)
"""

#: TensorFlow's version and location, without importing it.
WHERE_IS_TF = """
import importlib.metadata as md, importlib.util as iu, json
dists = sorted((d.metadata["Name"], d.version, str(d.locate_file(""))) for d in md.distributions()
               if d.metadata["Name"].lower().startswith("tensorflow"))
print(json.dumps({"dists": dists, "origin": iu.find_spec("tensorflow").origin,
                  "catsdogs": getattr(iu.find_spec("catsdogs"), "origin", None)}))
"""


@pytest.mark.slow
def test_notebook_install_cell_keeps_the_existing_tensorflow(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip(f"{ROOT} is not a git checkout: the install cell installs from a git URL")
    cell = _install_cell()
    site = Path(sysconfig.get_paths()["purelib"])  # this environment's packages, TensorFlow among them
    if not (site / "tensorflow").is_dir():
        pytest.skip(f"TensorFlow is not installed in {site}")
    # Colab's Python: TensorFlow and the rest already there, catsdogs not.
    colab = tmp_path / "packages"
    colab.mkdir()
    for entry in site.iterdir():
        if not entry.name.lower().startswith(("catsdogs", "__editable__.catsdogs", "__editable___catsdogs")):
            (colab / entry.name).symlink_to(entry)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    venv_site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (venv_site / "colab_packages.pth").write_text(f"{colab}\n")

    def where() -> dict:
        out = subprocess.run([python, "-c", WHERE_IS_TF], capture_output=True, text=True, check=True, cwd=tmp_path)
        return json.loads(out.stdout)

    before = where()
    assert before["catsdogs"] is None and before["dists"], before
    proc = subprocess.run(
        [python, "-c", RUN_CELL],
        input=cell,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_subprocess_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"install cell failed:\n{cell}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    after = where()
    assert after["dists"] == before["dists"] and after["origin"] == before["origin"], (before, after)
    assert Path(after["catsdogs"]).is_relative_to(venv_site), after["catsdogs"]
    installed = sorted(p.name for p in venv_site.iterdir() if p.name.endswith(".dist-info"))
    assert len(installed) == 1 and installed[0].startswith("catsdogs-"), installed
