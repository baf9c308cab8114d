"""Shared results (storage/shared_results.py): which URLs are taken, the local mirror and
the journal's name for a file, uploads that never repeat, and a teammate's object checked
like any download. fsspec's in-memory store stands in for object storage here; the real
S3 server is in tests/integration/team/test_shared_results.py."""

from __future__ import annotations

import io
import logging
import os
import uuid
from pathlib import Path

import pytest
from fsspec.core import url_to_fs
from PIL import Image

from kirin_jupyter.config import files as config_files
from kirin_jupyter.config import settings
from kirin_jupyter.storage import shared_results as shared
from tests.conftest import write


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(shared.ENV_CACHE, str(root))
    return root


def _png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, "PNG")
    return out.getvalue()


def _bucket() -> str:
    return f"memory://b{uuid.uuid4().hex[:12]}/team"


@pytest.mark.parametrize(("url", "words"), [
    ("ftp://host/folder", "is not a shared storage"),
    ("http://host/folder", "is not a shared storage"),
    ("s3://AKIA:secret@bucket/x", "credentials"),
    ("s3://bucket/x?versionId=3", "credentials"),
    ("s3://bucket/../etc", "is not a plain name"),
    ("s3://bucket/a b", "is not a plain name"),
    ("s3://", "names no bucket"),
    ("s3://bucket//x", "empty part"),
])
def test_urls_that_are_refused_and_why(url: str, words: str) -> None:
    problem = shared.url_problem(url)
    assert problem is not None and words in problem
    assert "secret" not in problem


def test_plain_bucket_urls_are_taken() -> None:
    assert shared.url_problem("s3://team-renders/2026/q4") is None
    assert shared.url_problem("gs://team_renders") is None
    assert shared.is_shared("s3://b/x.png") and shared.is_shared("MEMORY://b/x")
    assert not shared.is_shared("/home/me/out/x.png")
    assert not shared.is_shared("file:///home/me/out/x.png")


def test_the_setting_refuses_a_bad_url_in_one_line_and_takes_folders() -> None:
    assert settings.check("output_dir", "ftp://x/y")[1] is not None
    assert settings.check("output_dir", "s3://bucket/prefix/")[1] is None
    assert settings.check("output_dir", "file:///tmp/out")[1] is None
    assert settings.check("output_dir", "renders")[1] is None


@pytest.mark.parametrize("url", ["s3://AKIAXXXX:topsecret@bucket/x",
                                 "ftp://me:topsecret@host/x?X-Amz-Signature=topsecret"])
