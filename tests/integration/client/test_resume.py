"""Resume: timed-out, never-created and held-elsewhere jobs, from the journal."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from kirin_jupyter import (
    NeverCreated,
    TaskTimeout,
)
from kirin_jupyter.client import Client
from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.simulated import client_for


def test_stuck_task_times_out_keeps_ids_and_resumes_later(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    sim_server.service.task_seconds = 3600
    client = client_for(sim_server, tmp_path, timeout=0.4)
    job = client.generate("a stuck fox")
    with pytest.raises(TaskTimeout) as caught:
        job.wait(30)
    assert caught.value.task_id == job.task_id and caught.value.external_task_id
    assert client.journal.get(job.external_task_id)["status"] == "timeout"
    sim_server.service.finish_now(job.task_id)
    resumed = client_for(sim_server, tmp_path).resume()
    assert [j.task_id for j in resumed] == [job.task_id]
    assert resumed[0].wait(30).paths
    assert client.journal.get(job.external_task_id)["status"] == "completed"
    assert client_for(sim_server, tmp_path).resume() == []  # nothing left to follow


def test_resume_reports_a_create_that_never_arrived(sim_server: SimulatorServer,
                                                     tmp_path: Path) -> None:
    """On a host whose lookup by external id was seen to find a task: its 404 settles the
    job as never created (elsewhere it proves nothing: tests/integration/money/test_money_paths.py)."""
    client = client_for(sim_server, tmp_path)
    client.generate("a first fox").wait(30)  # its create proves the lookup on this host
    deadline = time.monotonic() + 10
    while not client.api.facts.lookup_proven and time.monotonic() < deadline:
        time.sleep(0.02)
    creates = sim_server.service.stats()["requests"].get("create", 0)
    client.journal.record_submit("kj-lost-in-transit", "kirin_image_omni", "a fox",
                                 {"model": "kirin_image_omni", "prompt": "a fox", "n": 1},
                                 sim_server.url, tmp_path / "out")
    with client.journal._connect() as conn:  # as if written by a process now gone
        conn.execute("UPDATE jobs SET owner = 'elsewhere:1'")
    [job] = client.resume()
    with pytest.raises(NeverCreated, match="lists no task for external id kj-lost-in-transit"):
        job.wait(30)
    assert "billed" not in str(job.error)  # only the service could say so
    assert client.journal.get("kj-lost-in-transit")["status"] == "not_created"
    assert sim_server.service.stats()["requests"].get("create", 0) == creates


def test_journal_paths_are_absolute(http_client: Client, sim_server: SimulatorServer,
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    client = Client(api_key=TEST_KEY, base_url=sim_server.url, output_dir="rel-out",
                    poll_policy=FAST_POLL)
    job = client.generate("a fox")
    result = job.wait(30)
    assert not result.paths[0].is_absolute()  # links in the notebook stay relative
    row = client.journal.get(job.external_task_id)
    assert all(Path(p).is_absolute() for p in json.loads(row["paths"]))
    assert Path(row["output_dir"]).is_absolute()
    monkeypatch.chdir(tmp_path.parent)  # another folder: nothing to resume
    assert client.resume() == []


def test_a_job_held_by_a_live_kernel_is_named_and_can_be_stolen(
    sim_server: SimulatorServer, tmp_path: Path, shell, capsys, monkeypatch
) -> None:
    import socket
    import subprocess
    import sys

    sim_server.service.task_seconds = 0.2
    client = client_for(sim_server, tmp_path)
    job = client.generate("a fox")
    job.wait(30)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = f"{socket.gethostname()}:{other.pid}"
        with client.journal._connect() as conn:  # a live kernel took it after a timeout
            conn.execute("UPDATE jobs SET status = 'timeout', owner = ?", (owner,))
        assert client.resume() == []
        assert client.held_elsewhere == [(job.external_task_id, job.task_id, owner)]
        monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)  # the magics on the same service
        shell.run_line_magic("config", f"Kirin.base_url = '{sim_server.url}'")
        shell.run_line_magic("kirin", "resume")
        out = " ".join(capsys.readouterr().out.split())  # the note wraps at words
        assert f"job {job.task_id} is followed by another live kernel (process " \
            f"{other.pid} on {socket.gethostname()}); %kirin resume --steal takes it over" in out
        assert "nothing to resume" not in out
        [stolen] = client.resume(steal=True)
        assert stolen.wait(30).task_id == job.task_id
        assert client.journal.get(job.external_task_id)["owner"].endswith(f":{os.getpid()}")
    finally:
        other.terminate()
        other.wait(timeout=10)
