"""Exactly once across processes on a team's PostgreSQL journal, against the real server
and the loopback simulator: two processes race on one named batch; two resumers split a
dead kernel's jobs once its lease has run out (tests/support/postgres.py starts the
server)."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.storage.journal_pg import PgJournal
from tests.conftest import TEST_KEY

LEASE = 2.0  # seconds: a dead kernel's jobs are claimable this soon after it stops


def _kernel(url: str, base_url: str, folder: str) -> Any:
    """A Client as a kernel on another machine would make it: its own home and outputs,
    the team journal from KIRIN_JOURNAL_URL, short leases."""
    os.environ["KIRIN_JOURNAL_URL"] = url
    os.environ["KIRIN_HOME"] = os.path.join(folder, "home")
    os.environ["KIRIN_CONFIG"] = os.path.join(folder, "none.toml")
    from kirin_jupyter.client import Client
    from kirin_jupyter.storage import journal_pg
    from tests.conftest import FAST_POLL

    journal_pg.LEASE_SECONDS = LEASE
    return Client(api_key=TEST_KEY, base_url=base_url, output_dir=Path(folder) / "out",
                  poll_policy=FAST_POLL)


def _run_batch(url: str, base_url: str, folder: str, start_at: float, out: Any) -> None:
    try:
        client = _kernel(url, base_url, folder)
        while time.time() < start_at:  # both take the batch at the same moment
            time.sleep(0.001)
        batch = client.batch([f"a harbour at dawn, {i}" for i in range(8)], name="harbour")
        results = batch.wait(120)
        out.put(("ok", batch.creates, [r.external_task_id if r else None for r in results]))
    except BaseException as exc:  # reported to the test
        out.put(("error", repr(exc), []))


def test_two_processes_racing_on_one_named_batch_create_each_item_once(
        pg_url: str, tmp_path: Path) -> None:
    with SimulatorServer(task_seconds=0.3, api_key=TEST_KEY) as sim:
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        start_at = time.time() + 3.0  # after both have imported the package
        procs = [ctx.Process(target=_run_batch,
                             args=(pg_url, sim.url, str(tmp_path / f"k{i}"), start_at, out))
                 for i in range(2)]
        for proc in procs:
            proc.start()
        outcomes = [out.get(timeout=150) for _ in procs]
        for proc in procs:
            proc.join(30)
        stats = sim.service.stats()
    assert [o[0] for o in outcomes] == ["ok", "ok"], outcomes
    ids = [f"harbour-{i:05d}" for i in range(1, 9)]
    assert all(o[2] == ids for o in outcomes)  # both show every item's result ...
    assert stats["creates_by_external_id"] == dict.fromkeys(ids, 1)  # ... created once
    assert sorted(o[1] for o in outcomes) == [0, 8]  # by one kernel; the other watched


def _submit_and_hang(url: str, base_url: str, folder: str) -> None:
    client = _kernel(url, base_url, folder)
    for i in range(6):
        client.generate(f"a lantern {i}", model="kirin_v3_image", n=1)
    time.sleep(600)  # killed by the test while its tasks run


def _resume(url: str, base_url: str, folder: str, start_at: float, out: Any) -> None:
    try:
        client = _kernel(url, base_url, folder)
        while time.time() < start_at:
            time.sleep(0.001)
        jobs = client.resume()
        for job in jobs:
            job.wait(60)
        out.put(("ok", sorted(j.external_task_id for j in jobs)))
    except BaseException as exc:
        out.put(("error", repr(exc)))


def test_a_dead_kernels_jobs_are_claimed_once_its_lease_runs_out(
        pg_url: str, tmp_path: Path) -> None:
    with SimulatorServer(task_seconds=4.0, api_key=TEST_KEY) as sim:
        ctx = multiprocessing.get_context("spawn")
        maker = ctx.Process(target=_submit_and_hang,
                            args=(pg_url, sim.url, str(tmp_path / "dead")))
        maker.start()
        journal = PgJournal(pg_url)
        deadline = time.time() + 60
        while time.time() < deadline:  # every task made at the service
            rows = journal.history(limit=10)[0]
            if len(rows) == 6 and all(r["status"] not in ("submitting",) for r in rows):
                break
            time.sleep(0.05)
        maker.kill()  # the kernel dies; its tasks run on at the service
        maker.join(10)
        claimed, held = journal.claim_unfinished(sim.url)
        assert claimed == [] and len(held) == 6  # its lease still runs: left to it
        time.sleep(LEASE + 0.5)
        out = ctx.Queue()
        start_at = time.time() + 3.0
        resumers = [ctx.Process(target=_resume, args=(pg_url, sim.url,
                                                      str(tmp_path / f"r{i}"), start_at, out))
                    for i in range(2)]
        for proc in resumers:
            proc.start()
        outcomes = [out.get(timeout=120) for _ in resumers]
        for proc in resumers:
            proc.join(30)
        stats = sim.service.stats()
    assert [o[0] for o in outcomes] == ["ok", "ok"], outcomes
    first, second = outcomes[0][1], outcomes[1][1]
    made = sorted(r["external_id"] for r in journal.history(limit=10)[0])
    assert not set(first) & set(second)  # no task followed twice ...
    assert sorted(first + second) == made  # ... and none left out
    assert all(count == 1 for count in stats["creates_by_external_id"].values())
    assert all(r["status"] == "completed" for r in journal.history(limit=10)[0])
    assert json.loads(journal.get(made[0])["paths"])  # downloaded by a resumer

