"""A batch's rows in a team's PostgreSQL journal: the same ``BatchJournal`` methods, with
row locks and leases where the SQLite journal takes its one write lock and asks whether a
pid on this host lives (another host's pid cannot be asked)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..storage.journal import Journal, current_owner
from ..storage.journal_pg import PgJournal
from ..storage.shared_results import location_of
from .journal import BatchJournal, Taken


class PgBatchJournal(BatchJournal):
    """The ``batches`` table of a ``PgJournal`` (created by its migrations)."""

    journal: PgJournal

    def __init__(self, journal: PgJournal) -> None:
        super().__init__(journal)
        self._ready = True

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self.journal._connect() as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return [dict(row) for row in cursor.fetchall()] if cursor.description else []

    def _live(self, row: dict[str, Any]) -> bool:
        """Another process holds the batch and its lease has not run out."""
        holder = row.get("owner")
        return bool(row["status"] == "running" and holder and holder != current_owner()
                    and (row.get("lease_until") or 0) > time.time())

    def take(self, name: str, *, base_url: str, fingerprint: str, size: int,
             inputs: str | None, output_dir: Path,
             check: Callable[[dict[str, Any]], None] | None = None) -> Taken:
        """As ``BatchJournal.take``: the row is made if missing, then locked (``FOR
        UPDATE``), so of two kernels taking one batch at once the second waits and then
        sees the first's live lease."""
        me, now = current_owner(), time.time()
        self.journal._ensure_renewer()
        with self.journal._connect() as conn:
            found = conn.execute("SELECT * FROM batches WHERE name = %s FOR UPDATE",
                                 (name,)).fetchone()
            if found is None:
                inserted = conn.execute(
                    "INSERT INTO batches (name, base_url, fingerprint, size, inputs,"
                    " output_dir, status, owner, lease_until, created_at, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, 'running', %s, %s, %s, %s)"
                    " ON CONFLICT (name) DO NOTHING",
                    (name, base_url, fingerprint, size, inputs, location_of(output_dir), me,
                     self.journal.lease_end(), now, now)).rowcount
                if inserted:
                    return Taken(True, None, None)
                found = conn.execute("SELECT * FROM batches WHERE name = %s FOR UPDATE",
                                     (name,)).fetchone()
            previous = dict(found)
            if check is not None:
                check(previous)
            if self._live(previous):
                return Taken(False, previous["owner"], _plain(previous))
            conn.execute("UPDATE batches SET status = 'running', owner = %s,"
                         " lease_until = %s, updated_at = %s WHERE name = %s",
                         (me, self.journal.lease_end(), now, name))
        return Taken(True, None, _plain(previous))

    def reopen(self, name: str) -> str | None:
        me = current_owner()
        with self.journal._connect() as conn:
            found = conn.execute("SELECT * FROM batches WHERE name = %s FOR UPDATE",
                                 (name,)).fetchone()
            if found is not None and self._live(dict(found)):
                return str(found["owner"])
            conn.execute("UPDATE batches SET status = 'running', owner = %s,"
                         " lease_until = %s, updated_at = %s WHERE name = %s",
                         (me, self.journal.lease_end(), time.time(), name))
        return None

    def claim(self, external_ids: list[str]) -> None:
        self._exec("UPDATE jobs SET owner = ?, lease_until = ? WHERE external_id = ANY(?)",
                   (current_owner(), self.journal.lease_end(), list(external_ids)))

    def get(self, name: str) -> dict[str, Any] | None:
        rows = self._exec("SELECT * FROM batches WHERE name = ?", (name,))
        return _plain(rows[0]) if rows else None

    def holder(self, name: str) -> str | None:
        rows = self._exec("SELECT * FROM batches WHERE name = ?", (name,))
        return str(rows[0]["owner"]) if rows and self._live(rows[0]) else None

    def items(self, name: str) -> dict[int, Any]:
        return super().items(name)  # the range scan works: external_id is COLLATE "C"

    def unfinished(self, base_url: str) -> list[dict[str, Any]]:
        rows = self._exec("SELECT * FROM batches WHERE status = 'running' AND base_url = ?"
                          " ORDER BY created_at", (base_url,))
        return [_plain(row) for row in rows if not self._live(row)]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """The row as the SQLite batch journal gives it (no lease column)."""
    return {k: v for k, v in row.items() if k != "lease_until"}


def batch_journal(journal: Journal) -> BatchJournal:
    """The batch rows of ``journal``, on whichever store it is."""
    if isinstance(journal, PgJournal):
        return PgBatchJournal(journal)
    return BatchJournal(journal)
