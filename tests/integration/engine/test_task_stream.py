"""A task followed by its stream (issue 26, item 1), over loopback HTTP to the simulator:
one open request instead of polling; the card's progress from the stream's frames; a
dropped stream resumed from its cursor; a host without the stream refused once, then
polled, and remembered in the journal; a stream that stays silent, breaks, or sends what
cannot be read handed to the poller; the key never in what is logged."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from kirin_jupyter.client import Client
from kirin_jupyter.engine.streaming import STREAM_FACT
from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.simulator.service import Fault
from tests.conftest import FAST_POLL, TEST_KEY


def client_for(server: SimulatorServer, tmp_path: Path, home: str = "home") -> Client:
    return Client(api_key=TEST_KEY, base_url=server.url, output_dir=tmp_path / "out",
                  home=tmp_path / home, poll_policy=FAST_POLL)


def status_requests(server: SimulatorServer) -> int:
    requests = server.service.stats()["requests"]
    return int(requests.get("get", 0)) + int(requests.get("stream", 0))


def test_a_task_is_followed_by_one_stream_and_its_progress_moves_the_card(
        tmp_path: Path) -> None:
    with SimulatorServer(task_seconds=3, api_key=TEST_KEY) as server:
        client = client_for(server, tmp_path)
        client.generate("a warm-up: the host's lookup is proven once", n=1).wait(30)
        before = status_requests(server)
        job = client.generate("a fox in the snow", n=2)
        seen: list[float] = []
        job.add_listener(lambda j: seen.append(j.server_progress or 0.0))
        result = job.wait(30)
        assert len(result.paths) == 2
        assert status_requests(server) - before == 1  # the stream, and no status poll
        assert server.service.stats()["requests"]["stream"] == 2  # one per job
        moved = sorted(set(p for p in seen if 0 < p < 1))
        assert len(moved) >= 3, seen  # the service's figures, from the stream's frames
        assert client.api.facts.get(STREAM_FACT) == "yes"


def test_a_dropped_stream_resumes_from_its_cursor(tmp_path: Path) -> None:
    with SimulatorServer(task_seconds=3, api_key=TEST_KEY) as server:
        server.service.add_fault(Fault("stream", "drop"))  # two frames, then it hangs up
        job = client_for(server, tmp_path).generate("a fox")
        assert len(job.wait(30).paths) == 1
        cursors = server.service.stream_cursors
        assert cursors[0] == 0 and cursors[1] == 2  # asked again after the frames it had
        assert server.service.stats()["requests"]["stream"] == 2


def test_a_host_without_the_stream_is_asked_once_then_polled(tmp_path: Path) -> None:
    with SimulatorServer(task_seconds=0.5, api_key=TEST_KEY, stream=False) as server:
        client = client_for(server, tmp_path)
        client.generate("a fox").wait(30)
        assert server.service.stats()["requests"]["stream"] == 1  # refused: 404
        assert client.api.facts.get(STREAM_FACT) == "no"
        client.generate("another fox").wait(30)
        again = client_for(server, tmp_path)  # a new kernel: the journal remembers
        again.generate("a third fox").wait(30)
        assert server.service.stats()["requests"]["stream"] == 1
        assert server.service.stats()["requests"]["get"] >= 3  # polled instead


@pytest.mark.parametrize(("fault", "why"), [
    (Fault("stream", "truncate"), "silent for 0.5 s"),
    (Fault("stream", "status", status=500), "HTTP 500"),
])
def test_a_silent_or_broken_stream_hands_the_job_to_the_poller(
        tmp_path: Path, fault: Fault, why: str, caplog: pytest.LogCaptureFixture) -> None:
    with SimulatorServer(task_seconds=1, api_key=TEST_KEY) as server:
        server.service.add_fault(fault)
        client = client_for(server, tmp_path)
        client.stream_silence = 0.5
        started = time.monotonic()
        with caplog.at_level(logging.INFO, logger="kirin_jupyter"):
            assert len(client.generate("a fox").wait(30).paths) == 1
        assert time.monotonic() - started < 10
        assert f"task stream given up ({why}); polling instead" in caplog.text
        assert server.service.stats()["requests"]["get"] >= 1
        assert TEST_KEY not in caplog.text


def test_a_stream_that_sends_what_cannot_be_read_is_resumed_then_polled(
        tmp_path: Path) -> None:
    with SimulatorServer(task_seconds=1, api_key=TEST_KEY) as server:
        server.service.add_fault(Fault("stream", "malformed", times=10))
        job = client_for(server, tmp_path).generate("a fox")
        assert len(job.wait(30).paths) == 1
        assert 2 <= server.service.stats()["requests"]["stream"] <= 6  # bounded resumes
        assert server.service.stats()["requests"]["get"] >= 1


def test_the_in_process_simulator_streams_too(tmp_path: Path) -> None:
    client = Client(home=tmp_path / "home", output_dir=tmp_path / "out")
    job = client.generate("a fox", n=1)
    assert len(job.wait(30).paths) == 1
    assert client.simulator is not None
    assert client.simulator.stats()["requests"].get("stream") == 1
