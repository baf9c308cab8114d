"""The panel in a real JupyterLab, in headless Chromium, as a person uses it and as a designer
checks it.

1. It opens without calling anything wrong; upload, n, Generate; the card moves through
   several values; pending tiles are skeletons, never broken images.
2. In Light and Dark, at 1,280 and 480 px wide: nothing is cut off (``overflowing``) and
   every text has at least 4.5:1 contrast (``low_contrast``). Screenshots of the panel go to
   ``$KIRIN_SCREENSHOT_DIR`` when it is set (docs/screenshots holds the committed ones).
3. A second run folds the first; the panel stays short; the full view is capped.
4. "Copy to clipboard" puts the cell on the clipboard; ``%kirin code`` inserts it as a cell.
5. Saved and opened again without the kernel's widgets, by its author (trusted) and by a
   fresh server (untrusted): both see the results as static HTML.

The simulator task takes 3 s so the progress card is seen moving. Takes about 55 s.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from PIL import Image

from tests.browser.browser_checks import cut_selects, low_contrast, overflowing, switch_theme
from tests.browser.browser_helpers import (
    cell_outputs,
    chromium,
    jupyterlab,
    keep_screenshots,
    open_notebook,
    require_chromium,
    run_all_cells,
    save_notebook,
    write_notebook,
)

N_IMAGES = 2
PANEL = ".jp-OutputArea-output .kirin-panel"
MAX_SHOT_BYTES = 300_000


def test_panel_in_jupyterlab_light_dark_wide_narrow(tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import expect

    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root / "panel.ipynb", ["%load_ext kirin_jupyter\n%kirin ui", "%kirin code"])
    reference = root / "keeper.png"
    Image.new("RGB", (640, 480), (30, 110, 160)).save(reference)
    env = {
        "KIRIN_SIMULATOR_SECONDS": "3",
        "KIRIN_HOME": str(tmp_path / "kirin_home"),
        "KIRIN_OUTPUT_DIR": str(root / "kirin_outputs"),
    }
    shots: list[Path] = []
    with jupyterlab(root, env=env, state_dir=tmp_path / "lab") as lab, \
            chromium(tmp_path / "profile") as browser:
        browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url)
        page = open_notebook(browser, lab, "panel.ipynb")
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
        run_all_cells(page)
        panel = page.locator(PANEL)
        panel.wait_for(timeout=30_000)
        generate = panel.locator("button.kirin-generate")
        # Nothing is called wrong before the first edit.
        expect(panel.locator(".kirin-reason")).to_contain_text("Describe the image you want")
        expect(panel.locator(".kirin-problem")).to_have_count(0)
        expect(generate).to_be_enabled()

        with page.expect_file_chooser() as chooser:  # the real Upload button and file input
            panel.locator(".kirin-upload").click()
        chooser.value.set_files(str(reference))
        expect(panel.locator(".kirin-reference")).to_have_count(1, timeout=15_000)
        expect(panel.locator(".kirin-reference .kirin-badge")).to_have_text("ok")
        expect(panel.locator(".kirin-reference img")).to_have_js_property("complete", True)
        # After the first edit, what is missing is said (readably) and Generate waits.
        expect(panel.locator(".kirin-problem")).to_contain_text("prompt is empty")
        expect(generate).to_be_disabled()
        assert not low_contrast(page, PANEL), low_contrast(page, PANEL)
        panel.locator(".kirin-prompt textarea").fill("<<<image_1>>> as a lighthouse keeper")

        readout = panel.locator(".kirin-n .widget-readout")  # n: type into the slider's readout
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(str(N_IMAGES))
        page.keyboard.press("Enter")
        expect(panel.locator(".kirin-reason")).to_contain_text(
            f"ready: omni, {N_IMAGES} images", timeout=10_000)
        generate.click()
        _follow_first_run(page, panel)
        expect(panel.locator(".kirin-totals")).to_contain_text("cost $0.08 in this panel")
        assert len(sorted((root / "kirin_outputs").glob("*/*.png"))) == N_IMAGES

        # A second run, of portrait pictures narrower than their tiles; the first folds away.
        panel.locator(".kirin-ratio select").select_option(label="3:4")
        expect(panel.locator(".kirin-reason")).to_contain_text("ready: omni, 2 images, 1k, 3:4")
        generate.click()
        expect(panel.locator(".kirin-older-runs")).to_contain_text("Run 1 · completed",
                                                                   timeout=15_000)
        latest = panel.locator(".kirin-latest")
        expect(latest.locator(".kirin-skeleton")).to_have_count(N_IMAGES)
        waiting = _boxes(latest.locator(".kirin-skeleton"))
        latest.screenshot(path=str(tmp_path / "panel-waiting.png"))  # looked at, not kept
        done = panel.locator(".kirin-latest .kirin-tile-done img")
        expect(done).to_have_count(N_IMAGES, timeout=20_000)  # the open run's tiles only
        _landed(latest, waiting)
        assert all(box["width"] < 0.8 * box["height"] for box in _boxes(done))  # 3:4
        older = panel.locator(".kirin-older-runs")
        older.locator(".jupyter-widget-Collapse-header").click()  # open the folded run
        expect(older.locator(".kirin-tile-done img:visible")).to_have_count(N_IMAGES)
        older.locator(".jupyter-widget-Collapse-header").click()
        expect(older.locator(".kirin-tile-done img:visible")).to_have_count(0)
        panel.locator(".kirin-latest .kirin-tile-done button", has_text="view").first.click()
        viewer = panel.locator(".kirin-viewer img")
        expect(viewer).to_be_visible()
        expect(viewer).to_have_js_property("complete", True)
        page.wait_for_function("img => img.naturalWidth > 0", arg=viewer.element_handle())
        box = viewer.bounding_box()
        assert box is not None and box["width"] <= 561 and box["height"] <= 561, box
        panel.locator(".kirin-viewer button", has_text="close").click()
        expect(panel.locator(".kirin-viewer")).to_be_hidden()  # after the kernel's answer
        height = panel.bounding_box()
        assert height is not None and height["height"] < 1700, height  # was 2,400 px
        # The watermark box has its own row, not the aspect ratio's.
        expect(panel.locator(".kirin-watermark input[type=checkbox]")).to_have_count(1)
        expect(panel.locator(".kirin-ratio input[type=checkbox]")).to_have_count(0)

        for theme, tag in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
            if tag == "dark":
                switch_theme(page, theme)
            for width in (1280, 480):
                page.set_viewport_size({"width": width, "height": 1000})
                page.wait_for_timeout(300)  # widgets re-lay out on resize
                where = f"{theme} at {width} px"
                assert not _cut_off(page), (where, _cut_off(page))
                assert not low_contrast(page, PANEL), (where, low_contrast(page, PANEL))
                assert not _unclear_choice(panel), (where, _unclear_choice(panel))
                name = f"panel-{tag}.png" if width == 1280 else f"panel-narrow-{tag}.png"
                shots.append(_screenshot(page, panel, tmp_path / name))

        _copy_and_insert_code(page, panel)
        save_notebook(page)

    # The author tomorrow (same server state: the notebook is trusted), with a new kernel
    # that has none of the widgets: the saved results, and no widget error line.
    with jupyterlab(root, state_dir=tmp_path / "lab") as lab, \
            chromium(tmp_path / "profile") as browser:
        page = open_notebook(browser, lab, "panel.ipynb")
        _saved_results_shown(page)
        outputs = cell_outputs(page, 0)
        error = outputs.filter(has_text="Error displaying widget: model not found")
        expect(error).to_have_count(1, timeout=20_000)  # drawn by JupyterLab, hidden by ours
        expect(error).to_be_hidden()

    # A reader elsewhere (a fresh server: the notebook is untrusted), in Dark.
    with jupyterlab(root, state_dir=tmp_path / "lab2", theme="JupyterLab Dark") as lab, \
            chromium(tmp_path / "profile2") as browser:
        page = open_notebook(browser, lab, "panel.ipynb")
        _saved_results_shown(page)
        assert not low_contrast(page, ".kirin-saved"), low_contrast(page, ".kirin-saved")
        # One notice says what this is, in one font (the widget's own text said it again).
        notices = cell_outputs(page, 0).filter(has_text="Kirin panel")
        expect(notices).to_have_count(1)
        outputs = page.locator(".jp-Notebook .jp-CodeCell").nth(0).locator(".jp-OutputArea")
        shots.append(_screenshot(page, outputs, tmp_path / "panel-saved-dark.png"))

    keep_screenshots(shots, min_bytes=10_000, max_bytes=MAX_SHOT_BYTES)


def _colour(text: str) -> tuple[float, float, float]:
    """The first rgb()/rgba() colour in a computed style (alpha ignored)."""
    found = re.search(r"rgba?\(([\d.]+),? ([\d.]+),? ([\d.]+)", text)
    assert found, text
    red, green, blue = (float(found[i]) for i in (1, 2, 3))
    return red, green, blue


def _contrast(one: tuple[float, float, float], two: tuple[float, float, float]) -> float:
    def luminance(colour: tuple[float, float, float]) -> float:
        parts = [c / 255 for c in colour]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in parts)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(one), luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _unclear_choice(panel: Any) -> list[str]:
    """Whether the chosen 1k/2k stands out from the other: a ring of at least 3:1 against
    its fill (WCAG's contrast for a control's state), in bold, on a fill unlike the
    other button's."""
    chosen = panel.locator(".kirin-resolution .jupyter-button.mod-active")
    other = panel.locator(".kirin-resolution .jupyter-button:not(.mod-active)").first
    read = "b => { const s = getComputedStyle(b); return [s.backgroundColor, s.boxShadow, " \
        "s.fontWeight]; }"
    fill, ring, weight = chosen.evaluate(read)
    other_fill = other.evaluate(read)[0]
    problems = []
    if ring == "none" or _contrast(_colour(ring), _colour(fill)) < 3:
        problems.append(f"the chosen button's ring {ring!r} on {fill}")
    if int(weight) < 600:
        problems.append(f"the chosen button is not bold ({weight})")
    if fill == other_fill:
        problems.append(f"both buttons are filled {fill}")
    return problems


