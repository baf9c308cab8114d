"""The marimo tour run headless, as CI and a reader of its HTML see it (issue 24, item 3):
``marimo export html`` runs every cell in a real marimo kernel; each live card ended as
its finished card (the job's pictures, the batch's gallery, the sweep's grid), the awaited
result shows in a later cell, and compare and export did their work. The panel, which
marimo cannot draw, says so in one line."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.kernel.marimo_pages import cells, copy_tour, html_of, marimo_env, widget_states

pytestmark = pytest.mark.slow
MARIMO = [sys.executable, "-m", "marimo", "-y"]


def _export(notebook: Path, env: dict[str, str]) -> str:
    page = notebook.with_suffix(".html")
    done = subprocess.run([*MARIMO, "export", "html", str(notebook), "-o", str(page), "-f",
                           "--no-sandbox"], cwd=notebook.parent, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return page.read_text()


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    place = tmp_path_factory.mktemp("marimo")
    env = marimo_env(place)
    env["KIRIN_SIMULATOR_SECONDS"] = "1"
    return _export(copy_tour(place), env), place


def _cards(page: str) -> dict[str, str]:
    """The live cards' last frames, by the kind of card."""
    frames = {}
    for state in widget_states(page).values():
        frame = state.get("frame", "")
        kind = re.search(r'class="kirin kirin-card (?:kirin-fit )?(kirin-\w+)', frame)
        if state.get("_model_name") == "AnyModel" and kind:
            frames[kind.group(1)] = frame
    return frames


def test_every_cell_ran_without_an_error(tour: tuple[str, Path]) -> None:
    page, _ = tour
    ran = cells(page)
    assert len(ran) == 10
    for cell in ran:
        assert all(output.get("type") != "error" for output in cell["outputs"]), cell
        assert not [c for c in cell["console"] if c.get("name") == "stderr"], cell


def test_the_live_cards_ended_as_the_finished_cards(tour: tuple[str, Path]) -> None:
    cards = _cards(tour[0])
    assert set(cards) == {"kirin-result", "kirin-batch", "kirin-sweep"}
    job = cards["kirin-result"]
    assert 'data-state="completed"' in job and "a red fox in the snow" in job
    assert job.count('<img src="data:image/jpeg;base64,') == 2  # n=2 by default
    batch = cards["kirin-batch"]
    assert "kirin-batch-result" in batch and batch.count("<img") == 3
    sweep = cards["kirin-sweep"]
    assert "kirin-sweep-result" in sweep and sweep.count('data-state="done"') == 4
    assert sweep.count("<img") == 4
    for frame in cards.values():
        assert not re.search(r'data-state="(running|queued|submitting)"', frame), frame


def test_the_awaited_result_and_the_comparison_show_in_later_cells(
        tour: tuple[str, Path]) -> None:
    shown = [html.unescape(html_of(cell)) for cell in cells(tour[0])]  # scripts: iframes
    results = [h for h in shown if "kirin-result" in h and "kirin-compare" not in h]
    assert len(results) == 1 and results[0].count("<img") == 2
    compared = [h for h in shown if "kirin-compare" in h]
    assert len(compared) == 1 and compared[0].count("<img") == 2  # the slider: two
    assert "Kirin sweep plan" in "".join(
        c.get("text", "") for cell in cells(tour[0]) for c in cell["console"])


def test_export_wrote_every_result_of_the_tour(tour: tuple[str, Path]) -> None:
    _, place = tour
    with zipfile.ZipFile(place / "marimo-tour-export.zip") as archive:
        pictures = [n for n in archive.namelist() if n.endswith(".png")]
        assert "manifest.json" in archive.namelist()
    assert len(pictures) == 2 + 3 + 4  # the job, the batch, the sweep


def test_the_panel_says_in_one_line_where_to_look(tmp_path: Path) -> None:
    notebook = tmp_path / "panel.py"
    notebook.write_text(
        "import marimo\napp = marimo.App()\n\n@app.cell\ndef _():\n"
        "    import kirin_jupyter as kirin\n    kirin.Panel()\n    return\n")
    page = _export(notebook, marimo_env(tmp_path))
    (cell,) = cells(page)
    text = "".join(str(o.get("data", {}).get("text/plain", "")) + html_of({"outputs": [o]})
                   for o in cell["outputs"])
    assert "marimo_tour.py" in text and "ipywidgets" in text
    assert len(text.strip().splitlines()) == 1, text
