"""The journal (SQLite, WAL) and where result files go: nothing paid for is lost.

The journal row for a job is written before its create request is sent, so a crash at any
point leaves the external id on disk. Requests are stored with images by hash; the API key
is never given to this module.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    external_id TEXT PRIMARY KEY,
    task_id     TEXT,
    model       TEXT NOT NULL,
    prompt      TEXT NOT NULL,
    request     TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    status      TEXT NOT NULL,
    cost        TEXT,
    urls        TEXT,
    paths       TEXT,
    error       TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    external_id TEXT NOT NULL,
    at          REAL NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT
);
"""


def safe_dirname(task_id: str) -> str:
    """A folder name for a server-given id: the id itself only if it is plainly safe."""
    if _SAFE_ID.fullmatch(task_id) and ".." not in task_id:
        return task_id
    return "task-" + hashlib.sha256(task_id.encode()).hexdigest()[:20]


def result_path(output_dir: Path, task_id: str, index: int, suffix: str) -> Path:
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ".png"
    return output_dir / safe_dirname(task_id) / f"{index + 1:02d}{suffix}"


class Journal:
    """Every job's life on disk; safe for several threads and kernels (one connection a call)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            if not self._ready:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                self._ready = True
            with conn:
                yield conn
        finally:
            conn.close()

    def record_submit(
        self, external_id: str, model: str, prompt: str, request: dict[str, Any], base_url: str
    ) -> None:
        now = time.time()
        with self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO jobs (external_id, model, prompt, request, base_url,"
                " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'submitting', ?, ?)",
                (external_id, model, prompt, json.dumps(request), base_url, now, now),
            )
            conn.execute(
                "INSERT INTO events VALUES (?, ?, 'submitting', NULL)", (external_id, now)
            )

    def record_state(
        self,
        external_id: str,
        status: str,
        *,
        task_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        now = time.time()
        with self._connect() as conn:
            conn.execute(
                "UPDATE jobs SET status = ?, task_id = COALESCE(?, task_id), updated_at = ?,"
                " error = CASE WHEN ? = 'failed' THEN ? ELSE error END WHERE external_id = ?",
                (status, task_id, now, status, detail, external_id),
            )
            conn.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?)", (external_id, now, status, detail)
            )

    def record_result(
        self, external_id: str, cost: str | None, urls: Sequence[str], paths: Sequence[Path]
    ) -> None:
        now = time.time()
        with self._connect() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'completed', cost = ?, urls = ?, paths = ?,"
                " updated_at = ? WHERE external_id = ?",
                (cost, json.dumps(list(urls)), json.dumps([str(p) for p in paths]), now,
                 external_id),
            )
            conn.execute(
                "INSERT INTO events VALUES (?, ?, 'completed', NULL)", (external_id, now)
            )

    def get(self, external_id: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute(
                "SELECT * FROM jobs WHERE external_id = ?", (external_id,)
            ).fetchone()
        return dict(row) if row else None

    def events(self, external_id: str) -> list[tuple[str, str | None]]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT status, detail FROM events WHERE external_id = ? ORDER BY at, rowid",
                (external_id,),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]
