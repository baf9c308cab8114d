"""Stars, picks and rejects clicked on a finished card's tiles (issue 28): the job's gallery,
a batch's card and page, and a sweep's grid.

Each card is shown in an IPython shell as a cell shows it (its outputs are recorded as
IPython publishes them), its job made by the simulator over loopback HTTP. A click is the
message the tile's button sends (``model.send``), delivered through the widget's ``on_msg``
handlers as the kernel delivers it. It must reach the journal and the file's
``xmp:Rating`` (read back by exiftool), the buttons' marks and the static copy a saved
notebook keeps; a message that is not a click on a tile (an unknown tile, a rating of 9, a
path) changes nothing anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter import TaskFailed
from kirin_jupyter.client import Client
from kirin_jupyter.display.live_view import LiveView
from tests.support.exiftool import xmp_tags
from tests.support.html_checks import colours_outside_theme

WIDGET = "application/vnd.jupyter.widget-view+json"
SLOT = 'class="kirin-marks" data-kirin-tile="'


@dataclass
class Output:
    data: dict[str, Any]
    display_id: str | None
    update: bool


@pytest.fixture
def outputs(shell: InteractiveShell) -> Iterator[list[Output]]:
    """Every display IPython publishes from now on (the engine thread's updates too). The
    cards shown are forgotten after the test, as when its kernel ends: another test's
    ``%kirin wait`` must not send them."""
    from kirin_jupyter.display import shown as shown_cards

    shown: list[Output] = []
    publisher = shell.display_pub
    old = publisher.publish
    before = set(shown_cards._shown.keys())

    def publish(data: dict[str, Any], metadata: Any = None, source: Any = None, *,
                transient: dict[str, Any] | None = None, update: bool = False,
                **_: Any) -> None:
        shown.append(Output(dict(data), (transient or {}).get("display_id"), update))

    publisher.publish = publish  # type: ignore[method-assign]
    yield shown
    publisher.publish = old  # type: ignore[method-assign]
    for card in set(shown_cards._shown.keys()) - before:
        shown_cards._shown.pop(card, None)


def until(check: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def click(widget: LiveView, message: Any) -> None:
    """As the front end's ``model.send(message)`` arrives: through on_msg's handlers."""
    widget._msg_callbacks(widget, message, [])


def copies(shown: list[Output], place: str) -> list[str]:
    """The static copy's HTML each time output ``place`` was updated."""
    return [o.data["text/html"] for o in shown
            if o.display_id == place and o.update and "text/html" in o.data]


def the_cell(shown: list[Output]) -> tuple[str, str]:
    """The two outputs a shown card made in its cell: the card's and the place after it."""
    card, place = (o.display_id for o in shown if not o.update)
    assert card is not None and place is not None
    return card, place


def finished(shown: list[Output], card: str, place: str) -> None:
    """The card's output became the widget alone (no picture of its own, so a reader
    without widgets sees one card) and the place after it the card's static copy."""
    until(lambda: any(o.display_id == card and o.update for o in shown)
          and bool(copies(shown, place)))
    [final] = [o.data for o in shown if o.display_id == card and o.update]
    assert WIDGET in final and final["text/plain"] == "" and "text/html" not in final


def _finished_card(client: Client, outputs: list[Output], prompt: str, n: int
                   ) -> tuple[Any, Any]:
    """A job's live card, shown and waited for until it is the finished card."""
    from kirin_jupyter.display.card import ProgressCard

    job = client.generate(prompt, n=n)
    card = ProgressCard(job)
    card.show()
    card_id, place = the_cell(outputs)
    result = job.wait(30)
    finished(outputs, card_id, place)
    return card, result


def test_a_job_cards_stars_and_flags_reach_the_journal_the_file_and_the_saved_copy(
        shell: InteractiveShell, outputs: list[Output], http_client: Client) -> None:
    from kirin_jupyter.display.card import ProgressCard

    job = http_client.generate("three foxes in the snow", n=3)
    card = ProgressCard(job)
    card.show()
    card_id, place = the_cell(outputs)
    [placeholder] = [o.data for o in outputs if o.display_id == place]
    assert placeholder == {"text/plain": ""}  # nothing shows there while the job runs
    result = job.wait(30)
    finished(outputs, card_id, place)
    widget = card.widget
    assert widget.frame.count(SLOT) == 3 and widget.marks == [[None, None]] * 3
    copy = copies(outputs, place)[-1]
    assert SLOT not in copy and "kirin-result" in copy and copy.count("<img") == 3
    assert "★" not in copy and colours_outside_theme(copy) == []

    click(widget, {"event": "rate", "tile": 1, "rating": 4})
    assert [m.rating for m in result.marks] == [None, 4, None]
    assert xmp_tags(result.paths[1])["Rating"] == 4
    assert widget.marks[1] == [4, None] and widget.note == ""
    copy = copies(outputs, place)[-1]
    assert copy.count("★★★★☆") == 1 and 'aria-label="4 of 5 stars"' in copy
    assert widget.html.count("★★★★☆") == 1  # the widget's own picture agrees

    click(widget, {"event": "rate", "tile": 1, "rating": 4})  # the current star again
    assert result.marks[1].rating == 0 and widget.marks[1] == [0, None]
    assert xmp_tags(result.paths[1])["Rating"] == 0 and "★" not in copies(outputs, place)[-1]

    click(widget, {"event": "flag", "tile": 0, "flag": "picked"})
    click(widget, {"event": "flag", "tile": 2, "flag": "rejected"})
    assert [m.flag for m in result.marks] == ["picked", None, "rejected"]
    assert xmp_tags(result.paths[2])["Rating"] == -1  # Lightroom's and Bridge's reject
    copy = copies(outputs, place)[-1]
    assert ">picked<" in copy and ">rejected<" in copy
    click(widget, {"event": "flag", "tile": 0, "flag": "picked"})  # a pick toggles off
    click(widget, {"event": "flag", "tile": 2, "flag": "picked"})  # rejected -> picked
    assert [m.flag for m in result.marks] == [None, None, "picked"]
    assert widget.marks == [[None, None], [0, None], [None, "picked"]]

    # %kirin wait sends the finished card again: the same widget, the marks as they are.
    card.settle()
    assert widget.marks == [[None, None], [0, None], [None, "picked"]]
    assert ">picked<" in copies(outputs, place)[-1]


BAD = [
    {"event": "rate", "tile": 3, "rating": 2},  # no such tile
    {"event": "rate", "tile": -1, "rating": 2},
    {"event": "rate", "tile": 0, "rating": 9},
    {"event": "rate", "tile": 0, "rating": -1},
    {"event": "rate", "tile": 0, "rating": "4"},
    {"event": "rate", "tile": 0, "rating": True},
    {"event": "rate", "tile": 0, "rating": 2.0},
    {"event": "rate", "tile": True, "rating": 2},
    {"event": "rate", "tile": "0", "rating": 2},
    {"event": "flag", "tile": 0, "flag": "deleted"},
    {"event": "flag", "tile": 0},
    {"event": "delete", "tile": 0},
    {"event": "cancel"},  # the job is over: nothing to cancel
    "rate tile 0",
    ["rate", 0, 4],
]


def test_a_message_that_is_not_a_click_on_a_tile_changes_nothing(
        shell: InteractiveShell, outputs: list[Output], http_client: Client,
        tmp_path: Path) -> None:
    card, result = _finished_card(http_client, outputs, "two kites", 2)
    widget = card.widget
    click(widget, {"event": "rate", "tile": 0, "rating": 3})
    before = ([(m.rating, m.flag) for m in result.marks], [p.read_bytes() for p in
              result.paths], [list(m) for m in widget.marks], len(outputs))
    elsewhere = tmp_path / "elsewhere.png"
    elsewhere.write_bytes(result.paths[1].read_bytes())
    paths = [{"event": "rate", "tile": str(elsewhere), "rating": 5},
             {"event": "rate", "tile": 0, "rating": 5, "path": str(elsewhere)}]
    for message in [*BAD, paths[0]]:
        click(widget, message)
        assert widget.note == "", message
    after = ([(m.rating, m.flag) for m in result.marks], [p.read_bytes() for p in
             result.paths], [list(m) for m in widget.marks], len(outputs))
    assert after == before
    assert http_client.journal.file_marks([elsewhere]) == {}
    assert "Rating" not in xmp_tags(elsewhere)
    # A path beside a valid click is not read: the tile's own file is rated.
    click(widget, paths[1])
    assert result.marks[0].rating == 5 and http_client.journal.file_marks([elsewhere]) == {}


def test_a_tile_whose_file_is_gone_says_so_on_the_card(
        shell: InteractiveShell, outputs: list[Output], http_client: Client) -> None:
    card, result = _finished_card(http_client, outputs, "a heron", 1)
    result.paths[0].rename(result.paths[0].with_suffix(".moved"))
    click(card.widget, {"event": "rate", "tile": 0, "rating": 2})
    assert card.widget.note.startswith("not marked: no saved file at ")
    assert "\n" not in card.widget.note and card.widget.marks == [[None, None]]


def test_a_batch_card_and_its_pages_mark_each_items_picture(
        shell: InteractiveShell, outputs: list[Output], http_client: Client,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the notebook's folder: the tiles link to their files
    from kirin_jupyter.display.batch_card import BatchCard
    from kirin_jupyter.display.tile_card import show_finished

    batch = http_client.batch(["a red kite", "a blue kite", "a green kite"], model="v3",
                              name="kites")
    card = BatchCard(batch)
    card.show()
    card_id, place = the_cell(outputs)
    batch.wait(60)
    finished(outputs, card_id, place)
    results = batch.results
    assert card.widget.frame.count(SLOT) == 3 and "kirin-batch-result" in card.widget.frame
    # The buttons sit outside the tile's link: a click marks, it opens nothing.
    for tile in card.widget.frame.split('class="kirin-tile"')[1:]:
        link = tile.split("</a>")[0]
        assert "kirin-tile-link" in link and SLOT not in link
    click(card.widget, {"event": "rate", "tile": 2, "rating": 5})
    click(card.widget, {"event": "flag", "tile": 0, "flag": "picked"})
    assert results[2] is not None and results[2].marks[0].rating == 5
    assert results[0] is not None and results[0].marks[0].flag == "picked"
    assert xmp_tags(results[2].paths[0])["Rating"] == 5
    copy = copies(outputs, place)[-1]
    assert copy.count("★★★★★") == 1 and copy.count(">picked<") == 1

    # A page of the batch (batch.page(1) as a cell's value) shows the marks and takes more.
    outputs.clear()
    page = batch.page(1, per_page=2)
    shown = show_finished(page.html, repr(page), lambda: {})
    assert shown is not None
    widget_output, page_copy = outputs
    assert widget_output.data[WIDGET]["model_id"] == shown.widget.model_id
    assert widget_output.data["text/plain"] == ""
    assert page_copy.data["text/html"].count(">picked<") == 1  # item 1 is on page 1
    assert page_copy.data["text/html"].count("<img") == 2
    page_widget = shown.widget
    assert page_widget.marks == [[None, "picked"], [None, None]]
    click(page_widget, {"event": "rate", "tile": 1, "rating": 3})
    assert results[1] is not None and results[1].marks[0].rating == 3
    assert "★★★☆☆" in copies(outputs, page_copy.display_id or "")[-1]


def test_a_sweep_grids_tiles_are_each_cells_pictures_in_order(
        shell: InteractiveShell, outputs: list[Output], http_client: Client) -> None:
    from kirin_jupyter.display.sweep_grid import SweepCard

    sweep = http_client.sweep("a {red|blue} kite", model="v3", n=2)
    card = SweepCard(sweep)
    card.show()
    card_id, place = the_cell(outputs)
    sweep.wait(60)
    finished(outputs, card_id, place)
    assert card.widget.frame.count(SLOT) == 4  # two cells of two pictures
    click(card.widget, {"event": "rate", "tile": 3, "rating": 2})  # blue's second picture
    click(card.widget, {"event": "flag", "tile": 1, "flag": "rejected"})  # red's second
    red, blue = sweep.results
    assert red is not None and blue is not None
    assert [(m.rating, m.flag) for m in blue.marks] == [(None, None), (2, None)]
    assert [(m.rating, m.flag) for m in red.marks] == [(None, None), (None, "rejected")]
    assert xmp_tags(blue.paths[1])["Rating"] == 2
    copy = copies(outputs, place)[-1]
    assert copy.count("★★☆☆☆") == 1 and ">rejected<" in copy and SLOT not in copy


def test_a_failed_job_ends_as_the_static_card_and_its_widget_is_closed(
        shell: InteractiveShell, outputs: list[Output], http_client: Client,
        sim_server: Any) -> None:
    from kirin_jupyter.display.card import ProgressCard
    from kirin_jupyter.simulator.service import Fault

    sim_server.service.add_fault(Fault("create", "fail_task", code="002016095", times=1))
    job = http_client.generate("a kite")
    card = ProgressCard(job)
    card.show()
    card_id, place = the_cell(outputs)
    with pytest.raises(TaskFailed):
        job.wait(30)
    until(lambda: any(o.display_id == card_id and o.update for o in outputs))
    [final] = [o.data for o in outputs if o.display_id == card_id and o.update]
    assert WIDGET not in final and "kirin-error" in final["text/html"]
    assert card.widget.frame == "" and card.widget.comm is None  # emptied and closed
    assert [o for o in outputs if o.display_id == place and o.update] == []
