"""A batch's own rows in the journal: what it holds, and which of its items ran.

Items are jobs like any other (their rows are in ``jobs``); their external ids are the
batch's name and the item's number (``NAME-00042``, then ``NAME-00042-r1`` for a retry), so
one range scan of the primary key finds every item of a batch, however big the journal.
The batch row keeps the items' inputs, so an unnamed batch can be finished after a restart.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..engine.job import Result
from ..storage.journal import Journal, current_owner, owner_alive
from ..storage.shared_results import local_paths, location_of

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    name        TEXT PRIMARY KEY,
    base_url    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    size        INTEGER NOT NULL,
    inputs      TEXT,
    output_dir  TEXT,
    status      TEXT NOT NULL,
    owner       TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
"""
_ITEM = re.compile(r"(\d{5,})(?:-r(\d+))?")


def item_external_id(name: str, index: int, attempt: int = 0) -> str:
    """``NAME-00001`` for the first item; ``-r1``, ``-r2`` ... for later attempts."""
    base = f"{name}-{index + 1:05d}"
    return f"{base}-r{attempt}" if attempt else base


@dataclass(frozen=True)
class ItemRow:
    """The newest attempt of one item, as the journal has it."""

    index: int
    attempt: int
    row: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.row["status"])


@dataclass(frozen=True)
class Taken:
    """What ``BatchJournal.take`` found: the batch is ``mine`` now, or another live kernel
    (``holder``, ``host:pid``) runs it; ``previous`` is its row before (None: new)."""

    mine: bool
    holder: str | None
    previous: dict[str, Any] | None


