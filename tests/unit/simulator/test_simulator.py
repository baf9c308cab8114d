"""The simulator as its own process, and its service-side rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kirin_jupyter.client import Client
from kirin_jupyter.simulator.render import output_size
from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.simulator.service import SimulatorService, validate_body
from tests.conftest import FAST_POLL, TEST_KEY


def test_cli_server_serves_a_whole_job(tmp_path: Path) -> None:
    env = {**os.environ, "KIRIN_SIMULATOR_KEY": TEST_KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kirin_jupyter.simulator", "--port", "0", "--seconds", "0.2",
         "--require-key"],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Kirin simulator listening on http://127.0.0.1:")
        url = line.split()[-1]
        client = Client(api_key=TEST_KEY, base_url=url, output_dir=tmp_path,
                        poll_policy=FAST_POLL)
        result = client.generate("a fox over real HTTP", n=2).wait(20)
        assert len(result.paths) == 2
        with pytest.raises(urllib.error.HTTPError) as refused:  # control routes need it too
            urllib.request.urlopen(f"{url}/_sim/stats")
        assert refused.value.code == 401
        request = urllib.request.Request(f"{url}/_sim/stats",
                                         headers={"Authorization": f"Bearer {TEST_KEY}"})
        with urllib.request.urlopen(request) as answer:
            stats = json.load(answer)
        assert stats["creates_by_external_id"] == {result.external_task_id: 1}
    finally:
        proc.terminate()  # our own child, by its PID
        proc.wait(timeout=10)


def test_cli_refuses_require_key_without_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "KIRIN_SIMULATOR_KEY"}
    done = subprocess.run([sys.executable, "-m", "kirin_jupyter.simulator", "--require-key"],
                          capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 2 and "KIRIN_SIMULATOR_KEY" in done.stderr


@pytest.mark.parametrize(("body", "code"), [
    ({"model": "kirin_image_omni", "prompt": ""}, "002016001"),
    ({"model": "kirin_image_omni", "prompt": "x" * 2501}, "002016002"),
    ({"model": "kirin_image_omni", "prompt": "x", "n": 10}, "002016003"),
    ({"model": "kirin_v3_image", "prompt": "x", "aspect_ratio": "auto"}, "006001099"),
    ({"model": "kirin_image_omni", "prompt": "x", "image_list": ["data:image/png;base64,AA"]},
     "002016099"),
])
def test_service_rules_follow_the_documents(body: dict, code: str) -> None:
    problem = validate_body(body)
    assert problem is not None and problem[0] == code


def test_service_answers_400_with_code_over_the_wire() -> None:
    service = SimulatorService()
    answer = service.handle("POST", "/model/v1/generation", {}, json.dumps(
        {"model": "kirin_v3_image", "input": [{"params": {"prompt": ""}}]}).encode())
    assert answer.status == 400
    assert json.loads(answer.body)["error"] == {"code": "006001099",
                                                "error_message": "Prompt missing"}


def test_output_sizes() -> None:
    assert output_size({"model": "kirin_v3_image"}) == (1024, 576)
    assert output_size({"model": "kirin_image_omni", "resolution": "2k",
                        "aspect_ratio": "9:16"}) == (1152, 2048)
    assert output_size({"model": "kirin_image_omni", "aspect_ratio": "auto"}) == (1024, 1024)




def test_the_simulator_speaks_the_gateway_protocol() -> None:
    """Wrapped bodies only (a flat one is refused), in_progress with a progress figure,
    usage with quantity and unit price, and a precharge quote that creates nothing."""
    clock = [0.0]
    service = SimulatorService(task_seconds=10, clock=lambda: clock[0])
    params = {"prompt": "a fox", "n": 2, "external_task_id": "ext-1"}
    flat = service.handle("POST", "/model/v1/generation", {},
                          json.dumps({"model": "kirin_image_omni", **params}).encode())
    assert flat.status == 400 and b"input" in flat.body
    body = json.dumps({"model": "kirin_image_omni", "input": [{"params": params}]}).encode()
    quote = json.loads(service.handle("POST", "/model/v1/generation/precharge", {}, body).body)
    assert quote["status"] == "success" and quote["data"]["cost"] == "0.08"
    assert service.tasks == {}
    created = json.loads(service.handle("POST", "/model/v1/generation", {}, body).body)
    assert created["status"] == "in_progress" and set(created) == {
        "id", "status", "model", "created_at"}

    def task(ident: str) -> dict:
        return json.loads(service.handle(
            "GET", f"/model/v1/generation/task/{ident}", {}, b"").body)

    assert "progress" not in task(created["id"])  # nothing done yet: left out, as omitempty
    clock[0] = 6.6  # of 11 s (10 s, +10 % for the second image)
    running = task("ext-1")  # by external id too
    assert (running["id"], running["status"], running["progress"]) == (
        created["id"], "in_progress", 0.6)
    clock[0] = 12.0
    done = task(created["id"])
    assert done["status"] == "completed" and len(done["output"][0]["content"]) == 2
    assert done["usage"] == {"cost": "0.08", "quantity": 2, "unit_price": "0.04",
                             "discount": 0}


def test_a_simulator_without_precharge_answers_404() -> None:
    service = SimulatorService(precharge=False)
    body = json.dumps({"model": "kirin_image_omni", "input": [{"params": {"prompt": "x"}}]})
    answer = service.handle("POST", "/model/v1/generation/precharge", {}, body.encode())
    assert answer.status == 404




def test_simulator_binds_loopback_only() -> None:
    with SimulatorServer() as server:
        assert server._server.server_address[0] == "127.0.0.1"
    import inspect

    from kirin_jupyter.simulator.server import SimulatorServer as S

    assert "host" not in inspect.signature(S).parameters
