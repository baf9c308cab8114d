"""The simulator speaks the queue protocol too (issue 26 item 2), over loopback HTTP and in
process: a job on the queue completes and downloads, ``auto`` switches on a queue-only
simulator with one generation 404 and one submit, cancel ends a queued and a running task
(counted), a cancel after completion fetches the result, a failed task is one line, and the
key is in no log. The simulator's queue shapes are checked by hand at the end."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kirin_jupyter import Cancelled, TaskFailed
from kirin_jupyter.client import Client
from kirin_jupyter.engine.polling import PollPolicy
from kirin_jupyter.model.spec import MODELS, all_errors
from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.simulator.service import Fault, SimulatorService
from tests.conftest import FAST_POLL, TEST_KEY


class Clock:
    """A monotonic clock a test can move forward: a task is queued, then running, when
    the test says so, not when a sleep happens to end."""

    def __init__(self) -> None:
        self.ahead = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return time.monotonic() + self.ahead

    def skip(self, seconds: float) -> None:
        with self.lock:
            self.ahead += seconds


@dataclass
class Face:
    """One simulator (over HTTP or in process) and how to make clients of it."""

    service: SimulatorService
    make: Callable[..., Client]


@pytest.fixture(params=["http", "in_process"])
def face(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Face]]:
    """``face(**options)``: a simulator with those options behind the face of the param;
    its clients carry TEST_KEY over HTTP and no key in process (as a user's would)."""
    servers: list[SimulatorServer] = []

    def build(**options: Any) -> Face:
        options.setdefault("task_seconds", 0.3)
        if request.param == "http":
            server = SimulatorServer(api_key=TEST_KEY, **options).start()
            servers.append(server)

            def over_http(**kw: Any) -> Client:
                kw.setdefault("poll_policy", FAST_POLL)
                return Client(api_key=TEST_KEY, base_url=server.url,
                              output_dir=tmp_path / "out", home=tmp_path / "home", **kw)

            return Face(server.service, over_http)
        service = SimulatorService(**options)

        def in_process(**kw: Any) -> Client:
            kw.setdefault("poll_policy", FAST_POLL)
            return Client(simulator=service, output_dir=tmp_path / "out",
                          home=tmp_path / "home", **kw)

        return Face(service, in_process)

    yield build
    for server in servers:
        server.close()


def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def requests(service: SimulatorService) -> dict[str, int]:
    return dict(service.stats()["requests"])


def test_a_job_on_the_queue_completes_and_downloads(face: Callable[..., Face]) -> None:
    sim = face(dialect="queue")
    result = sim.make(protocol="queue").generate("a fox on the queue", n=2,
                                                  aspect_ratio="16:9").wait(20)
    assert len(result.paths) == 2 and all(p.is_file() for p in result.paths)
    from PIL import Image

    with Image.open(result.paths[0]) as picture:  # the same rendered picture: 16:9
        assert picture.size == (1024, 576)
    assert result.cost == Decimal("0.08")  # the usage, at the top of the response
    counts = requests(sim.service)
    assert counts["queue_submit"] == 1 and counts["queue_response"] == 1
    assert counts["queue_status"] >= 1 and counts["download"] == 2
    assert "create" not in counts and "get" not in counts  # nothing on the other protocol


def test_auto_switches_on_a_queue_only_simulator(face: Callable[..., Face]) -> None:
    sim = face(dialect="queue")
    client = sim.make(protocol="auto")
    result = client.generate("a fox").wait(20)
    assert all(p.is_file() for p in result.paths)
    stats = sim.service.stats()
    assert stats["generation_404"] == 1 and stats["requests"]["create"] == 1
    assert stats["requests"]["queue_submit"] == 1 and stats["tasks"] == 1
    assert client.journal.get(result.external_task_id)["protocol"] == "queue"


def test_the_default_simulator_speaks_both(tmp_path: Path) -> None:
    """The built-in simulator a client makes with no key (default dialect ``both``): a
    queue job and an ``auto`` job (which stays on the generation protocol there)."""
    queued = Client(protocol="queue", output_dir=tmp_path / "out", poll_policy=FAST_POLL)
    assert queued.simulated and queued.simulator is not None
    assert all(p.is_file() for p in queued.generate("a fox").wait(20).paths)
    assert requests(queued.simulator)["queue_submit"] == 1
    auto = Client(protocol="auto", output_dir=tmp_path / "out", poll_policy=FAST_POLL)
    assert all(p.is_file() for p in auto.generate("a fox").wait(20).paths)
    assert auto.simulator is not None
    counts = requests(auto.simulator)
    assert counts["create"] == 1 and "queue_submit" not in counts
    assert auto.simulator.stats()["generation_404"] == 0


@pytest.mark.parametrize("state", ["queued", "running"])
def test_cancel_ends_a_queued_and_a_running_task(face: Callable[..., Face], state: str) -> None:
    clock = Clock()
    sim = face(dialect="queue", task_seconds=60.0, clock=clock)
    client = sim.make(protocol="queue")
    job = client.generate("a fox")
    until(lambda: job.task_id is not None and job.status == "queued")
    if state == "running":
        clock.skip(20.0)  # past the queued part (the first 15 %), well before the end
        until(lambda: job.status == "running")
    line = job.cancel()
    assert line == f"task {job.task_id} cancelled by the service (202)"
    with pytest.raises(Cancelled, match="nothing was downloaded"):
        job.wait(10)
    stats = sim.service.stats()
    assert stats["cancels"] == [[job.task_id, 202]]
    assert stats["requests"]["queue_cancel"] == 1 and "download" not in stats["requests"]
    assert client.journal.get(job.external_task_id)["status"] == "cancelled"
    # The service ended it too: a cancelled request, not billed, and no longer running.
    status = sim.service.handle(
        "GET", f"/model/v1/queue/kirin_image_omni/requests/{job.task_id}/status",
        {"Authorization": f"Bearer {TEST_KEY}"}, b"")
    assert json.loads(status.body) == {"request_id": job.task_id, "status": "COMPLETED",
                                       "error": "cancelled by the user",
                                       "error_type": "CANCELED"}
    assert sim.service._running_now() == 0
    # Resume asks again and settles it as failed (COMPLETED with CANCELED).
    [resumed] = sim.make().resume()
    with pytest.raises(TaskFailed, match="cancelled by the user"):
        resumed.wait(10)


def test_a_cancel_after_completion_fetches_the_result(face: Callable[..., Face]) -> None:
    sim = face(dialect="queue", task_seconds=60.0)
    # One status request soon, the next a second later: the task completes in between.
    client = sim.make(protocol="queue",
                      poll_policy=PollPolicy(first=0.05, floor=1.0, dense=1.0, cap=1.0))
    job = client.generate("a fox")
    until(lambda: requests(sim.service).get("queue_status", 0) >= 1)
    assert job.task_id is not None
    sim.service.finish_now(job.task_id)
    assert "already completed (400 ALREADY_COMPLETED); fetching its result" in job.cancel()
    result = job.wait(20)
    assert len(result.paths) == 1 and result.paths[0].is_file()
    assert sim.service.stats()["cancels"] == [[job.task_id, 400]]


def test_a_failed_task_on_the_queue_is_one_line(face: Callable[..., Face]) -> None:
    sim = face(dialect="queue")
    sim.service.add_fault(Fault("queue_submit", "fail_task", code="002016095"))
    job = sim.make(protocol="queue").generate("a fox")
    with pytest.raises(TaskFailed) as caught:
        job.wait(20)
    message = str(caught.value)
    assert "\n" not in message and caught.value.code == "002016095"
    assert f"Kirin error 002016095: {all_errors()['002016095']}" in message
    assert job.status == "failed" and "queue_response" not in requests(sim.service)


def test_the_key_is_in_no_log(log_capture: io.StringIO, tmp_path: Path) -> None:
    with SimulatorServer(task_seconds=60.0, api_key=TEST_KEY, dialect="queue") as server:
        client = Client(api_key=TEST_KEY, base_url=server.url, output_dir=tmp_path / "out",
                        home=tmp_path / "home", poll_policy=FAST_POLL, protocol="auto")
        job = client.generate("a fox")
        until(lambda: job.task_id is not None)
        assert job.task_id is not None
        server.service.finish_now(job.task_id)
        result = job.wait(20)
        slow = client.generate("a slow fox")
        until(lambda: slow.task_id is not None)
        slow.cancel()
        with pytest.raises(Cancelled) as caught:
            slow.wait(10)
        server.service.add_fault(Fault("queue_submit", "fail_task", code="002016095"))
        failing = client.generate("a failing fox")
        until(lambda: failing.task_id is not None)
        assert failing.task_id is not None
        server.service.finish_now(failing.task_id)
        with pytest.raises(TaskFailed) as failed:
            failing.wait(20)
    logged = log_capture.getvalue()
    assert "/model/v1/queue/kirin_image_omni" in logged  # the queue calls were logged
    for text in (logged, repr(client), repr(result), str(caught.value), str(failed.value)):
        assert TEST_KEY not in text


def _call(url: str, method: str = "GET", body: Any = None, key: str | None = TEST_KEY
          ) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"null")


