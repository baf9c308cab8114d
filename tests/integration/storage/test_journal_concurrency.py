"""A fresh journal first used by several processes at once (issue 22, class C): the
schema is created and migrated in one transaction with a version, so none of them fails
("duplicate column name" failed some of their jobs before)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest

from kirin_jupyter.storage.journal import SCHEMA_VERSION, Journal
from kirin_jupyter.storage.journal_pg import SCHEMA_VERSION as PG_SCHEMA_VERSION
from tests.support.postgres import open_journal_at


def _first_use(path: str, start_at: float, index: int, results: multiprocessing.Queue
               ) -> None:
    while time.time() < start_at:  # all six open the journal at the same moment
        time.sleep(0.001)
    try:
        journal = open_journal_at(path)
        journal.record_submit(f"kj-{index}", "kirin_image_omni", "a fox", {"n": 1},
                              "https://gw.example", Path("/tmp"))
        journal.record_host_fact("https://gw.example", f"fact-{index}", "yes")
        results.put((index, "ok"))
    except Exception as exc:  # reported to the test, which shows it
        results.put((index, f"{exc.__class__.__name__}: {exc}"))


def test_six_processes_open_a_fresh_journal_at_once(tmp_path: Path, journal_at: str,
                                                    request: pytest.FixtureRequest) -> None:
    on_pg = journal_at.startswith("postgresql://")
    for round_ in range(3):  # the race is narrow: a few fresh journals
        path = request.getfixturevalue("pg_cluster").database() if on_pg \
            else tmp_path / f"journal-{round_}.sqlite3"
        context = multiprocessing.get_context("spawn")
        results: multiprocessing.Queue = context.Queue()
        start_at = time.time() + 1.5  # after every process has imported the package
        workers = [context.Process(target=_first_use, args=(str(path), start_at, i, results))
                   for i in range(6)]
        for worker in workers:
            worker.start()
        outcomes = dict(results.get(timeout=60) for _ in workers)
        for worker in workers:
            worker.join(30)
        assert outcomes == {i: "ok" for i in range(6)}
        if on_pg:
            journal = open_journal_at(str(path))
            assert journal.schema_version() == PG_SCHEMA_VERSION
            assert journal.history()[1] == 6 and len(journal.host_facts("https://gw.example")) == 6
            continue
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 6
            assert conn.execute("SELECT COUNT(*) FROM host_facts").fetchone()[0] == 6


def test_an_older_journal_is_migrated_once(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # a journal of the first release: no later columns
        conn.execute("CREATE TABLE jobs (external_id TEXT PRIMARY KEY, task_id TEXT, model TEXT"
                     " NOT NULL, prompt TEXT NOT NULL, request TEXT NOT NULL, base_url TEXT NOT"
                     " NULL, status TEXT NOT NULL, cost TEXT, urls TEXT, paths TEXT, error TEXT,"
                     " created_at REAL NOT NULL, updated_at REAL NOT NULL)")
        conn.execute("INSERT INTO jobs VALUES ('kj-old', 't', 'kirin_image_omni', 'old fox',"
                     " '{}', 'https://gw.example', 'completed', NULL, NULL, NULL, NULL, 1, 1)")
    journal = Journal(path)
    row = journal.get("kj-old")
    assert row is not None and row["prompt"] == "old fox" and row["parents"] is None
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_journal_with_the_old_events_table_is_migrated_and_still_works(tmp_path: Path
                                                                        ) -> None:
    """Version 2 journals kept an ``events`` table that nothing a person uses read; the
    migration to 3 drops it and keeps every job and host fact."""
    path = tmp_path / "v2.sqlite3"
    first = Journal(path)
    first.record_submit("kj-old", "kirin_image_omni", "old fox", {"n": 1},
                        "https://gw.example", Path("/tmp"))
    first.record_host_fact("https://gw.example", "lookup", "yes")
    first.close()
    with sqlite3.connect(path) as conn:  # what version 2 wrote beside the jobs
        conn.execute("CREATE TABLE IF NOT EXISTS events (external_id TEXT NOT NULL, at REAL"
                     " NOT NULL, status TEXT NOT NULL, detail TEXT)")
        conn.execute("INSERT INTO events VALUES ('kj-old', 1, 'submitting', NULL)")
        conn.execute("PRAGMA user_version = 2")
    conn.close()
    journal = Journal(path)
    old = journal.get("kj-old")
    assert old is not None and old["prompt"] == "old fox" and old["status"] == "submitting"
    assert journal.host_facts("https://gw.example")["lookup"][0] == "yes"
    journal.record_state("kj-old", "created", task_id="t-old")
    journal.record_submit("kj-new", "kirin_image_omni", "new fox", {"n": 1},
                          "https://gw.example", Path("/tmp"))
    journal.record_state("kj-new", "failed", detail="refused")
    journal.record_result("kj-old", "0.04", ["https://gw.example/1.png"], [Path("/tmp/1.png")])
    old, new = journal.get("kj-old"), journal.get("kj-new")
    assert old is not None and old["status"] == "completed" and old["task_id"] == "t-old"
    assert new is not None and new["status"] == "failed" and new["error"] == "refused"
    assert [row["external_id"] for row in journal.history()[0]] == ["kj-new", "kj-old"]
    journal.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
        tables = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"jobs", "durations", "host_facts", "elements", "uploads",
                          "result_files"}
    conn.close()


def test_history_search_is_plain_text_and_bounded(journal_at: str) -> None:
    from kirin_jupyter.errors import ValidationError

    journal = open_journal_at(journal_at)
    for index, prompt in enumerate(["100% cotton_shirt", "a FOX", "back\\slash", "Ünïcode fox"]):
        journal.record_submit(f"kj-{index}", "kirin_image_omni", prompt, {}, "u", Path("/tmp"))
    assert [r["prompt"] for r in journal.history(search="0% c")[0]] == ["100% cotton_shirt"]
    assert [r["prompt"] for r in journal.history(search="n_s")[0]] == ["100% cotton_shirt"]
    assert [r["prompt"] for r in journal.history(search="k\\s")[0]] == ["back\\slash"]
    assert journal.history(search="%")[0][0]["prompt"] == "100% cotton_shirt"
    assert len(journal.history(search="fox")[0]) == 2
    assert journal.history(search="%_" * 100)[1] == 0  # 200 wildcards: plain text, no match
    with pytest.raises(ValidationError, match="at most 200"):
        journal.history(search="%" * 5000)


def test_journal_version_4_gains_the_uploads_table(tmp_path: Path) -> None:
    """A journal of version 4 (elements) migrates to the current version (5: uploads; 6: jobs.protocol), keeping what it held."""
    path = tmp_path / "v4.sqlite3"
    first = Journal(path)
    first.record_host_fact("https://gw.example", "lookup", "yes")
    first.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE uploads")
        conn.execute("PRAGMA user_version = 4")
    conn.close()
    journal = Journal(path)
    assert journal.upload("https://up.example/files", "ab" * 32) is None
    journal.record_upload("https://up.example/files", "ab" * 32, "https://cdn/x.png?sig=1", 9)
    assert journal.upload("https://up.example/files", "ab" * 32) == "https://cdn/x.png?sig=1"
    journal.forget_upload("https://up.example/files", "ab" * 32, "https://cdn/other.png")
    assert journal.upload("https://up.example/files", "ab" * 32) is not None  # not that one
    journal.forget_upload("https://up.example/files", "ab" * 32, "https://cdn/x.png?sig=1")
    assert journal.upload("https://up.example/files", "ab" * 32) is None
    assert journal.host_facts("https://gw.example")["lookup"][0] == "yes"
    journal.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
    conn.close()


def test_a_version_6_journal_gains_the_result_files_table_and_keeps_its_jobs(
        tmp_path: Path) -> None:
    """Schema 7 (issue 28): each saved file's record, level, stars and pick."""
    path = tmp_path / "v6.sqlite3"
    first = Journal(path)
    first.record_submit("kj-6", "kirin_image_omni", "a fox", {"n": 1}, "https://gw.example",
                        tmp_path)
    picture = tmp_path / "01.png"
    picture.write_bytes(b"not read")
    first.record_result("kj-6", None, ["https://gw.example/1.png"], [picture])
    first.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE result_files")
        conn.execute("PRAGMA user_version = 6")
    conn.close()
    journal = Journal(path)
    row = journal.set_mark(picture, rating=4, flag="picked")
    assert (row["rating"], row["flag"], row["external_id"]) == (4, "picked", "kj-6")
    assert [r["external_id"] for r in journal.history(picked=True)[0]] == ["kj-6"]
    journal.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_version_7_journal_names_who_made_its_jobs_and_records_it_from_then_on(
        tmp_path: Path) -> None:
    """Schema 8 (issue 27 item 4 on SQLite): jobs.user_name and jobs.host. A journal's
    older jobs were its user's, made on their owner's host; new ones record both."""
    import socket

    path = tmp_path / "v7.sqlite3"
    first = Journal(path)
    first.record_submit("kj-7", "kirin_image_omni", "a fox", {"n": 1}, "https://gw.example",
                        tmp_path)
    first.close()
    with sqlite3.connect(path) as conn:  # the jobs table as version 7 had it
        conn.execute("DROP INDEX jobs_by_user")
        conn.execute("ALTER TABLE jobs DROP COLUMN user_name")
        conn.execute("ALTER TABLE jobs DROP COLUMN host")
        conn.execute("UPDATE jobs SET owner = 'far-host:123'")
        conn.execute("PRAGMA user_version = 7")
    conn.close()
    journal = Journal(path, user="ana")
    old = journal.get("kj-7")
    assert old is not None and (old["user_name"], old["host"]) == ("ana", "far-host")
    journal.record_submit("kj-8", "kirin_image_omni", "a hare", {"n": 1}, "https://gw.example",
                          tmp_path)
    new = journal.get("kj-8")
    assert new is not None and (new["user_name"], new["host"]) == ("ana", socket.gethostname())
    Journal(path, user="bo").record_submit("kj-bo", "kirin_image_omni", "an owl", {"n": 1},
                                           "https://gw.example", tmp_path)
    assert [r["external_id"] for r in journal.history(user="ana")[0]] == ["kj-8", "kj-7"]
    assert [r["external_id"] for r in journal.history(user="bo")[0]] == ["kj-bo"]
    assert journal.history(user="nobody") == ([], 0)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
    conn.close()
