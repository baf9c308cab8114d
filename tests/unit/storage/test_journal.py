"""The journal alone: safe folder names from server ids, older journals upgraded."""

from __future__ import annotations

from pathlib import Path

from kirin_jupyter.storage.journal import Journal, result_path, safe_dirname


def test_server_ids_never_become_path_parts(tmp_path) -> None:
    assert safe_dirname("sim-abc_1.2") == "sim-abc_1.2"
    for hostile in ("../../x", "..", "a/b", "/etc/passwd", "", "x" * 300, "a\x00b"):
        name = safe_dirname(hostile)
        assert "/" not in name and ".." not in name and name.startswith("task-")
    path = result_path(tmp_path, "../../x", 0, ".png/../../y")
    assert path.parent.parent == tmp_path and path.name == "01.png"


def test_a_journal_from_an_older_version_is_upgraded(tmp_path: Path) -> None:
    """Found by running the quickstart on a machine with an older journal: every job
    failed with 'no column named owner'."""
    import sqlite3

    path = tmp_path / "journal.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE jobs (external_id TEXT PRIMARY KEY, task_id TEXT, model TEXT NOT NULL,"
        " prompt TEXT NOT NULL, request TEXT NOT NULL, base_url TEXT NOT NULL,"
        " status TEXT NOT NULL, cost TEXT, urls TEXT, paths TEXT, error TEXT,"
        " created_at REAL NOT NULL, updated_at REAL NOT NULL);"
        "CREATE TABLE durations (model TEXT NOT NULL, resolution TEXT NOT NULL,"
        " n INTEGER NOT NULL, seconds REAL NOT NULL, at REAL NOT NULL);"
        "INSERT INTO jobs VALUES ('kj-old', 't-old', 'kirin_image_omni', 'an old fox', '{}',"
        " 'http://x', 'completed', '0.04', '[]', '[]', NULL, 1, 1);"
        "INSERT INTO durations VALUES ('kirin_image_omni', '1k', 1, 20.0, 1);"
    )
    old.close()
    journal = Journal(path)
    journal.record_submit("kj-new", "kirin_image_omni", "a new fox", {"n": 1}, "http://x",
                          tmp_path)
    journal.record_duration("kirin_image_omni", "1k", 1, 21.0, 0.5)
    assert journal.get("kj-old")["prompt"] == "an old fox"
    assert journal.get("kj-new")["output_dir"] == str(tmp_path)
    assert sorted(journal.durations("kirin_image_omni", "1k", 1)) == [(20.0, 0.0), (21.0, 0.5)]
