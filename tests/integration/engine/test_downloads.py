"""Downloads: cut or expired results are fetched again, never left half-written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import kirin_jupyter
from kirin_jupyter import (
    DownloadError,
    ResultExpired,
)
from kirin_jupyter.client import Client
from kirin_jupyter.simulator import Fault
from kirin_jupyter.simulator.server import SimulatorServer
from tests.support.simulated import QUICK_RETRY, client_for


def test_truncated_download_is_retried(http_client: Client, sim_server: SimulatorServer) -> None:
    http_client._api.retry = QUICK_RETRY
    sim_server.service.add_fault(Fault("download", "truncate", times=2))
    result = http_client.generate("a fox").wait(30)
    from PIL import Image

    with Image.open(result.paths[0]) as img:
        img.load()  # a complete image, not the truncated one
    assert sim_server.service.stats()["requests"]["download"] == 3


def test_corrupt_download_every_time_is_a_clear_error_and_resumable(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    client = client_for(sim_server, tmp_path)
    sim_server.service.add_fault(Fault("download", "truncate", times=3))
    job = client.generate("a fox")
    with pytest.raises(DownloadError, match="could not download a result intact after 3 tries"):
        job.wait(30)
    assert client.journal.get(job.external_task_id)["status"] == "interrupted"
    assert not list((tmp_path / "out").rglob("*.png"))  # no half file left behind
    assert not list((tmp_path / "out").rglob(".part-*"))
    # Paid for, so not lost: resume fetches it once the download works again.
    resumed = client_for(sim_server, tmp_path).resume()
    assert [j.external_task_id for j in resumed] == [job.external_task_id]
    assert resumed[0].wait(30).paths[0].is_file()
    assert sim_server.service.stats()["creates_by_external_id"] == {job.external_task_id: 1}


def test_expired_url_is_requeried_once(http_client: Client, sim_server: SimulatorServer) -> None:
    sim_server.service.add_fault(Fault("download", "status", status=410, times=1))
    result = http_client.generate("a fox").wait(30)
    assert result.paths[0].is_file()


def test_expired_url_twice_is_result_expired(http_client: Client,
                                             sim_server: SimulatorServer) -> None:
    sim_server.service.add_fault(Fault("download", "status", status=403, times=2))
    with pytest.raises(ResultExpired, match="expired, even after asking for fresh ones"):
        http_client.generate("a fox").wait(30)


def test_result_files_get_the_umask_mode_and_no_part_file_is_left(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    client = client_for(sim_server, tmp_path)
    result = client.generate("a fox", n=3).wait(30)
    old_umask = os.umask(0o022)
    os.umask(old_umask)
    assert all(p.stat().st_mode & 0o777 == 0o666 & ~old_umask for p in result.paths)
    # Every download is cut short, again and again: the first to give up cancels its
    # siblings mid-way, and no temporary file stays behind.
    sim_server.service.add_fault(Fault("download", "truncate", times=9))
    job = client.generate("a fox", n=3)
    with pytest.raises(kirin_jupyter.DownloadError):
        job.wait(30)
    folder = tmp_path / "out" / job.task_id
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".part")]
