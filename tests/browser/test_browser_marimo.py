"""The marimo tour in ``marimo edit``, in headless Chromium, as a marimo user sees it
(issue 24, items 2 and 3): the job's live card (one anywidget, inside marimo's shadow
root) moves, its bar and status line patched in place, then turns into the finished card
with its pictures; the awaited result shows in a later cell; the batch and the sweep
end as their gallery and grid. Screenshots ``marimo-live.png`` and ``marimo-done.png``
are kept with ``$KIRIN_SCREENSHOT_DIR``. Takes about 40 s."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.browser_checks import low_contrast
from tests.browser.browser_helpers import chromium, free_port, keep_screenshots, stop_process
from tests.kernel.marimo_pages import copy_tour, marimo_env

pytestmark = pytest.mark.slow


@pytest.fixture
def marimo_edit(tmp_path: Path) -> Iterator[str]:
    """``marimo edit`` of a copy of the tour on 127.0.0.1, stopped by its own PID."""
    notebook = copy_tour(tmp_path)
    env = marimo_env(tmp_path)
    env["KIRIN_SIMULATOR_SECONDS"] = "8"  # long enough to watch the card move
    port = free_port()
    log = (tmp_path / "marimo.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "marimo", "-y", "edit", str(notebook), "--headless",
         "--host", "127.0.0.1", "--port", str(port), "--no-token", "--no-sandbox",
         "--skip-update-check"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError as error:
                if server.poll() is not None or time.monotonic() > deadline:
                    log_text = (tmp_path / "marimo.log").read_text()[-3000:]
                    raise AssertionError(log_text) from error
                time.sleep(0.3)
        yield url
    finally:
        stop_process(server)
        log.close()


def test_the_live_card_moves_then_shows_the_pictures(marimo_edit: str,
                                                      tmp_path: Path) -> None:
    shots = []
    with chromium(tmp_path / "profile", width=1100, height=1000) as browser:
        page = browser.new_page()
        page.goto(marimo_edit)
        widget = page.locator("marimo-anywidget").first  # the job's cell comes first
        card = widget.locator(".kirin-card")
        bar = widget.locator(".kirin-bar")
        bar.wait_for(timeout=90_000)
        seen: list[tuple[int, str]] = []
        while bar.count() and len(seen) < 40:  # watch it for a while: it must move
            value = bar.get_attribute("aria-valuenow")
            foot = widget.locator(".kirin-foot").inner_text()
            if value is not None:
                seen.append((int(value), foot))
            if len(seen) == 3:
                card.scroll_into_view_if_needed()
                shots.append(tmp_path / "marimo-live.png")
                card.screenshot(path=str(shots[-1]))
            page.wait_for_timeout(250)
        values = [v for v, _ in seen]
        assert len(set(values)) >= 3 and values == sorted(values), seen  # moving, forward
        assert len({foot for _, foot in seen}) >= 3, seen  # the status line ticks too
        assert all(v < 100 for v in values[:-1]), seen

        done = widget.locator(".kirin-card.kirin-result")
        done.wait_for(timeout=60_000)
        assert done.get_attribute("data-state") == "completed"
        pictures = done.locator("img")
        assert pictures.count() == 2
        page.wait_for_function(
            "els => els.every(i => i.complete && i.naturalWidth > 0)",
            arg=pictures.element_handles(), timeout=10_000)
        # The awaited result in the next cell, the batch's gallery and the sweep's grid.
        later = page.locator(".kirin-card.kirin-result:not(marimo-anywidget *)")
        later.first.wait_for(timeout=60_000)
        assert later.first.locator("img").count() == 2
        page.locator("marimo-anywidget .kirin-batch-result").wait_for(timeout=90_000)
        page.locator("marimo-anywidget .kirin-sweep-result").wait_for(timeout=90_000)
        assert page.locator("marimo-anywidget .kirin-sweep-result img").count() == 4
        # marimo's light and dark themes (its "system" theme follows the browser): the
        # card takes marimo's colours, read at 4.5:1 or more in both.
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.wait_for_timeout(300)
            assert low_contrast(page, done) == [], scheme
            done.scroll_into_view_if_needed()
            shots.append(tmp_path / ("marimo-done.png" if scheme == "light"
                                     else "marimo-dark.png"))
            done.screenshot(path=str(shots[-1]))
    keep_screenshots(shots, min_bytes=5_000, max_bytes=2_000_000)
