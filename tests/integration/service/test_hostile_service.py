"""A hostile or broken service cannot fill the disk or memory, or hold a job forever.

The strict gateway fake (tests/support/gateway.py) serves the API; each test adds one misbehaving
route and points a result URL or a status answer at it. Limits are set low so that no test
moves real gigabytes (issue 14, item 4). Every test on the fake runs on both of its
protocols (generation and queue).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from PIL import Image

from kirin_jupyter import LimitExceeded, Limits
from kirin_jupyter.client import Client
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.gateway import Gateway, GatewayServer, Task, completed

SMALL = Limits(result_bytes=200_000, answer_bytes=100_000, result_pixels=1_000_000,
               request_seconds=1.5)


@pytest.fixture(params=["generation", "queue"])
def gateway(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    state = Gateway(TEST_KEY, dialect=request.param)
    with GatewayServer(state):
        yield state


def protocol_of(gateway: Gateway) -> str:
    return "queue" if gateway.dialect == "queue" else "generation"


def client_for(gateway: Gateway, tmp_path: Path) -> Client:
    return Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                  poll_policy=FAST_POLL, limits=SMALL, protocol=protocol_of(gateway))


def results_at(gateway: Gateway, *paths: str, kind: str = "image") -> None:
    """Make every task's final answer list these (hostile) result URLs."""
    def final(task: Task) -> dict:
        answer = completed(task)
        answer["output"] = [{"content": [{"type": kind, "url": gateway.url + p}
                                         for p in paths]}]
        return answer
    gateway.final = final


def answer(handler: BaseHTTPRequestHandler, body: bytes, *, length: int | None = None,
           kind: str = "image/png", drip: float = 0.0) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    try:
        if drip:
            for byte in body:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(drip)
        else:
            handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client hung up, as it should


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def run_to_limit(gateway: Gateway, tmp_path: Path) -> tuple[Client, LimitExceeded]:
    client = client_for(gateway, tmp_path)
    job = client.generate("a fox")
    with pytest.raises(LimitExceeded) as caught:
        job.wait(30)
    assert client.journal.get(job.external_task_id)["status"] == "interrupted"  # resumable
    assert "\n" not in str(caught.value)
    leftovers = list((tmp_path / "out").rglob("*")) if (tmp_path / "out").exists() else []
    assert not [p for p in leftovers if p.is_file()]  # nothing half-written stays
    return client, caught.value


def test_a_declared_huge_result_is_refused_before_any_byte(gateway: Gateway, tmp_path: Path
                                                           ) -> None:
    gateway.hostile["/huge"] = lambda h: answer(h, b"", length=3 << 30)  # "3 GiB"
    results_at(gateway, "/huge")
    _, error = run_to_limit(gateway, tmp_path)
    assert "a result file of 3221.2 MB or more was refused: the limit is 0.2 MB" in str(error)


def test_an_undeclared_huge_result_is_cut_off(gateway: Gateway, tmp_path: Path) -> None:
    gateway.hostile["/big"] = lambda h: _chunked(h, b"\0" * 65536, 20)  # 1.3 MB, chunked
    results_at(gateway, "/big")
    _, error = run_to_limit(gateway, tmp_path)
    assert "MB or more was refused: the limit is 0.2 MB" in str(error)


