"""The team commands on the real PostgreSQL server: ``%kirin journal migrate`` copies a
personal journal in once, keeping ids; ``%kirin history --user``, ``history_frame`` and
``%kirin spend`` see who made what."""

from __future__ import annotations

from pathlib import Path

import pytest

from kirin_jupyter.simulator.server import SimulatorServer
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
    capsys.readouterr()
    shell.run_line_magic("kirin", f"journal migrate {pg_url}")
    said = capsys.readouterr().out
    assert "added 1 jobs" in said and "kirin@" not in said  # the URL's user is cut
    shell.run_line_magic("kirin", f"journal migrate {pg_url}")
    assert "added 0 jobs, 0 elements, 0 host_facts" in capsys.readouterr().out
    team = PgJournal(pg_url)
    rows = team.history()[0]
    assert [r["prompt"] for r in rows] == ["a personal lighthouse"]
    me = rows[0]["user"]
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
