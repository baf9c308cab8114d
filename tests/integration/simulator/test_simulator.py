"""The simulator's slower rules: a task of an ended process, the callback URL."""

from __future__ import annotations

import json
import time
from pathlib import Path

from kirin_jupyter.client import Client
from kirin_jupyter.simulator.service import SimulatorService
from tests.conftest import FAST_POLL


def test_a_simulated_task_from_an_ended_process_is_not_followed(tmp_path: Path) -> None:
    """The in-process simulator's tasks die with their kernel: resuming one after a restart
    could only end in "not found". It is listed in ``simulated_lost`` and its journal row
    says why, so it is not claimed again; a task this process still has is followed."""
    from kirin_jupyter.client import SIMULATED_TASK_GONE

    service = SimulatorService(task_seconds=1.5)
    client = Client(simulator=service, output_dir=tmp_path, poll_policy=FAST_POLL,
                    home=tmp_path / "home")
    kept = client.generate("a fox that is still here")
    while kept.task_id is None:
        time.sleep(0.02)
    for external, task in (("gone-1", "sim-000000000000"), ("known-1", kept.task_id)):
        client.journal.record_submit(external, "kirin_image_omni", f"a fox {external}",
                                     {"n": 1}, client.base_url, tmp_path)
        client.journal.record_state(external, "running", task_id=task)
    fresh = Client(simulator=service, output_dir=tmp_path, poll_policy=FAST_POLL,
                   home=tmp_path / "home")
    resumed = fresh.resume()
    assert fresh.simulated_lost == [("gone-1", "sim-000000000000")]
    assert [j.external_task_id for j in resumed] == ["known-1"]  # its task is still here
    row = fresh.journal.get("gone-1")
    assert row is not None and row["status"] == "failed" and row["error"] == SIMULATED_TASK_GONE
    assert fresh.resume() == [] and fresh.simulated_lost == []  # reported once
    assert resumed[0].wait(20).paths


def test_callback_url_receives_the_final_status(tmp_path: Path) -> None:
    """The service notifies callback_url on completion (loopback only); the client still polls."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    hook = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=hook.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        service = SimulatorService(task_seconds=0.2)
        client = Client(simulator=service, output_dir=tmp_path, poll_policy=FAST_POLL)
        url = f"http://127.0.0.1:{hook.server_address[1]}/done"
        result = client.generate("a fox", callback_url=url).wait(20)
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert received and received[0]["id"] == result.task_id
        assert received[0]["status"] == "completed"
        assert service.tasks[result.task_id].body["callback_url"] == url
        # Anything but loopback is never called.
        remote = client.generate("a fox", callback_url="http://example.com/hook").wait(20)
        time.sleep(0.3)
        assert remote.task_id not in service.callbacks_sent
    finally:
        hook.shutdown()
        hook.server_close()
