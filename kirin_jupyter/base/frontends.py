"""Which front end runs the code, and how ``%%kirin`` follows a job there.

Pure: everything is read from the shell, the environment and the loaded modules, which the
callers (and the tests) may pass in.

- **jupyter** (JupyterLab, Notebook 7, nbclient, any kernel) and **vscode**: a live card
  whose widgets the engine thread updates while the cell has long returned.
- **colab**: Colab does not render widget updates sent from other threads, so the cell
  blocks and the main thread applies the job's progress to the card while it waits.
- **terminal** (the IPython terminal, or any shell without a kernel): no widgets; the
  cell blocks, prints one updating progress line, then the saved files.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from typing import Any, Literal

FrontEnd = Literal["jupyter", "vscode", "colab", "terminal"]
Mode = Literal["live", "blocking", "terminal"]

# Set in every Colab runtime (also a kernel's environment there).
COLAB_ENV = ("COLAB_RELEASE_TAG",)
# VS Code's Jupyter extension starts kernels with the extension host's environment (which
# carries VSCODE_PID, VSCODE_CWD, ...) and adds PYDEVD_IPYTHON_COMPATIBLE_DEBUGGING for
# Python kernels; the surest sign is the notebook path it puts in the user namespace.
VSCODE_NAMESPACE_MARK = "__vsc_ipynb_file__"
VSCODE_ENV = ("VSCODE_PID", "VSCODE_CWD", "VSCODE_IPC_HOOK_CLI")

DESCRIPTIONS: dict[FrontEnd, str] = {
    "jupyter": "Jupyter kernel (JupyterLab, Notebook): live progress card",
    "vscode": "VS Code notebook: live progress card",
    "colab": "Google Colab: cells wait, the progress card is updated while they wait",
    "terminal": "IPython terminal: cells wait and print a progress line and the file paths",
}

_MODES: dict[FrontEnd, Mode] = {
    "jupyter": "live",
    "vscode": "live",
    "colab": "blocking",
    "terminal": "terminal",
}


def has_kernel(shell: Any) -> bool:
    """A Jupyter kernel drives this shell (ipykernel's shell has ``.kernel``)."""
    return getattr(shell, "kernel", None) is not None


def in_colab(environ: Mapping[str, str] | None = None,
             modules: Mapping[str, Any] | None = None) -> bool:
    """Colab: ``google.colab`` is loaded or importable, or Colab's environment is set."""
    env = os.environ if environ is None else environ
    mods = sys.modules if modules is None else modules
    if "google.colab" in mods or any(env.get(name) for name in COLAB_ENV):
        return True
    if modules is not None:  # a given module table is the whole truth (tests)
        return False
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):
        return False


def in_vscode(shell: Any = None, environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    namespace = getattr(shell, "user_ns", None) or {}
    return VSCODE_NAMESPACE_MARK in namespace or any(env.get(name) for name in VSCODE_ENV)


def detect(shell: Any, environ: Mapping[str, str] | None = None,
           modules: Mapping[str, Any] | None = None) -> FrontEnd:
    """The front end of ``shell`` (an IPython shell, or None outside IPython)."""
    if not has_kernel(shell):
        return "terminal"
    if in_colab(environ, modules):
        return "colab"
    if in_vscode(shell, environ):
        return "vscode"
    return "jupyter"


def mode(frontend: FrontEnd) -> Mode:
    """How a ``%%kirin`` cell follows its job in this front end."""
    return _MODES[frontend]
