"""The panel's tiles rate (0-5 stars) and pick or reject each image (issue 28): the
clicks land in the journal (SQLite, or a team's PostgreSQL) and the file's XMP, and the
saved card shows static stars."""

from __future__ import annotations

from kirin_jupyter.client import Client
from kirin_jupyter.panel import Panel
from tests.support.exiftool import xmp_tags


def test_a_tile_s_stars_and_pick_reach_the_journal_the_file_and_the_card(
        each_journal: str) -> None:
    client = Client()
    assert client.journal.dialect == each_journal
    panel = Panel(client=client, namespace={})
    panel.options.prompt.value = "a lighthouse at dusk"
    panel.options.n.value = 2
    job = panel.generate()
    assert job is not None
    tiles = panel.gallery._tiles[job.external_task_id]
    assert tiles[0].stars.disabled and tiles[0].flag.disabled  # nothing to rate yet
    result = job.wait(20)
    first, second = tiles[0], tiles[1]
    assert not first.stars.disabled and not first.flag.disabled
    first.stars.value = 4
    first.flag.value = "picked"
    second.flag.value = "rejected"
    assert "kept in the journal and the file" in first.mark_note.value
    assert [(m.rating, m.flag) for m in result.marks] == [(4, "picked"), (None, "rejected")]
    assert xmp_tags(result.paths[0])["Rating"] == 4
    assert xmp_tags(result.paths[1])["Rating"] == -1
    second.flag.value = ""  # neither again
    assert result.marks[1].flag is None
    card = result._repr_html_()
    assert card is not None and "★★★★☆" in card and ">picked<" in card
    assert first.pick.description == "compare"  # the compare toggle is no pick
