"""The journal under real jobs and processes: two writers, two resumers, no key, a broken journal."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

import kirin_jupyter
from kirin_jupyter.simulator import Fault
from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.storage.journal import Journal
from tests.conftest import TEST_KEY
from tests.support.postgres import open_journal_at
from tests.support.simulated import client_for


def test_journal_is_safe_with_two_processes(tmp_path: Path, journal_at: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(journal_at, tmp_path, tag))
             for tag in ("a", "b")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    errors = [p.read_text() for p in tmp_path.glob("error-*.txt")]
    assert [proc.exitcode for proc in procs] == [0, 0], errors
    journal = open_journal_at(journal_at)
    rows = journal.history(limit=1000)[0]
    assert len(rows) == 80 and all(r["status"] == "created" for r in rows)


def _write_many(where: str, folder: Path, tag: str) -> None:
    import traceback

    try:
        journal = open_journal_at(where)
        for i in range(40):
            ext = f"{tag}-{i}"
            journal.record_submit(ext, "kirin_image_omni", "p", {"n": 1}, "http://x",
                                  folder)
            journal.record_state(ext, "created", task_id=f"t-{ext}")
    except BaseException:
        (folder / f"error-{tag}.txt").write_text(traceback.format_exc())
        raise


def _claim(where: str, ready: object, done: object, out: object) -> None:
    journal = open_journal_at(where)
    ready.wait()  # type: ignore[attr-defined]  # both start claiming together
    claimed, _ = journal.claim_unfinished("http://x")
    out.put([row["external_id"] for row in claimed])  # type: ignore[attr-defined]
    done.wait()  # type: ignore[attr-defined]  # stay alive: the other sees a live owner


def test_two_kernels_resuming_at_once_never_follow_the_same_job(tmp_path: Path,
                                                                 journal_at: str) -> None:
    journal = open_journal_at(journal_at)
    ids = [f"kj-{i}" for i in range(30)]
    for ext in ids:
        journal.record_submit(ext, "kirin_image_omni", "p", {"n": 1}, "http://x", tmp_path)
    with journal._connect() as conn:  # as if left by a kernel that is gone
        conn.execute("UPDATE jobs SET owner = 'elsewhere:1'")
        if journal.dialect == "postgresql":  # ... whose lease has run out
            conn.execute("UPDATE jobs SET lease_until = 0")
    ctx = multiprocessing.get_context("spawn")
    ready, done, out = ctx.Barrier(2), ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(journal_at, ready, done, out))
             for _ in range(2)]
    for proc in procs:
        proc.start()
    first, second = out.get(timeout=60), out.get(timeout=60)
    for proc in procs:
        proc.join(timeout=60)
    assert not set(first) & set(second)  # no job claimed twice ...
    assert sorted(first + second) == sorted(ids)  # ... and none left out


def test_journal_has_no_image_data_and_no_key(sim_server: SimulatorServer, tmp_path: Path,
                                              make_image) -> None:
    client = client_for(sim_server, tmp_path)
    job = client.generate("<<<image_1>>>", images=[make_image(800, 600)])
    job.wait(30)
    request = json.loads(client.journal.get(job.external_task_id)["request"])
    assert request["image_list"][0]["image"].startswith("img_800x600.png sha256:")
    data = b"".join(p.read_bytes() for p in client.journal.path.parent.iterdir() if p.is_file())
    assert TEST_KEY.encode() not in data
    assert b"completed" in (client.journal.path.parent / "kirin.log").read_bytes()


def test_a_broken_journal_never_hangs_or_fails_a_paid_job(
    sim_server: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    client = client_for(sim_server, tmp_path)

    def broken(self: Journal, *args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    from kirin_jupyter.storage.journal import Journal

    monkeypatch.setattr(Journal, "record_state", broken)  # the journal's own methods fail,
    monkeypatch.setattr(Journal, "record_result", broken)  # in the grouped writer too
    result = client.generate("a fox").wait(30)
    assert result.paths[0].is_file()
    sim_server.service.add_fault(Fault("create", "fail_task", code="002016095"))
    with pytest.raises(kirin_jupyter.TaskFailed):
        client.generate("a failing fox").wait(30)


def test_hostile_task_ids_never_become_paths(tmp_path: Path) -> None:
    with SimulatorServer(task_seconds=0.1, api_key=TEST_KEY,
                         id_factory=lambda: "../../escape") as server:
        client = client_for(server, tmp_path)
        result = client.generate("a fox").wait(30)
    out = (tmp_path / "out").resolve()
    assert result.paths[0].resolve().is_relative_to(out)
    assert result.paths[0].parent.name.startswith("task-")
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()


FILES = 30  # saved files marked by three kernels at once


def _mark_files(where: str, folder: Path, role: str, ready: object) -> None:
    """One kernel's part: saving each file's record, rating it, or picking it (in its
    own order, so the three collide on every file)."""
    import traceback

    try:
        journal = open_journal_at(where)
        order = list(range(FILES)) if role != "picker" else list(reversed(range(FILES)))
        ready.wait()  # type: ignore[attr-defined]  # all three start together
        for i in order:
            path = folder / f"{i:02d}.png"
            if role == "saver":
                journal.record_files("kj-files", [{"path": path, "image": i + 1,
                                                   "provenance": "full", "stored_in": "file",
                                                   "record": {"prompt": f"fox {i}"}}])
            elif role == "rater":
                journal.set_mark(path, rating=i % 6, external_id="kj-files")
            else:
                journal.set_mark(path, flag="picked", external_id="kj-files")
    except BaseException:
        (folder / f"error-{role}.txt").write_text(traceback.format_exc())
        raise


def test_three_kernels_saving_rating_and_picking_the_same_files_lose_nothing(
        tmp_path: Path, journal_at: str) -> None:
    """Each change lands whichever kernel made the file's row first: the record of one,
    the stars of another, the pick of the third (one upsert each on PostgreSQL)."""
    journal = open_journal_at(journal_at)
    journal.record_submit("kj-files", "kirin_image_omni", "foxes", {"n": FILES},
                          "http://x", tmp_path)
    journal.close()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(3)
    procs = [ctx.Process(target=_mark_files, args=(journal_at, tmp_path, role, ready))
             for role in ("saver", "rater", "picker")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    errors = [p.read_text() for p in tmp_path.glob("error-*.txt")]
    assert [proc.exitcode for proc in procs] == [0, 0, 0], errors
    paths = [tmp_path / f"{i:02d}.png" for i in range(FILES)]
    marks = journal.file_marks(paths)
    assert len(marks) == FILES
    for i, path in enumerate(paths):
        row = marks[str(path)]
        assert (row["external_id"], row["image"], row["provenance"]) == ("kj-files", i + 1,
                                                                         "full")
        assert (row["rating"], row["flag"]) == (i % 6, "picked"), path.name
        assert journal.file_record(path) == {"prompt": f"fox {i}"}
    assert len(journal.marked_files(picked=True)) == FILES
    assert [r["external_id"] for r in journal.history(picked=True)[0]] == ["kj-files"]
    assert journal.history(min_rating=5)[1] == 1
