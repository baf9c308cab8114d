"""Stars, picks and rejects of saved result files: in the journal always, and as
``xmp:Rating`` inside a file that carries our record (provenance not off), where
Lightroom, Bridge and digiKam read it.

A reject is written to the file as ``xmp:Rating`` -1, Bridge's and Lightroom's "rejected";
a pick has no XMP field those tools share, so it lives in the journal only. A signed file
(C2PA) and a file saved with provenance off are never changed.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from .file_provenance import rate_file
from .shared_results import is_shared, location_of, replace

if TYPE_CHECKING:
    from .journal import Journal

log = logging.getLogger("kirin_jupyter")

REJECTED_FOLDER = "rejected"
STARS = 5


@dataclass(frozen=True)
class Mark:
    """One file's marks as they now stand, and whether its XMP says so too."""

    path: Path
    rating: int | None
    flag: str | None  # "picked", "rejected" or None
    in_file: bool  # xmp:Rating written into the file

    @property
    def stars(self) -> str:
        """The rating as five stars, filled and hollow ("★★★★☆"); "" when unrated."""
        return "" if self.rating is None else stars_text(self.rating)


def stars_text(rating: int) -> str:
    """A rating 0-5 as five stars, filled and hollow: "★★★★☆"."""
    return "★" * rating + "☆" * (STARS - rating)


def checked_rating(value: Any) -> int:
    """A rating 0-5 (text like "4" too, as typed on a magic line); ``ValidationError``
    (one line) otherwise."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= STARS:
        raise ValidationError(f"a rating is a whole number from 0 to {STARS}, not {value!r}")
    return value


def mark(journal: Journal, path: Path | str, *, rating: int | None = None,
         flag: str | None = None, clear_flag: bool = False,
         external_id: str | None = None, store_at: str | None = None) -> Mark:
    """Rate and/or flag one saved file: the journal first, then the file's XMP (a file
    that cannot take it keeps its bytes; the journal has the mark either way), stored
    again at ``store_at``, the shared URL this process stored it at, if any."""
    where = Path(path).expanduser().resolve()
    if rating is not None:
        rating = checked_rating(rating)
    if not where.is_file():
        raise ValidationError(f"no saved file at {where.name}: it was moved or deleted")
    called = location_of(where)  # a shared result: its URL, so teammates see the mark
    row = journal.set_mark(called, rating=rating, flag=flag, clear_flag=clear_flag,
                           external_id=external_id)
    shown = -1 if row.get("flag") == "rejected" else row.get("rating")
    in_file = False
    if row.get("provenance") != "off":
        try:
            in_file = rate_file(where, shown)
            if in_file and store_at is not None:
                replace(where, store_at)  # the stored copy carries the rating too
        except (ValidationError, OSError) as exc:
            log.warning("no rating written into %s: %s", where, exc)
    return Mark(where, row.get("rating"), row.get("flag"), in_file)


def marks_of(journal: Journal, paths: list[Path]) -> list[Mark]:
    """The marks of ``paths`` as the journal holds them (unmarked files too)."""
    called = [location_of(p) for p in paths]
    found = journal.file_marks(called)
    return [Mark(path, found.get(name, {}).get("rating"), found.get(name, {}).get("flag"),
                 False) for path, name in zip(paths, called, strict=True)]


def cull(journal: Journal, *, delete: bool = False) -> list[tuple[Path, Path | None]]:
    """Every rejected file moved into a ``rejected/`` folder beside it (its sidecar too),
    or deleted when ``delete``; the journal follows. ``(old, new)`` pairs, new None when
    deleted. A file already gone is skipped."""
    done: list[tuple[Path, Path | None]] = []
    for row in journal.marked_files(rejected=True):
        if is_shared(row["path"]):
            continue  # shared storage is the team's: nothing there is moved or deleted
        old = Path(row["path"])
        if not old.is_file():
            continue
        from .file_provenance import sidecar_path

        sidecar = sidecar_path(old)
        if delete:
            old.unlink()
            sidecar.unlink(missing_ok=True)
            journal.forgot_file(old)
            done.append((old, None))
            continue
        if old.parent.name == REJECTED_FOLDER:
            continue
        folder = old.parent / REJECTED_FOLDER
        folder.mkdir(exist_ok=True)
        new = folder / old.name
        shutil.move(old, new)
        if sidecar.is_file():
            shutil.move(sidecar, folder / sidecar.name)
        journal.moved_file(old, new)
        done.append((old, new))
    return done
