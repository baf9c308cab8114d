"""The notebooks in notebooks/: generated, output-free, and each executed headless.

Each notebook runs in a fresh kernel (nbclient, as `run_notebook.py` does) against the
in-process simulator, from a copy in a temporary folder (models.ipynb writes reference
images beside itself). The quickstart notebook is executed by test_kernel.py and
test_binder.py.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import make_notebooks
import nbformat
import pytest
from run_notebook import execute

from .conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
THUMB = '<img src="data:image/jpeg;base64,'


def run(name: str, tmp_path: Path) -> nbformat.NotebookNode:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    source = folder / f"{name}.ipynb"
    shutil.copy(NOTEBOOKS / source.name, source)
    return execute(source, folder / "executed" / source.name)


def cell(nb: nbformat.NotebookNode, start: str) -> nbformat.NotebookNode:
    """The one code cell whose source starts with ``start``."""
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(start)]
    assert len(found) == 1, (start, [c.source[:40] for c in found])
    return found[0]


def html(c: nbformat.NotebookNode) -> list[str]:
    return [o["data"]["text/html"] for o in c.outputs if "text/html" in o.get("data", {})]


def text(c: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in c.outputs if o["output_type"] == "stream") + \
        "".join(o["data"].get("text/plain", "") for o in c.outputs if "data" in o)


def thumbs(c: nbformat.NotebookNode) -> int:
    return sum(h.count(THUMB) for h in html(c))


def check_models(nb: nbformat.NotebookNode) -> None:
    expected = {  # cell start -> (model, images)
        "%%kirin city": ("kirin_image_omni", 2),
        "%%kirin knight": ("kirin_image_omni", 1),
        "%%kirin owl": ("kirin_v3_image", 1),
        "%%kirin bronze": ("kirin_v3_image", 1),
    }
    for start, (model, count) in expected.items():
        c = cell(nb, start)
        assert len(html(c)) == 1 and thumbs(c) == count, start
        assert model in html(c)[0] and "completed" in html(c)[0]
    # --id reached it (the card names it on hover over the task id)
    assert "external id models-notebook-owl-1" in html(cell(nb, "%%kirin owl"))[0]
    dry = cell(nb, "%%kirin --dry-run")
    assert thumbs(dry) == 0
    for part in ("POST http://", '"element_id": 1001', '"element_id": 1002', '"n": 4',
                 '"resolution": "2k"', '"enabled": false'):
        assert part in text(dry), part
    built = text(cell(nb, "request = kirin_jupyter.default_client().build("))
    assert "'negative_prompt': 'rain'" in built and "my-order-42" in built
    assert "'callback_url': 'https://example.com/kirin-callback'" in built
    assert text(cell(nb, "%kirin wait")) == "kirin: 5 completed, 0 failed\n"
    summary = text(cell(nb, "jobs = {"))
    for line in ("city    kirin_image_omni  0 reference image(s)  2 file(s)  cost $0.16",
                 "knight  kirin_image_omni  3 reference image(s)  1 file(s)  cost $0.04",
                 "owl     kirin_v3_image    0 reference image(s)  1 file(s)",
                 "bronze  kirin_v3_image    1 reference image(s)  1 file(s)",
                 "python  kirin_image_omni  2 reference image(s)  2 file(s)"):
        assert line in summary, summary


def check_batch(nb: nbformat.NotebookNode) -> None:
    prompts = re.findall(r'^\s+"(A [^"]+)",$', cell(nb, "%load_ext").source, re.M)
    assert len(prompts) == 5
    assert "5 completed, 0 failed" in text(cell(nb, "results, failures"))
    gallery = cell(nb, "from IPython.display import display")
    assert len(html(gallery)) == 5 and thumbs(gallery) == 5
    assert "total cost: $0.20 for 5 images" in text(cell(nb, "from decimal import Decimal"))
    [table] = html(cell(nb, "from html import escape"))
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    assert len(rows) == 6 and "<th>prompt</th>" in rows[0] and "<th>cost</th>" in rows[0]
    for prompt, row in zip(prompts, rows[1:], strict=True):
        assert f"<td>{prompt}</td>" in row and "<td>$0.04</td>" in row
        assert "<td>completed</td>" in row and re.search(r"<td>sim-\w+</td>", row)


def check_history(nb: nbformat.NotebookNode) -> None:
    boat = re.search(r"task (sim-\w+)", text(cell(nb, "%%kirin boat")))
    kite = re.search(r"task (sim-\w+)", text(cell(nb, "%%kirin kite")))
    assert boat and kite
    [table] = html(cell(nb, "%kirin history 5"))
    for task_id, prompt in ((boat[1], "A paper boat"), (kite[1], "A red kite")):
        assert task_id in table and prompt in table
    assert table.count(THUMB) == 3 and table.count("completed") == 2
    [kites] = html(cell(nb, "%kirin history --model v3 --search kite"))
    assert kite[1] in kites and boat[1] not in kites and kites.count(THUMB) == 1
    [shown] = html(cell(nb, "%kirin show history-notebook-boat"))
    assert boat[1] in shown and kite[1] not in shown and shown.count(THUMB) == 2
    [by_variable] = html(cell(nb, "get_ipython().run_line_magic"))
    assert kite[1] in by_variable and boat[1] not in by_variable
    assert "nothing to resume" in text(cell(nb, "%kirin resume"))
    assert "0 job(s) resumed" in text(cell(nb, "import kirin_jupyter"))


def check_panel(nb: nbformat.NotebookNode) -> None:
    ui = cell(nb, "%kirin ui")
    views = [o for o in ui.outputs
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1
    assert "kirin: " in text(cell(nb, "%kirin wait"))


CHECKS: dict[str, Callable[[nbformat.NotebookNode], None]] = {
    "models": check_models,
    "batch": check_batch,
    "history": check_history,
    "panel": check_panel,
}


def test_every_notebook_is_generated_and_committed_without_outputs(tmp_path: Path) -> None:
    make_notebooks.main(tmp_path)
    committed = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert committed == sorted(f"{name}.ipynb" for name in make_notebooks.NOTEBOOKS)
    assert set(CHECKS) | {"quickstart"} == set(make_notebooks.NOTEBOOKS)  # each one tested
    for name in committed:
        assert (NOTEBOOKS / name).read_text() == (tmp_path / name).read_text(), (
            f"{name} differs from make_notebooks.py: run python notebooks/make_notebooks.py")
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code), name
        # Background jobs are waited for: no job starts after the last `%kirin wait`.
        last_wait = max(i for i, c in enumerate(code) if c.source == "%kirin wait")
        for c in code[last_wait + 1:]:
            first = c.source.splitlines()[0]
            starts_job = first.startswith("%%kirin") and "--dry-run" not in first
            assert not starts_job and "generate(" not in c.source, (name, c.source)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_executes_with_real_outputs(name: str, tmp_path: Path) -> None:
    nb = run(name, tmp_path)
    CHECKS[name](nb)
