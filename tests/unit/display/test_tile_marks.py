"""A tile's click as the browser sends it is checked before anything is marked, and a live
card's drawing turns back into the static one with the marks as they stand."""

from __future__ import annotations

import pytest

from kirin_jupyter.display.live_view import ESM, LiveView
from kirin_jupyter.display.mark_buttons import CSS
from kirin_jupyter.display.marks import fill_slots, marks_html, slot
from kirin_jupyter.display.tile_card import saved_copy
from kirin_jupyter.display.tile_marks import Click, checked_click
from tests.support.html_checks import colours_outside_theme


@pytest.mark.parametrize("message, click", [
    ({"event": "rate", "tile": 0, "rating": 0}, Click(0, rating=0)),
    ({"event": "rate", "tile": 2, "rating": 5}, Click(2, rating=5)),
    ({"event": "flag", "tile": 1, "flag": "picked"}, Click(1, flag="picked")),
    ({"event": "flag", "tile": 1, "flag": "rejected", "extra": "x"}, Click(1, flag="rejected")),
])
def test_a_click_on_a_tile_is_read(message: object, click: Click) -> None:
    assert checked_click(message, 3) == click


@pytest.mark.parametrize("message", [
    None, "rate", 3, ["rate", 0, 4], {},
    {"event": "rate", "tile": 3, "rating": 1},  # one past the last tile
    {"event": "rate", "tile": -1, "rating": 1},
    {"event": "rate", "tile": 1.0, "rating": 1},
    {"event": "rate", "tile": True, "rating": 1},
    {"event": "rate", "tile": "../../etc/passwd", "rating": 1},
    {"event": "rate", "tile": 0, "rating": 6},
    {"event": "rate", "tile": 0, "rating": 9},
    {"event": "rate", "tile": 0, "rating": -1},
    {"event": "rate", "tile": 0, "rating": False},
    {"event": "rate", "tile": 0, "rating": "4"},
    {"event": "rate", "tile": 0, "rating": None},
    {"event": "rate", "tile": 0},
    {"event": "flag", "tile": 0, "flag": "Picked"},
    {"event": "flag", "tile": 0, "flag": None},
    {"event": "cancel", "tile": 0},
    {"event": "delete", "tile": 0},
])
def test_anything_else_is_no_click(message: object) -> None:
    assert checked_click(message, 3) is None


def test_slots_turn_back_into_static_marks() -> None:
    drawn = f"<div>a{slot(0, 'a.png')}</div><div>b{slot(1, '<b>.png')}</div>{slot(2, 'c')}"
    assert 'aria-label="stars and pick of &lt;b&gt;.png"' in drawn
    static = fill_slots(drawn, [(4, None), (None, "picked"), (0, None)])
    assert "data-kirin-tile" not in static
    assert static.count("★★★★☆") == 1 and ">picked<" in static
    assert static.endswith("</div>") and "☆☆☆☆☆" not in static  # 0 stars: unrated
    assert fill_slots(drawn, []).count("kirin-marks") == 0  # no marks known: no rows
    assert marks_html(None, None) == "" and marks_html(0, None) == ""
    assert colours_outside_theme(marks_html(5, "rejected")) == []  # a dot, not red words


def test_the_widget_shows_its_marks_and_leaves_its_picture_to_the_copy() -> None:
    view = LiveView()
    view.show(f'<div class="kirin">{slot(0, "a.png")}</div>')
    view.marks = [[3, "rejected"]]
    assert "★★★☆☆" in view.html and ">rejected<" in view.html
    bundle = view._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "★★★☆☆" in data["text/html"]
    view.apart = True
    bundle = view._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "text/html" not in data and data["text/plain"] == ""
    assert "application/vnd.jupyter.widget-view+json" in data
    view.clear()
    assert view.marks == [] and view.html == ""


def test_the_buttons_are_themed_labelled_and_sent_to_python() -> None:
    assert "markButtons(model, el)" in ESM and 'change:marks' in ESM
    assert "model.send(message)" in ESM and "aria-pressed" in ESM and "aria-label" in ESM
    assert 'button.type = "button"' in ESM and "preventDefault" in ESM
    assert "focus-visible" in CSS and "var(--ka)" in CSS
    assert colours_outside_theme(f"<style>{CSS}</style>") == []


def test_the_copy_hides_while_its_widget_is_drawn() -> None:
    copy = saved_copy("abc123", "<p>card</p>")
    assert "body:has(.kt-abc123) .kc-abc123{display:none}" in copy
    assert ".jp-OutputArea-child:has(+.jp-OutputArea-child .kc-abc123)" in copy
    assert copy.endswith('<div class="kirin-copy kc-abc123"><p>card</p></div>')