def test_the_queue_shapes_on_the_wire() -> None:
    """By hand, as any client of the queue protocol would call it."""
    with SimulatorServer(task_seconds=30.0, api_key=TEST_KEY, dialect="queue") as server:
        base = server.url + "/model/v1/queue/kirin_v3_image"
        assert _call(base, "POST", {"prompt": "a fox"}, key=None)[0] == 401
        # The generation create answers 404 (so auto switches); nothing is made.
        status, _ = _call(server.url + "/model/v1/generation", "POST",
                          {"model": "kirin_v3_image", "input": [{"params": {"prompt": "x"}}]})
        assert status == 404 and server.service.stats()["tasks"] == 0
        # Raw parameters only, checked by the same rules (validate_body, the model table).
        assert _call(base, "POST", {"model": "kirin_v3_image", "prompt": "a fox"})[0] == 400
        status, answer = _call(base, "POST", {"prompt": "a fox", "aspect_ratio": "7:3"})
        assert status == 400 and answer["error"]["code"] == MODELS["kirin_v3_image"].create_error
        status, answer = _call(base, "POST", {"prompt": "a fox", "n": 10})
        assert status == 400 and "between 1-9" in json.dumps(answer)
        status, answer = _call(server.url + "/model/v1/queue/no_such_model", "POST",
                               {"prompt": "a fox"})
        assert status == 400 and answer["error"]["code"] == "invalid_model"
        status, submitted = _call(base, "POST", {"prompt": "a fox", "n": 2})
        ident = submitted["request_id"]
        assert status == 200 and submitted["status"] == "IN_QUEUE"
        assert submitted["status_url"] == f"{base}/requests/{ident}/status"
        status, early = _call(f"{base}/requests/{ident}/response")
        assert status == 400 and early["error"]["code"] == "REQUEST_NOT_COMPLETED"
        server.service.finish_now(ident)
        until(lambda: _call(f"{base}/requests/{ident}/status")[1]["status"] == "COMPLETED")
        status, response = _call(f"{base}/requests/{ident}/response")
        assert status == 200 and response["request_id"] == ident
        assert [o["file_name"] for o in response["outputs"]] == ["1.png", "2.png"]
        assert response["usage"]["quantity"] == 2
        with urllib.request.urlopen(response["outputs"][0]["url"]) as picture:
            assert picture.read(8) == b"\x89PNG\r\n\x1a\n"  # the download needs no key
        assert _call(f"{base}/requests/{ident}/cancel", "PUT")[0] == 400
        # Another model's path, an unknown id: 404, counted.
        assert _call(server.url + f"/model/v1/queue/kirin_image_omni/requests/{ident}/status"
                     )[0] == 404
        assert _call(f"{base}/requests/nosuchid/cancel", "PUT")[0] == 404
        stats = server.service.stats()
        assert stats["cancels"] == [[ident, 400], ["nosuchid", 404]]
        assert stats["requests"]["queue_cancel"] == 2 and stats["generation_404"] == 1
    with SimulatorServer(task_seconds=0.2, api_key=TEST_KEY, dialect="generation") as server:
        status, _ = _call(server.url + "/model/v1/queue/kirin_v3_image", "POST",
                          {"prompt": "a fox"})
        assert status == 404 and server.service.stats()["tasks"] == 0
    with pytest.raises(ValueError, match="dialect"):
        SimulatorService(dialect="sideways")  # type: ignore[arg-type]


