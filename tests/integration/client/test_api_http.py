"""The Python API over real loopback HTTP to the simulator: results, errors, retries."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import kirin_jupyter
from kirin_jupyter import APIError, TaskFailed
from kirin_jupyter.client import Client
from kirin_jupyter.errors import AuthenticationError, ServiceUnavailable
from kirin_jupyter.model.spec import OMNI_ERRORS, V3_ERRORS, all_errors
from kirin_jupyter.simulator import Fault
from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import FAST_POLL, TEST_KEY


def test_omni_text_to_image_saves_files_and_reports_cost(http_client: Client) -> None:
    job = http_client.generate("a red fox", n=3, resolution="2k", aspect_ratio="16:9")
    assert job.external_task_id.startswith("kj-")
    result = job.wait(20)
    assert job.status == "completed" and job.task_id == result.task_id
    assert len(result.paths) == 3 and all(p.is_file() for p in result.paths)
    assert [im.size for im in result.images] == [(2048, 1152)] * 3
    assert result.cost == Decimal("0.24")
    assert all(url.startswith("http://127.0.0.1:") for url in result.urls)
    assert result.paths[0].parent.name == result.task_id


def test_v3_image_to_image_sends_one_base64_image(
    http_client: Client, sim_server: SimulatorServer, make_image
) -> None:
    photo = make_image(600, 400, "JPEG")
    job = http_client.generate("make it winter", model="v3", images=[photo], aspect_ratio="3:2",
                               elements=[7], watermark=False)
    result = job.wait(20)
    task = sim_server.service.tasks[result.task_id]
    assert task.model == "kirin_v3_image"
    assert isinstance(task.body["image"], str)
    assert not task.body["image"].startswith("data:")
    assert Image.open(io.BytesIO(__import__("base64").b64decode(task.body["image"]))).size == (600, 400)
    assert task.body["element_list"] == [{"element_id": 7}]
    assert task.body["watermark_info"] == {"enabled": False}
    assert result.images[0].size == (1024, 683)


def test_omni_defaults_follow_the_documents(http_client: Client, sim_server: SimulatorServer) -> None:
    result = http_client.generate("a fox").wait(20)
    body = sim_server.service.tasks[result.task_id].body
    assert (body["n"], body["resolution"], body["aspect_ratio"]) == (1, "1k", "auto")
    result = http_client.generate("a fox", model="kirin_v3_image").wait(20)
    assert sim_server.service.tasks[result.task_id].body["aspect_ratio"] == "16:9"


def test_url_reference_is_sent_as_url(http_client: Client, sim_server: SimulatorServer) -> None:
    url = "https://images.example.com/cat.png"
    result = http_client.generate("<<<image_1>>> as a knight", images=[url]).wait(20)
    assert sim_server.service.tasks[result.task_id].body["image_list"] == [{"image": url}]


def test_await_job_from_asyncio(http_client: Client) -> None:
    async def main() -> int:
        result = await http_client.generate("async fox")
        return len(result.paths)

    assert asyncio.run(main()) == 1


@pytest.mark.parametrize("code", sorted(OMNI_ERRORS))
def test_every_omni_error_code_reaches_the_user(http_client: Client, sim_server: SimulatorServer,
                                                 code: str) -> None:
    sim_server.service.add_fault(Fault("create", "fail_task", code=code, message="boom"))
    job = http_client.generate("a fox")
    with pytest.raises(TaskFailed) as caught:
        job.wait(20)
    assert caught.value.code == code
    assert f"Kirin error {code}: {all_errors()[code]}" in str(caught.value)
    assert job.status == "failed"


@pytest.mark.parametrize("code", sorted(V3_ERRORS))
def test_every_v3_error_code_reaches_the_user(http_client: Client, sim_server: SimulatorServer,
                                               code: str) -> None:
    sim_server.service.add_fault(Fault("create", "fail_task", code=code, message="boom"))
    with pytest.raises(TaskFailed, match=f"Kirin error {code}: {all_errors()[code]}"):
        http_client.generate("a fox", model="v3").wait(20)


@pytest.mark.parametrize("code", ["002016001", "002016002", "002016003", "002016099"])
def test_error_codes_on_create_are_readable(http_client: Client, sim_server: SimulatorServer,
                                            code: str) -> None:
    """The service may also refuse at creation (HTTP 400 with a code)."""
    sim_server.service.add_fault(Fault("create", "status", status=400, code=code, message="no"))
    with pytest.raises(APIError) as caught:
        http_client.generate("a fox").wait(20)
    assert caught.value.code == code and caught.value.status_code == 400
    assert all_errors()[code] in str(caught.value)


def test_wrong_key_says_how_to_set_it(sim_server: SimulatorServer, tmp_path: Path) -> None:
    client = Client(api_key="sk-wrong", base_url=sim_server.url, output_dir=tmp_path,
                    poll_policy=FAST_POLL)
    with pytest.raises(AuthenticationError, match="set KIRIN_API_KEY or run %kirin login"):
        client.generate("a fox").wait(20)


def test_http_402_and_404_messages(http_client: Client, sim_server: SimulatorServer) -> None:
    sim_server.service.add_fault(Fault("create", "status", status=402, code="402", message="x"))
    with pytest.raises(APIError, match="insufficient balance"):
        http_client.generate("a fox").wait(20)


def test_polling_survives_5xx_and_429(http_client: Client, sim_server: SimulatorServer) -> None:
    sim_server.service.stream = False  # a gateway without the task stream: the job polls
    http_client._api.retry = type(http_client._api.retry)(base=0.01, cap=0.05)
    sim_server.service.add_fault(Fault("get", "status", status=503, times=3))
    sim_server.service.add_fault(Fault("get", "status", status=429, headers={"Retry-After": "0"},
                                       times=2))
    result = http_client.generate("a fox").wait(20)
    assert len(result.paths) == 1
    assert sim_server.service.stats()["requests"]["get"] >= 6


def test_unreachable_api_is_a_clear_error(tmp_path: Path) -> None:
    client = Client(api_key=TEST_KEY, base_url="http://127.0.0.1:9", output_dir=tmp_path)
    client._api.retry = type(client._api.retry)(attempts=2, base=0.01, cap=0.02)
    with pytest.raises(ServiceUnavailable, match="could not reach the Kirin API"):
        client.generate("a fox").wait(20)


def test_lost_create_response_makes_exactly_one_task(
    http_client: Client, sim_server: SimulatorServer
) -> None:
    """The service creates the task but the answer never arrives: find it, never re-POST."""
    sim_server.service.add_fault(Fault("create", "drop"))
    job = http_client.generate("a fox", external_task_id="my-order-0001")
    result = job.wait(20)
    assert sim_server.service.stats()["creates_by_external_id"] == {"my-order-0001": 1}
    assert sim_server.service.stats()["tasks"] == 1
    assert result.task_id in sim_server.service.tasks


def test_garbled_create_response_is_not_billed_twice(
    http_client: Client, sim_server: SimulatorServer
) -> None:
    sim_server.service.add_fault(Fault("create", "malformed"))
    job = http_client.generate("a fox")
    job.wait(20)
    assert sim_server.service.stats()["creates_by_external_id"] == {job.external_task_id: 1}


def test_key_never_in_repr_or_logs(http_client: Client, sim_server: SimulatorServer,
                                   log_capture: io.StringIO) -> None:
    sim_server.service.add_fault(Fault("create", "drop"))
    job = http_client.generate("a fox")
    result = job.wait(20)
    texts = [repr(http_client), repr(http_client._api), repr(job), repr(result),
             repr(job.request), str(job.request.summary()), log_capture.getvalue()]
    assert "after an ambiguous create" in log_capture.getvalue()
    for text in texts:
        assert TEST_KEY not in text


def test_server_echoing_the_key_is_redacted(http_client: Client, sim_server: SimulatorServer) -> None:
    sim_server.service.add_fault(Fault("create", "status", status=400, code="bad",
                                       message=f"key {TEST_KEY} is odd"))
    with pytest.raises(APIError) as caught:
        http_client.generate("a fox").wait(20)
    assert TEST_KEY not in str(caught.value) and "***" in str(caught.value)


def test_downloads_carry_no_authorization(http_client: Client, sim_server: SimulatorServer) -> None:
    seen: list[dict[str, str]] = []
    original = sim_server.service.handle

    def spy(method, path, headers, body):  # type: ignore[no-untyped-def]
        if path.startswith("/results/"):
            seen.append({k.lower(): v for k, v in headers.items()})
        return original(method, path, headers, body)

    sim_server.service.handle = spy  # type: ignore[method-assign]
    http_client.generate("a fox", n=2).wait(20)
    assert len(seen) == 2 and all("authorization" not in h for h in seen)


def test_module_level_generate_uses_the_in_process_simulator() -> None:
    import kirin_jupyter.shortcuts as api

    api.set_default_client(None)
    try:
        job = kirin_jupyter.generate("a fox")
        result = job.wait(20)
        assert result.simulated and result.task_id.startswith("sim-")
        assert kirin_jupyter.default_client().simulated
    finally:
        api.set_default_client(None)


def test_job_wait_timeout_keeps_ids(http_client: Client) -> None:
    job = http_client.generate("a slow fox")
    with pytest.raises(kirin_jupyter.TaskTimeout) as caught:
        job.wait(0.001)
    assert caught.value.external_task_id == job.external_task_id
    job.wait(20)


def test_task_deadline_gives_task_timeout(sim_server: SimulatorServer, tmp_path: Path) -> None:
    sim_server.service.task_seconds = 30
    client = Client(api_key=TEST_KEY, base_url=sim_server.url, output_dir=tmp_path,
                    poll_policy=FAST_POLL, timeout=0.5)
    job = client.generate("a stuck fox")
    with pytest.raises(kirin_jupyter.TaskTimeout) as caught:
        job.wait(20)
    assert caught.value.task_id == job.task_id and job.task_id is not None
    assert "resume" in str(caught.value)


def test_a_key_alone_targets_vtrix_and_sends_nothing_until_a_job(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With KIRIN_API_KEY and no base URL, the host of the documentation the model pages
    come from; building a request (as --dry-run does) opens no connection."""
    monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)
    client = Client(home=tmp_path / "home")
    assert client.base_url == "https://cloud.vtrix.ai" and not client.simulated
    assert "Vtrix documentation" in client.host_reason
    assert client.api.endpoint.create_url() == "https://cloud.vtrix.ai/model/v1/generation"
    client.build("a fox", n=2)
    assert TEST_KEY not in repr(client) + client.host_reason
    assert not client.api.is_open()  # no connection was made, so nothing was sent
    explicit = Client(api_key=TEST_KEY, home=tmp_path / "home2")
    assert explicit.base_url == "https://cloud.vtrix.ai" and not explicit.api.is_open()


