"""The journal at scale (store.py): resume() reads indexes, not every job ever made, and
a write reuses its thread's connection. The timings are in tests/benchmark.py."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from kirin_jupyter.storage import journal as store
from kirin_jupyter.storage.journal import Journal

URL = "http://x"


def submit(journal: Journal, ext: str, tmp_path: Path, url: str = URL) -> None:
    journal.record_submit(ext, "kirin_image_omni", "a fox", {"n": 1}, url, tmp_path)


def complete(journal: Journal, ext: str, paths: list[Path]) -> None:
    journal.record_result(ext, "0.04", [f"{URL}/{ext}.png"], paths)


def test_the_claim_reads_the_unfinished_jobs_through_their_partial_index(tmp_path: Path
                                                                        ) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    submit(journal, "a", tmp_path)
    with journal._connect() as conn:
        plans = [" ".join(str(r) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))
                 for sql, args in (
                     (f"SELECT * FROM jobs WHERE {store._UNFINISHED} AND base_url = ?"
                      " ORDER BY created_at", (URL,)),
                     ("SELECT * FROM jobs WHERE base_url = ? AND status = 'completed'"
                      " ORDER BY updated_at DESC LIMIT ?", (URL, 10)))]
    assert "jobs_unfinished" in plans[0] and "TEMP B-TREE" not in plans[0]
    assert "jobs_by_status" in plans[1] and "TEMP B-TREE" not in plans[1]


def test_what_resume_claims(tmp_path: Path) -> None:
    """Unfinished jobs of this service in the order they were made, and completed ones
    with a result file gone; never finished ones, whole ones or another service's."""
    journal = Journal(tmp_path / "j.sqlite3")
    kept = tmp_path / "kept.png"
    kept.write_bytes(b"x")
    for ext in ("running", "whole", "gone", "failed", "interrupted", "not-json"):
        submit(journal, ext, tmp_path)
    submit(journal, "elsewhere", tmp_path, url="http://other")
    journal.record_state("running", "running", task_id="t1")
    complete(journal, "whole", [kept])
    complete(journal, "gone", [kept, tmp_path / "deleted.png"])
    journal.record_state("failed", "failed", detail="refused")
    journal.record_state("interrupted", "interrupted")
    complete(journal, "not-json", [])
    with journal._connect() as conn:
        conn.execute("UPDATE jobs SET paths = 'not json' WHERE external_id = 'not-json'")
    claimed, held = journal.claim_unfinished(URL)
    assert [row["external_id"] for row in claimed] == ["running", "gone", "interrupted"]
    assert held == []
    assert all(journal.get(row["external_id"])["owner"] == store.current_owner()
               for row in claimed)
    claimed, _ = journal.claim_unfinished(URL, skip=frozenset({"running"}))
    assert [row["external_id"] for row in claimed] == ["gone", "interrupted"]


def test_missing_files_are_looked_for_among_the_newest_completed_jobs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "RECHECKED_COMPLETED", 2)
    journal = Journal(tmp_path / "j.sqlite3")
    for ext in ("oldest", "older", "newer", "newest"):
        submit(journal, ext, tmp_path)
        complete(journal, ext, [tmp_path / f"{ext}.png"])  # none of the files exist
    claimed, _ = journal.claim_unfinished(URL)
    assert [row["external_id"] for row in claimed] == ["newer", "newest"]


def test_each_thread_keeps_one_connection_and_a_failed_one_is_replaced(tmp_path: Path
                                                                      ) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    submit(journal, "a", tmp_path)
    first = journal._local.conn
    journal.record_state("a", "running")
    assert journal.get("a")["status"] == "running" and journal._local.conn is first
    with journal._connect() as conn:
        assert conn.row_factory is None  # get() set sqlite3.Row; the next call starts clean
    with pytest.raises(sqlite3.IntegrityError):
        submit(journal, "a", tmp_path)  # an external id is never reused
    assert journal._local.conn is None
    journal.record_state("a", "completed")  # a new connection
    assert journal._local.conn is not first and journal.get("a")["status"] == "completed"

    seen: list[object] = []

    def writer(name: str) -> None:
        for i in range(20):
            submit(journal, f"{name}-{i}", tmp_path)
        seen.append(journal._local.conn)

    threads = [threading.Thread(target=writer, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(c) for c in seen}) == 4 and journal.history(limit=1)[1] == 81


def test_an_old_journal_gains_the_resume_indexes(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE jobs (external_id TEXT PRIMARY KEY, task_id TEXT, model TEXT NOT NULL,"
            " prompt TEXT NOT NULL, request TEXT NOT NULL, base_url TEXT NOT NULL,"
            " status TEXT NOT NULL, cost TEXT, urls TEXT, paths TEXT, error TEXT,"
            " created_at REAL NOT NULL, updated_at REAL NOT NULL)")
        conn.execute("INSERT INTO jobs (external_id, model, prompt, request, base_url, status,"
                     " created_at, updated_at) VALUES ('old', 'm', 'p', '{}', ?, 'running',"
                     " 1, 1)", (URL,))
    conn.close()
    claimed, _ = Journal(path).claim_unfinished(URL)
    assert [row["external_id"] for row in claimed] == ["old"]
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    conn.close()
    assert {"jobs_unfinished", "jobs_by_status"} <= names


def test_only_the_write_before_a_create_waits_for_the_disk(tmp_path: Path) -> None:
    """record_submit is fsynced (synchronous=FULL); the other writes survive the process
    being killed (WAL, synchronous=NORMAL) without an fsync each."""
    journal = Journal(tmp_path / "j.sqlite3")
    levels = []
    submit(journal, "a", tmp_path)
    levels.append(journal._local.conn.execute("PRAGMA synchronous").fetchone()[0])
    journal.record_state("a", "running")
    levels.append(journal._local.conn.execute("PRAGMA synchronous").fetchone()[0])
    submit(journal, "b", tmp_path)
    levels.append(journal._local.conn.execute("PRAGMA synchronous").fetchone()[0])
    assert levels == [2, 1, 2]  # FULL, NORMAL, FULL