def _chunked(handler: BaseHTTPRequestHandler, chunk: bytes, count: int) -> None:
    """A body with no Content-Length (chunked), larger than the limit."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    try:
        for _ in range(count):
            handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        handler.wfile.write(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass


def test_a_dripping_download_ends_at_the_deadline(gateway: Gateway, tmp_path: Path) -> None:
    gateway.hostile["/drip"] = lambda h: answer(h, png(40, 30), drip=0.2)
    results_at(gateway, "/drip")
    started = time.monotonic()
    _, error = run_to_limit(gateway, tmp_path)
    assert "did not finish within 1.5 s" in str(error)
    assert time.monotonic() - started < 15


def test_too_many_pixels_are_refused_before_decoding(gateway: Gateway, tmp_path: Path) -> None:
    gateway.hostile["/wide"] = lambda h: answer(h, png(2000, 1000))  # 2 MP, tiny file
    results_at(gateway, "/wide")
    _, error = run_to_limit(gateway, tmp_path)
    assert "2000x1000 px was refused: the limit is 1 million pixels" in str(error)


def test_a_huge_status_answer_is_not_read_into_memory(gateway: Gateway, tmp_path: Path) -> None:
    gateway.steps = [{"status": "in_progress", "padding": "x" * 300_000}]
    gateway.auto_complete = False
    client = client_for(gateway, tmp_path)
    job = client.generate("a fox")
    with pytest.raises(LimitExceeded, match=r"an API answer of 0\.3 MB or more was refused"):
        job.wait(30)
    assert client.journal.get(job.external_task_id)["status"] == "interrupted"


def test_results_beyond_n_are_not_fetched(gateway: Gateway, tmp_path: Path, log_capture
                                          ) -> None:
    fetched: list[str] = []

    def counted(handler: BaseHTTPRequestHandler) -> None:
        fetched.append(handler.path)
        answer(handler, png(40, 30))

    paths = [f"/many/{i}.png" for i in range(500)]
    for path in paths:
        gateway.hostile[path] = counted
    results_at(gateway, *paths)
    result = client_for(gateway, tmp_path).generate("a fox", n=2).wait(30)
    assert len(result.paths) == 2 and len(fetched) == 2
    assert "listed 500 results for n = 2; keeping the first 2" in log_capture.getvalue()


def test_an_image_posing_as_a_video_is_refused(gateway: Gateway, tmp_path: Path) -> None:
    gateway.hostile["/clip.mp4"] = lambda h: answer(h, png(400, 300), kind="video/mp4")
    results_at(gateway, "/clip.mp4", kind="video")
    client = client_for(gateway, tmp_path)
    job = client.generate("a fox")
    with pytest.raises(Exception, match="a result typed video is not an MP4, MOV or WebM"):
        job.wait(30)


def test_the_limits_are_settings_of_the_magics_too(shell, gateway: Gateway, monkeypatch
                                                   ) -> None:
    monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)
    shell.run_line_magic("config", f"Kirin.base_url = '{gateway.url}'")
    shell.run_line_magic("config", "Kirin.max_result_megapixels = 0.001")  # 1,000 px
    shell.run_line_magic("config", "Kirin.create_resends = 0")
    shell.run_line_magic("config", f"Kirin.protocol = '{protocol_of(gateway)}'")
    client = shell.magics_manager.registry["KirinMagics"].client()
    assert client._api.limits.result_pixels == 1000
    assert client._api.retry.resend_unanswered == 0
    shell.run_cell_magic("kirin", "pic", "a fox")
    job = shell.user_ns["pic"]
    with pytest.raises(LimitExceeded, match="64x48 px was refused"):
        job.wait(30)


# -- found by a second review ---------------------------------------------------------------


def _api(handler) -> object:
    import httpx

    from kirin_jupyter.service.http import GatewayHTTP, RetryPolicy
    from kirin_jupyter.service.protocol import Endpoint

    async def no_sleep(_seconds: float) -> None:
        return None

    return GatewayHTTP(Endpoint("http://gateway.invalid"), TEST_KEY,
                    transport=httpx.MockTransport(handler), sleep=no_sleep,
                    retry=RetryPolicy(base=0.0, cap=0.0))


def test_a_gzipped_create_answer_is_read(tmp_path: Path) -> None:
    """httpx asks for gzip; an answer decoded once must not be decoded again (it was, and
    every gzipping gateway's create ended as a 'failed' job after being billed)."""
    import asyncio
    import gzip
    import json

    import httpx

    from kirin_jupyter.model.request import build_request

    posts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posts.append(request.method)
        body = gzip.compress(json.dumps({"id": "t1", "status": "in_progress"}).encode())
        return httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})

    snapshot = asyncio.run(_api(handler).create(build_request("a fox")))  # type: ignore[attr-defined]
    assert snapshot.task_id == "t1" and posts == ["POST"]


