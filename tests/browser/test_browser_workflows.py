"""Issue 13's views in a real JupyterLab, in headless Chromium, as a designer checks them.

Run All on: load the extension; two one-image jobs shown with ``compare`` (the slider);
the same two and a third (the strip); a 2 x 2 sweep on a slower simulator (its live card,
then the labelled grid in its place); a chain of three generations, each made from the last
(``--image $job``); ``%kirin show`` of the last one's file; ``%kirin lineage`` of it. Then:

1. the slider's two pictures are decoded and lined up (the before picture, clipped by its
   box, is exactly as wide as the after picture), the box starts at half the width, and
   dragging the dividing line itself (its own script: a trusted output) narrows and widens
   it by what the mouse moved, also when pressed a few pixels off the line; focused, the
   arrow keys, End and Home move it (no kernel is asked);
2. the strip shows three labelled pictures in one row; the sweep's live card and its grid
   have 4 cells and are no wider than what they hold (a card much wider than its grid looks
   unfinished); the record names its parent; the lineage is three thumbnails, oldest first,
   the first drawn by the picture the second used (``--image $sketch[1]``: the sketch's
   second, by its colours, not its first);
3. in JupyterLab Light and Dark and in a 480 px window every text reads at 4.5:1 or more
   (``low_contrast``) and nothing is cut off or spills over (``overflowing``), except the
   slider's before box, whose clipping is the design; at 480 px the pictures still line up,
   every card stays inside its output area, and the sweep's grid keeps both columns inside
   its card (its pictures scaled, nothing to scroll sideways);
4. screenshots ``compare-{light,dark,narrow}.png``, ``sweep-live-light.png``,
   ``sweep-grid-{light,narrow}.png``, ``provenance-{light,dark}.png`` (the dark one with the
   lineage under the record), ``lineage-light.png`` and ``lineage-narrow.png`` (record and
   lineage at 480 px, Dark), copied to ``$KIRIN_SCREENSHOT_DIR`` when it is set.

Takes about 30 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.browser_checks import (
    collapse_left_sidebar,
    low_contrast,
    overflowing_but_the_slider,
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

CELLS = [
    "%load_ext kirin_jupyter\nimport kirin_jupyter as kirin\n"
    "from kirin_jupyter.simulator.service import SimulatorService",
    "dusk = kirin.generate('A lighthouse on a rock at dusk, oil painting', aspect_ratio='1:1')\n"
    "dawn = kirin.generate('The same lighthouse at dawn, soft watercolour', aspect_ratio='1:1')\n"
    "kirin.compare(dusk.wait(), dawn.wait())",
    "night = kirin.generate('The lighthouse at night, beam across the fog', aspect_ratio='1:1')\n"
    "kirin.compare(dusk.result, dawn.result, night.wait())",
    # A slower simulator of its own, so the live card stays up long enough to be looked at.
    "slow = kirin.Client(simulator=SimulatorService(task_seconds=6))\n"
    "grid = slow.sweep('A lighthouse, {oil painting|watercolour}', aspect_ratio=['1:1', '16:9'])\n"
    "grid",
    "%%kirin sketch -n 2 --ar 1:1 --wait\nA lighthouse on a rock, pencil sketch",
    "%%kirin inked --image $sketch[1] --ar 1:1 --wait\n"
    "The same lighthouse inked, <<<image_1>>>",
    "%%kirin painted --image $inked --ar 1:1 --wait\n"
    "The same lighthouse painted in gouache at dusk, <<<image_1>>>",
    "path = painted.result.paths[0]\n%kirin show $path",
    "%kirin lineage $painted",
    "%kirin wait",
]
SETUP, SLIDER, STRIP, SWEEP, SKETCH, INKED, PAINTED, SHOW, LINEAGE, WAIT = range(10)
BEFORE = ".kirin-compare-slider .kirin-compare-before"
DIVIDER = ".kirin-compare-slider .kirin-divider"
CARD_SLACK = 24  # px: the card's padding and border, and a header cell's padding
# The right-most edge of a card's texts, pills, pictures and tables, from the card's right.
_SPARE_JS = """
(card) => {
  const box = card.getBoundingClientRect();
  let right = box.left;
  const walker = document.createTreeWalker(card, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const rect of range.getClientRects()) right = Math.max(right, rect.right);
  }
  for (const el of card.querySelectorAll('table, img, .kirin-pill'))
    right = Math.max(right, el.getBoundingClientRect().right);
  return box.right - right;
}
"""
MAX_PNG = 400_000
VIEWS = ".kirin-compare, .kirin-card, .kirin-record, .kirin-lineage"


def test_compare_views_and_sweep_grid_in_jupyterlab(tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import expect

    root = tmp_path / "root"
    root.mkdir()
    notebook = write_notebook(root / "workflows.ipynb", CELLS)
    env = {"KIRIN_SIMULATOR_SECONDS": "0.5", "KIRIN_HOME": str(tmp_path / "kirin_home"),
           "KIRIN_OUTPUT_DIR": "kirin_outputs"}
    shots: list[Path] = []
    with chromium(tmp_path / "profile") as browser, \
            jupyterlab(root, env=env, state_dir=tmp_path / "lab") as lab:
        page = open_notebook(browser, lab, notebook.name)
        page.set_viewport_size({"width": 1280, "height": 1900})
        collapse_left_sidebar(page)
        run_all_cells(page)

        slider = cell_outputs(page, SLIDER).locator(".kirin-compare-slider")
        expect(slider).to_have_count(1, timeout=60_000)
        strip = cell_outputs(page, STRIP).locator(".kirin-compare-strip")
        expect(strip).to_have_count(1, timeout=30_000)

        # The live sweep card (6 s a cell), then the static grid in its place: each no
        # wider than its header and grid.
        live = cell_outputs(page, SWEEP).locator(".kirin-sweep-live")
        expect(live).to_have_count(1, timeout=30_000)
        expect(live.locator(".kirin-sweep-cell")).to_have_count(4)
        assert _spare_width(live) <= CARD_SLACK, _spare_width(live)
        shots.append(_screenshot(page, [SWEEP], tmp_path / "sweep-live-light.png"))
        assert live.count() == 1  # the picture is of the live card, not of the grid
        sweep = cell_outputs(page, SWEEP).locator(".kirin-tiles .kirin-sweep-result")
        expect(sweep).to_have_count(1, timeout=60_000)
        expect(cell_outputs(page, SWEEP).locator(".kirin-sweep-live")).to_have_count(0)
        expect(cell_outputs(page, SWEEP)).to_have_count(2)  # replaced, and its copy after
        expect(cell_outputs(page, SWEEP).nth(1).locator(".kirin-copy")).to_be_hidden()

        record = cell_outputs(page, SHOW).locator(".kirin-record")
        expect(record).to_have_count(1, timeout=60_000)
        lineage = cell_outputs(page, LINEAGE).locator(".kirin-lineage")
        expect(lineage).to_have_count(1, timeout=30_000)
        expect(cell_outputs(page, WAIT)).to_have_count(1, timeout=30_000)
        _expect_images(slider.locator("img"), 2)
        _expect_images(strip.locator("img"), 3)
        _expect_images(sweep.locator(".kirin-sweep-cell img"), 4)
        assert _spare_width(sweep) <= CARD_SLACK, _spare_width(sweep)
        # A cell's picture takes three stars; the grid's cells keep their size.
        cells = _placed(sweep, ".kirin-sweep-cell")
        stars = sweep.locator(".kirin-mark-row").nth(3).locator(".kirin-mark-star")
        stars.nth(2).click()
        expect(stars.nth(2)).to_have_attribute("aria-pressed", "true")
        expect(stars.nth(2)).to_have_text("★")
        assert _placed(sweep, ".kirin-sweep-cell") == cells
        page.mouse.move(0, 0)  # no hover left in the screenshots
        expect(strip.locator(".kirin-compare-label")).to_have_count(3)
        assert len({round(box["y"]) for box in _boxes(strip.locator("img"))}) == 1  # one row

        # The record of the third generation names its parent; the chain is three
        # thumbnails in one row, oldest first.
        _expect_images(record.locator("img"), 1)
        expect(record).to_contain_text("painted in gouache")
        expect(record).to_contain_text("reference 1")
        expect(record).to_contain_text("result of task")
        nodes = lineage.locator(".kirin-lineage-node")
        expect(nodes).to_have_count(3)
        _expect_images(lineage.locator("img"), 3)
        for index, words in enumerate(("pencil sketch", "inked", "gouache")):
            expect(nodes.nth(index)).to_contain_text(words)
        assert len({round(box["y"]) for box in _boxes(nodes)}) == 1
        # The sketch is drawn by the picture the inked one used ($sketch[1], its second),
        # not by its first: same file, same colours as that tile of the sketch's gallery.
        assert nodes.nth(0).get_attribute("data-file") == "02.png"
        tiles = cell_outputs(page, SKETCH).locator(".kirin-tiles .kirin-result .kirin-tile img")
        _expect_images(tiles, 2)
        drawn = _mean_colour(nodes.nth(0).locator("img"))
        used, first = _mean_colour(tiles.nth(1)), _mean_colour(tiles.nth(0))
        assert _distance(drawn, used) < 12 < _distance(drawn, first), (drawn, used, first)
        expect(nodes.nth(0)).to_contain_text("used: 02.png of 2")

        # 1. Lined up, half open; the line itself drags both ways (grabbed a few pixels
        # off it too), and the keyboard moves it once it has the focus.
        _assert_lined_up(page)
        box = page.locator(BEFORE).bounding_box()
        stage = page.locator(".kirin-compare-slider .kirin-compare-stage").bounding_box()
        assert abs(box["width"] - stage["width"] / 2) <= 2, (box, stage)
        divider = page.locator(DIVIDER)
        expect(divider).to_have_attribute("role", "slider")
        assert divider.bounding_box()["width"] >= 24  # a target, not a 10 px grip
        expect(slider.locator(".kirin-compare-hint")).to_contain_text("drag the line")
        assert abs(_drag(page, -150) - (box["width"] - 150)) <= 3
        assert abs(_drag(page, +250, off=6) - (box["width"] - 150 + 6 + 250)) <= 3
        _assert_lined_up(page)
        _drag(page, 0, to_half=True)
        divider.focus()
        for _ in range(5):
            page.keyboard.press("ArrowLeft")  # 2 % a press
        assert abs(page.locator(BEFORE).bounding_box()["width"] - stage["width"] * 0.4) <= 2
        expect(divider).to_have_attribute("aria-valuenow", "40")
        page.keyboard.press("End")
        assert abs(page.locator(BEFORE).bounding_box()["width"] - stage["width"]) <= 2
        page.keyboard.press("Home")
        assert page.locator(BEFORE).bounding_box()["width"] <= 1
        _drag(page, 0, to_half=True)
        _assert_lined_up(page)

        # 2-3. Light, Dark, narrow (in Dark): contrast and overflow; screenshots.
        checked = (SLIDER, STRIP, SWEEP, SHOW, LINEAGE)
        scopes = {index: _scope(page, index) for index in checked}
        for theme in ("light", "dark"):
            if theme == "dark":
                switch_theme(page, "JupyterLab Dark")
            _check(page, scopes, theme)
            shots.append(_screenshot(page, [SLIDER, STRIP], tmp_path / f"compare-{theme}.png"))
            if theme == "light":
                shots.append(_screenshot(page, [SWEEP], tmp_path / "sweep-grid-light.png"))
                shots.append(_screenshot(page, [SHOW], tmp_path / "provenance-light.png"))
                shots.append(_screenshot(page, [LINEAGE], tmp_path / "lineage-light.png"))
            else:
                shots.append(_screenshot(page, [SHOW, LINEAGE],
                                         tmp_path / "provenance-dark.png"))
        page.set_viewport_size({"width": 480, "height": 1900})
        page.wait_for_timeout(300)
        _check(page, scopes, "narrow")
        _assert_lined_up(page)
        assert _drag(page, -60) < page.locator(".kirin-compare-stage").bounding_box()["width"]
        for card in (sweep, record, lineage):  # inside the output area, however narrow
            area = card.locator("xpath=..").bounding_box()
            assert card.bounding_box()["x"] + card.bounding_box()["width"] <= \
                area["x"] + area["width"] + 1
        # The sweep's grid shrinks its columns and pictures: every column within its card,
        # nothing to scroll sideways, both pictures of a row side by side.
        assert sweep.evaluate(_GRID_FITS_JS) == [], sweep.evaluate(_GRID_FITS_JS)
        pictures = _boxes(sweep.locator(".kirin-sweep-cell img"))
        assert len({round(box["y"]) for box in pictures[:2]}) == 1
        shots.append(_screenshot(page, [SLIDER, STRIP], tmp_path / "compare-narrow.png"))
        shots.append(_screenshot(page, [SWEEP], tmp_path / "sweep-grid-narrow.png"))
        shots.append(_screenshot(page, [SHOW, LINEAGE], tmp_path / "lineage-narrow.png"))
        page.close()

    # 4. Screenshots, small enough to commit.
    keep_screenshots(shots, min_bytes=5_000, max_bytes=MAX_PNG)
    assert len(shots) == 10


def _check(page: Any, scopes: dict[int, str], when: str) -> None:
    """Every checked output, scrolled into view (JupyterLab may skip laying out cells off
    screen): texts at 4.5:1 or more, nothing cut off or spilling over."""
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    for index, scope in scopes.items():
        cells.nth(index).scroll_into_view_if_needed()
        found = low_contrast(page, scope) + overflowing_but_the_slider(page, scope)
        assert not found, (when, scope, found)


def _spare_width(card: Any) -> float:
    """Room a card keeps on its right past everything drawn in it (texts, pills, pictures,
    its grid): a card much wider than its content looks unfinished."""
    return float(card.evaluate(_SPARE_JS))


def _drag(page: Any, dx: float, *, to_half: bool = False, off: float = 0) -> float:
    """Drag the dividing line by ``dx`` px, as a person would with the mouse: pressed on
    the line (``off`` px beside it), halfway down the pictures; the before box's width
    after."""
    line = page.locator(DIVIDER).bounding_box()
    x, y = line["x"] + line["width"] / 2 + off, line["y"] + line["height"] / 2 + 40
    if to_half:
        stage = page.locator(".kirin-compare-slider .kirin-compare-stage").bounding_box()
        dx = stage["x"] + stage["width"] / 2 - (x - off)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y, steps=4)
    page.mouse.move(x + dx, y, steps=4)
    page.mouse.up()
    return float(page.locator(BEFORE).bounding_box()["width"])


_MEAN_JS = """
(img) => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 16;
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0, 16, 16);
  const data = context.getImageData(0, 0, 16, 16).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c++) sum[c] += data[i + c];
  return sum.map(v => v / (data.length / 4));
}
"""


def _mean_colour(image: Any) -> list[float]:
    """The picture's average colour, as the browser decoded it."""
    return list(image.evaluate(_MEAN_JS))