def _cut_off(page: Any) -> list[str]:
    """``overflowing`` (less the slider's handle, which hangs over its track by design),
    dropdowns too narrow for their text, and boxes that scroll sideways (``overflowing``
    lets a scrolling box be, but in the panel it means something is out of sight)."""
    sideways = page.evaluate("""(root) => [...document.querySelectorAll(root + ', ' + root +
        ' .widget-box')].filter(b => b.getClientRects().length && b.scrollWidth > b.clientWidth + 1)
        .map(b => `${b.className}: scrolls sideways (${b.scrollWidth} > ${b.clientWidth} px)`)""",
                             PANEL)
    return [item for item in overflowing(page, PANEL) if "noUi-" not in item] + \
        cut_selects(page, PANEL) + list(sideways)


def _follow_first_run(page: Any, panel: Any) -> None:
    """Skeletons while waiting, a bar that moves through several values, then images."""
    from playwright.sync_api import expect

    skeletons = panel.locator(".kirin-tile .kirin-skeleton")
    expect(skeletons).to_have_count(N_IMAGES)
    assert panel.locator(".kirin-gallery img:visible").count() == 0  # no broken-image icon
    waiting = _boxes(skeletons)
    fill = panel.locator(".kirin-run .kirin-bar")
    fill.wait_for(timeout=10_000)
    values: list[float] = []
    done_tiles = panel.locator(".kirin-gallery .kirin-tile-done img")
    deadline = time.monotonic() + 30
    while done_tiles.count() < N_IMAGES and time.monotonic() < deadline:
        now = fill.get_attribute("aria-valuenow") if fill.count() else None
        if now is not None and (not values or float(now) != values[-1]):
            values.append(float(now))
        time.sleep(0.1)
    expect(done_tiles).to_have_count(N_IMAGES)
    expect(panel.locator(".kirin-run .kirin-card")).to_have_attribute(
        "data-state", "completed")
    values.append(100.0)
    assert len(values) >= 4 and values == sorted(values), values  # moved, never back
    assert len(set(values)) >= 3, values
    for index in range(N_IMAGES):
        expect(done_tiles.nth(index)).to_have_js_property("complete", True)
        assert done_tiles.nth(index).evaluate("img => img.naturalWidth") > 0
    expect(panel.locator(".kirin-skeleton:visible")).to_have_count(0)
    _landed(panel, waiting)


