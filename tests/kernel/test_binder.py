"""binder/ alone makes an environment that runs the quickstart notebook, as mybinder would.

A fresh virtual environment gets binder/requirements.txt, then binder/postBuild runs from
the repository root with that environment first on PATH (as repo2docker runs it). The
quickstart notebook is then executed by that environment's python, whose `python3`
kernel must be the environment's own interpreter (ipykernel comes with the package).
Downloads come from PyPI through pip's cache; this test takes about half a minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

from tests.conftest import ROOT

THUMB = '<img src="data:image/jpeg;base64,'


def sh(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_binder_environment_runs_the_quickstart(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH", "VIRTUAL_ENV")}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        # Only the environment's own kernelspecs and config: none of this machine's.
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        IPYTHONDIR=str(tmp_path / "ipython"),
    )
    sh([str(python), "-m", "pip", "install", "--quiet", "-r", "binder/requirements.txt"],
       env, ROOT)
    sh([str(ROOT / "binder" / "postBuild")], env, ROOT)

    # The package is installed into the environment (not found through the source tree),
    # and the kernel nbclient starts is this environment's python.
    probe = ("import kirin_jupyter, nbclient\n"
             "from jupyter_client.manager import KernelManager\n"
             "print(kirin_jupyter.__file__)\n"
             "print(KernelManager(kernel_name='python3').format_kernel_cmd()[0])\n")
    package, kernel = sh([str(python), "-c", probe], env, tmp_path).split()
    assert Path(package).is_relative_to(venv)
    assert Path(kernel) == python

    executed = tmp_path / "quickstart.ipynb"
    said = sh([str(python), "notebooks/run_notebook.py", "notebooks/quickstart.ipynb",
               "--out", str(executed)], env, ROOT)
    assert f"executed notebook: {executed}" in said
    nb = nbformat.read(executed, as_version=4)
    magic_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%kirin")]
    assert len(magic_cells) == 2
    for cell in magic_cells:
        assert any(THUMB in o.get("data", {}).get("text/html", "") for o in cell.outputs)
    assert len(list(Path(os.environ["KIRIN_OUTPUT_DIR"]).glob("*/*.png"))) == 3
