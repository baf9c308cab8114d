"""The notebooks in notebooks/: generated, output-free, and each executed headless.

Each notebook runs in a fresh kernel (nbclient, as `run_notebook.py` does) against the
in-process simulator, from a copy in a temporary folder (models.ipynb writes reference
images beside itself). The quickstart notebook is executed by tests/kernel/test_kernel.py
and tests/kernel/test_binder.py.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import make_notebooks
import nbformat
import pytest
from run_notebook import execute

from kirin_jupyter.exporter.tidy import widget_state_problems
from tests.conftest import ROOT

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


# The executed batch tour as saved, in bytes: 119 KB measured (132 KB with nbclient's cell
# timings and dead widget state kept): 59 thumbnails of 96 px in five final cards, one of
# them a full page of 24, and the second page of a batch of 30.
BATCH_TOUR_MAX = 160 * 1024


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def finished_widget(c: nbformat.NotebookNode) -> None:
    """The cell's live card became the finished one: a widget (buttons on its pictures)
    whose output carries no picture of its own, right before its static copy (what a
    reader without the kernel sees). A live card left behind would carry its live HTML."""
    views = [i for i, o in enumerate(c.outputs) if WIDGET_VIEW in o.get("data", {})]
    assert len(views) == 1, c.source
    widget, copy = c.outputs[views[0]], c.outputs[views[0] + 1]
    assert widget["data"]["text/plain"] == "" and "text/html" not in widget["data"], c.source
    assert "kirin-copy" in copy["data"]["text/html"], c.source


def final_card(c: nbformat.NotebookNode, done: int, failed: int = 0) -> str:
    """The cell's card: the batch's final card, once (the live card was replaced, not
    added to), with its counts and one thumbnail per item done (at most a page)."""
    finished_widget(c)
    [card] = [h for h in html(c) if "kirin-batch" in h]
    # Its dollars are not typeset as maths by JupyterLab's MathJax (two $ in one line).
    assert 'class="kirin kirin-card kirin-batch kirin-batch-result tex2jax_ignore mathjax_ignore"' \
        in card
    assert "kirin-batch-live" not in card
    assert f"<b>{done}</b> done" in card and f"<b>{failed}</b> failed" in card
    assert "<b>0</b> running" in card and "<b>0</b> queued" in card
    assert f'data-state="{"some failed" if failed and done else "completed"}"' in card
    assert card.count(THUMB) == min(done, 24), (c.source, card.count(THUMB))
    return card


def check_batch(nb: nbformat.NotebookNode) -> None:
    size = len(nbformat.writes(nb).encode())
    assert size < BATCH_TOUR_MAX, size
    # A list of prompts: displayed live, ended as the final card; results in prompt order.
    final_card(cell(nb, "prompts = ["), 6)
    first = text(cell(nb, "results = batch.wait()"))
    assert "6 items: 6 done, 0 failed" in first
    assert "first: A red fox asleep in fresh snow, watercolor -> 01.png" in first
    # A CSV written by a cell, checked and priced by a dry run, then run by the magic.
    assert "prompt,n,aspect_ratio\n" in text(cell(nb, "import csv"))
    dry = cell(nb, "%kirin batch products.csv --dry-run")
    assert html(dry) == [] and "batch of 4 prompts" in text(dry)
    assert "dry run: nothing was created" in text(dry)
    card = final_card(cell(nb, "%kirin batch products.csv --name products"), 4)
    assert "products" in card
    assert text(cell(nb, "products = _kirin_batch")).splitlines() == [
        "2 image(s)  1:1   A red enamel kettle on a marble counter, product photo",
        "1 image(s)  1:1   A blue ceramic mug with rising steam, product photo",
        "2 image(s)  4:3   A green desk lamp on a walnut desk, product photo",
        "1 image(s)  auto  A copper pan hanging on a tiled wall, product photo"]
    # A DataFrame.
    assert "cabins" in final_card(cell(nb, "import pandas as pd"), 3)
    # Stopped after a few items, then run again by name: it picks up where it stopped.
    stopped = text(cell(nb, "import time"))
    found = re.search(r"12 items: (\d+) done, 0 failed, 0 running, (\d+) queued", stopped)
    assert found, stopped
    done, queued = int(found[1]), int(found[2])
    assert done >= 3 and queued >= 1 and done + queued == 12, stopped
    assert f"sent {done} of 12" in stopped
    resumed = cell(nb, "again = client.batch(posters")
    assert f"{done} found done (not bought again), {queued} made now" in text(resumed)
    assert f"resumed: {done} found done, 0 followed" in final_card(resumed, 12)
    # More than a page: the final card shows 24, page 2 the other 6.
    tiles = final_card(cell(nb, "tiles = client.batch("), 30)
    assert "page 1 of 2 (30 done); next: batch.page(2) or %kirin batch show tiles" in tiles
    [page] = html(cell(nb, "tiles.wait()"))
    assert "kirin-batch-page" in page and page.count(THUMB) == 6
    assert 'title="#25: ' in page and 'title="#30: ' in page and 'title="#24: ' not in page
    assert "page 2 of 2 (30 done), the last page" in page
    # A failed item: listed on the card and in batch.failed, then retried.
    shaky = cell(nb, "from IPython.display import display")
    assert "kirin-failures" in final_card(shaky, 1, failed=1)
    assert "(0,\n  'A glass of lemonade in the sun'" in text(shaky) and "002016095" in text(shaky)
    retried = text(cell(nb, "shaky.retry_failed()"))
    assert "2 items: 2 done, 0 failed" in retried and retried.endswith("[]")
    # The table and the cost.
    [table] = html(cell(nb, "table = tiles.to_frame()"))
    assert "<th>state</th>" in table and table.count("<td>done</td>") == 5
    costs = text(cell(nb, "for each in (batch,"))
    for line in ("products                     4 items  quoted $0.24  cost $0.24",
                 "cabins                       3 items  quoted $0.12  cost $0.12",
                 "posters                     12 items  quoted $0.48  cost $0.48",
                 "tiles                       30 items  quoted $1.20  cost $1.20",
                 "the client's own count: $2.36"):
        assert line in costs, costs
    assert text(cell(nb, "%kirin wait")) == "kirin: 57 completed, 1 failed\n"


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
    # No widget state is saved (it was 268 models, 290 KB, that no reader without the
    # kernel can use): the saved copy of the panel's results is what a reader sees, and
    # the widget's own text is no second notice.
    assert "widgets" not in nb.metadata
    assert views[0]["data"]["text/plain"] == ""
    assert any("kirin-saved" in h for h in html(ui))
    assert len(nbformat.writes(nb).encode()) < 16 * 1024
    assert "kirin: " in text(cell(nb, "%kirin wait"))


# The executed workflows tour as saved (150 KB in session 6: two compare views of 640 px).
WORKFLOWS_TOUR_MAX = 200 * 1024


def check_workflows(nb: nbformat.NotebookNode, folder: Path) -> None:
    import json
    import zipfile

    assert len(nbformat.writes(nb).encode()) < WORKFLOWS_TOUR_MAX
    fox = re.search(r"task (sim-\w+)", text(cell(nb, "%%kirin fox")))
    night = re.search(r"task (sim-\w+)", text(cell(nb, "%%kirin night")))
    assert fox and night
    # Provenance: Pillow alone reads the prompt; the record and its card agree.
    parameters = text(cell(nb, "from PIL import Image"))
    assert parameters.startswith("A red fox in a snowy birch forest, watercolor\n")
    assert "Model: kirin_image_omni, Size: 1024x1024" in parameters and fox[1] in parameters
    assert f"'task_id': '{fox[1]}'" in text(cell(nb, "record = kirin.provenance(path)"))
    [shown] = html(cell(nb, "%kirin show $path"))
    assert "A red fox in a snowy birch forest" in shown and fox[1] in shown
    # Lineage: the night fox names its parent; the chain is drawn oldest first, the
    # parent by the picture that was used ($fox[1], its second).
    [chain] = html(cell(nb, "%kirin lineage $night"))
    assert chain.index(fox[1]) < chain.index(night[1]) and chain.count("<img") == 2
    assert re.findall(r'class="kirin-lineage-node" data-file="([^"]*)"', chain) == [
        "02.png", "01.png"]
    assert "kirin_image_omni" in text(cell(nb, "%kirin rerun $night"))
    # Sweeps: a priced plan that sends nothing, then a labelled 2 x 2 grid.
    plan = text(cell(nb, "%%kirin --model omni,v3 --ar 1:1,16:9 --dry-run"))
    assert "total: about $0.16 (quoted by the service) for 4 cells" in plan
    assert "dry run: nothing was created" in plan
    [grid] = html(cell(nb, "%%kirin lights"))
    for label in (">omni<", ">v3<", ">1:1<", ">16:9<"):
        assert label in grid, label
    assert grid.count(THUMB) == 4
    [foxes] = html(cell(nb, "foxes = kirin.sweep("))
    for label in (">red<", ">white<", ">watercolor<", ">linocut<"):
        assert label in foxes, label
    assert "rows: red / white · columns: watercolor / linocut" in foxes  # not {red|white}
    assert foxes.count(THUMB) == 4
    refused = text(cell(nb, "careful = kirin.Client("))
    assert refused.startswith("refused: budget: this sweep of 6 jobs would cost $0.36")
    assert "nothing was sent" in refused
    # Compare: a slider of two, each side named by its prompt (from the file's record,
    # not "01.png"); a strip of three.
    [slider] = html(cell(nb, "kirin.compare(fox.wait().paths[1]"))
    assert "slider" in text(cell(nb, "kirin.compare(fox.wait().paths[1]"))
    labels = re.findall(r'class="kirin-compare-label"[^>]*>([^<]*)<', slider)
    assert labels == ["A red fox in a snowy birch forest, watercolor #2",
                      "The same fox at night under the northern lights"], labels
    [strip] = html(cell(nb, "kirin.compare(fox, night)"))
    assert "strip" in text(cell(nb, "kirin.compare(fox, night)")) and strip.count("<img") == 3
    # Export: the zip holds every image and a manifest with every prompt and task id.
    assert "15 files: images/" in text(cell(nb, "%kirin wait\nexported"))
    with zipfile.ZipFile(folder / "workflows-export.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = set(archive.namelist())
    entries = manifest["items"]
    assert manifest["images"] == len(entries) == 12 and manifest["missing"] == 0 and {"manifest.csv", "index.html"} <= names
    assert all(entry["file"] in names for entry in entries)
    tasks = {entry["task_id"] for entry in entries}
    assert {fox[1], night[1]} <= tasks and len(tasks) == 11
    prompts = {entry["prompt"] for entry in entries}
    assert "A red fox, linocut" in prompts and "A lighthouse on a cliff at dusk, oil painting" \
        in prompts
    exported = text(cell(nb, "%kirin export workflows-v3.html"))
    assert exported == "kirin: exported 2 images of 2 jobs to workflows-v3.html\n", exported
    assert (folder / "workflows-v3.html").is_file()
    [frame] = html(cell(nb, "frame = kirin.history_frame()"))
    assert "<th>prompt</th>" in frame and "A white fox, linocut" in frame
    assert nb.cells[-1].source == "%kirin wait"
    assert text(nb.cells[-1]) == "kirin: 11 completed, 0 failed\n"


def check_elements(nb: nbformat.NotebookNode) -> None:
    """Issue 25's tour: a subject made from two pictures, its exact 64-bit id, used by name
    in v3 and v3omni (a 4k series), a v2 picture, and the gateway's document of v3."""
    made = text(cell(nb, 'fox = kirin.create_element("fox"'))
    element_id = int(re.search(r"element id: (\d+)", made).group(1))  # type: ignore[union-attr]
    assert element_id > 2**53 and "above 2**53: True" in made
    listed = text(cell(nb, "%kirin element list"))
    assert re.search(rf"^fox +{element_id} +o_103 ", listed, re.M), listed
    [reader] = html(cell(nb, "%%kirin reader --model v3 --element fox"))
    assert "kirin-result" in reader and "1 element" in reader and thumbs(
        cell(nb, "%%kirin reader")) == 1
    seasons = cell(nb, "%%kirin seasons --model v3omni")
    [card] = html(seasons)
    assert "series of 2 · n ignored" in card and "4k" in card and thumbs(seasons) == 2
    assert "kirin_v3_omni_image" in card
    [kettle] = html(cell(nb, 'plain = kirin.generate("A red kettle'))
    assert "kirin_v2_image" in kettle and thumbs(cell(nb, "plain = kirin")) == 1
    [doc] = html(cell(nb, "%kirin models --live v3"))
    assert "kirin_v3_image" in doc and "image_fidelity" in doc
    assert text(nb.cells[-1]) == "kirin: 3 completed, 0 failed\n"


