"""The team commands on the real PostgreSQL server: ``%kirin journal migrate`` copies a
personal journal in once, keeping ids, who made each job and each file's stars and pick;
``%kirin history --user``, ``history_frame``, ``%kirin export --user`` and ``%kirin spend``
see who made what."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.storage.journal import Journal
from kirin_jupyter.storage.journal_pg import PgJournal
from tests.conftest import TEST_KEY


def test_migrate_copies_a_personal_journal_once_then_history_filters_by_user(
        shell, sim_server: SimulatorServer, pg_url: str, capsys,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kirin_jupyter.exporter.export import journal_rows

    shell.run_line_magic("config", f"Kirin.base_url = '{sim_server.url}'")
    monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)
    shell.run_line_magic("config", "Kirin.blocking = True")
    shell.run_line_magic("kirin", "-m v3 -n 1 a personal lighthouse")
    shell.run_line_magic("kirin", "rate $_kirin[0] 4")
    shell.run_line_magic("kirin", "pick $_kirin[0]")
    picture = shell.user_ns["_kirin"].result.paths[0]
    capsys.readouterr()
    shell.run_line_magic("kirin", f"journal migrate {pg_url}")
    said = capsys.readouterr().out
    assert "added 1 jobs" in said and "1 result_files" in said
    assert "kirin@" not in said  # the URL's user is cut
    shell.run_line_magic("kirin", f"journal migrate {pg_url}")
    assert "added 0 jobs, 0 elements, 0 host_facts, 0 uploads, 0 result_files" in \
        capsys.readouterr().out
    team = PgJournal(pg_url)
    rows = team.history()[0]
    assert [r["prompt"] for r in rows] == ["a personal lighthouse"]
    me = rows[0]["user"]
    assert me and rows[0]["host"] == socket.gethostname()
    mark = team.file_marks([picture.resolve()])[str(picture.resolve())]
    assert (mark["rating"], mark["flag"]) == (4, "picked")
    assert [r["prompt"] for r in team.history(picked=True)[0]] == ["a personal lighthouse"]
    monkeypatch.setenv("KIRIN_JOURNAL_URL", pg_url)
    monkeypatch.setenv("KIRIN_USER", "someone-else")
    from kirin_jupyter.client import Client

    teammate = Client(api_key=TEST_KEY, base_url=sim_server.url)
    teammate.generate("a team lighthouse", model="kirin_v3_image", n=1).wait(30)
    assert [r["prompt"] for r in team.history(user="someone-else")[0]] == ["a team lighthouse"]
    assert [r["prompt"] for r in team.history(user=me)[0]] == ["a personal lighthouse"]
    # what history_frame() and export read
    assert [r["prompt"] for r in journal_rows(teammate.journal, user="someone-else")] == [
        "a team lighthouse"]
    assert teammate.journal.history(user=me)[1] == 1


def test_spend_needs_a_team_journal(shell, capsys) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="journal_url"):
        shell.run_line_magic("kirin", "spend")


def test_the_migrations_are_numbered_rows_and_run_once(pg_url: str, tmp_path: Path) -> None:
    from kirin_jupyter.storage.journal_pg import MIGRATIONS

    first = PgJournal(pg_url)
    assert first.schema_version() == MIGRATIONS[-1][0]
    again = PgJournal(pg_url)  # a second kernel: nothing to migrate
    rows = again._rows("SELECT version, name FROM kirin_migrations ORDER BY version")
    assert [(r["version"], r["name"]) for r in rows] == [(v, n) for v, n, _ in MIGRATIONS]


def test_migrate_keeps_each_job_s_user_and_host_and_each_file_s_record_and_marks(
        pg_url: str, tmp_path: Path) -> None:
    personal = tmp_path / "journal.sqlite3"
    ana = Journal(personal, user="ana")
    ana.record_submit("kj-a", "kirin_image_omni", "ana's fox", {"n": 1}, "http://x", tmp_path)
    Journal(personal, user="bo").record_submit("kj-b", "kirin_image_omni", "bo's owl",
                                               {"n": 1}, "http://x", tmp_path)
    with sqlite3.connect(personal) as conn:  # made on another machine
        conn.execute("UPDATE jobs SET host = 'laptop' WHERE external_id = 'kj-b'")
    conn.close()
    picture = tmp_path / "01.png"
    ana.record_files("kj-a", [{"path": picture, "image": 1, "provenance": "minimal",
                               "stored_in": "file", "record": {"prompt": "ana's fox"}}])
    ana.set_mark(picture, rating=5, flag="picked")
    team = PgJournal(pg_url, user="zed")  # who migrates is not who made them
    added = team.import_sqlite(ana)
    assert (added["jobs"], added["result_files"]) == (2, 1)
    a, b = team.get("kj-a"), team.get("kj-b")
    assert a is not None and (a["user"], a["host"]) == ("ana", socket.gethostname())
    assert b is not None and (b["user"], b["host"]) == ("bo", "laptop")
    row = team.file_marks([picture])[str(picture)]
    assert (row["external_id"], row["rating"], row["flag"], row["provenance"]) == (
        "kj-a", 5, "picked", "minimal")
    assert team.file_record(picture) == {"prompt": "ana's fox"}
    assert [r["external_id"] for r in team.history(min_rating=5)[0]] == ["kj-a"]
    assert [r["external_id"] for r in team.history(user="bo")[0]] == ["kj-b"]
    assert set(team.import_sqlite(ana).values()) == {0}  # twice changes nothing