def test_a_create_answer_cut_after_its_status_line_is_not_sent_again() -> None:
    import asyncio

    import httpx

    from kirin_jupyter import OutcomeUnknown
    from kirin_jupyter.model.request import build_request

    class CutStream(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[override]
            yield b'{"id": "t'
            raise httpx.RemoteProtocolError("peer closed connection mid-body")

    methods: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        if request.method == "POST":
            return httpx.Response(500, stream=CutStream())
        return httpx.Response(404, json={"error": {"code": 404, "error_message": "no"}})

    with pytest.raises(OutcomeUnknown):
        asyncio.run(_api(handler).create(build_request("a fox")))  # type: ignore[attr-defined]
    assert methods.count("POST") == 1 and methods.count("GET") == 2  # looked up, not resent


def test_a_gzipped_queue_submit_answer_is_read() -> None:
    """The same on the queue protocol: its submit answer decoded once."""
    import asyncio
    import gzip
    import json

    import httpx

    from kirin_jupyter.model.request import build_request
    from kirin_jupyter.service.queue import QueueHTTP

    posts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posts.append(request.url.path)
        body = gzip.compress(json.dumps({"request_id": "r1", "status": "IN_QUEUE"}).encode())
        return httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})

    queue = QueueHTTP(_api(handler))  # type: ignore[arg-type]
    snapshot = asyncio.run(queue.create(build_request("a fox")))
    assert snapshot.task_id == "r1" and posts == ["/model/v1/queue/kirin_image_omni"]


@pytest.mark.parametrize("cut", ["body", "connection", "500", "unreadable 200"])
def test_a_lost_queue_submit_answer_is_never_sent_again(cut: str) -> None:
    """The queue has no lookup by external id: any answer that may hide a request ends as
    OutcomeUnknown after exactly one submit, and nothing is looked up."""
    import asyncio

    import httpx

    from kirin_jupyter import OutcomeUnknown
    from kirin_jupyter.model.request import build_request
    from kirin_jupyter.service.queue import QueueHTTP

    class CutStream(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[override]
            yield b'{"request_id": "r'
            raise httpx.RemoteProtocolError("peer closed connection mid-body")

    methods: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        if cut == "body":
            return httpx.Response(200, stream=CutStream())
        if cut == "connection":
            raise httpx.RemoteProtocolError("closed before a status line")
        if cut == "500":
            return httpx.Response(500, json={"message": "oops"})
        return httpx.Response(200, content=b"<html>")

    with pytest.raises(OutcomeUnknown, match="not sent again"):
        asyncio.run(QueueHTTP(_api(handler)).create(build_request("a fox")))  # type: ignore[arg-type]
    assert methods == ["POST"]


def test_a_completed_job_without_a_cost_counts_at_its_quote(gateway: Gateway, tmp_path: Path
                                                            ) -> None:
    gateway.final = lambda task: completed(task, usage={})  # no cost in the answer
    client = Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path,
                    poll_policy=FAST_POLL, max_cost="0.50", protocol=protocol_of(gateway))
    first = client.generate("a fox", n=2)
    assert first.wait(20).cost is None
    with pytest.raises(Exception, match=r"spent or committed \$0.28 of max_cost \$0.50"):
        client.generate("a fox", n=2)  # 0.28 (quoted, uncosted) + 0.28 > 0.50
    assert gateway.creates == 1


def test_absurd_numbers_in_a_quote_fall_back_to_the_estimate(gateway: Gateway, tmp_path: Path
                                                              ) -> None:
    for cost in ("9e999999999", "1" * 400, "-1", "NaN"):
        gateway.quote_cost = cost
        quote = client_for(gateway, tmp_path).quote("a fox")
        assert quote.source != "service" and quote.cost is None


def test_a_limit_of_zero_is_refused_in_config(shell, caplog) -> None:
    shell.run_line_magic("config", "Kirin.max_answer_mb = 0")
    assert "must be more than 0" in caplog.text
    assert shell.magics_manager.registry["KirinMagics"].config_obj.max_answer_mb == 4.0
