"""Execute a notebook headless (nbclient) and save the executed copy.

    python notebooks/run_notebook.py notebooks/quickstart.ipynb

The executed copy goes to notebooks/executed/; result images go to $KIRIN_OUTPUT_DIR
(default: kirin_outputs/ beside the notebook, since the kernel runs in the notebook's folder).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(
    source: Path, target: Path, *, timeout: int = 300, allow_errors: bool = False
) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel whose working folder is the notebook's own.

    Saved as JupyterLab would save it: no per-cell timestamps (``record_timing``, off by
    default in JupyterLab, about 280 bytes a cell) and no state of widgets nothing shows.
    """
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
        record_timing=False, resources={"metadata": {"path": str(source.parent.resolve())}},
    )
    client.execute()
    prune_widget_state(nb)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return nb


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def prune_widget_state(nb: nbformat.NotebookNode) -> None:
    """Keep the saved state of the widgets an output still shows, and of every model those
    refer to (``IPY_MODEL_<id>``, or an Output widget's own widget views). nbclient saves
    every widget the kernel ever made, closed or not: a live card replaced by its static
    result leaves three dead models (HTML, layout, style; about 2.8 KB) behind, which
    JupyterLab would not have saved."""
    saved = nb.metadata.get("widgets", {}).get(WIDGET_STATE)
    if not saved:
        return
    models = saved.get("state", {})
    wanted = [output["data"][WIDGET_VIEW].get("model_id") for cell in nb.cells
              for output in cell.get("outputs", []) if WIDGET_VIEW in output.get("data", {})]
    kept: set[str] = set()
    while wanted:
        model_id = wanted.pop()
        if model_id in kept or model_id not in models:
            continue
        kept.add(model_id)
        wanted += re.findall(r"[0-9a-f]{32}", json.dumps(models[model_id]))
    saved["state"] = {key: value for key, value in models.items() if key in kept}
    if not kept:  # nothing left to show: no widget metadata at all
        del nb.metadata.widgets[WIDGET_STATE]
        if not nb.metadata.widgets:
            del nb.metadata["widgets"]


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
