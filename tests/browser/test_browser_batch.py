"""A batch of 30 prompts in a real JupyterLab, in headless Chromium, as a designer checks it.

Run All on: load the extension, a named batch of 30 (shown as the cell's value), its second
gallery page, and a small batch with one failed item. Then:

1. the live card shows (counts, bar, cost line; no images) and its counts move; while it
   runs, in JupyterLab Light and Dark and in a 480 px window, its text reads at 4.5:1 or
   more (``low_contrast``) and nothing is cut off or spills over (``overflowing``);
2. the live card is replaced, in its own cell, by the final card: "30 done", a full bar,
   one page of 24 thumbnails in 3 full rows of 8, the page note naming page 2, and the
   cost line as written (JupyterLab's MathJax does not take "$1.20 of about $1.20" for
   LaTeX); the page 2 cell shows the other 6; the failed item is listed on its card;
3. the same contrast and overflow checks on the final cards, in Dark, narrow, and Light;
4. screenshots ``batch-live.png``, ``batch-light.png``, ``batch-dark.png`` and
   ``batch-narrow.png``, written under ``tmp_path`` and copied to ``$KIRIN_SCREENSHOT_DIR``
   when it is set (``make screenshots`` sets docs/screenshots).

The simulator's tasks take 1.5 s and the batch runs 3 at a time, so the live card stays up
for about 15 s: long enough to check it in both themes. Takes about 40 s.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from tests.browser.browser_checks import (
    collapse_left_sidebar,
    low_contrast,
    overflowing,
    switch_theme,
)
from tests.browser.browser_helpers import (
    cell_outputs,
    chromium,
    jupyterlab,
    keep_screenshots,
    open_notebook,
    require_chromium,
    run_all_cells,
    screenshot_cells,
    write_notebook,
)

TASK_SECONDS = 1.5
ITEMS = 30
CELLS = [
    "%load_ext kirin_jupyter\nimport kirin_jupyter as kirin\n\nclient = kirin.default_client()",
    "prompts = [f'A hand-painted ceramic tile, pattern number {i}, top view'\n"
    f"           for i in range(1, {ITEMS + 1})]\n"
    "tiles = client.batch(prompts, name='ceramic-tiles', aspect_ratio='1:1', concurrency=3)\n"
    "tiles",
    "tiles.wait()\ntiles.page(2)",
    "from kirin_jupyter.simulator.service import Fault\n\n"
    "client.simulator.add_fault(Fault('create', 'fail_task', code='002016095', times=1))\n"
    "shaky = client.batch(['A glass of lemonade in the sun', 'A bicycle against a yellow wall',"
    "\n                      'A kite over a windy beach'], name='shaky', concurrency=1)\n"
    "shaky.wait()\nshaky",
    "%kirin wait",
]
SETUP, TILES, PAGE2, SHAKY, WAIT = range(5)
LIVE = ".kirin-card.kirin-batch-live"
# The finished card's widget (buttons on its pictures); its static copy is hidden after it.
FINAL = ".kirin-tiles .kirin-card.kirin-batch-result"
MAX_PNG = 300_000


def test_batch_card_in_jupyterlab_light_dark_narrow(tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import expect

    root = tmp_path / "root"
    root.mkdir()
    notebook = write_notebook(root / "batch.ipynb", CELLS)
    env = {
        "KIRIN_SIMULATOR_SECONDS": str(TASK_SECONDS),
        "KIRIN_HOME": str(tmp_path / "kirin_home"),
        "KIRIN_OUTPUT_DIR": "kirin_outputs",
    }
    shots: list[Path] = []
    with chromium(tmp_path / "profile") as browser, \
            jupyterlab(root, env=env, state_dir=tmp_path / "lab") as lab:
        page = open_notebook(browser, lab, notebook.name)
        page.set_viewport_size({"width": 1280, "height": 1800})
        collapse_left_sidebar(page)
        run_all_cells(page)

        # 1. The live card: counts, a bar and the money line, no images; it moves.
        live = cell_outputs(page, TILES).locator(LIVE)
        live.wait_for(timeout=30_000)
        expect(live.locator(".kirin-counts")).to_contain_text("done")
        expect(live.locator(".kirin-bar")).to_have_count(1)
        expect(live).to_contain_text(re.compile(r"cost so far \$\d+\.\d\d of about \$1\.20"))
        expect(live.locator("img")).to_have_count(0)
        first_done = _done(live)
        scope = _scope(page, TILES)
        deadline = time.monotonic() + 20  # its counts move: photographed a fifth of the way
        while 0 <= _done(live) < ITEMS // 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        moved = _done(live)
        assert first_done < moved < ITEMS, (first_done, moved)
        for theme in ("light", "dark"):
            if theme == "dark":
                switch_theme(page, "JupyterLab Dark")
            assert low_contrast(page, scope) == [], ("live", theme)
            assert overflowing(page, scope) == [], ("live", theme)
            if theme == "light":
                shots.append(_screenshot(page, [TILES], tmp_path / "batch-live.png"))
        page.set_viewport_size({"width": 480, "height": 1800})
        assert overflowing(page, scope) == [], ("live", "narrow")
        page.set_viewport_size({"width": 1280, "height": 1800})
        assert live.count() == 1, "the batch ended before its live card was checked"

        # 2. Replaced by the final card in the same cell: counts, full bar, a page of 24.
        final = cell_outputs(page, TILES).locator(FINAL)
        expect(final).to_have_count(1, timeout=60_000)
        expect(cell_outputs(page, TILES).locator(LIVE)).to_have_count(0)
        expect(cell_outputs(page, TILES)).to_have_count(2)  # replaced, and its copy after
        expect(cell_outputs(page, TILES).nth(1).locator(".kirin-copy")).to_be_hidden()
        expect(final.locator(".kirin-counts")).to_contain_text(f"{ITEMS} done")
        expect(final.locator(".kirin-counts")).to_contain_text("0 failed")
        assert final.locator(".kirin-bar").get_attribute("aria-valuenow") == "100"
        assert final.get_attribute("data-state") == "completed"
        _expect_images(final.locator(".kirin-batch-gallery img"), 24)
        expect(final.locator(".kirin-page-note")).to_contain_text(
            "page 1 of 2 (30 done); next: batch.page(2)")
        # The money line reads as written: no dollar pair typeset as maths by MathJax, and
        # a finished batch's cost is its cost, not "so far".
        expect(final.locator(".kirin-foot")).to_contain_text("cost $1.20 of about $1.20")
        expect(final).not_to_contain_text("so far")
        # Each tile says which prompt it answers: its number and the start of its prompt.
        captions = final.locator(".kirin-batch-gallery .kirin-cap")
        expect(captions).to_have_count(24)
        expect(captions.nth(6)).to_contain_text("#7 A hand-painted ceramic tile")
        expect(page.locator(".jp-OutputArea-output mjx-container")).to_have_count(0)
        tops, lefts = _grid(final)
        assert len(lefts) == 8 and len(tops) == 3, (tops, lefts)  # 3 rows of 8 when wide

        second = cell_outputs(page, PAGE2).locator(".kirin-tiles .kirin-batch-page")
        expect(second).to_have_count(1, timeout=30_000)
        _expect_images(second.locator("img"), ITEMS - 24)
        expect(second.locator(".kirin-page-note")).to_contain_text("page 2 of 2")
        assert second.locator(".kirin-tile").first.get_attribute("title", timeout=2000) \
            .startswith("#25: ")
        _mark_a_tile(page, second, 2)  # item 27
        expect(final.locator(".kirin-mark-row")).to_have_count(24)  # one a tile

        shaky = cell_outputs(page, SHAKY).locator(FINAL)
        expect(shaky).to_have_count(1, timeout=60_000)
        expect(shaky.locator(".kirin-failures li")).to_have_count(1)
        expect(shaky.locator(".kirin-failures")).to_contain_text("A glass of lemonade")
        expect(shaky.locator(".kirin-counts")).to_contain_text("1 failed")
        _expect_images(shaky.locator("img"), 2)
        expect(cell_outputs(page, WAIT)).to_contain_text("completed", timeout=30_000)

        # 3. The final cards, in Dark (the theme now), narrow, then Light.
        scopes = [_scope(page, index) for index in (TILES, PAGE2, SHAKY)]
        for theme in ("dark", "light"):
            if theme == "light":
                switch_theme(page, "JupyterLab Light")
            for each in scopes:
                assert low_contrast(page, each) == [], (theme, each)
                assert overflowing(page, each) == [], (theme, each)
            shots.append(_screenshot(page, [TILES, PAGE2, SHAKY],
                                     tmp_path / f"batch-{theme}.png"))
            page.set_viewport_size({"width": 480, "height": 1800})
            for each in scopes:
                assert overflowing(page, each) == [], ("narrow", theme, each)
            tops, lefts = _grid(final)
            assert 3 <= len(lefts) <= 5, lefts  # fewer, still usable tiles; no cut-off
            if theme == "dark":
                shots.append(_screenshot(page, [TILES], tmp_path / "batch-narrow.png"))
            page.set_viewport_size({"width": 1280, "height": 1800})
        page.close()

    # 4. Screenshots, small enough to commit.
    keep_screenshots(shots, min_bytes=10_000, max_bytes=MAX_PNG)
    assert sorted(shot.name for shot in shots) == [
        "batch-dark.png", "batch-light.png", "batch-live.png", "batch-narrow.png"]


def _mark_a_tile(page: Any, card: Any, tile: int) -> None:
    """Four stars and a pick on a tile, clicked: its picture does not open (the tile is a
    link), and no tile of the grid moves or changes height."""
    from playwright.sync_api import expect

    boxes = _placed(card, ".kirin-batch-gallery .kirin-tile")
    row = card.locator(".kirin-mark-row").nth(tile)
    pages = len(page.context.pages)
    row.locator(".kirin-mark-star").nth(3).click()
    expect(row.locator(".kirin-mark-star").nth(3)).to_have_attribute("aria-pressed", "true")
    row.locator(".kirin-mark-pick").click()
    expect(row.locator(".kirin-mark-pick")).to_have_attribute("aria-pressed", "true")
    assert len(page.context.pages) == pages  # no tab opened on the picture
    assert _placed(card, ".kirin-batch-gallery .kirin-tile") == boxes
    page.mouse.move(0, 0)  # no hover left in the screenshots


def _placed(card: Any, selector: str) -> list[tuple[float, float, float, float]]:
    """Where each ``selector`` in ``card`` is, from the card's corner (a click may scroll
    the page), and its size."""
    corner = card.bounding_box()
    boxes = [card.locator(selector).nth(i).bounding_box()
             for i in range(card.locator(selector).count())]
    return [(round(box["x"] - corner["x"], 1), round(box["y"] - corner["y"], 1),
             round(box["width"], 1), round(box["height"], 1)) for box in boxes]


def _done(card: Any) -> int:
    """The live card's "N done", or -1 once the card is gone."""
    try:
        text = card.locator(".kirin-counts").inner_text(timeout=1000)
    except Exception:  # replaced by the final card meanwhile
        return -1
    found = re.search(r"(\d+)\s*done", text)
    return int(found[1]) if found else -1