def _distance(a: list[float], b: list[float]) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5)


# Every header and cell of the sweep's grid inside the card's padding box, and the grid's
# box not scrolling sideways: the pictures scaled, none cut.
_GRID_FITS_JS = """
(card) => {
  const edge = card.getBoundingClientRect().right - parseFloat(getComputedStyle(card).paddingRight);
  const found = [];
  for (const el of card.querySelectorAll('.kirin-sweep-col, .kirin-sweep-cell, .kirin-sweep-cell img'))
    if (el.getBoundingClientRect().right > edge + 1)
      found.push(`${el.className || el.tagName} ends at ${el.getBoundingClientRect().right} > ${edge}`);
  const box = card.querySelector('.kirin-sweep-box');
  if (box.scrollWidth > box.clientWidth + 1)
    found.push(`the grid scrolls: ${box.scrollWidth} in ${box.clientWidth}`);
  return found;
}
"""


def _assert_lined_up(page: Any) -> None:
    """Before and after pictures have the same place and size, whatever the box's width."""
    before = page.locator(f"{BEFORE} img").bounding_box()
    after = page.locator(".kirin-compare-slider .kirin-compare-after img").bounding_box()
    for key in ("x", "y", "width", "height"):
        assert abs(before[key] - after[key]) <= 1, (key, before, after)
    assert after["width"] > 100


