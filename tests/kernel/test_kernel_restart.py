"""A real kernel dies mid-task; a new kernel resumes and gets the images, billed once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import TEST_KEY
from tests.kernel.kernel_helpers import running_kernel


def test_kill_kernel_mid_task_then_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    with SimulatorServer(task_seconds=3, api_key=TEST_KEY) as server:
        monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)
        monkeypatch.setenv("KIRIN_BASE_URL", server.url)
        with running_kernel() as first:
            first.run("%load_ext kirin_jupyter")
            first.run("%%kirin fox -n 2\na fox that outlives its kernel")
            waited = first.run(
                "import time\nwhile fox.task_id is None: time.sleep(0.02)\nprint(fox.task_id)"
            )
            task_id = waited.of_type("stream")[0]["content"]["text"].strip()
            first.kill()
        assert server.service.stats()["tasks"] == 1
        assert not list(Path(os.environ["KIRIN_OUTPUT_DIR"]).rglob("*.png"))

        with running_kernel() as second:
            second.run("%load_ext kirin_jupyter")
            resumed = second.run("%kirin resume")
            said = "".join(m["content"].get("text", "") for m in resumed.of_type("stream"))
            assert "following 1 job(s)" in said
            done = second.run("%kirin wait")
            updates = [m["content"]["data"].get("text/html", "")
                       for m in done.of_type("update_display_data")]
            assert any(task_id in html and html.count('<img src="data:image/jpeg') == 2
                       for html in updates), updates
            again = second.run("%kirin resume")
            assert "nothing to resume" in again.of_type("stream")[0]["content"]["text"]

        files = sorted(Path(os.environ["KIRIN_OUTPUT_DIR"]).glob(f"{task_id}/*.png"))
        assert [f.name for f in files] == ["01.png", "02.png"]
        stats = server.service.stats()
        assert stats["tasks"] == 1 and list(stats["creates_by_external_id"].values()) == [1]


def test_simulated_jobs_cannot_be_resumed_and_it_is_said_once(tmp_path: Path) -> None:
    """The built-in simulator lives in the kernel: after a restart its tasks are gone.
    ``%kirin resume`` says so once, instead of failing with "not found" (said twice)."""
    env = dict(os.environ, KIRIN_SIMULATOR_SECONDS="30")
    with running_kernel(env=env) as first:
        first.run("%load_ext kirin_jupyter")
        first.run("%%kirin fox\na fox that outlives its kernel")
        waited = first.run(
            "import time\nwhile fox.task_id is None: time.sleep(0.02)\nprint(fox.task_id)")
        task_id = waited.of_type("stream")[0]["content"]["text"].strip()
        first.kill()
    with running_kernel(env=env) as second:
        second.run("%load_ext kirin_jupyter")
        resumed = second.run("%kirin resume\n%kirin wait")
        said = "".join(m["content"].get("text", "") for m in resumed.of_type("stream"))
        assert said.count("cannot be resumed") == 1 and said.count(task_id) == 1, said
        assert "not found" not in said and "failed" not in said.replace("0 failed", "")
        assert "Run the cell again" in " ".join(said.split())
        assert not resumed.of_type("display_data")  # no card for a job that cannot be
        again = second.run("%kirin resume")
        assert "nothing to resume" in again.of_type("stream")[0]["content"]["text"]
