"""The panel in a real JupyterLab, in headless Chromium: type, upload, Generate, see results.

The simulator task takes 3 s so the progress card is seen moving. Takes about 20 s.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from PIL import Image

from .browser_helpers import (
    chromium,
    jupyterlab,
    open_notebook,
    require_chromium,
    run_all_cells,
    write_notebook,
)

N_IMAGES = 2


def test_panel_generates_in_jupyterlab(tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import expect

    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root / "panel.ipynb", ["%load_ext kirin_jupyter\n%kirin ui"])
    reference = root / "keeper.png"
    Image.new("RGB", (640, 480), (30, 110, 160)).save(reference)
    env = {
        "KIRIN_SIMULATOR_SECONDS": "3",
        "KIRIN_HOME": str(tmp_path / "kirin_home"),
        "KIRIN_OUTPUT_DIR": str(root / "kirin_outputs"),
    }
    with jupyterlab(root, env=env, state_dir=tmp_path / "lab") as lab, \
            chromium(tmp_path / "profile") as browser:
        page = open_notebook(browser, lab, "panel.ipynb")
        run_all_cells(page)
        panel = page.locator(".jp-OutputArea-output .kirin-panel")
        panel.wait_for(timeout=30_000)
        generate = panel.locator("button.kirin-generate")
        expect(generate).to_be_disabled()  # no prompt yet
        expect(panel.locator(".kirin-reason")).to_contain_text("prompt is empty")

        panel.locator(".kirin-prompt textarea").fill("<<<image_1>>> as a lighthouse keeper")
        with page.expect_file_chooser() as chooser:  # the real Upload button and file input
            panel.locator(".kirin-upload").click()
        chooser.value.set_files(str(reference))
        expect(panel.locator(".kirin-reference")).to_have_count(1, timeout=15_000)
        expect(panel.locator(".kirin-reference .kirin-badge")).to_have_text("ok")
        expect(panel.locator(".kirin-reference img")).to_have_js_property("complete", True)

        readout = panel.locator(".kirin-n .widget-readout")  # n: type into the slider's readout
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(str(N_IMAGES))
        page.keyboard.press("Enter")
        expect(panel.locator(".kirin-reason")).to_contain_text(
            f"ready: omni, {N_IMAGES} images", timeout=10_000)
        expect(generate).to_be_enabled()
        generate.click()

        bar = panel.locator(".kirin-card .progress-bar")
        bar.wait_for(timeout=10_000)
        widths: list[float] = []
        done_tiles = panel.locator(".kirin-gallery .kirin-tile-done img")
        deadline = time.monotonic() + 30
        while done_tiles.count() < N_IMAGES and time.monotonic() < deadline:
            style = bar.get_attribute("style") or ""
            match = re.search(r"width:\s*([\d.]+)%", style)
            if match and (not widths or float(match.group(1)) != widths[-1]):
                widths.append(float(match.group(1)))
            time.sleep(0.1)
        expect(done_tiles).to_have_count(N_IMAGES)
        # The tiles may be drawn a moment before the bar's last width: wait for it.
        expect(bar).to_have_attribute("style", re.compile(r"width:\s*100(\.0+)?%"))
        widths.append(100.0)
        # The card moved through several values on its way (not straight from 0 to done).
        assert len(widths) >= 4 and widths == sorted(widths), widths
        assert len(set(widths)) >= 3, widths
        for index in range(N_IMAGES):
            expect(done_tiles.nth(index)).to_have_js_property("complete", True)
            assert done_tiles.nth(index).evaluate("img => img.naturalWidth") > 0
        expect(panel.locator(".kirin-card")).to_contain_text("completed")
        expect(panel.locator(".kirin-totals")).to_contain_text("cost $0.08 in this panel")
        saved = sorted((root / "kirin_outputs").glob("*/*.png"))
        assert len(saved) == N_IMAGES

        page.set_viewport_size({"width": 1280, "height": 2400})  # the whole panel, results too
        panel.scroll_into_view_if_needed()
        shot = tmp_path / "kirin-panel.png"
        panel.screenshot(path=str(shot), animations="disabled")
        assert shot.stat().st_size > 10_000
        if os.environ.get("KIRIN_SCREENSHOT_DIR"):
            target = Path(os.environ["KIRIN_SCREENSHOT_DIR"])
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, target / shot.name)