def test_a_refused_url_is_never_echoed_with_its_credentials(
        url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("KIRIN_OUTPUT_DIR", url)
    from kirin_jupyter.client import Client

    with pytest.raises(Exception) as caught:
        Client()
    assert "output_dir" in str(caught.value) and "topsecret" not in str(caught.value)
    with caplog.at_level(logging.WARNING, "kirin_jupyter"):
        shared.local_path(url)
    assert "topsecret" not in caplog.text


def test_a_project_file_cannot_send_results_to_shared_storage(project: Path) -> None:
    """A cloned repository's pyproject.toml must not send the user's images (and use the
    user's cloud credentials) to a bucket it names; the user's own file may."""
    write(project / "pyproject.toml", "[tool.kirin]\noutput_dir = 's3://evil/drop'\nn = 2\n")
    loaded = config_files.load(cwd=project)
    assert loaded.values == {"n": 2}
    assert len(loaded.problems) == 1
    assert "a project file may not send your results to shared storage" in loaded.problems[0]
    write(Path(os.environ["KIRIN_CONFIG"]), "output_dir = 's3://mine/renders'\n")
    assert config_files.load(cwd=project).values["output_dir"] == "s3://mine/renders"


def test_the_mirror_and_the_journal_name_of_a_file_go_both_ways(cache: Path) -> None:
    folder = shared.working_folder("s3://team-renders/q4/")
    assert folder == cache / "s3" / "team-renders" / "q4"
    result = folder / "task-1" / "01.png"
    assert shared.location_of(result) == "s3://team-renders/q4/task-1/01.png"
    assert shared.mirror_of("s3://team-renders/q4/task-1/01.png") == result
    local = cache.parent / "out" / "01.png"
    assert shared.location_of(local) == str(local.resolve())
    assert shared.working_folder("file:///srv/renders") == Path("/srv/renders")
    with pytest.raises(ValueError, match="not a plain name"):
        shared.mirror_of("s3://b/../../etc/passwd")


def test_a_result_is_uploaded_once_and_a_changed_copy_only_on_purpose(cache: Path) -> None:
    url = _bucket()
    path = shared.working_folder(url) / "t1" / "01.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(_png("red"))
    assert shared.publish(path, f"{url}/t1/01.png") == f"{url}/t1/01.png"
    fs, remote = url_to_fs(f"{url}/t1/01.png")
    assert fs.cat_file(remote) == _png("red")
    assert not [p for p in fs.find(remote.rsplit("/", 1)[0]) if ".partial-" in p]

    path.write_bytes(_png("blue"))  # a resumed job stamps its copy again
    shared.publish(path, f"{url}/t1/01.png")
    assert fs.cat_file(remote) == _png("red")  # the stored result is not uploaded twice
    shared.replace(path, f"{url}/t1/01.png")  # a rating written into the file: stored on purpose
    assert fs.cat_file(remote) == _png("blue")


def test_a_signed_results_sidecar_travels_with_it(cache: Path) -> None:
    url = _bucket()
    path = shared.working_folder(url) / "t1" / "01.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(_png())
    path.with_name("01.kirin.json").write_text('{"model": "kirin_v3_image"}')
    shared.publish(path, f"{url}/t1/01.png")
    fs, remote = url_to_fs(f"{url}/t1/01.kirin.json")
    assert fs.cat_file(remote) == b'{"model": "kirin_v3_image"}'


def test_a_teammates_result_is_fetched_once_into_the_mirror(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _bucket() + "/t9/01.png"
    fs, remote = url_to_fs(url)
    fs.pipe_file(remote, _png("green"))
    fs.pipe_file(remote.replace("01.png", "01.kirin.json"), b'{"prompt": "a fox"}')
    monkeypatch.setenv(shared.ENV_CACHE, str(tmp_path / "teammate"))
    [local] = shared.local_paths(f'["{url}", 7, null]')  # entries not text are dropped
    assert local.is_relative_to(tmp_path / "teammate")
    assert local.read_bytes() == _png("green")
    assert local.with_name("01.kirin.json").read_text() == '{"prompt": "a fox"}'
    fs.pipe_file(remote, _png("black"))
    assert shared.local_path(url).read_bytes() == _png("green")  # fetched once


def test_a_damaged_or_oversized_object_is_never_kept(
        cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = _bucket()
    fs, remote = url_to_fs(url)
    fs.pipe_file(f"{remote}/t1/01.png", _png()[:-20])  # cut off
    fs.pipe_file(f"{remote}/t1/02.png", _png())
    with caplog.at_level(logging.WARNING, "kirin_jupyter"):
        cut = shared.local_path(f"{url}/t1/01.png")
        big = shared.local_path(f"{url}/t1/02.png", max_bytes=10)
    assert not cut.exists() and not big.exists()
    assert not list(cut.parent.glob(".fetch-*"))  # no half-written file left behind
    assert "not a complete image" in caplog.text and "over" in caplog.text


def test_an_untrusted_row_naming_an_odd_url_opens_nothing(cache: Path) -> None:
    assert shared.local_paths('["s3://b/../../etc/passwd"]') == [Path("s3://b/../../etc/passwd")]
    assert not list(cache.rglob("*"))
    assert shared.local_paths("not json") == [] and shared.local_paths('{"a": 1}') == []

