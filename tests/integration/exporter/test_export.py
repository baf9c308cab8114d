"""export() and %kirin export against the loopback simulator: what a colleague opens.

The zip holds the files byte for byte and a manifest naming every prompt and task id;
the .html sheet is self-contained and escapes every user string; the .csv has one row per
image; the magic filters the journal by date, model and user; the API key is never written.
"""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import sys
import time
import zipfile
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import kirin_jupyter
from kirin_jupyter.client import Client
from kirin_jupyter.errors import KirinError, ValidationError
from kirin_jupyter.exporter.export import export
from tests.conftest import TEST_KEY

HOSTILE = 'a <script>alert("x")</script> fox & "friends"'


@pytest.fixture
def finished(http_client: Client) -> list:
    """Three jobs over HTTP: one of two images, one hostile prompt with a negative prompt,
    one more; all finished."""
    jobs = [
        http_client.generate("a lighthouse at dusk", model="omni", n=2, aspect_ratio="1:1"),
        http_client.generate(HOSTILE, model="v3", negative_prompt="=cmd|' /C calc'!A0"),
        http_client.generate("a harbour at dawn", model="omni", resolution="2k"),
    ]
    for job in jobs:
        job.wait(30)
    return jobs


def _all_bytes(path: Path) -> bytes:
    if path.suffix != ".zip":
        return path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def test_zip_holds_the_files_byte_for_byte_and_every_prompt_and_task_id(
        finished: list, tmp_path: Path) -> None:
    target = tmp_path / "share" / "lighthouses.zip"
    done = export(target, finished)
    assert (done.images, done.jobs, done.missing) == (4, 3, 0)
    assert str(done) == f"exported 4 images of 3 jobs to {target}"
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
        index = archive.read("index.html").decode()
        images = {name: archive.read(name) for name in names if name.startswith("images/")}
    assert {"manifest.json", "manifest.csv", "index.html"} <= set(names)
    assert len(images) == 4 and manifest["images"] == 4 and len(manifest["items"]) == 4
    by_file = {entry["file"]: entry for entry in manifest["items"]}
    for job in finished:
        result = job.result
        for number, path in enumerate(result.paths, 1):
            entry = next(e for e in manifest["items"]
                         if e["task_id"] == result.task_id and e["image"] == number)
            assert images[entry["file"]] == path.read_bytes()  # byte for byte
            assert entry["prompt"] == job.prompt and entry["model"] == job.model
            assert entry["external_id"] == job.external_task_id
            assert entry["status"] == "saved" and entry["source"] == str(path)
            assert entry["cost"] == str(result.cost)
            assert entry["options"] == result.options  # every option, as asked
            assert entry["created_at"] <= entry["finished_at"]
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d",
                                entry["finished_at"])
            assert f'src="{entry["file"]}"' in index  # the sheet points into the zip
    hostile = next(e for e in manifest["items"] if e["prompt"] == HOSTILE)
    assert hostile["negative_prompt"] == "=cmd|' /C calc'!A0"
    assert by_file.keys() == {row["file"] for row in rows} and len(rows) == 4
    csv_hostile = next(row for row in rows if row["prompt"] == HOSTILE)
    assert csv_hostile["negative_prompt"] == "'=cmd|' /C calc'!A0"  # no formula in a sheet
    assert json.loads(csv_hostile["options"])["negative_prompt"] == "=cmd|' /C calc'!A0"
    assert "<script>" not in index and "&lt;script&gt;" in index
    assert TEST_KEY.encode() not in _all_bytes(target)
    assert [p.name for p in target.parent.iterdir()] == ["lighthouses.zip"]  # no temp left


