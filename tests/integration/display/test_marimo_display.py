"""What marimo's ``_display_`` hook gets (issue 24, item 2), in process: a running job,
batch or sweep is one live widget that turns into its finished card in place when it ends
(marimo has no display handle to swap); a finished one is its static view; the panel,
which marimo cannot draw, is one line pointing to the marimo tour."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kirin_jupyter.client import Client
from kirin_jupyter.display.live_view import LiveView
from kirin_jupyter.display.static import job_html


def _settled(widget: LiveView, needle: str, timeout: float = 20) -> str:
    """The widget's frame once ``needle`` is in it (the engine thread draws the end)."""
    deadline = time.monotonic() + timeout
    while needle not in widget.frame:
        assert time.monotonic() < deadline, widget.frame[-500:]
        time.sleep(0.02)
    return widget.frame


def test_a_running_job_is_a_widget_that_becomes_its_finished_card(tmp_path: Path) -> None:
    client = Client(home=tmp_path / "home", output_dir=tmp_path / "out")
    job = client.generate("a lighthouse at dusk", n=2)
    widget = job._display_()
    assert isinstance(widget, LiveView)
    assert 'class="kirin-bar"' in widget.frame and widget.patched  # the live card
    job.wait(20)
    frame = _settled(widget, "kirin-result")
    assert frame == job_html(job) and not widget.patched  # the finished card, as drawn
    assert frame.count('<img src="data:image/jpeg;base64,') == 2
    finished: Any = job._display_()
    assert not isinstance(finished, LiveView)
    assert finished._repr_mimebundle_()["text/html"] == job_html(job)


def test_a_batch_and_a_sweep_become_their_gallery_and_grid(tmp_path: Path) -> None:
    client = Client(home=tmp_path / "home", output_dir=tmp_path / "out")
    batch = client.batch(["a red kettle", "a blue mug"], n=1)
    sweep = client.sweep("a {red|blue} fox", aspect_ratio=["1:1", "16:9"])
    batch_widget, sweep_widget = batch._display_(), sweep._display_()
    assert isinstance(batch_widget, LiveView) and isinstance(sweep_widget, LiveView)
    batch.wait(30)
    sweep.wait(30)
    assert _settled(batch_widget, "kirin-batch-result").count("<img") == 2
    grid = _settled(sweep_widget, "kirin-sweep-result")
    assert grid.count('data-state="done"') == 4 and grid.count("<img") == 4


def test_the_panel_points_marimo_users_to_the_tour(tmp_path: Path) -> None:
    from kirin_jupyter.panel import Panel

    said = Panel(Client(home=tmp_path / "home", output_dir=tmp_path / "out"))._display_()
    assert "\n" not in said and "marimo_tour.py" in said and "ipywidgets" in said
