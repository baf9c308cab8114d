"""``%kirin history``: paging and filters done in SQL, one-line errors, a compact themed
table in notebooks and an aligned text table in terminals."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter.display.history import HistoryView
from kirin_jupyter.storage.journal import Journal
from tests.support.html_checks import colours_outside_theme, style_blocks

OMNI, V3 = "kirin_image_omni", "kirin_v3_image"
FAILED = {4, 11, 23}  # job numbers that failed
STRASSE = 17  # the one prompt with a non-ASCII word


def prompt_of(number: int) -> str:
    if number == STRASSE:
        return "Eine STRASSE im Schnee, number 17"
    animal = "Fox" if number % 2 else "owl"
    return f"A {animal} in the snow, number {number:02d}, " + "with a long tail of words " * 4


def model_of(number: int) -> str:
    return V3 if number % 3 == 0 else OMNI


@pytest.fixture
def journal(shell: InteractiveShell) -> Journal:
    """30 jobs in the session's journal, written through the store's own API; number 29
    is the newest. Completed ones have two real image files (thumbnails)."""
    from PIL import Image

    client = shell.magics_manager.registry["KirinMagics"].client()
    out = client.output_dir
    for number in range(30):
        external = f"ext-{number:02d}"
        client.journal.record_submit(
            external, model_of(number), prompt_of(number), {"n": 2, "resolution": "1k"},
            "http://kirin.example", out)
        task = f"task-{number:02d}-" + "7" * 20  # long: shown shortened, titled in full
        if number in FAILED:
            client.journal.record_state(external, "failed", task_id=task,
                                        detail=f"error {number}: <b>bad</b>")
            continue
        client.journal.record_state(external, "running", task_id=task)
        paths = []
        for index in range(2):
            path = Path(out) / f"{number:02d}" / f"{index + 1:02d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (64, 40), (10 * index, 80, 8 * number)).save(path)
            paths.append(path)
        client.journal.record_result(external, "0.08", ["http://x/a", "http://x/b"], paths)
    return client.journal


@pytest.fixture
def shown(shell: InteractiveShell) -> Iterator[list[dict[str, Any]]]:
    """What the magics display (mimebundles), in order."""
    publisher = CapturingDisplayPublisher()
    original, shell.display_pub = shell.display_pub, publisher
    yield publisher.outputs  # type: ignore[misc]
    shell.display_pub = original


def run(shell: InteractiveShell, shown: list[dict[str, Any]], line: str) -> dict[str, str]:
    shown.clear()
    shell.run_line_magic("kirin", line)
    [output] = shown
    return output["data"]  # type: ignore[no-any-return]


def numbers_in(data: dict[str, str]) -> list[int]:
    """The job numbers listed, in order (from the full task ids of the text table)."""
    return [int(n) for n in re.findall(r"task-(\d\d)-7{20}", data["text/plain"])]


def test_paging_is_newest_first_and_says_where_it_is(
    shell: InteractiveShell, journal: Journal, shown: list[dict[str, Any]]
) -> None:
    first = run(shell, shown, "history 10")
    assert numbers_in(first) == list(range(29, 19, -1))
    assert "page 1 of 3 (jobs 1-10 of 30); next: %kirin history 10 --page 2" in \
        first["text/plain"]
    second = run(shell, shown, "history 10 --page 2")
    assert numbers_in(second) == list(range(19, 9, -1))
    assert "page 2 of 3 (jobs 11-20 of 30); next: %kirin history 10 --page 3" in \
        second["text/html"]
    last = run(shell, shown, "history --page=3 10")
    assert numbers_in(last) == list(range(9, -1, -1))
    assert "page 3 of 3 (jobs 21-30 of 30) (the last page)" in last["text/plain"]
    default = run(shell, shown, "history")
    assert numbers_in(default) == list(range(29, 9, -1))  # 20 by default
    assert "page 1 of 2" in default["text/plain"]
    past = run(shell, shown, "history 10 --page 9")
    assert numbers_in(past) == [] and "page 9 is past the last page (3)" in past["text/plain"]
    assert first["text/html"].count('class="kh-row kh-head"') == 1  # a header ...
    assert first["text/html"].count('class="kh-row"') == 10  # ... and one row per job


@pytest.mark.parametrize("line", ["history --model v3", "history --model kirin_v3_image",
                                  "history --model=V3"])
def test_model_filter_takes_the_alias_or_the_name(
    shell: InteractiveShell, journal: Journal, shown: list[dict[str, Any]], line: str
) -> None:
    data = run(shell, shown, line)
    assert numbers_in(data) == [n for n in range(29, -1, -1) if model_of(n) == V3]
    assert "10 jobs matching" in data["text/plain"]


def test_failed_and_search_filters_and_their_combination(
    shell: InteractiveShell, journal: Journal, shown: list[dict[str, Any]]
) -> None:
    failed = run(shell, shown, "history --failed")
    assert numbers_in(failed) == sorted(FAILED, reverse=True)
    assert "error 23: &lt;b&gt;bad&lt;/b&gt;" in failed["text/html"]  # in the pill's title
    foxes = run(shell, shown, "history --search fOX")  # case-insensitive
    assert numbers_in(foxes) == [n for n in range(29, -1, -1) if n % 2 and n != STRASSE]
    owls = run(shell, shown, 'history --search "OWL in the" --model omni --failed')
    assert numbers_in(owls) == [4]  # even, omni (4 % 3 != 0), failed
    assert "next:" not in owls["text/plain"]
    straße = run(shell, shown, "history --search straße")  # non-ASCII: casefolded
    assert numbers_in(straße) == [STRASSE]
    percent = run(shell, shown, "history --search 100%")  # LIKE wildcards are literal
    assert numbers_in(percent) == [] and "no job matches these filters" in percent["text/plain"]
    paged = run(shell, shown, "history 2 --search fox --page 2")
    assert "next: %kirin history 2 --page 3 --search fox" in paged["text/plain"]


@pytest.mark.parametrize(("line", "message"), [
    ("history --page 0", "--page must be a whole number from 1"),
    ("history --page abc", "--page must be a whole number from 1 .* not 'abc'"),
    ("history --page ٣", "--page must be a whole number"),  # an Arabic-Indic 3
    ("history ３", "N \\(how many jobs\\) must be a whole number"),  # a full-width 3
    ("history 0", "N \\(how many jobs\\) must be a whole number from 1 to 1000"),
    ("history 5x", "usage: %kirin history \\[N\\]"),
    ("history --page", "--page needs a value"),
    ("history --model dalle", "unknown model 'dalle'; choose one of"),
    ("history --search ''", "--search needs a word"),
    ("history --bogus", "unknown option --bogus"),
    ("history 5 6", "unexpected '6'"),
    ("history --page 1 --page 2", "--page given twice"),
    ("history --search 'unclosed", "cannot read the options"),
])
def test_bad_values_are_one_line_and_read_nothing(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch, line: str, message: str
) -> None:
    def no(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the journal was read")

    monkeypatch.setattr(Journal, "history", no)
    with pytest.raises(UsageError, match=message) as caught:
        shell.run_line_magic("kirin", line)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("%kirin history: ")


def test_html_is_compact_themed_and_styled_once(
    shell: InteractiveShell, journal: Journal, shown: list[dict[str, Any]]
) -> None:
    html = run(shell, shown, "history 7")["text/html"]
    assert colours_outside_theme(html) == []
    assert style_blocks(html) == 1 and "var(" not in "".join(re.findall(r'style="([^"]*)"',
                                                                         html))
    assert 'class="kirin-pill"' in html and ">completed<" in html
    rows = html.split('<div class="kh-row"')[1:]
    assert len(rows) == 7
    for number, row in zip(range(29, 22, -1), rows, strict=True):
        thumbs = re.findall(r'<img src="data:image/jpeg;base64,[^>]*>', row)
        if number in FAILED:
            assert not thumbs
        else:  # two files each, side by side in one strip, small and square
            assert len(thumbs) == 2 and 'class="kh-thumbs"' in row
            assert all('style="width:48px"' in t for t in thumbs)
        # what matters, in its own places: the state, model, count, cost and date
        for column in ("kh-state", "kh-model", "kh-n", "kh-cost", "kh-date", "kh-task"):
            assert f'class="{column}"' in row, column
        date = re.search(r">(\d\d-\d\d \d\d:\d\d)<", row)
        assert date, row  # a short date, fully dated in its title
    first = rows[0]
    assert 'title="task-29-77777777777777777777"' in first  # the full id, on hover
    assert ">task…777777<" in first
    whole = " ".join(prompt_of(29).split())
    prompt = re.search(r'<span class="kh-prompt"><span title="([^"]*)">([^<]*)</span>', first)
    assert prompt and prompt[1] == whole  # the whole prompt on hover ...
    assert whole.startswith(prompt[2].rstrip("…"))  # ... as much as fits on the page


def test_a_default_history_of_twenty_jobs_is_small(
    shell: InteractiveShell, journal: Journal, shown: list[dict[str, Any]]
) -> None:
    """One style block, then classes: 20 rows used to carry 78 KB of repeated inline
    styles (issue 22, D9; 109 KB in all for 20 jobs of two pictures, 46 KB now). The rows
    keep a short inline fallback each, for an untrusted notebook."""
    html = run(shell, shown, "history")["text/html"]
    pictures = sum(len(m) for m in re.findall(r"data:image/jpeg;base64,[^\"]+", html))
    assert html.count('class="kh-row"') == 20
    assert len(html) - pictures < 32_000, len(html) - pictures  # with 150-letter prompts
    inline = sum(len(m) for m in re.findall(r'style="[^"]*"', html))
    assert inline < 20 * 400, inline


def test_text_table_in_a_terminal_shell(
    journal: Journal, shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shell without a kernel (the IPython terminal) prints the text/plain form."""
    capsys.readouterr()
    shell.run_line_magic("kirin", "history 5 --page 2")
    out = capsys.readouterr().out
    assert "<" not in out and "object>" not in out
    lines = out.splitlines()
    header = lines[0]
    assert header.split() == ["date", "state", "model", "n", "cost", "task", "prompt"]
    assert set(lines[1]) == {"-", " "}
    body = lines[2:7]
    assert [int(re.search(r"task-(\d\d)", b)[1]) for b in body] == [24, 23, 22, 21, 20]  # type: ignore[index]
    for column in ("state", "model", "task", "prompt"):  # aligned under the header
        at = header.index(column)
        assert all(b[at - 1] == " " and b[at] != " " for b in body), (column, body)
    assert "failed" in body[1] and "task-23-77777777777777777777" in body[1]
    assert lines[7] == "page 2 of 6 (jobs 6-10 of 30); next: %kirin history 5 --page 3"