def _placed(card: Any, selector: str) -> list[tuple[float, float, float, float]]:
    """Where each ``selector`` in ``card`` is, from the card's corner (a click may scroll
    the page), and its size."""
    corner = card.bounding_box()
    return [(round(box["x"] - corner["x"], 1), round(box["y"] - corner["y"], 1),
             round(box["width"], 1), round(box["height"], 1))
            for box in _boxes(card.locator(selector))]


def _boxes(locator: Any) -> list[dict[str, float]]:
    return [locator.nth(i).bounding_box() for i in range(locator.count())]


def _expect_images(images: Any, count: int) -> None:
    from playwright.sync_api import expect

    expect(images).to_have_count(count, timeout=30_000)
    for index in range(count):
        image = images.nth(index)
        expect(image).to_have_js_property("complete", True)
        assert (image.get_attribute("src") or "").startswith("data:image/jpeg;base64,")
        assert image.evaluate("img => img.naturalWidth") > 0


def _scope(page: Any, index: int) -> str:
    page.locator(".jp-Notebook .jp-Cell").nth(index).evaluate(
        f"cell => cell.setAttribute('data-kirin-check', '{index}')")
    return f'[data-kirin-check="{index}"] .jp-OutputArea-output'


def _screenshot(page: Any, indexes: list[int], path: Path) -> Path:
    """The given cells, cropped to its views' width plus a margin."""
    return screenshot_cells(page, indexes, path, fit=VIEWS, margin=16, settle_ms=200)