def test_html_is_self_contained_and_escaped_and_csv_has_a_row_per_image(
        finished: list, tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.html"
    export(sheet, finished)
    page = sheet.read_text()
    sources = re.findall(r'\bsrc="([^"]*)"', page)
    assert len(sources) == 4 and all(s.startswith("data:image/jpeg;base64,") for s in sources)
    assert not re.search(r'\b(src|href)="(?!data:)', page)  # nothing fetched from elsewhere
    assert "<script" not in page.lower()
    assert escape_html(HOSTILE) in page
    assert TEST_KEY not in page

    table = tmp_path / "rows.csv"
    export(table, finished)
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 4 == sum(len(job.result.paths) for job in finished)
    assert {row["task_id"] for row in rows} == {job.task_id for job in finished}
    assert all(Path(row["file"]).is_file() for row in rows)
    assert TEST_KEY not in table.read_text()


def escape_html(text: str) -> str:
    from html import escape

    return escape(text)


def test_a_deleted_file_is_listed_as_missing_not_a_crash(finished: list,
                                                         tmp_path: Path) -> None:
    gone = finished[0].result.paths[1]
    gone.unlink()
    done = export(tmp_path / "partial.zip", finished)
    assert (done.images, done.missing) == (4, 1)
    assert "1 missing" in str(done)
    with zipfile.ZipFile(tmp_path / "partial.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert sum(name.startswith("images/") for name in archive.namelist()) == 3
        index = archive.read("index.html").decode()
    missing = [e for e in manifest["items"] if e["status"] == "missing"]
    assert [e["source"] for e in missing] == [str(gone)] and manifest["missing"] == 1
    assert "file missing" in index
    export(tmp_path / "partial.html", finished)  # the other formats say so too
    assert "file missing" in (tmp_path / "partial.html").read_text()


def test_an_unknown_suffix_is_one_line_before_anything_is_written(finished: list,
                                                                  tmp_path: Path) -> None:
    before = set(tmp_path.iterdir())
    for name in ("out.pdf", "out", "folder.zip/"):
        with pytest.raises(ValidationError) as caught:
            export(tmp_path / name if name != "folder.zip/" else _folder(tmp_path), finished)
        assert "\n" not in str(caught.value)
    with pytest.raises(ValidationError, match=r"does not end in \.zip, \.html or \.csv"):
        export(tmp_path / "out.pdf", finished)
    assert set(tmp_path.iterdir()) == before | {tmp_path / "folder.zip"}


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "folder.zip").mkdir(exist_ok=True)
    return tmp_path / "folder.zip"


def test_a_failed_write_leaves_the_old_file_whole(finished: list, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "share" / "keep.csv"
    target.parent.mkdir()
    target.write_text("old\n")
    monkeypatch.setattr("kirin_jupyter.exporter.export._csv", lambda rows: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        export(target, finished)
    assert target.read_text() == "old\n" and list(target.parent.iterdir()) == [target]


def test_export_defaults_to_this_sessions_finished_jobs(tmp_path: Path) -> None:
    first = kirin_jupyter.generate("a red kite", model="omni")
    second = kirin_jupyter.generate("a blue kite", model="omni", n=2)
    first.wait(20)
    second.wait(20)
    done = kirin_jupyter.export(tmp_path / "session.csv")
    rows = list(csv.DictReader((tmp_path / "session.csv").open()))
    assert done.images == len(rows) == 3
    assert sorted({row["prompt"] for row in rows}) == ["a blue kite", "a red kite"]


# -- the magic, on the journal ------------------------------------------------------------------


def _run(shell: InteractiveShell, line: str, capsys: pytest.CaptureFixture[str]) -> str:
    shell.run_line_magic("kirin", line)
    return capsys.readouterr().out


def test_kirin_export_filters_the_journal_by_date_and_model(
        shell: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kirin_jupyter.shortcuts import default_client

    client = default_client()
    jobs = [client.generate("an omni fox", model="omni", n=2),
            client.generate("a v3 owl", model="v3"),
            client.generate("an omni hare", model="omni")]
    for job in jobs:
        job.wait(20)
    today = time.strftime("%Y-%m-%d")
    tomorrow = time.strftime("%Y-%m-%d", time.localtime(time.time() + 86400))

    out = _run(shell, f"export {tmp_path / 'all.zip'}", capsys)
    assert out.strip() == f"kirin: exported 4 images of 3 jobs to {tmp_path / 'all.zip'}"
    with zipfile.ZipFile(tmp_path / "all.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
        for entry in manifest["items"]:
            source = Path(entry["source"])
            assert archive.read(entry["file"]) == source.read_bytes()
    assert {e["task_id"] for e in manifest["items"]} == {job.task_id for job in jobs}

    out = _run(shell, f"export {tmp_path / 'omni.csv'} --model omni --since {today}", capsys)
    assert "exported 3 images of 2 jobs" in out
    rows = list(csv.DictReader((tmp_path / "omni.csv").open()))
    assert {row["prompt"] for row in rows} == {"an omni fox", "an omni hare"}

    out = _run(shell, f"export '{tmp_path / 'a sheet.html'}' --since {tomorrow}", capsys)
    assert "exported 0 images of 0 jobs" in out
    assert (tmp_path / "a sheet.html").is_file()

    for line, message in [
        (f"export {tmp_path / 'x.zip'} --since 2025-13-01", "a date is YYYY-MM-DD"),
        (f"export {tmp_path / 'x.zip'} --since yesterday", "a date is YYYY-MM-DD"),
        (f"export {tmp_path / 'x.pdf'}", "does not end in .zip, .html or .csv"),
        (f"export {tmp_path / 'x.zip'} --model dalle", "unknown model 'dalle'"),
        (f"export {tmp_path / 'x.zip'} --since", "--since needs a value"),
        (f"export {tmp_path / 'x.zip'} --pages 2", "unexpected '--pages'"),
        ("export", "where to?"),
    ]:
        with pytest.raises(UsageError) as caught:
            shell.run_line_magic("kirin", line)
        text = str(caught.value)
        assert message in text and "\n" not in text, (line, text)
        assert text.startswith("%kirin export: ")
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.pdf").exists()


def test_kirin_export_user_keeps_one_person_s_jobs_as_python_does_on_either_journal(
        each_journal: str, shell: InteractiveShell, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Each job records its user (the ``user`` setting) on SQLite as on PostgreSQL;
    ``%kirin export --user``, ``export_journal(user=)`` and ``history_frame(user=)``
    keep that person's jobs."""
    from kirin_jupyter.exporter.export import export_journal

    monkeypatch.setenv("KIRIN_USER", "ana")
    ana = Client()
    assert ana.journal.dialect == each_journal
    ana.generate("ana's fox", model="omni").wait(20)
    monkeypatch.setenv("KIRIN_USER", "bo")
    Client().generate("bo's owl", model="omni", n=2).wait(20)

    out = _run(shell, f"export {tmp_path / 'ana.csv'} --user ana", capsys)
    assert "exported 1 image of 1 job to" in out
    rows = list(csv.DictReader((tmp_path / "ana.csv").open()))
    assert [row["prompt"] for row in rows] == ["ana's fox"]
    out = _run(shell, f"export {tmp_path / 'bo.zip'} --user bo --model omni", capsys)
    assert "exported 2 images of 1 job to" in out
    in_python = export_journal(tmp_path / "bo-py.zip", ana.journal, user="bo")
    assert (in_python.images, in_python.jobs) == (2, 1)
    with zipfile.ZipFile(tmp_path / "bo.zip") as magic, \
            zipfile.ZipFile(tmp_path / "bo-py.zip") as python:
        assert sorted(magic.namelist()) == sorted(python.namelist())
    assert "exported 0 images of 0 jobs" in _run(
        shell, f"export {tmp_path / 'none.csv'} --user nobody", capsys)
    assert list(kirin_jupyter.history_frame(user="ana")["prompt"]) == ["ana's fox"]
    assert len(kirin_jupyter.history_frame(user="nobody")) == 0
    with pytest.raises(UsageError, match="--user needs a value"):
        shell.run_line_magic("kirin", f"export {tmp_path / 'x.zip'} --user")
    assert not (tmp_path / "x.zip").exists()


def test_config_user_changes_who_the_next_jobs_are_recorded_as(
        shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIRIN_USER", "ana")
    kirin_jupyter.generate("ana's fox", model="omni").wait(20)
    shell.run_line_magic("config", 'Kirin.user = "cy"')
    kirin_jupyter.generate("cy's heron", model="omni").wait(20)
    frame = kirin_jupyter.history_frame()
    assert list(zip(frame["prompt"], frame["user"], strict=True)) == [
        ("cy's heron", "cy"), ("ana's fox", "ana")]
    assert set(frame["host"]) == {socket.gethostname()}


def test_kirin_help_lists_export() -> None:
    from kirin_jupyter.magics.commands.help import help_doc as _help_doc
    from kirin_jupyter.magics.commands.usage import USAGE as _USAGE

    assert "%kirin export PATH [--since YYYY-MM-DD] [--model M] [--user NAME]" in " ".join(
        _help_doc(200).split())
    assert _USAGE["export"].startswith("%kirin export PATH.zip|.html|.csv")
    assert "[--user NAME]" in _USAGE["export"]


# -- history_frame -------------------------------------------------------------------------------


def test_history_frame_is_the_journal_one_row_per_job() -> None:
    jobs = [kirin_jupyter.generate("a quiet pond", model="omni", n=2),
            kirin_jupyter.generate("a loud city", model="v3", negative_prompt="people")]
    for job in jobs:
        job.wait(20)
    frame = kirin_jupyter.history_frame()
    assert len(frame) == 2 and list(frame["prompt"]) == ["a loud city", "a quiet pond"]
    assert set(frame.columns) >= {"task_id", "external_id", "model", "prompt", "n", "cost",
                                  "created_at", "finished_at", "files", "options"}
    city = frame.iloc[0]
    assert city["negative_prompt"] == "people" and city["status"] == "completed"
    assert city["finished_at"] >= city["created_at"] and frame["files"].tolist() == [1, 2]
    assert frame["cost"].dtype.kind == "f"
    assert len(kirin_jupyter.history_frame(model="v3")) == 1
    assert len(kirin_jupyter.history_frame(since="2999-01-01")) == 0
    with pytest.raises(ValidationError, match="a date is YYYY-MM-DD"):
        kirin_jupyter.history_frame(since="01/02/2025")


def test_history_frame_without_pandas_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(KirinError) as caught:
        kirin_jupyter.history_frame()
    assert str(caught.value) == ("history_frame() needs pandas: "
                                 "pip install kirin-jupyter[pandas]")


def test_the_exported_file_gets_the_mode_any_new_file_would(finished: list,
                                                           tmp_path: Path) -> None:
    import os

    old_umask = os.umask(0o022)
    os.umask(old_umask)
    for name in ("a.zip", "a.html", "a.csv"):
        export(tmp_path / name, finished)  # mkstemp alone made it 0600
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~old_umask, name


def test_results_and_a_sweeps_unsent_cells_can_be_exported(finished: list,
                                                          tmp_path: Path) -> None:
    done = export(tmp_path / "mixed.csv", [None, finished[0].result, finished[1]])
    assert (done.images, done.jobs) == (3, 2)
    with (tmp_path / "mixed.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [row["task_id"] for row in rows] == [finished[0].task_id] * 2 + [
        finished[1].task_id]
    assert rows[0]["created_at"] == ""  # a Result alone does not say when it was asked
    with pytest.raises(ValidationError) as caught:
        export(tmp_path / "bad.csv", [finished[0], "a.png"])
    assert str(caught.value) == ("export: jobs item 2 is a str; give jobs or results "
                                 "(sweep.jobs, batch.results, ...)")
    assert not (tmp_path / "bad.csv").exists()


def test_a_result_file_too_big_to_decode_has_no_thumbnail_but_is_exported(
        finished: list, tmp_path: Path) -> None:
    from tests.integration.display.test_compare import _bomb

    _bomb(finished[2].result.paths[0])  # replaced by a header claiming 20000 x 20000
    done = export(tmp_path / "sheet.html", finished)
    assert (done.images, done.missing) == (4, 0)
    page = (tmp_path / "sheet.html").read_text()
    sources = re.findall(r'\bsrc="([^"]*)"', page)
    assert len(sources) == 4 and sum(s.startswith("data:image/jpeg;base64,")
                                     for s in sources) == 3


def test_hostile_ids_stay_inside_the_zip_and_no_cell_starts_a_formula(tmp_path: Path) -> None:
    from kirin_jupyter.exporter.export import write
    from kirin_jupyter.exporter.items import Item

    picture = tmp_path / "01.png"
    picture.write_bytes(b"\x89PNG not really")
    hostile_ids = ["../../evil", "/etc/passwd", "a/b", "..", "C:\\x", "ok-1", "ok-1"]
    starts = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]
    items = [Item(task_id, task_id, "omni", starts[i % len(starts)], {}, None, None, None, 0,
                  picture) for i, task_id in enumerate(hostile_ids)]
    write(tmp_path / "out.zip", items)
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        names = [n for n in archive.namelist() if n.startswith("images/")]
        rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert len(names) == len(set(names)) == len(hostile_ids)  # a repeated id: -2
    for name in names:
        assert re.fullmatch(r"images/[A-Za-z0-9_.-]+\.png", name), name
        assert ".." not in name.split("/")[1].split(".png")[0]
    assert len(rows) == len(items)  # a lone "\r" in a prompt did not split its row
    assert [row["prompt"] for row in rows[:6]] == ["'" + start for start in starts]
    for row in rows:
        for column in ("prompt", "task_id", "external_id"):
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), row
