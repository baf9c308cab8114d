"""``%kirin wait`` sends each finished card's final view once more from the waiting cell
(display/shown.py): only finished ones, once each, and a card whose work still runs is
kept for a later wait."""

from __future__ import annotations

import gc
import weakref

import pytest

from kirin_jupyter.display import shown


class Card:
    """A card: shown somewhere, its work done or not; what each settle sent."""

    def __init__(self, finished: bool, final: str) -> None:
        self.finished, self.final = finished, final
        self.sent: list[str] = []

    def settle(self) -> None:
        self.sent.append(self.final)


@pytest.fixture(autouse=True)
def no_other_cards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only this test's cards: none shown by another test in this process."""
    monkeypatch.setattr(shown, "_shown", weakref.WeakKeyDictionary())


def test_finished_cards_get_their_final_view_once_and_running_ones_wait() -> None:
    done, running = Card(True, "final view"), Card(False, "grid")
    running_work = {"done": False}
    shown.remember(done, lambda: True)
    shown.remember(running, lambda: running_work["done"])
    assert shown.settle() == 1
    assert done.sent == ["final view"] and running.sent == []
    assert shown.settle() == 0  # sent once: the finished card is forgotten
    running_work["done"] = True
    assert shown.settle() == 1 and running.sent == ["grid"]


def test_a_shown_card_is_not_kept_alive_by_the_list() -> None:
    card = Card(False, "grid")
    shown.remember(card, lambda: False)
    gone = weakref.ref(card)
    del card
    gc.collect()
    assert gone() is None