def test_show_has_no_paging_note(shell: InteractiveShell, journal: Journal,
                                 shown: list[dict[str, Any]]) -> None:
    data = run(shell, shown, "show task-03-77777777777777777777")
    assert numbers_in(data) == [3] and "page" not in data["text/plain"]


def test_a_big_journal_pages_in_sql_with_its_index(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "big.sqlite3")
    journal.history(limit=1)  # creates the schema
    with sqlite3.connect(journal.path) as conn:
        conn.executemany(
            "INSERT INTO jobs (external_id, task_id, model, prompt, request, base_url, status,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, '{}', 'x', ?, ?, ?)",
            [(f"e{i}", f"t{i}", (OMNI, V3)[i % 2], f"prompt {i} {'fox' if i % 7 else 'owl'}",
              "failed" if i % 50 == 0 else "completed", 1e9 + i, 1e9 + i)
             for i in range(100_000)])
        plan = " ".join(str(r) for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC"
            " LIMIT 20"))
    assert "jobs_by_created" in plan and "TEMP B-TREE" not in plan  # no sort of it all
    started = time.perf_counter()
    rows, total = journal.history(limit=20)
    took = time.perf_counter() - started
    assert [r["external_id"] for r in rows[:2]] == ["e99999", "e99998"] and total == 100_000
    assert took < 0.5, took
    rows, total = journal.history(limit=20, offset=40, model=V3, failed=True, search="OWL")
    expected = [i for i in range(99_999, -1, -1) if i % 2 and i % 50 == 0 and i % 7 == 0]
    assert [r["external_id"] for r in rows] == [f"e{i}" for i in expected[40:60]]
    assert total == len(expected)


def test_an_old_journal_gains_the_index_and_still_works(tmp_path: Path) -> None:
    """A journal from the first release: no index, no owner/output_dir columns."""
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE jobs (external_id TEXT PRIMARY KEY, task_id TEXT, model TEXT NOT NULL,"
            " prompt TEXT NOT NULL, request TEXT NOT NULL, base_url TEXT NOT NULL,"
            " status TEXT NOT NULL, cost TEXT, urls TEXT, paths TEXT, error TEXT,"
            " created_at REAL NOT NULL, updated_at REAL NOT NULL)")
        conn.execute("INSERT INTO jobs (external_id, model, prompt, request, base_url, status,"
                     " created_at, updated_at) VALUES ('old', ?, 'an old fox', '{}', 'x',"
                     " 'completed', 1, 1)", (OMNI,))
    conn.close()
    rows, total = Journal(path).history(search="FOX")
    assert [r["external_id"] for r in rows] == ["old"] and total == 1
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    conn.close()
    assert "jobs_by_created" in names
    assert "an old fox" in HistoryView(rows)._repr_mimebundle_()["text/plain"]
