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
    """Run every cell in a fresh kernel whose working folder is the notebook's own."""
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
        resources={"metadata": {"path": str(source.parent.resolve())}},
    )
    client.execute()
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return nb


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
