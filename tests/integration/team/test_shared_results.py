"""Results shared through object storage, as a team uses them: one process (a kernel on
one machine) saves to ``s3://`` on the local S3 server with the team journal on
PostgreSQL; another process, with its own cache as on another machine, shows, lineage-
traces, compares and exports them. A resumed job never uploads a stored result again.
Real servers: moto (tests/support/s3.py), PostgreSQL (tests/support/postgres.py) and the
loopback simulator."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fsspec.core import url_to_fs

from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.storage.journal_pg import PgJournal
from tests.conftest import TEST_KEY

LEASE = 2.0


def _kernel(env: dict[str, str], folder: str, output_dir: str) -> Any:
    """A kernel on a machine of its own: its home, its cache of shared results, the team
    journal and the S3 endpoint from the environment."""
    os.environ.update(env)
    os.environ["KIRIN_HOME"] = os.path.join(folder, "home")
    os.environ["KIRIN_CONFIG"] = os.path.join(folder, "none.toml")
    os.environ["KIRIN_SHARED_CACHE"] = os.path.join(folder, "cache")
    from kirin_jupyter.client import Client
    from kirin_jupyter.storage import journal_pg
    from tests.conftest import FAST_POLL

    journal_pg.LEASE_SECONDS = LEASE
    return Client(api_key=TEST_KEY, base_url=env["SIM_URL"], output_dir=output_dir,
                  poll_policy=FAST_POLL)


def _in_a_process(target: Any, *args: Any) -> Any:
    """Run ``target(*args, out)`` in a new process (a kernel of its own); what it put."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, out))
    proc.start()
    try:
        return out.get(timeout=120)
    finally:
        proc.join(30)


def _make(env: dict[str, str], folder: str, output_dir: str, out: Any) -> None:
    """Maker: a result, then one made from it (a reference: lineage)."""
    try:
        client = _kernel(env, folder, output_dir)
        first = client.generate("a red kite over dunes", model="kirin_v3_image", n=2).wait(60)
        second = client.generate("the same kite at night", model="kirin_image_omni", n=1,
                                 images=[first.paths[0]]).wait(60)
        out.put(("ok", [first.external_task_id, second.external_task_id],
                 [str(p) for p in first.paths + second.paths]))
    except BaseException as exc:
        out.put(("error", repr(exc), []))


def _open_as_teammate(env: dict[str, str], folder: str, output_dir: str, ids: list[str],
                      out: Any) -> None:
    """Teammate: the journal's rows, and from them what show, lineage, compare and
    export draw, all from the shared store."""
    try:
        client = _kernel(env, folder, output_dir)
        from kirin_jupyter.display.comparison import compare
        from kirin_jupyter.display.history import HistoryView
        from kirin_jupyter.display.provenance_views import LineageView
        from kirin_jupyter.exporter.export import export_journal
        from kirin_jupyter.lineage import chain, find_node

        first = client.journal.find(ids[0])
        shown = HistoryView([first])._repr_mimebundle_()["text/html"]
        node = find_node(ids[1], client.journal)
        lineage = LineageView(chain(node, client.journal)).html()
        urls = json.loads(first["paths"])
        compared = compare(*urls)._repr_html_()
        exported = export_journal(Path(folder) / "team.zip", client.journal)
        out.put(("ok", shown, lineage, compared, str(exported.path), urls,
                 [str(p) for p in node.paths]))
    except BaseException as exc:
        out.put(("error", repr(exc)))


@pytest.fixture
def team(pg_url: str, s3_env: dict[str, str], s3_server: Any
         ) -> Iterator[tuple[dict[str, str], str]]:
    """What every kernel of the team is given (the journal, the S3 endpoint, the
    simulator's address) and the shared output folder, a fresh bucket."""
    with SimulatorServer(task_seconds=0.3, api_key=TEST_KEY) as sim:
        yield ({**s3_env, "KIRIN_JOURNAL_URL": pg_url, "SIM_URL": sim.url},
               f"s3://{s3_server.bucket()}/renders")


def test_a_result_one_process_saves_to_s3_is_shown_compared_and_exported_by_another(
        team: tuple[dict[str, str], str], pg_url: str, tmp_path: Path) -> None:
    env, output_dir = team
    made = _in_a_process(_make, env, str(tmp_path / "a"), output_dir)
    assert made[0] == "ok", made
    ids, maker_paths = made[1], made[2]
    seen = _in_a_process(_open_as_teammate, env, str(tmp_path / "b"), output_dir, ids)
    assert seen[0] == "ok", seen
    _, shown, lineage, compared, zip_path, urls, chain_paths = seen

    journal = PgJournal(pg_url)
    listed = [json.loads(journal.get(i)["paths"]) for i in ids]
    assert listed[0] == urls and len(urls) == 2
    assert all(u.startswith(f"{output_dir}/") for u in listed[0] + listed[1])
    fs, _ = url_to_fs(output_dir)
    stored = {u: fs.cat_file(url_to_fs(u)[1]) for u in listed[0] + listed[1]}
    # the maker's working copies are what was stored (stamped before the upload)
    assert [Path(p).read_bytes() for p in maker_paths] == list(stored.values())
    assert all(b"trainedAlgorithmicMedia" in data for data in stored.values())

    mate_cache = tmp_path / "b" / "cache"
    assert shown.count("<img") == 2  # the history row's thumbnails, from the teammate's copy
    assert lineage.count("<img") == 2  # the parent and the child, one picture each
    assert all(Path(p).is_relative_to(mate_cache) for p in chain_paths)
    assert compared.count("<img") >= 2
    with zipfile.ZipFile(zip_path) as archive:
        images = sorted(n for n in archive.namelist() if n.endswith(".png"))
        contents = sorted(archive.read(n) for n in images)
    assert len(images) == 3
    assert contents == sorted(stored.values())  # the stored bytes, exported elsewhere


def _resume(env: dict[str, str], folder: str, output_dir: str, out: Any) -> None:
    try:
        client = _kernel(env, folder, output_dir)
        jobs = client.resume()
        results = [job.wait(60) for job in jobs]
        out.put(("ok", [r.external_task_id for r in results]))
    except BaseException as exc:
        out.put(("error", repr(exc)))


def test_a_resumed_job_does_not_upload_a_stored_result_again(
        team: tuple[dict[str, str], str], pg_url: str, tmp_path: Path) -> None:
    """A kernel that died after its upload, before its journal write: the row still says
    downloading. The resumer fetches and stamps the result again, and finds it stored."""
    env, output_dir = team
    made = _in_a_process(_make, env, str(tmp_path / "a"), output_dir)
    assert made[0] == "ok", made
    first = made[1][0]
    journal = PgJournal(pg_url)
    urls = json.loads(journal.get(first)["paths"])
    journal.record_state(first, "downloading")  # as the dead kernel left it
    fs, _ = url_to_fs(output_dir)
    for url in urls:  # a marker no fresh upload would keep
        fs.pipe_file(url_to_fs(url)[1], b"stored before the resume")
    time.sleep(LEASE + 0.5)  # the maker's lease on its rows runs out
    resumed = _in_a_process(_resume, env, str(tmp_path / "c"), output_dir)
    assert resumed == ("ok", [first]), resumed
    row = journal.get(first)
    assert row["status"] == "completed" and json.loads(row["paths"]) == urls
    fs.invalidate_cache()
    assert [fs.cat_file(url_to_fs(u)[1]) for u in urls] == [b"stored before the resume"] * 2