CHECKS: dict[str, Callable[[nbformat.NotebookNode], None]] = {
    "elements": check_elements,
    "models": check_models,
    "batch": check_batch,
    "history": check_history,
    "panel": check_panel,
    "workflows": lambda nb: None,  # check_workflows: it reads files the notebook wrote
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


# The executed quickstart as saved, in bytes (issue 12; 31.7 KB in session 5, 22.5 to 23 KB
# after; docs/performance.md, "Notebook size").
QUICKSTART_MAX = 25 * 1024


def test_the_executed_quickstart_is_small_and_keeps_its_thumbnails(tmp_path: Path) -> None:
    from PIL import Image

    nb = run("quickstart", tmp_path)
    saved = tmp_path / "notebooks" / "executed" / "quickstart.ipynb"
    assert saved.stat().st_size <= QUICKSTART_MAX, saved.stat().st_size
    # What it is not spent on: dead widget state, per-cell timestamps.
    assert "widgets" not in nb.metadata
    assert all("execution" not in c.metadata for c in nb.cells)
    # What it keeps: each card, with a sharp-enough thumbnail of every result.
    for start, count in (("%%kirin fox", 2), ("%%kirin lighthouse", 1)):
        [card] = html(cell(nb, start))
        assert "kirin-result" in card and thumbs(cell(nb, start)) == count, start
        for data in re.findall(r'data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', card):
            with Image.open(io.BytesIO(base64.b64decode(data))) as thumb:
                assert thumb.format == "JPEG" and max(thumb.size) == 256, thumb.size


def absolute_paths(nb: nbformat.NotebookNode, *folders: Path) -> list[str]:
    """Where the saved notebook (outputs and metadata; pictures' data left out) names one
    of ``folders``, as written or resolved: the user's working directory, output folder
    and home folder must not travel with a shared notebook (issue 22, D8)."""
    saved = re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", nbformat.writes(nb))
    found = []
    for folder in folders:
        for name in {str(folder), str(folder.resolve())}:
            found += [saved[max(0, m.start() - 60):m.end() + 40]
                      for m in re.finditer(re.escape(name) + r"(?![\w.-])", saved)]
    return found


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_executes_with_real_outputs(name: str, tmp_path: Path) -> None:
    nb = run(name, tmp_path)
    if name == "workflows":
        check_workflows(nb, tmp_path / "notebooks")
    else:
        CHECKS[name](nb)
    # GitHub and nbviewer render it: a valid notebook, with widget state GitHub accepts.
    nbformat.validate(nb)
    assert widget_state_problems(nb.metadata) == []
    # Its working directory, its output folder (KIRIN_OUTPUT_DIR, under tmp_path here) and
    # the home folder are nowhere in what it saved.
    assert absolute_paths(nb, tmp_path, Path.home()) == []
    # A tour leaves no file of its own beside the notebook (batch.ipynb wrote products.csv).
    assert not (tmp_path / "notebooks" / "products.csv").exists()
