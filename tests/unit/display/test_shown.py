"""``%kirin wait`` sends each finished card's final view once more from the waiting cell
(display/shown.py): only finished ones, once each, and a card whose work still runs is
kept for a later wait."""

from __future__ import annotations

from typing import Any

from kirin_jupyter.display import shown


class Handle:
    """What an IPython display handle is asked to do: each update's content."""

    def __init__(self) -> None:
        self.updates: list[Any] = []

    def update(self, content: Any) -> None:
        self.updates.append(content)


class Card:
    """A card: shown somewhere, its work done or not."""

    def __init__(self, finished: bool) -> None:
        self.finished = finished


def test_finished_cards_get_their_final_view_once_and_running_ones_wait() -> None:
    done, running = Card(True), Card(False)
    done_handle, running_handle = Handle(), Handle()
    shown.remember(done, done_handle, lambda: done.finished, lambda: "final view")
    shown.remember(running, running_handle, lambda: running.finished, lambda: "grid")
    assert shown.settle() == 1
    assert done_handle.updates == ["final view"] and running_handle.updates == []
    assert shown.settle() == 0  # sent once: the finished card is forgotten
    running.finished = True
    assert shown.settle() == 1 and running_handle.updates == ["grid"]
