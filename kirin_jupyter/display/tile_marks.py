"""The files a card's tiles show, in the order they are drawn, and a click on one of them.

A view (the job's gallery, a batch page, a sweep's grid) asks ``Tiles.row`` for each image
tile's marks row. Static (``live=False``), that is the marks as text; live, an empty slot
numbered by the tile's place in ``files``. A click in the browser names that number only:
the browser is untrusted, so a message is checked (its kind, the number, the rating 0-5)
and a file is never named by it. The marks go through ``Result.rate``/``pick``/``reject``
(the journal, and ``xmp:Rating`` in the file where provenance allows), as from Python.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..storage.marks import STARS
from .marks import State, mark_html, marks_of, slot

if TYPE_CHECKING:
    from ..engine.job import Result

log = logging.getLogger("kirin_jupyter")

FLAGS = ("picked", "rejected")


@dataclass(frozen=True)
class Click:
    """One checked click: on tile ``tile``, a star (``rating``) or a flag."""

    tile: int
    rating: int | None = None
    flag: str | None = None


def checked_click(content: Any, tiles: int) -> Click | None:
    """``{"event": "rate", "tile": 2, "rating": 4}`` or ``{"event": "flag", "tile": 2,
    "flag": "picked"}`` from the front end, as a ``Click``; None for anything else (another
    kind, a tile that is not one of ``tiles``, a rating outside 0-5, a path, a bool)."""
    if not isinstance(content, dict):
        return None
    tile = content.get("tile")
    if type(tile) is not int or not 0 <= tile < tiles:
        return None
    event = content.get("event")
    if event == "rate":
        rating = content.get("rating")
        if type(rating) is not int or not 0 <= rating <= STARS:
            return None
        return Click(tile, rating=rating)
    if event == "flag":
        flag = content.get("flag")
        return Click(tile, flag=flag) if flag in FLAGS else None
    return None


class Tiles:
    """The image files a view shows, each by its place in the drawing."""

    def __init__(self, *, live: bool = False) -> None:
        self.live = live
        self.files: list[tuple[Result, int]] = []  # (result, image) by tile number
        self._found: dict[int, dict[Any, Any]] = {}  # id(result) -> path -> Mark

    def row(self, result: Result, image: int, label: str, *, clickable: bool = True) -> str:
        """The marks row under the tile of ``result``'s image ``image`` (``label`` names
        it): static marks, or a live card's slot (not for a tile that is no picture)."""
        if not (self.live and clickable):
            return mark_html(self._marks(result).get(result.paths[image]))
        self.files.append((result, image))
        return slot(len(self.files) - 1, label)

    def states(self) -> list[State]:
        """Each tile's (rating, flag) as the journal holds them now."""
        self._found.clear()
        out: list[State] = []
        for result, image in self.files:
            mark = self._marks(result).get(result.paths[image])
            out.append((None, None) if mark is None else (mark.rating, mark.flag))
        return out

    def click(self, content: Any) -> str | None:
        """Apply one message from the front end: a star sets the rating (the current one
        again clears it, to 0), a flag toggles. None for a message that is not a click on
        one of these tiles (nothing changes); else the line to show: "" when done, why not
        when the mark could not be kept (the file moved, the journal locked)."""
        from ..errors import KirinError

        order = checked_click(content, len(self.files))
        if order is None:
            log.debug("a card's message ignored: %.200r", content)
            return None
        result, image = self.files[order.tile]
        mark = marks_of(result).get(result.paths[image])
        rating, flag = (None, None) if mark is None else (mark.rating, mark.flag)
        try:
            if order.rating is not None:
                result.rate(0 if order.rating == rating else order.rating, image=image)
            elif order.flag == flag:
                result.unmark(image)
            elif order.flag == "picked":
                result.pick(image)
            else:
                result.reject(image)
        except (KirinError, OSError, sqlite3.Error) as exc:
            return f"not marked: {exc}"
        return ""

    def _marks(self, result: Result) -> dict[Any, Any]:
        key = id(result)
        if key not in self._found:
            self._found[key] = marks_of(result)
        return self._found[key]
