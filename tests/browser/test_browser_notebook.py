"""A notebook of ``%%kirin`` cells run in a real JupyterLab, in headless Chromium.

Run All on: load the extension, an omni job of 4 images (one row), a plain cell, a v3 job of 1 image,
``%kirin wait``. It shows, in the browser and in the saved file:

1. the first card's progress bar moves through several increasing widths while its
   (4-second, simulated) task runs;
2. each job's gallery lands in its own cell, although both jobs end while the *last* cell
   (``%kirin wait``) is executing: the engine sends the final ``update_display_data``
   parented to that cell, and JupyterLab routes it by display id to the cell that showed the
   card (its kernel connection keeps, per display id, the execute requests that displayed
   it, and a notebook cell's request stays alive until the cell runs again). The plain cell
   and the wait cell get no images;
3. the notebook saved through the File menu holds the thumbnails in the magic cells
   (read back with nbformat), and reopened in a *new* JupyterLab on the same folder that
   cannot start any kernel (``allowed_kernelspecs`` names none; "No Kernel" is chosen) in a
   fresh page with a fresh Jupyter state (so the notebook is not trusted there), the
   galleries still render: static HTML with JPEG data URIs, no kernel, no widgets;
4. the live card and the finished card share one frame (the card, its title and prompt do
   not move when the gallery replaces the bar); in JupyterLab Light and Dark every text of
   the cards and of ``%kirin history`` reads at 4.5:1 or more, and nothing overflows, also
   in a 480 px window, where every job's state, model, cost and date are in view with
   nothing to scroll sideways; reopened untrusted, no ``<style>`` or script is left (the
   sanitiser's doing: the outputs' inline fallback shows), and the cards and the history
   still read at 4.5:1, overflow nothing, and keep those columns in view at 480 px;
5. screenshots: a card mid-progress, the magic cells with their galleries in Light and Dark,
   the history (Light, Dark, 480 px, and untrusted), a narrow window; written under
   ``tmp_path`` and copied to ``$KIRIN_SCREENSHOT_DIR`` when it is set (``make screenshots``
   sets docs/screenshots);
6. the finished cards' pictures take stars, a pick and a reject, clicked and from the
   keyboard (the focus stays on the star pressed; the current star again clears it): the
   kernel's journal and the file's ``xmp:Rating`` have them, no tile and no card changes
   height, and the saved file's static copy shows them. The card's static copy is hidden
   while its widget is drawn, and the author reopening the notebook (trusted, a new
   kernel) sees the copy and not JupyterLab's "model not found" line.

Takes about 40 s on 2 cores (three JupyterLab starts, one 4 s job pair).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import nbformat

from tests.browser.browser_checks import (
    collapse_left_sidebar,
    low_contrast,
    overflowing,
    switch_theme,
)
from tests.browser.browser_helpers import (
    LabServer,
    cell_outputs,
    chromium,
    jupyterlab,
    keep_screenshots,
    open_notebook,
    require_chromium,
    run_all_cells,
    save_notebook,
    screenshot_cells,
    write_notebook,
)

TASK_SECONDS = 4
CELLS = [
    "%load_ext kirin_jupyter",
    "%%kirin fox -m omni -n 4 --ar 1:1\nA red fox asleep in fresh snow, watercolor",
    "answer = 6 * 7\nprint('a plain cell:', answer)",
    "%%kirin owl -m v3 --ar 16:9\nAn owl on a lighthouse railing at dusk",
    "%kirin wait",
    "%kirin history 5",
]
OMNI, PLAIN, V3, WAIT, HISTORY = 1, 2, 3, 4, 5
IMAGES = {OMNI: 4, V3: 1}  # cell index -> thumbnails expected there
BAR = ".kirin-card.kirin-live .kirin-bar-fill"
FINISHED = ".kirin-tiles div.kirin-result"  # the finished card's widget, while it lives
MAX_PNG = 300_000


def test_notebook_of_magic_cells_in_jupyterlab(tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import expect

    root = tmp_path / "root"
    root.mkdir()
    notebook = write_notebook(root / "kirin.ipynb", CELLS)
    env = {
        "KIRIN_SIMULATOR_SECONDS": str(TASK_SECONDS),
        "KIRIN_HOME": str(tmp_path / "kirin_home"),
        "KIRIN_OUTPUT_DIR": "kirin_outputs",  # relative to the kernel's folder, as by default
    }
    shots: list[Path] = []
    with chromium(tmp_path / "profile") as browser:
        with jupyterlab(root, env=env, state_dir=tmp_path / "lab") as lab:
            page = open_notebook(browser, lab, notebook.name)
            page.set_viewport_size({"width": 1280, "height": 1400})
            run_all_cells(page)

            # 1. The omni card's bar moves while its task runs.
            bar = cell_outputs(page, OMNI).locator(BAR)
            bar.wait_for(timeout=30_000)
            gallery = cell_outputs(page, OMNI).locator("div.kirin-result")
            widths: list[float] = []
            live_frame = None
            deadline = time.monotonic() + TASK_SECONDS + 30
            while gallery.count() == 0 and time.monotonic() < deadline:
                width = _bar_width(bar)
                if width is not None and (not widths or width != widths[-1]):
                    widths.append(width)
                    # Mid-way, or as late as seen: the bar can leap when the service's
                    # own progress arrives.
                    if 10 <= width <= 95 and (not shots or width <= 80):
                        try:
                            live_frame = _frame(page, OMNI, ".kirin-live")
                            shot = _screenshot(page, [OMNI], tmp_path / "card-live.png")
                        except Exception:  # the result replaced the card meanwhile
                            continue
                        shots[:1] = [shot]
                time.sleep(0.1)
            print("WIDTHS", widths)
            assert len(set(widths)) >= 3 and widths == sorted(widths), widths

            # 2. Each gallery in its own cell, though both jobs ended under the wait cell:
            # the finished card's widget, and its static copy (hidden while it lives).
            for index, count in IMAGES.items():
                result = cell_outputs(page, index).locator(FINISHED)
                expect(result).to_have_count(1, timeout=30_000)
                _expect_images(result.locator("img"), count)
                expect(result.locator(".kirin-mark-row")).to_have_count(count)
                expect(cell_outputs(page, index).locator(BAR)).to_have_count(0)
                expect(cell_outputs(page, index).locator(".kirin-copy")).to_be_hidden()
                expect(cell_outputs(page, index).locator("div.kirin-result")).to_have_count(2)
            wait_kernel_idle_after_run(page)
            expect(cell_outputs(page, PLAIN)).to_have_text(["a plain cell: 42"])
            for index in (PLAIN, WAIT):
                expect(cell_outputs(page, index).locator("img")).to_have_count(0)
                expect(cell_outputs(page, index).locator("div.kirin-result")).to_have_count(0)
            assert "kirin_image_omni" in (cell_outputs(page, OMNI).first.text_content() or "")
            assert "kirin_v3_image" in (cell_outputs(page, V3).first.text_content() or "")

            # 2a. Four results fill one row at the default width.
            tiles = cell_outputs(page, OMNI).locator(f"{FINISHED} .kirin-tile")
            tops = {round(tiles.nth(i).bounding_box()["y"]) for i in range(4)}
            assert len(tops) == 1, tops

            # 6. Stars, a pick and a reject, by mouse and by keyboard: the tiles and the
            # card keep their height, the journal and the files have the marks.
            _mark_tiles(page, cell_outputs(page, OMNI).locator(FINISHED), root)

            # 2b. One frame live and finished: the card, its title and prompt stay put.
            final_frame = _frame(page, OMNI, ".kirin-result")
            assert live_frame is not None
            for name, live in live_frame.items():
                moved = [abs(a - b) for a, b in zip(live, final_frame[name], strict=True)]
                assert max(moved) <= 1.0, (name, live, final_frame[name])

            # 2c. Light, then Dark: text reads at 4.5:1 or more and nothing is cut off.
            for theme in ("light", "dark"):
                if theme == "dark":
                    switch_theme(page, "JupyterLab Dark")
                for index in (OMNI, V3, HISTORY):
                    scope = _scope(page, index)
                    assert low_contrast(page, scope) == [], (theme, index)
                    assert overflowing(page, scope) == [], (theme, index)
                shots.append(_screenshot(page, [OMNI, PLAIN, V3],
                                         tmp_path / f"card-{theme}.png"))
                shots.append(_screenshot(page, [HISTORY], tmp_path / f"history-{theme}.png"))
            page.set_viewport_size({"width": 480, "height": 1400})  # a narrow window
            collapse_left_sidebar(page)
            shots.append(_screenshot(page, [OMNI, PLAIN, V3], tmp_path / "card-narrow-dark.png"))
            for index in (OMNI, V3, HISTORY):
                assert overflowing(page, _scope(page, index)) == [], ("narrow", index)
            # Narrow, a tile's stars and toggles wrap onto a row of their own (never out of
            # the tile), and every tile's row is the same height whatever its marks.
            rows = _boxes(cell_outputs(page, OMNI).locator(f"{FINISHED} .kirin-mark-row"))
            assert len({round(box["height"]) for box in rows}) == 1, rows
            # The history's state, model, cost and date of every job in view, with nothing
            # to scroll sideways (at 480 px it showed only the pictures and the prompt).
            cell_outputs(page, HISTORY).first.scroll_into_view_if_needed()
            assert cell_outputs(page, HISTORY).first.evaluate(_COLUMNS_IN_VIEW_JS) == []
            shots.append(_screenshot(page, [HISTORY], tmp_path / "history-narrow-dark.png"))
            page.set_viewport_size({"width": 1280, "height": 1400})

            # 3a. Saved through the File menu: the file holds the galleries in the right cells.
            save_notebook(page)
            saved = _wait_for_saved_galleries(notebook)
            page.close()
        # The server is gone and its kernel with it.

        # 3a'. The author tomorrow (the same Jupyter state: the notebook is trusted), with a
        # new kernel that has none of the widgets: the static copy with the marks, and no
        # "model not found" line (JupyterLab draws it for the widget; the copy hides it).
        with jupyterlab(root, env=env, state_dir=tmp_path / "lab") as lab:
            page = open_notebook(browser, lab, notebook.name)
            copy = cell_outputs(page, OMNI).locator(".kirin-copy")
            expect(copy).to_be_visible(timeout=30_000)
            _expect_images(copy.locator("img"), IMAGES[OMNI])
            expect(copy.locator(".kirin-marks")).to_have_text(MARKS_SHOWN)
            error = cell_outputs(page, OMNI).filter(has_text="Error displaying widget")
            expect(error).to_have_count(1, timeout=20_000)  # drawn by JupyterLab, hidden
            expect(error).to_be_hidden()
            page.screenshot(path=str(tmp_path / "card-reopened.png"))  # looked at, not kept
            page.close()

        # 3b. A new JupyterLab on the same folder that can start no kernel, fresh state, fresh
        # page: the saved galleries render from the file alone.
        no_kernels = ["--KernelSpecManager.allowed_kernelspecs=no-such-kernel"]
        with jupyterlab(root, env=env, state_dir=tmp_path / "lab2",
                        extra_args=no_kernels) as lab:
            assert _api(lab, "api/kernelspecs")["kernelspecs"] == {}
            page = browser.new_page()
            page.goto(lab.notebook_url(notebook.name))
            page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
            _choose_no_kernel(page)
            for index, count in IMAGES.items():
                result = cell_outputs(page, index).locator("div.kirin-result")
                expect(result).to_have_count(1, timeout=30_000)
                _expect_images(result.locator("img"), count)
            expect(cell_outputs(page, OMNI).locator(".kirin-marks")).to_have_text(MARKS_SHOWN)
            for index in (PLAIN, WAIT):
                expect(cell_outputs(page, index).locator("img")).to_have_count(0)
            expect(page.locator(".jp-Notebook " + BAR)).to_have_count(0)
            # Untrusted here, so JupyterLab sanitises the HTML: it drops every <style> (the
            # outputs keep classes and their short inline fallback), and must still read well.
            page.set_viewport_size({"width": 1280, "height": 1400})
            expect(cell_outputs(page, HISTORY).locator(".kh-row")).to_have_count(3)
            assert page.locator(".jp-Notebook .jp-OutputArea-output style").count() == 0
            assert page.locator(".jp-Notebook .jp-OutputArea-output script").count() == 0
            for theme in ("light", "dark"):
                if theme == "dark":
                    switch_theme(page, "JupyterLab Dark")
                for index in (*IMAGES, HISTORY):
                    assert low_contrast(page, _scope(page, index)) == [], ("saved", theme)
                    assert overflowing(page, _scope(page, index)) == [], ("saved", theme)
            shots.append(_screenshot(page, [OMNI], tmp_path / "card-saved-dark.png"))
            shots.append(_screenshot(page, [HISTORY], tmp_path / "history-saved-dark.png"))
            page.set_viewport_size({"width": 480, "height": 1400})
            collapse_left_sidebar(page)
            assert cell_outputs(page, HISTORY).first.evaluate(_COLUMNS_IN_VIEW_JS) == []
            assert _api(lab, "api/kernels") == []  # nothing ran to show them
            assert _api(lab, "api/sessions") == []
    assert saved.cells[PLAIN].outputs[0]["text"] == "a plain cell: 42\n"

    # 4. Screenshots, small enough to commit.
    keep_screenshots(shots, min_bytes=10_000, max_bytes=MAX_PNG)
    assert [shot.name for shot in shots] == [
        "card-live.png", "card-light.png", "history-light.png",
        "card-dark.png", "history-dark.png", "card-narrow-dark.png", "history-narrow-dark.png",
        "card-saved-dark.png", "history-saved-dark.png"]


def wait_kernel_idle_after_run(page: Any) -> None:
    """The wait cell has run (its prompt has a number) and the kernel is idle again."""
    from playwright.sync_api import expect

    prompt = page.locator(".jp-Notebook .jp-CodeCell").nth(WAIT).locator(".jp-InputPrompt")
    expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=60_000)
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for(timeout=30_000)


CELL = ".jp-Notebook .jp-Cell"
# In every job's row of the history: its state, model, cost and date shown inside the
# output area (not cut, not scrolled away), and no box of the history scrolling sideways.
_COLUMNS_IN_VIEW_JS = """
(output) => {
  const area = output.getBoundingClientRect();
  const found = [];
  const rows = output.querySelectorAll('.kh-row:not(.kh-head)');
  if (!rows.length) found.push('no rows');
  for (const row of rows) {
    for (const name of ['kh-state', 'kh-model', 'kh-cost', 'kh-date']) {
      const cell = row.querySelector('.' + name);
      const box = cell && cell.getBoundingClientRect();
      if (!box || box.width === 0) found.push(`${name} missing`);
      else if (box.left < area.left - 1 || box.right > area.right + 1)
        found.push(`${name} at ${box.left}-${box.right}, the output ${area.left}-${area.right}`);
    }
  }
  for (const el of output.querySelectorAll('*'))
    if (el.scrollWidth > el.clientWidth + 1 && ['auto', 'scroll'].includes(getComputedStyle(el).overflowX))
      found.push(`${el.className} scrolls sideways`);
  return found;
}
"""


def _scope(page: Any, index: int) -> str:
    """A CSS selector for the outputs of the index-th cell (marked, since JupyterLab's cell
    list holds more than cells)."""
    page.locator(CELL).nth(index).evaluate(
        f"cell => cell.setAttribute('data-kirin-check', '{index}')")
    return f'[data-kirin-check="{index}"] .jp-OutputArea-output'


def _frame(page: Any, index: int, role: str) -> dict[str, tuple[float, float, float]]:
    """Where the card, its title and its prompt sit in their cell: x, y and width."""
    cell = page.locator(CELL).nth(index).bounding_box()
    card = cell_outputs(page, index).locator(f".kirin-card{role}").first
    boxes = {"card": card.bounding_box(timeout=2000),
             "title": card.locator("b").first.bounding_box(timeout=2000),
             "prompt": card.locator(".kirin-prompt").bounding_box(timeout=2000)}
    return {name: (box["x"] - cell["x"], box["y"] - cell["y"], box["width"])
            for name, box in boxes.items()}


def _bar_width(bar: Any) -> float | None:
    """The bar's width in %, or None once the card has been replaced by its result (the
    bar can go between the gallery check and this read: never wait 30 s for it)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        style = bar.get_attribute("style", timeout=1000)
    except PlaywrightTimeout:
        return None
    match = re.search(r"width:\s*([\d.]+)%", style or "")
    return float(match.group(1)) if match else None


