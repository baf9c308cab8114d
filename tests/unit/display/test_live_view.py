"""The live card is one anywidget: a tick sends the bar and the status line, not the card;
what the browser draws (``ESM``) and what Python says it shows (``html``) agree."""

from __future__ import annotations

import json
from typing import Any

from kirin_jupyter.client import Client
from kirin_jupyter.display.card import ProgressCard
from kirin_jupyter.display.live_view import LiveView
from kirin_jupyter.display.static import live_html, live_status


class Recorder:
    """Every comm message a widget sends, as the kernel would serialise it."""

    def __init__(self, widget: Any) -> None:
        self.sizes: list[int] = []
        self.states: list[dict[str, Any]] = []
        original = widget._send

        def send(msg: dict[str, Any], buffers: Any = None) -> None:
            self.states.append(msg.get("state", {}))
            self.sizes.append(len(json.dumps(msg)))
            original(msg, buffers)

        widget._send = send


def test_a_running_jobs_card_is_its_frame_with_the_bar_and_line_patched_in(
        tmp_path: Any) -> None:
    client = Client(home=tmp_path / "home", output_dir=tmp_path / "out")
    job = client.generate("A lighthouse at dusk, linocut")
    card = ProgressCard(job)
    # What Python says the browser shows is exactly the card as static HTML draws it.
    assert card.widget.html == live_html(job)
    job.wait(20)
    card.refresh(job)
    assert card.widget.html == live_html(job)
    assert 'aria-valuenow="100"' in card.widget.html and 'data-state="completed"' in \
        card.widget.html
    assert live_status(job) in card.widget.html


def test_a_tick_sends_the_bar_and_the_line_only() -> None:
    view = LiveView()
    frame = '<div class="kirin-bar" role="progressbar" aria-valuemin="0" ' \
            'aria-valuemax="100" aria-valuenow="0"><div class="kirin-bar-fill" ' \
            'style="width:0.0%;height:100%"></div></div>' \
            '<div class="kirin-foot" style="font-size:12px"></div>' + "x" * 3000
    view.show(frame, 0.1, "1.0 s · 10 %")
    sent = Recorder(view)
    view.show(frame, 0.2, "2.0 s · 20 %")  # a tick: the frame is not sent again
    view.show(frame, 0.2, "2.0 s · 20 %")  # nothing changed: nothing sent
    assert [set(state) for state in sent.states] == [{"progress", "status"}]
    assert sent.sizes[0] < 300
    assert 'aria-valuenow="20"' in view.html and "width:20.0%" in view.html
    assert '<div class="kirin-foot" style="font-size:12px">2.0 s · 20 %</div>' in view.html
    view.show(frame.replace("x", "y"), 0.3, "3.0 s · 30 %")  # a new frame is sent
    assert "frame" in sent.states[-1]


def test_a_groups_card_is_all_frame_and_its_own_bar_is_left_alone() -> None:
    view = LiveView()
    frame = '<div class="kirin-bar-fill" style="width:55.0%;height:100%"></div>'
    view.show(frame)
    assert view.html == frame and not view.patched


def test_the_widget_carries_its_picture_for_readers_without_widgets() -> None:
    view = LiveView()
    view.show("<b>card</b>", 0.5, "half")
    bundle = view._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["text/html"] == "<b>card</b>"
    assert "application/vnd.jupyter.widget-view+json" in data
    view.clear()
    assert view.frame == "" and view.html == ""

