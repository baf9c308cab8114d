"""References uploaded once (issue 26, item 4), over real loopback HTTP to the strict fake
of the gateway and its storage route (tests/support/gateway.py), and to the simulator."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from kirin_jupyter import ValidationError
from kirin_jupyter.client import Client
from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.simulator.service import SimulatorService
from kirin_jupyter.storage.file_provenance import provenance
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.gateway import STORAGE, Gateway


@pytest.fixture
def noisy(tmp_path: Path) -> Callable[[int], Path]:
    """A PNG of random pixels (it does not compress): its bytes are what is sent."""

    def make(seed: int = 0, side: int = 400) -> Path:
        import numpy as np
        from PIL import Image

        pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
        path = tmp_path / f"noise-{seed}-{side}.png"
        Image.fromarray(pixels).save(path, format="PNG", compress_level=1)
        return path

    return make


def client_for(gateway: Gateway, tmp_path: Path, mode: str, home: str = "home") -> Client:
    return Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                  poll_policy=FAST_POLL, home=tmp_path / home, upload_references=mode,
                  upload_url=gateway.url + STORAGE)


def image_values(raw: bytes) -> list[str]:
    params = json.loads(raw)["input"][0]["params"]
    return [item["image"] for item in params.get("image_list", [])]


def upload_lines(log: io.StringIO) -> list[str]:
    return [line for line in log.getvalue().splitlines() if "upload of reference" in line]


def test_a_20_item_batch_reusing_one_reference_uploads_it_once(
        gateway: Gateway, tmp_path: Path, noisy: Callable[..., Path]) -> None:
    ref = noisy(1)
    size = ref.stat().st_size
    batch = client_for(gateway, tmp_path, "reused").batch(
        [f"a fox, take {i}" for i in range(20)], images=[str(ref)], concurrency=8)
    results = batch.wait(timeout=60)
    assert all(result is not None for result in results)
    assert len(gateway.uploads) == 1 and gateway.upload_bytes == size
    name, _ = gateway.uploads[0]
    assert name.endswith(".png") and "noise" not in name  # never the user's file name
    url = f"{gateway.url}/storage/f0001.png?X-Signature=secret-f0001"
    assert len(gateway.raw_creates) == 20
    assert all(image_values(raw) == [url] for raw in gateway.raw_creates)  # the first too
    assert all(len(raw) < 2000 for raw in gateway.raw_creates)
    reused_bytes = gateway.bytes_received
    # The same batch with "never": every create carries the picture as base64.
    plain = Gateway(TEST_KEY)
    from tests.support.gateway import GatewayServer

    with GatewayServer(plain):
        client_for(plain, tmp_path, "never", home="home2").batch(
            [f"a fox, take {i}" for i in range(20)], images=[str(ref)],
            concurrency=8).wait(timeout=60)
    assert plain.uploads == [] and plain.count("POST", STORAGE) == 0
    assert all(len(raw) > size * 4 / 3 for raw in plain.raw_creates)
    assert plain.bytes_received > 20 * size * 4 / 3
    # One upload and one quote (its kind's) carry the bytes; the creates only a URL.
    assert reused_bytes < 3 * size * 4 / 3 < plain.bytes_received / 6


def test_reused_sends_base64_for_a_reference_used_once(
        gateway: Gateway, tmp_path: Path, noisy: Callable[..., Path]) -> None:
    client = client_for(gateway, tmp_path, "reused")
    client.generate("a fox", images=[str(noisy(1))]).wait(timeout=30)
    assert gateway.uploads == []
    assert not image_values(gateway.raw_creates[0])[0].startswith("http")
    # Used again later in the session: uploaded now, and its URL sent from then on.
    client.generate("a fox again", images=[str(noisy(1))]).wait(timeout=30)
    client.generate("a third fox", images=[str(noisy(1))]).wait(timeout=30)
    assert len(gateway.uploads) == 1
    assert [image_values(raw)[0].startswith(gateway.url) for raw in gateway.raw_creates] \
        == [False, True, True]


def test_always_uploads_every_local_reference_never_a_url(
        gateway: Gateway, tmp_path: Path, noisy: Callable[..., Path]) -> None:
    client = client_for(gateway, tmp_path, "always")
    given = "https://example.com/given.png?sig=abc"
    client.generate("two refs", images=[str(noisy(1)), given]).wait(timeout=30)
    client.generate("one ref", images=[str(noisy(2))]).wait(timeout=30)
    assert len(gateway.uploads) == 2
    first, second = (image_values(raw) for raw in gateway.raw_creates)
    assert first[0].startswith(f"{gateway.url}/storage/") and first[1] == given
    assert second[0].startswith(f"{gateway.url}/storage/")
    # A later client on the same journal finds the upload there: no second upload.
    again = client_for(gateway, tmp_path, "reused")
    again.generate("from the journal", images=[str(noisy(1))]).wait(timeout=30)
    assert len(gateway.uploads) == 2
    assert image_values(gateway.raw_creates[-1]) == [first[0]]


def test_never_is_the_default_and_sends_nothing_to_the_upload_host(
        gateway: Gateway, tmp_path: Path, noisy: Callable[..., Path]) -> None:
    client = Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                    poll_policy=FAST_POLL, upload_url=gateway.url + STORAGE)
    assert client.settings.upload_references == "never"
    for _ in range(3):
        client.generate("a fox", images=[str(noisy(1))]).wait(timeout=30)
    assert gateway.count("POST", STORAGE) == 0


@pytest.mark.parametrize("failure", [500, 401, 413, "not_json", "no_url", "hang_up"])
def test_an_upload_failure_falls_back_to_base64_with_one_log_line(
        gateway: Gateway, tmp_path: Path, noisy: Callable[..., Path],
        log_capture: io.StringIO, failure: int | str) -> None:
    gateway.upload_failures = [failure]
    batch = client_for(gateway, tmp_path, "reused").batch(
        [f"fox {i}" for i in range(4)], images=[str(noisy(1))], concurrency=4)
    assert all(result is not None for result in batch.wait(timeout=60))
    assert gateway.count("POST", STORAGE) == 1  # tried once, not once per item
    assert all(not image_values(raw)[0].startswith("http") for raw in gateway.raw_creates)
    lines = upload_lines(log_capture)
    assert len(lines) == 1 and "sending it as base64" in lines[0], lines
    assert TEST_KEY not in log_capture.getvalue()


def test_a_4xx_after_an_uploaded_url_uploads_again_and_creates_once(
        gateway: Gateway, tmp_path: Path, noisy: Callable[..., Path]) -> None:
    client = client_for(gateway, tmp_path, "always")
    client.generate("first", images=[str(noisy(1))]).wait(timeout=30)
    gateway.forget_uploads()  # the storage no longer keeps it; the journal still names it
    result = client.generate("second", images=[str(noisy(1))]).wait(timeout=30)
    assert len(gateway.uploads) == 2
    assert gateway.creates == 3 and len(gateway.tasks) == 2  # one refused, none twice
    refused, sent = (image_values(raw)[0] for raw in gateway.raw_creates[1:])
    assert "f0001" in refused and "f0002" in sent
    summary = json.loads(client.journal.get(result.external_task_id)["request"])
    assert list(summary["uploaded"].values()) == [f"{gateway.url}/storage/f0002.png"]


def test_a_4xx_and_a_failed_upload_again_send_base64_still_once(
        gateway: Gateway, tmp_path: Path, noisy: Callable[..., Path]) -> None:
    client = client_for(gateway, tmp_path, "always")
    client.generate("first", images=[str(noisy(1))]).wait(timeout=30)
    gateway.forget_uploads()
    gateway.upload_failures = [503]
    client.generate("second", images=[str(noisy(1))]).wait(timeout=30)
    assert gateway.creates == 3 and len(gateway.tasks) == 2
    assert not image_values(gateway.raw_creates[-1])[0].startswith("http")


def test_a_refusal_that_is_not_about_the_image_is_not_sent_again(
        gateway: Gateway, tmp_path: Path, noisy: Callable[..., Path]) -> None:
    client = client_for(gateway, tmp_path, "always")
    gateway.create_replies = [(402, {"error": {"code": 402,
                                               "error_message": "insufficient balance"}})]
    job = client.generate("broke", images=[str(noisy(1))])
    with pytest.raises(Exception, match="balance"):
        job.wait(timeout=30)
    assert gateway.count("POST", "/model/v1/generation") == 1
    assert len(gateway.uploads) == 1


def test_the_record_and_the_journal_keep_the_url_without_its_query(
        gateway: Gateway, tmp_path: Path, noisy: Callable[..., Path]) -> None:
    client = client_for(gateway, tmp_path, "always")
    result = client.generate("recorded", images=[str(noisy(1))]).wait(timeout=30)
    record = provenance(result.paths[0])
    (ref,) = record["references"]
    assert ref["uploaded_url"] == f"{gateway.url}/storage/f0001.png"
    assert "X-Signature" not in json.dumps(record)
    row = client.journal.get(result.external_task_id)
    assert row is not None and "X-Signature" not in row["request"]
    assert "X-Signature" not in repr(result) + repr(result.options)
    # The uploads table keeps it whole: a signed URL is no use without its query.
    with sqlite3.connect(client.journal.path) as conn:
        (kept,) = conn.execute("SELECT url FROM uploads").fetchone()
    conn.close()
    assert kept.endswith("?X-Signature=secret-f0001")


def test_the_top_level_url_answer_is_read_too(
        gateway: Gateway, tmp_path: Path, noisy: Callable[..., Path]) -> None:
    gateway.upload_answer = "top"
    client_for(gateway, tmp_path, "always").generate(
        "top", images=[str(noisy(1))]).wait(timeout=30)
    assert image_values(gateway.raw_creates[0])[0].startswith(f"{gateway.url}/storage/")


@pytest.mark.parametrize(("options", "message"), [
    ({"upload_references": "sometimes"},
     "upload_references = 'sometimes' (from argument): choose one of: never, reused, always"),
    ({"upload_url": "ftp://files.example"},
     "upload_url = 'ftp://files.example' (from argument): must start with http:// or https://"),
    ({"upload_url": "seacloud"}, "must start with http:// or https://"),
    ({"upload_url": "https://"}, "names no host"),
    ({"upload_references": 2}, "upload_references = 2 (from argument): needs text, not int"),
])
def test_settings_are_checked_in_one_line(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Client(**options)  # type: ignore[arg-type]
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_in_process_simulator_serves_uploads_without_a_key(
        tmp_path: Path, noisy: Callable[..., Path]) -> None:
    sim = SimulatorService(task_seconds=0.05)
    client = Client(simulator=sim, output_dir=tmp_path / "out", poll_policy=FAST_POLL,
                    upload_references="reused")
    batch = client.batch(["a", "b", "c"], images=[str(noisy(1))], concurrency=3)
    assert all(result is not None for result in batch.wait(timeout=60))
    assert sim.stats()["uploads"] == 1
    assert sim.stats()["upload_bytes"] == noisy(1).stat().st_size


def test_the_loopback_simulator_refuses_a_forgotten_upload_and_the_client_uploads_again(
        tmp_path: Path, noisy: Callable[..., Path]) -> None:
    with SimulatorServer(task_seconds=0.05, api_key=TEST_KEY) as server:
        client = Client(api_key=TEST_KEY, base_url=server.url, output_dir=tmp_path / "out",
                        poll_policy=FAST_POLL, upload_references="always",
                        upload_url=server.url + STORAGE)
        client.generate("one", images=[str(noisy(1))]).wait(timeout=30)
        server.service.forget_uploads()
        job = client.generate("two", images=[str(noisy(1))])
        job.wait(timeout=30)
        stats = server.service.stats()
    assert stats["uploads"] == 2
    assert stats["creates_by_external_id"] == {
        key: 1 for key in stats["creates_by_external_id"]} and stats["tasks"] == 2