class BatchJournal:
    """The ``batches`` table beside the jobs of a ``Journal`` (same file, same rules)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._ready = False

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self.journal._connect() as conn:
            self._ensure(conn)
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql, params)]

    def _ensure(self, conn: sqlite3.Connection) -> None:
        if not self._ready:
            conn.executescript(_SCHEMA)
            self._ready = True

    def get(self, name: str) -> dict[str, Any] | None:
        rows = self._exec("SELECT * FROM batches WHERE name = ?", (name,))
        return rows[0] if rows else None

    def take(self, name: str, *, base_url: str, fingerprint: str, size: int,
             inputs: str | None, output_dir: Path,
             check: Callable[[dict[str, Any]], None] | None = None) -> Taken:
        """Make the batch running here, in one write transaction, unless another live
        kernel runs it: two kernels starting (or resuming) one named batch at once cannot
        both make its items. ``check`` sees an existing row first (and may raise)."""
        me = current_owner()
        with self.journal._connect() as conn:
            self._ensure(conn)
            conn.execute("BEGIN IMMEDIATE")  # the second kernel waits here for the first
            conn.row_factory = sqlite3.Row
            found = conn.execute("SELECT * FROM batches WHERE name = ?", (name,)).fetchone()
            previous = dict(found) if found is not None else None
            if previous is not None:
                if check is not None:
                    check(previous)
                holder = previous["owner"]
                if previous["status"] == "running" and holder and holder != me \
                        and owner_alive(holder):
                    return Taken(False, holder, previous)
            now = time.time()
            conn.execute(
                "INSERT INTO batches (name, base_url, fingerprint, size, inputs, output_dir,"
                " status, owner, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'running',"
                " ?, ?, ?) ON CONFLICT(name) DO UPDATE SET status = 'running',"
                " owner = excluded.owner, updated_at = excluded.updated_at",
                (name, base_url, fingerprint, size, inputs, location_of(output_dir), me, now, now))
        return Taken(True, None, previous)

    def reopen(self, name: str) -> str | None:
        """Running again here (failed items are being retried), in one write transaction;
        or the live kernel (``host:pid``) that runs it now, and nothing changed."""
        me = current_owner()
        with self.journal._connect() as conn:
            self._ensure(conn)
            conn.execute("BEGIN IMMEDIATE")
            found = conn.execute("SELECT status, owner FROM batches WHERE name = ?",
                                 (name,)).fetchone()
            if found is not None:
                status, holder = found
                if status == "running" and holder and holder != me and owner_alive(holder):
                    return str(holder)
            conn.execute("UPDATE batches SET status = 'running', owner = ?, updated_at = ?"
                         " WHERE name = ?", (me, time.time(), name))
        return None

    def give_back(self, name: str, previous: dict[str, Any] | None) -> None:
        """Undo ``take`` when nothing was started after all (a refused budget)."""
        if previous is None:
            self._exec("DELETE FROM batches WHERE name = ? AND owner = ?",
                       (name, current_owner()))
        else:
            self._exec("UPDATE batches SET status = ?, owner = ? WHERE name = ? AND owner = ?",
                       (previous["status"], previous["owner"], name, current_owner()))

    def release(self, name: str) -> None:
        """A run that stopped with items left: still to finish (by running it again, by
        ``%kirin resume``, or by a kernel watching it), by any kernel now."""
        self._exec("UPDATE batches SET owner = NULL, updated_at = ? WHERE name = ?"
                   " AND owner = ?", (time.time(), name, current_owner()))

    def claim(self, external_ids: list[str]) -> None:
        """Items this process follows again: ``%kirin resume`` elsewhere leaves them."""
        me = current_owner()
        for at in range(0, len(external_ids), 500):
            chunk = external_ids[at:at + 500]
            marks = ", ".join("?" * len(chunk))
            self._exec(f"UPDATE jobs SET owner = ? WHERE external_id IN ({marks})",
                       (me, *chunk))

    def finish(self, name: str) -> None:
        self._exec("UPDATE batches SET status = 'done', updated_at = ? WHERE name = ?",
                   (time.time(), name))

    def holder(self, name: str) -> str | None:
        """The live kernel other than this one that runs the batch now, if any."""
        row = self.get(name)
        if row is None or row["status"] != "running":
            return None
        owner = row["owner"]
        return owner if owner and owner != current_owner() and owner_alive(owner) else None

    def items(self, name: str) -> dict[int, ItemRow]:
        """The newest attempt of each item that reached the journal, by index."""
        rows = self._exec(
            "SELECT * FROM jobs WHERE external_id >= ? AND external_id < ?",
            (f"{name}-", f"{name}."))  # '.' follows '-': every id that starts "NAME-"
        found: dict[int, ItemRow] = {}
        prefix = len(name) + 1
        for row in rows:
            match = _ITEM.fullmatch(row["external_id"][prefix:])
            if match is None:
                continue  # another batch whose name starts with this one and a dash
            index, attempt = int(match.group(1)) - 1, int(match.group(2) or 0)
            if index not in found or found[index].attempt < attempt:
                found[index] = ItemRow(index, attempt, row)
        return found

    def unfinished(self, base_url: str) -> list[dict[str, Any]]:
        """Batches on this service still marked running whose kernel is gone (or is us)."""
        rows = self._exec("SELECT * FROM batches WHERE status = 'running' AND base_url = ?"
                          " ORDER BY created_at", (base_url,))
        me = current_owner()
        return [row for row in rows if row["owner"] == me or not owner_alive(row["owner"])]


def describe_owner(owner: str) -> str:
    """``host:pid`` as words: ``pid 4242, host lab-7``."""
    host, _, pid = owner.rpartition(":")
    return f"pid {pid}, host {host}" if host else f"pid {pid}"


def result_from_row(row: dict[str, Any], *, simulated: bool,
                    journal: Journal | None = None) -> Result | None:
    """The Result of a completed job from its journal row, if all its files are there."""
    if row["status"] != "completed":
        return None
    paths = local_paths(row["paths"])
    if not paths or not all(path.is_file() for path in paths):
        return None
    try:
        cost = Decimal(row["cost"]) if row["cost"] is not None else None
    except InvalidOperation:
        cost = None
    request = json.loads(row["request"] or "{}")
    options = {k: v for k, v in request.items()
               if k not in ("model", "prompt", "external_task_id", "callback_url")}
    return Result(
        task_id=row["task_id"] or row["external_id"],
        external_task_id=row["external_id"],
        model=row["model"],
        prompt=row["prompt"],
        paths=paths,
        urls=json.loads(row["urls"] or "[]"),
        types=["image"] * len(paths),
        cost=cost,
        simulated=simulated,
        finished_at=row["updated_at"],
        options=options,
        journal=journal,
    )