def _grid(card: Any) -> tuple[set[int], set[int]]:
    """The distinct rows (tops) and columns (lefts) of a card's gallery tiles."""
    boxes = card.locator(".kirin-batch-gallery .kirin-tile").evaluate_all(
        "tiles => tiles.map(t => { const r = t.getBoundingClientRect();"
        " return [Math.round(r.top), Math.round(r.left)]; })")
    return {top for top, _ in boxes}, {left for _, left in boxes}


def _expect_images(images: Any, count: int) -> None:
    """``count`` JPEG thumbnails, each decoded by the browser."""
    from playwright.sync_api import expect

    expect(images).to_have_count(count)
    for index in range(count):
        image = images.nth(index)
        expect(image).to_have_js_property("complete", True)
        assert (image.get_attribute("src") or "").startswith("data:image/jpeg;base64,")
        assert image.evaluate("img => img.naturalWidth") > 0


CELL = ".jp-Notebook .jp-Cell"


def _scope(page: Any, index: int) -> str:
    """A CSS selector for the outputs of the index-th cell (all cells here are code)."""
    page.locator(CELL).nth(index).evaluate(
        f"cell => cell.setAttribute('data-kirin-check', '{index}')")
    return f'[data-kirin-check="{index}"] .jp-OutputArea-output'


def _screenshot(page: Any, indexes: list[int], path: Path) -> Path:
    """The given cells, cropped to the cards' width."""
    return screenshot_cells(page, indexes, path, fit=".kirin-card")