def _boxes(locator: Any) -> list[dict[str, float]]:
    """Each match's box in the panel (the notebook may scroll between two looks)."""
    return [locator.nth(index).evaluate(
        "e => { const r = e.getBoundingClientRect(); "
        "const p = e.closest('.kirin-panel').getBoundingClientRect(); "
        "return {x: r.x - p.x, y: r.y - p.y, width: r.width, height: r.height}; }")
        for index in range(locator.count())]


def _landed(scope: Any, waiting: list[dict[str, float]]) -> None:
    """Each picture lands on its skeleton (same place, same size), at the tile's left edge
    where its caption and its buttons start too (it was centred, the caption not)."""
    tiles = scope.locator(".kirin-gallery .kirin-tile-done")
    assert tiles.count() == len(waiting)
    for index, before in enumerate(waiting):
        tile = tiles.nth(index)
        [picture] = _boxes(tile.locator("img"))
        moved = [abs(picture[key] - before[key]) for key in ("x", "y", "width", "height")]
        assert max(moved) <= 1.5, (index, before, picture)
        [caption] = _boxes(tile.locator("span[title]"))
        button = _boxes(tile.locator("button"))[0]
        assert abs(caption["x"] - picture["x"]) <= 1, (caption, picture)
        assert abs(button["x"] - picture["x"]) <= 3, (button, picture)


