"""Faults while polling (429 storms, 5xx, bad JSON, a task not listed yet, an outage) are waited out."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import pytest

from kirin_jupyter import (
    TaskTimeout,
)
from kirin_jupyter.client import Client
from kirin_jupyter.simulator import Fault
from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import TEST_KEY
from tests.support.simulated import QUICK_RETRY, client_for


@pytest.fixture
def sim_server(sim_server: SimulatorServer) -> SimulatorServer:
    """The loopback simulator without the task stream: these faults are met while polling
    (test_task_stream.py has the stream's own)."""
    sim_server.service.stream = False
    return sim_server


def test_429_storm_with_retry_after_seconds_and_http_date(
    http_client: Client, sim_server: SimulatorServer
) -> None:
    http_client._api.retry = QUICK_RETRY
    soon = email.utils.formatdate(time.time() + 1, usegmt=True)
    sim_server.service.add_fault(Fault("get", "status", status=429,
                                       headers={"Retry-After": "0"}, times=3))
    sim_server.service.add_fault(Fault("get", "status", status=429,
                                       headers={"Retry-After": soon}, times=1))
    started = time.monotonic()
    result = http_client.generate("a fox").wait(30)
    assert result.paths[0].is_file()
    assert time.monotonic() - started < 5  # the HTTP date was honoured, not a long backoff
    assert sim_server.service.stats()["requests"]["get"] >= 5


def test_5xx_burst_while_polling(http_client: Client, sim_server: SimulatorServer) -> None:
    http_client._api.retry = QUICK_RETRY
    sim_server.service.add_fault(Fault("get", "status", status=502, times=5))
    assert http_client.generate("a fox").wait(30).paths


def test_malformed_json_while_polling(http_client: Client, sim_server: SimulatorServer) -> None:
    http_client._api.retry = QUICK_RETRY
    sim_server.service.add_fault(Fault("get", "malformed", times=2))
    assert http_client.generate("a fox").wait(30).paths


def test_a_task_not_listed_yet_is_waited_for(http_client: Client,
                                             sim_server: SimulatorServer) -> None:
    sim_server.service.add_fault(Fault("get", "status", status=404, code="not_found", times=2))
    assert http_client.generate("a fox").wait(30).paths


def test_api_unreachable_during_polling_is_waited_out_then_resumable(tmp_path: Path) -> None:
    server = SimulatorServer(task_seconds=30, api_key=TEST_KEY).start()
    port = server.port
    client = client_for(server, tmp_path, timeout=1.5)
    job = client.generate("a fox")
    while job.task_id is None:
        time.sleep(0.01)
    server.close()  # the service goes away mid-task
    with pytest.raises(TaskTimeout, match="the service has been failing: could not reach"):
        job.wait(30)
    assert client.journal.get(job.external_task_id)["status"] == "timeout"
    # The service comes back (same port, same tasks): resume finishes the job.
    server.service.finish_now(job.task_id)
    with SimulatorServer(port, service=server.service) as back:
        [resumed] = client_for(back, tmp_path).resume()
        assert resumed.wait(30).paths[0].is_file()
    assert port == back.port
