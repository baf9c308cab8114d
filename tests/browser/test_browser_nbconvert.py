"""Every executed example notebook, converted by nbconvert to HTML, shows its cards to a
reader with JavaScript off (as GitHub, nbviewer, Quarto and a mailed HTML file do): in
Light and Dark, with readable text and nothing cut off, and passes the checks GitHub and
nbformat make.

The notebooks run once (nbclient, against the in-process simulator, as
``notebooks/run_notebook.py`` does); each is then converted with the lab template in both
themes and opened in Debian's Chromium with JavaScript disabled.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from run_notebook import execute

from kirin_jupyter.exporter.tidy import widget_state_problems
from tests.browser.browser_checks import low_contrast, overflowing_but_the_slider
from tests.browser.browser_helpers import chromium, keep_screenshots
from tests.conftest import ROOT, isolate

pytestmark = pytest.mark.slow

NOTEBOOKS = ROOT / "notebooks"
# What each example must show without JavaScript: (CSS selector, how many at least, the
# least height in px: the panel's saved copy, with no job made headless, is one line).
SHOWN = {
    "quickstart": [(".kirin-card", 2, 100)],
    "models": [(".kirin-card", 4, 100)],
    "batch": [(".kirin-batch", 5, 100)],
    "history": [(".kirin-history", 2, 60), (".kirin-card", 2, 100)],
    "panel": [(".kirin-saved", 1, 15)],
    "elements": [(".kirin-card", 4, 100)],
    "workflows": [(".kirin-card", 4, 100), (".kirin-sweep-grid", 2, 100),
                  (".kirin-compare", 2, 100)],
}


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """name-theme -> the HTML file of each example, executed once and converted twice."""
    place = tmp_path_factory.mktemp("examples")
    folder = place / "notebooks"
    folder.mkdir()
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, place)  # not the user's journal: kirin_env is per test
        yield _convert(folder)


def _convert(folder: Path) -> dict[str, Path]:
    from nbconvert import HTMLExporter

    pages: dict[str, Path] = {}
    for name in SHOWN:
        source = folder / f"{name}.ipynb"
        shutil.copy(NOTEBOOKS / source.name, source)
        nb = execute(source, folder / "executed" / source.name)
        nbformat.validate(nb)
        assert widget_state_problems(nb.metadata) == [], name
        for theme in ("light", "dark"):
            exporter = HTMLExporter(template_name="lab", theme=theme)
            body, _resources = exporter.from_notebook_node(nb)
            page = folder / f"{name}-{theme}.html"
            page.write_text(body)
            pages[f"{name}-{theme}"] = page
    return pages


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("name", sorted(SHOWN))
def test_an_executed_example_shows_its_views_with_javascript_off(
        converted: dict[str, Path], name: str, theme: str, tmp_path: Path) -> None:
    page_file = converted[f"{name}-{theme}"]
    with chromium(width=1100, height=900, javascript=False) as context:
        page = context.new_page()
        page.goto(page_file.as_uri())
        assert page.evaluate("() => document.querySelectorAll('script').length") > 0
        assert page.evaluate("() => typeof window.require === 'undefined'")  # scripts off
        for selector, least, height in SHOWN[name]:
            views = page.locator(f".jp-OutputArea-output {selector}")
            assert views.count() >= least, (name, selector, views.count())
            for index in range(views.count()):
                box = views.nth(index).bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] >= height, \
                    (name, selector, index, box)
        broken = page.evaluate("""() => [...document.querySelectorAll('.kirin img')]
            .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.alt)""")
        assert broken == [], (name, broken)
        pictures = page.locator(".jp-OutputArea-output .kirin img").count()
        assert pictures > 0 if name != "panel" else pictures == 0, (name, pictures)
        scope = ", ".join(f".jp-OutputArea-output {selector}" for selector, *_ in SHOWN[name])
        assert low_contrast(page, scope) == []
        assert overflowing_but_the_slider(page, scope) == []
        first = page.locator(f".jp-OutputArea-output {SHOWN[name][-1][0]}").first
        first.scroll_into_view_if_needed()
        shot = tmp_path / f"nbconvert-{name}-{theme}.png"
        first.screenshot(path=str(shot))
        keep_screenshots([shot], min_bytes=2_000, max_bytes=900_000)
