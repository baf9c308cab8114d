"""Which journal a client opens: the personal SQLite file, or a team's PostgreSQL
database when ``journal_url`` names one (``journal_pg``, needing the ``[team]`` extra)."""

from __future__ import annotations

from pathlib import Path

from .journal import Journal

SQLITE_NAME = "journal.sqlite3"


def open_journal(home: Path, url: str = "", user: str = "") -> Journal:
    """The journal for ``journal_url`` (``url``), else ``home``'s SQLite journal. Nothing
    is connected here: the first call on the journal connects (and migrates)."""
    if url:
        from .journal_pg import PgJournal

        return PgJournal(url, user=user or None)
    return Journal(home / SQLITE_NAME, user=user or None)