def _expect_images(images: Any, count: int) -> None:
    """``count`` JPEG thumbnails, each decoded by the browser."""
    from playwright.sync_api import expect

    expect(images).to_have_count(count)
    for index in range(count):
        image = images.nth(index)
        expect(image).to_have_js_property("complete", True)
        assert (image.get_attribute("src") or "").startswith("data:image/jpeg;base64,")
        assert image.evaluate("img => img.naturalWidth") > 0


def _html_outputs(cell: Any) -> list[str]:
    return [out["data"]["text/html"] for out in cell.get("outputs", [])
            if "text/html" in out.get("data", {})]


def _saved_galleries_ok(nb: Any) -> bool:
    for index, cell in enumerate(nb.cells):
        html = _html_outputs(cell)
        galleries = [h for h in html if 'class="kirin kirin-card kirin-result ' in h]
        if index in IMAGES:
            if len(galleries) != 1 or len(html) != 1:  # the card was replaced, not added to
                return False
            if galleries[0].count('<img src="data:image/jpeg;base64,') != IMAGES[index]:
                return False
            if index == OMNI and not all(mark in galleries[0] for mark in (
                    "★★★★☆", ">picked<", ">rejected<")):  # the copy follows the clicks
                return False
        elif galleries or (index != HISTORY and any("<img" in h for h in html)):
            return False
    return True