def test_the_command_line_takes_a_dialect(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "kirin_jupyter.simulator", "--port", "0", "--seconds", "0.2",
         "--dialect", "queue"], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "KIRIN_SIMULATOR_KEY": ""})
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        client = Client(api_key=TEST_KEY, base_url=url, output_dir=tmp_path / "out",
                        home=tmp_path / "home", poll_policy=FAST_POLL, protocol="auto")
        assert len(client.generate("a fox").wait(20).paths) == 1
        assert _call(url + "/_sim/stats")[1]["generation_404"] == 1
    finally:
        proc.terminate()  # our own child, by its PID
        proc.wait(timeout=10)


def test_a_poll_that_sees_the_cancel_first_still_ends_as_cancelled(
    face: Callable[..., Face]
) -> None:
    """The cancel takes effect but its answer is lost (retried after a pause): meanwhile a
    status request says COMPLETED with CANCELED. The job waits for its own cancel's answer
    and ends as Cancelled (journal ``cancelled``), not as a failed task."""
    sim = face(dialect="queue", task_seconds=60.0)
    client = sim.make(protocol="queue")
    job = client.generate("a fox")
    until(lambda: job.task_id is not None and requests(sim.service).get("queue_status", 0))
    sim.service.add_fault(Fault("queue_cancel", "drop"))
    seen = requests(sim.service).get("queue_status", 0)

    async def until_polled(_delay: float) -> None:
        """The retry's pause lasts until a status request has come after the lost cancel
        (a jittered pause may be ~0 s: the race must happen every time, not by chance)."""
        for _ in range(500):
            if requests(sim.service).get("queue_status", 0) > seen:
                return
            await asyncio.sleep(0.01)

    client.api._sleep = until_polled
    assert job.cancel() == f"task {job.task_id} cancelled by the service (202)"
    with pytest.raises(Cancelled, match="nothing was downloaded"):
        job.wait(10)
    statuses = sim.service.stats()["gets_by_task"][job.task_id]
    assert sim.service.stats()["cancels"] == [[job.task_id, 202], [job.task_id, 202]]
    assert statuses >= 2  # one status request at least came after the first cancel
    assert client.journal.get(job.external_task_id)["status"] == "cancelled"
