"""display(job) in a real kernel: live, then the finished card, whose pictures take stars
from the front end."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kernel.kernel_helpers import Kernel, running_kernel

WIDGET = "application/vnd.jupyter.widget-view+json"


def updates(kernel: Kernel, display_id: str) -> list[dict[str, Any]]:
    return [m["content"]["data"] for m in kernel.all_messages
            if m["msg_type"] == "update_display_data"
            and m["content"]["transient"]["display_id"] == display_id]


def test_displaying_a_job_from_python_is_live_then_the_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A job shown as a cell's value: the live card (a widget that moves) and an empty
    place after it; when the job ends the card is the finished widget (buttons on its
    pictures) and the place holds its static copy (what the saved notebook shows), never a
    frozen 'pending' snapshot. A star clicked in the front end (the comm message its button
    sends) rates the picture, and the copy follows."""
    monkeypatch.setenv("KIRIN_SIMULATOR_SECONDS", "2")
    with running_kernel() as kernel:
        shown = kernel.run("import kirin_jupyter\njob = kirin_jupyter.generate('a fox')\njob")
        assert shown.reply["content"]["status"] == "ok"
        card, place = shown.of_type("display_data")
        assert WIDGET in card["content"]["data"]
        assert place["content"]["data"] == {"text/plain": ""}
        card_id = card["content"]["transient"]["display_id"]
        place_id = place["content"]["transient"]["display_id"]
        kernel.run("job.wait(30); print('done')")
        [final] = updates(kernel, card_id)
        assert WIDGET in final and final["text/plain"] == "" and "text/html" not in final
        [copy] = updates(kernel, place_id)
        assert 'class="kirin kirin-card kirin-result tex2jax_ignore mathjax_ignore"' in \
            copy["text/html"]
        assert '<img src="data:image/jpeg;base64,' in copy["text/html"]
        assert "1 result" in copy["text/plain"] and "★" not in copy["text/html"]

        clicked = kernel.send_to_widget(final[WIDGET]["model_id"],
                                        {"event": "rate", "tile": 0, "rating": 4})
        states = [m["content"]["data"].get("state", {}) for m in clicked.of_type("comm_msg")]
        assert {"marks": [[4, None]]} in states  # the buttons redrawn from the journal
        [again] = [m["content"]["data"] for m in clicked.of_type("update_display_data")
                   if m["content"]["transient"]["display_id"] == place_id]
        assert "★★★★☆" in again["text/html"]  # what a saved notebook will show
        checked = kernel.run("print(job.result.marks[0].rating)")
        assert [m["content"]["text"] for m in checked.of_type("stream")] == ["4\n"]
        kernel.send_to_widget(final[WIDGET]["model_id"], {"event": "rate", "tile": 7,
                                                          "rating": 1})  # no such tile
        checked = kernel.run("print(job.result.marks[0].rating)")
        assert [m["content"]["text"] for m in checked.of_type("stream")] == ["4\n"]

        again_shown = kernel.run("job")  # shown once it is done: the finished card at once
        widget_output, static_copy = again_shown.of_type("display_data")
        assert WIDGET in widget_output["content"]["data"]
        assert "kirin-result" in static_copy["content"]["data"]["text/html"]
        assert "★★★★☆" in static_copy["content"]["data"]["text/html"]