@pytest.mark.parametrize("name, url", [("vtrix", "https://cloud.vtrix.ai"),
                                       ("seacloud", "https://cloud.seaart.ai"),
                                       (" SeaCloud ", "https://cloud.seaart.ai"),
                                       ("https://gw.example/", "https://gw.example/")])
def test_base_url_takes_host_names_or_a_url(tmp_path: Path, name: str, url: str) -> None:
    client = Client(api_key=TEST_KEY, base_url=name, home=tmp_path)
    assert client.base_url == url
    assert repr(name.strip()) in client.host_reason and "(from argument)" in client.host_reason


def test_no_key_and_no_base_url_is_still_the_simulator(tmp_path: Path) -> None:
    client = Client(home=tmp_path)
    assert client.simulated and "simulator" in client.host_reason


def test_journal_records_request_before_create_and_never_the_key(
    http_client: Client, sim_server: SimulatorServer, make_image,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    service = sim_server.service
    handle = service.handle
    seen: list[tuple[str, str | None]] = []  # from the create on: each request, and the
    ids: set[str | None] = set()  # journal's newest job (as %kirin history lists it) then

    def watching(method: str, path: str, headers: Any, body: bytes) -> Any:
        route = path.split("?", 1)[0]
        if seen or (method == "POST" and route == service.routes.create):
            rows = http_client.journal.history(limit=1)[0]
            ids.add(rows[0]["external_id"] if rows else None)
            kind = "download" if route.startswith("/results/") else f"{method} {route}"
            seen.append((kind, rows[0]["status"] if rows else None))
        return handle(method, path, headers, body)

    monkeypatch.setattr(service, "handle", watching)
    job = http_client.generate("<<<image_1>>> knight", images=[make_image(400, 400)])
    result = job.wait(20)
    row = http_client.journal.get(job.external_task_id)
    assert row is not None and row["task_id"] == result.task_id and row["status"] == "completed"
    assert "sha256:" in row["request"] and len(row["request"]) < 2000
    # The journal's states as the service saw them, request by request, then at the end.
    assert ids == {job.external_task_id}
    assert seen[0] == (f"POST {service.routes.create}", "submitting")  # before the create
    assert seen[-1] == ("download", "downloading")
    statuses = [status for _, status in seen] + [row["status"]]
    statuses = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
    assert statuses[:2] == ["submitting", "created"] and statuses[-2:] == [
        "downloading", "completed"]
    assert set(statuses[2:-2]) <= {"queued", "running", "completed"}
    raw = http_client.journal.path.read_bytes()
    assert TEST_KEY.encode() not in raw