def _wait_for_saved_galleries(path: Path, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    nb = None
    while time.monotonic() < deadline:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # caught mid-write: read again
            nb = None
        if nb is not None and _saved_galleries_ok(nb):
            return nb
        time.sleep(0.25)
    raise AssertionError(f"the saved notebook lacks the galleries: {nb and nb.cells}")


def _choose_no_kernel(page: Any) -> None:
    """No kernel can start here: JupyterLab asks which kernel; answer "No Kernel"."""
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(timeout=15_000)
    except Exception:
        return  # no dialog: nothing to choose
    select = dialog.locator("select")
    if select.count():
        select.select_option(label="No Kernel")
    dialog.locator("button.jp-mod-accept").click()
    dialog.wait_for(state="detached", timeout=10_000)


def _api(lab: LabServer, path: str) -> Any:
    with urllib.request.urlopen(lab.page_url(path), timeout=10) as answer:
        return json.loads(answer.read())


# The static marks of the four tiles after ``_mark_tiles``: none, a pick, four stars, a
# reject (the keyboard's two stars were cleared again).
MARKS_SHOWN = ["picked", "★★★★☆", "rejected"]


def _mark_tiles(page: Any, card: Any, root: Path) -> None:
    """Rate, pick and reject the omni card's tiles as a person would, and check the kernel
    kept each mark, the files' XMP too, while nothing on the card changed height."""
    from playwright.sync_api import expect

    from tests.support.exiftool import xmp_tags

    rows = card.locator(".kirin-mark-row")
    star = rows.nth(2).locator(".kirin-mark-star")
    expect(star).to_have_count(5)
    expect(star.nth(3)).to_have_attribute("aria-label", "4 stars")
    expect(rows.nth(1).locator(".kirin-mark-pick")).to_have_attribute("aria-label", "pick")
    heights = _heights(card)
    star.nth(3).click()
    expect(star.nth(3)).to_have_attribute("aria-pressed", "true")
    expect(star.nth(3)).to_have_text("★")
    expect(star.nth(4)).to_have_text("☆")
    rows.nth(1).locator(".kirin-mark-pick").click()
    expect(rows.nth(1).locator(".kirin-mark-pick")).to_have_attribute("aria-pressed", "true")
    rows.nth(3).locator(".kirin-mark-reject").click()
    expect(rows.nth(3).locator(".kirin-mark-reject")).to_have_attribute("aria-pressed", "true")
    # The keyboard: Tab reaches a star, Enter rates, the focus stays; Enter again clears.
    first = rows.nth(0).locator(".kirin-mark-star")
    first.nth(0).focus()
    page.keyboard.press("Tab")
    expect(first.nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    expect(first.nth(1)).to_have_attribute("aria-pressed", "true")
    expect(first.nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    expect(first.nth(1)).to_have_attribute("aria-pressed", "false")
    expect(first.nth(0)).to_have_text("☆")
    first.nth(1).blur()  # no focus ring, nor hover, in the screenshots
    page.mouse.move(0, 0)
    assert _heights(card) == heights, (heights, _heights(card))
    expect(card.locator(".kirin-cancel-note")).to_have_count(0)  # nothing went wrong
    # The files: four pictures of one task; their XMP as Lightroom reads it.
    [folder] = [f for f in (root / "kirin_outputs").iterdir() if len(list(f.glob("*.png"))) == 4]
    ratings = [xmp_tags(folder / f"0{n}.png").get("Rating") for n in range(1, 5)]
    assert ratings == [0, None, 4, -1], ratings


def _heights(card: Any) -> list[float]:
    """The card's height, and each tile's place in it and height."""
    corner = card.bounding_box()
    tiles = _boxes(card.locator(".kirin-tile"))
    return [round(corner["height"], 1)] + [
        round(value, 1) for box in tiles
        for value in (box["x"] - corner["x"], box["y"] - corner["y"], box["height"])]


def _boxes(locator: Any) -> list[dict[str, float]]:
    return [locator.nth(i).bounding_box() for i in range(locator.count())]


def _screenshot(page: Any, indexes: list[int], path: Path) -> Path:
    """The given cells, cropped to at most 1,080 px wide."""
    return screenshot_cells(page, indexes, path, max_width=1080)
