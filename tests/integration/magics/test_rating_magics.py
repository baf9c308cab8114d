"""``%kirin rate $job[2] 4``, ``pick``, ``reject``, ``cull``, ``history --picked`` and
``--rating 4+``, and ``%%kirin --provenance`` (issue 28), in an IPython shell; the marks
on the SQLite journal and on a team's PostgreSQL one."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import kirin_jupyter
from kirin_jupyter.engine.job import Job
from tests.support.exiftool import xmp_tags


@pytest.fixture
def html_out(shell: InteractiveShell) -> Any:
    shown: list[str] = []
    publisher = shell.display_pub
    old = publisher.publish
    publisher.publish = lambda data, *a, **k: shown.append(  # type: ignore[method-assign]
        data.get("text/html", ""))
    yield shown
    publisher.publish = old  # type: ignore[method-assign]


def test_rate_pick_reject_and_history_filters_on_the_magic_line(
        each_journal: str, shell: InteractiveShell, html_out: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_cell_magic("kirin", "kites -n 3 --wait", "three kites")
    shell.run_cell_magic("kirin", "other --wait", "a boat")
    kites: Job = shell.user_ns["kites"]
    assert kites.result is not None and kites.result.journal is not None
    assert kites.result.journal.dialect == each_journal
    shell.run_line_magic("kirin", "rate $kites[2] 4")
    out = capsys.readouterr().out
    assert "★★★★☆ (journal and file)" in out and kites.result.paths[2].name in out
    assert xmp_tags(kites.result.paths[2])["Rating"] == 4
    shell.run_line_magic("kirin", "pick $kites[2]")
    shell.run_line_magic("kirin", "reject $kites[0]")
    assert [m.flag for m in kites.result.marks] == ["rejected", None, "picked"]
    shell.run_line_magic("kirin", "history --picked")
    assert "three kites" in html_out[-1] and "a boat" not in html_out[-1]
    shell.run_line_magic("kirin", "history --rating 4+")
    assert "three kites" in html_out[-1] and "a boat" not in html_out[-1]
    shell.run_line_magic("kirin", "history --rating 5+")
    assert "three kites" not in html_out[-1]
    frame = kirin_jupyter.history_frame()
    kite_row = frame[frame["prompt"] == "three kites"].iloc[0]
    assert (kite_row["rating"], kite_row["picked"], kite_row["rejected"]) == (4, 1, 1)
    shell.run_line_magic("kirin", "cull")
    assert not kites.result.paths[0].exists()
    assert (kites.result.paths[0].parent / "rejected" / kites.result.paths[0].name).is_file()
    with pytest.raises(UsageError, match="rating is a whole number from 0 to 5"):
        shell.run_line_magic("kirin", "rate $kites[1] 9")
    with pytest.raises(UsageError, match=r"--rating is 0 to 5 stars"):
        shell.run_line_magic("kirin", "history --rating lots")
    with pytest.raises(UsageError, match="unexpected"):
        shell.run_line_magic("kirin", "cull --now")


def test_the_magic_option_sets_the_level_and_a_bad_one_sends_nothing(
        shell: InteractiveShell) -> None:
    shell.run_cell_magic("kirin", "quiet --provenance minimal --wait", "a private teal kite")
    job: Job = shell.user_ns["quiet"]
    assert job.result is not None and job.result.provenance == "minimal"
    assert b"private teal" not in job.result.paths[0].read_bytes()
    with pytest.raises(UsageError, match="choose one of: full, minimal, off"):
        shell.run_cell_magic("kirin", "bad --provenance secret", "a kite")
    assert "bad" not in shell.user_ns
    made = kirin_jupyter.generate("a private red kite", provenance="off").wait(20)
    assert made.provenance == "off" and b"kirin" not in made.paths[0].read_bytes()
