"""Execute a notebook headless (nbclient) and save the executed copy.

    python notebooks/run_notebook.py notebooks/quickstart.ipynb

The executed copy goes to notebooks/executed/; result images go to $KIRIN_OUTPUT_DIR
(default: kirin_outputs/ beside the notebook, since the kernel runs in the notebook's folder).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(
    source: Path, target: Path, *, timeout: int = 300, allow_errors: bool = False
) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel whose working folder is the notebook's own.

    Saved as JupyterLab would save it: no per-cell timestamps (``record_timing``, off by
    default in JupyterLab, about 280 bytes a cell) and no widget state.
    """
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
        record_timing=False, resources={"metadata": {"path": str(source.parent.resolve())}},
    )
    client.execute()
    drop_widget_state(nb)
    check_renderable(nb, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return nb


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def drop_widget_state(nb: nbformat.NotebookNode) -> None:
    """Save no widget state, as JupyterLab saves none (its ``saveState`` setting is off).

    nbclient keeps the last state of every widget the kernel ever made, closed or not: a
    live card replaced by its static result leaves three dead models (about 2.8 KB), and
    the panel of ``%kirin ui`` 268 models (about 290 KB) that no reader without its kernel
    can use. What a reader sees instead is static HTML beside every widget: the final card
    that replaced a live one, the saved copy of the panel's results (panel/saved.py)."""
    widgets = nb.metadata.get("widgets")
    if widgets is not None:
        widgets.pop(WIDGET_STATE, None)
        if not widgets:
            del nb.metadata["widgets"]


def check_renderable(nb: nbformat.NotebookNode, source: Path) -> None:
    """Refuse to save a notebook that nbformat, GitHub or nbviewer would not render."""
    from kirin_jupyter.exporter.tidy import widget_state_problems

    nbformat.validate(nb)
    problems = widget_state_problems(nb.metadata)
    if problems:
        raise ValueError(f"{source.name}: {problems[0]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--out", type=Path, help="where to save the executed copy")
    args = parser.parse_args(argv)
    source: Path = args.notebook
    target = args.out or source.parent / "executed" / source.name
    execute(source, target)
    # The kernel runs in the notebook's folder: a relative output dir is relative to it.
    configured = Path(os.environ.get("KIRIN_OUTPUT_DIR") or "kirin_outputs").expanduser()
    outputs = source.parent / configured
    images = sorted(outputs.glob("*/*.png"))
    print(f"executed notebook: {target}")
    print(f"result images:     {outputs}/ ({len(images)} files)")
    print(f"open it with:      .venv/bin/jupyter lab {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