def _saved_results_shown(page: Any) -> Any:
    """The saved copy under the panel's cell shows both runs' images."""
    from playwright.sync_api import expect

    saved = cell_outputs(page, 0).locator(".kirin-saved")
    saved.wait_for(timeout=30_000)
    expect(saved).to_contain_text("the results of its 2 runs")
    images = saved.locator("img")
    expect(images).to_have_count(2 * N_IMAGES)
    for index in range(2 * N_IMAGES):
        expect(images.nth(index)).to_have_js_property("complete", True)
        assert images.nth(index).evaluate("img => img.naturalWidth") > 0
    return saved


def _copy_and_insert_code(page: Any, panel: Any) -> None:
    """The Copy button fills the clipboard; %kirin code puts the cell below the magic."""
    from playwright.sync_api import expect

    panel.locator(".kirin-latest .kirin-tile-done button", has_text="code").first.click()
    copy = panel.locator("button.kirin-copy")
    copy.click()
    expect(panel.locator(".kirin-copy-state")).to_have_text("Copied to the clipboard.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(f"%%kirin -m omni -n {N_IMAGES} --res 1k --ar 3:4 -i "), copied
    assert copied.endswith("\n<<<image_1>>> as a lighthouse keeper"), copied

    cells = page.locator(".jp-Notebook .jp-CodeCell")
    cells.nth(1).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")  # run in place (Shift+Enter adds a cell at the end)
    expect(cells).to_have_count(3, timeout=20_000)
    expect(cell_outputs(page, 1)).to_contain_text("new cell below")
    text = cells.nth(2).locator(".cm-content").inner_text()
    assert re.sub(r"\s+", " ", text).strip() == re.sub(r"\s+", " ", copied).strip(), text


def _screenshot(page: Any, element: Any, path: Path) -> Path:
    """The element alone, whole (the window made taller than it), animations stopped."""
    width = page.viewport_size["width"]
    box = element.bounding_box()
    page.set_viewport_size({"width": width, "height": min(5000, int(box["height"]) + 400)})
    page.wait_for_timeout(200)
    element.scroll_into_view_if_needed()
    element.screenshot(path=str(path), animations="disabled")
    page.set_viewport_size({"width": width, "height": 1000})
    return path
