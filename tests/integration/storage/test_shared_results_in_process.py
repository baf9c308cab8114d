"""A whole job saving to shared storage in one process (fsspec's in-memory store, the
built-in simulator): the journal keeps URLs, the stored file carries its record, and a
rating reaches the stored copy. Two processes and a real S3 server:
tests/integration/team/test_shared_results.py."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from fsspec.core import url_to_fs

from kirin_jupyter.client import Client
from kirin_jupyter.storage import shared_results as shared


def test_a_job_saved_to_shared_storage_and_rated_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(shared.ENV_CACHE, str(tmp_path / "cache"))
    url = f"memory://b{uuid.uuid4().hex[:12]}/renders"
    client = Client(output_dir=url)
    assert repr(client).endswith(f"output_dir={url!r})")
    result = client.generate("a paper boat", model="kirin_v3_image", n=2).wait(30)
    row = client.journal.get(result.external_task_id)
    stored = json.loads(row["paths"])
    assert row["output_dir"] == url
    assert stored == [f"{url}/{result.task_id}/0{i}.png" for i in (1, 2)]
    assert all(p.is_relative_to(tmp_path / "cache") for p in result.paths)
    fs, _ = url_to_fs(url)
    first = fs.cat_file(url_to_fs(stored[0])[1])
    assert first == result.paths[0].read_bytes()
    assert b"trainedAlgorithmicMedia" in first and b"a paper boat" in first
    assert not [p for p in fs.find(url_to_fs(url)[1]) if ".partial-" in p]

    result.rate(4, image=0)
    assert client.journal.file_marks([stored[0]])[stored[0]]["rating"] == 4
    assert b"xmp:Rating" in fs.cat_file(url_to_fs(stored[0])[1])
    assert b"xmp:Rating" not in fs.cat_file(url_to_fs(stored[1])[1])


def test_shared_storage_without_its_back_end_is_one_line_before_anything_is_sent() -> None:
    with pytest.raises(Exception, match=r"gs:// results need .*kirin-jupyter\[shared\]"):
        Client(output_dir="gs://team-renders/q4")


def test_a_local_folder_inside_the_mirror_cannot_pass_for_shared_storage(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A project file may not name shared storage; nor may it name the mirror of a bucket
    as a local folder, which would make this kernel upload (or mark) to that bucket."""
    monkeypatch.setenv(shared.ENV_CACHE, str(tmp_path / "cache"))
    inside = tmp_path / "cache" / "memory" / "evilbucket" / "loot"
    for output_dir in (str(inside), f"file://{inside}"):
        with pytest.raises(Exception, match="inside the cache of shared results"):
            Client(output_dir=output_dir)


def test_a_teammates_result_is_rated_here_but_never_stored_back_by_this_kernel(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes go only where this user chose to store: a row from the journal (any
    teammate wrote it) names a URL this kernel reads, and rates in the journal, but
    never uploads to; a resumed row naming other storage goes to this client's."""
    from kirin_jupyter.batches.journal import result_from_row

    monkeypatch.setenv(shared.ENV_CACHE, str(tmp_path / "maker"))
    url = f"memory://b{uuid.uuid4().hex[:12]}/renders"
    made = Client(output_dir=url).generate("a paper crane", model="kirin_v3_image").wait(30)
    [stored] = made.stored
    fs, remote = url_to_fs(stored)
    before = fs.cat_file(remote)

    monkeypatch.setenv(shared.ENV_CACHE, str(tmp_path / "teammate"))
    mate = Client(output_dir=str(tmp_path / "mine"))
    row = mate.journal.get(made.external_task_id)
    seen = result_from_row(row, simulated=True, journal=mate.journal)
    assert seen is not None and seen.stored == []
    assert seen.paths[0].is_relative_to(tmp_path / "teammate")
    seen.rate(5)
    assert mate.journal.file_marks([stored])[stored]["rating"] == 5
    assert b"xmp:Rating" in seen.paths[0].read_bytes()  # the teammate's own copy
    assert fs.cat_file(remote) == before  # the stored object: untouched
    assert mate._resumed_into(url) == (tmp_path / "mine", None)
    assert mate._resumed_into(str(tmp_path / "there")) == (tmp_path / "there", None)


def test_an_upload_that_failed_is_finished_by_the_next_resume(
        each_journal: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The store was unreachable when the job ended: its files stay on disk, named by
    their paths, with one logged line; ``resume`` stores them and the journal (ratings
    too) then names their URLs. A second resume has nothing left to store."""
    import logging

    from kirin_jupyter.engine import runner

    monkeypatch.setenv(shared.ENV_CACHE, str(tmp_path / "cache"))
    url = f"memory://b{uuid.uuid4().hex[:12]}/renders"
    client = Client(output_dir=url)
    assert client.journal.dialect == each_journal

    def unreachable(path: Path, to: str) -> str:
        raise OSError(f"could not store {to}: the store did not answer")

    monkeypatch.setattr(runner, "publish", unreachable)
    with caplog.at_level(logging.WARNING, "kirin_jupyter"):
        result = client.generate("a glass fish", model="kirin_v3_image", n=2).wait(30)
    assert "results kept on this machine only" in caplog.text
    row = client.journal.get(result.external_task_id)
    assert json.loads(row["paths"]) == [str(p.resolve()) for p in result.paths]
    assert result.stored == []
    result.rate(3, image=1)  # rated while the file is only here
    monkeypatch.setattr(runner, "publish", shared.publish)

    client.resume()
    assert client.stored_late == [result.external_task_id]
    urls = json.loads(client.journal.get(result.external_task_id)["paths"])
    assert urls == [f"{url}/{result.task_id}/0{i}.png" for i in (1, 2)]
    fs, _ = url_to_fs(url)
    assert [fs.cat_file(url_to_fs(u)[1]) for u in urls] == [
        p.read_bytes() for p in result.paths]
    assert client.journal.file_marks([urls[1]])[urls[1]]["rating"] == 3
    client.resume()
    assert client.stored_late == []
