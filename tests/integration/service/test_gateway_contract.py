"""Contract tests: the client against a strict fake of the real gateway (tests/support/gateway.py).

No path setting is given anywhere here: the defaults must speak the gateway. Every test
that uses the fake runs on both of its protocols (``gateway`` below): the generation one
with no setting at all, the queue one with ``protocol="queue"``. Every test also checks
that the server rejected nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from kirin_jupyter import BudgetExceeded, TaskFailed, TaskTimeout
from kirin_jupyter.client import Client
from kirin_jupyter.display.card import ProgressCard
from kirin_jupyter.display.static import live_status
from kirin_jupyter.engine.loop import get_engine
from kirin_jupyter.service.responses import parse_task
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.gateway import Gateway, GatewayServer, completed


@pytest.fixture(params=["generation", "queue"])
def gateway(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    """The strict fake speaking one protocol; it must have rejected nothing at the end."""
    state = Gateway(TEST_KEY, dialect=request.param)
    with GatewayServer(state):
        yield state
    assert state.rejections == []
    assert state.cdn_auth_headers == []


def protocol_kw(gateway: Gateway) -> dict[str, object]:
    """No setting on the generation protocol (the default); ``protocol="queue"`` else."""
    return {"protocol": "queue"} if gateway.dialect == "queue" else {}


def client_for(gateway: Gateway, tmp_path: Path, **kw: object) -> Client:
    return Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                  poll_policy=FAST_POLL, **protocol_kw(gateway), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("model", ["kirin_image_omni", "kirin_v3_image"])
def test_generate_speaks_the_gateway_protocol(gateway: Gateway, tmp_path: Path, model: str
                                              ) -> None:
    client = client_for(gateway, tmp_path)
    job = client.generate("a red fox", model=model, n=2, resolution="2k")
    result = job.wait(20)
    [task] = gateway.tasks.values()
    assert task.model == model and result.task_id == task.id
    assert task.params["prompt"] == "a red fox" and task.params["n"] == 2
    assert task.params["external_task_id"] == job.external_task_id
    assert len(result.paths) == 2 and all(p.is_file() for p in result.paths)
    assert result.cost == Decimal("0.28")
    assert gateway.creates == 1


def test_v3_reference_image_and_elements_go_inside_params(
    gateway: Gateway, tmp_path: Path, make_image
) -> None:
    client = client_for(gateway, tmp_path)
    client.generate("winter", model="v3", images=[make_image(600, 400, "JPEG")],
                    elements=[7], watermark=True).wait(20)
    [task] = gateway.tasks.values()
    assert isinstance(task.params["image"], str) and not task.params["image"].startswith("data:")
    assert task.params["element_list"] == [{"element_id": 7}]
    assert task.params["watermark_info"] == {"enabled": True}


def test_quote_asks_the_precharge_route_and_creates_nothing(gateway: Gateway, tmp_path: Path
                                                              ) -> None:
    quote = client_for(gateway, tmp_path).quote("a fox", n=2)
    assert quote.cost == Decimal("0.28") and quote.currency == "USD"
    assert quote.discount == 0.7 and quote.source == "service"
    assert quote.describe() == "about $0.28 (quoted by the service)"
    assert gateway.quotes == 1 and gateway.creates == 0 and gateway.tasks == {}


@pytest.mark.parametrize("missing", [404, 405])
def test_a_missing_precharge_falls_back_to_the_estimate_once(
    gateway: Gateway, tmp_path: Path, missing: int, log_capture
) -> None:
    gateway.precharge = missing
    client = client_for(gateway, tmp_path)
    first = client.quote("a fox", n=2)
    assert first.cost is None and first.source == "unknown"
    assert first.describe() == "price not known yet"
    client.generate("a fox", n=2).wait(20)  # $0.28 learned from its usage
    again = client.quote("a fox", n=1)
    assert again.cost == Decimal("0.14") and again.source == "estimate"
    assert again.describe() == "about $0.14 (estimated from earlier jobs)"
    assert gateway.quotes == 1  # asked once; never again after the 404/405
    assert log_capture.getvalue().count("has no price quote route") == 1


def test_the_budget_uses_the_service_quote_before_the_first_job(
    gateway: Gateway, tmp_path: Path
) -> None:
    client = client_for(gateway, tmp_path, max_cost="0.50")
    gateway.quote_cost = "0.60"
    with pytest.raises(BudgetExceeded, match=r"would cost about \$0.60 \(quoted by the "
                       r"service\) and pass it"):
        client.generate("a fox")
    assert gateway.creates == 0
    gateway.quote_cost = "0.28"
    client.generate("a fox", n=2).wait(20)
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.28 of max_cost \$0.50"):
        client.generate("a fox", n=2)
    assert gateway.creates == 1


def test_resume_picks_up_a_task_left_unfinished(gateway: Gateway, tmp_path: Path) -> None:
    gateway.auto_complete = False  # the task runs on past the first client's deadline
    first = client_for(gateway, tmp_path, timeout=0.5)
    job = first.generate("a slow fox")
    with pytest.raises(TaskTimeout):
        job.wait(20)
    gateway.release()
    [resumed] = client_for(gateway, tmp_path).resume()
    result = resumed.wait(20)
    assert result.task_id == job.task_id and all(p.is_file() for p in result.paths)
    assert gateway.creates == 1  # resuming never creates


def test_the_card_shows_the_service_progress(gateway: Gateway, tmp_path: Path) -> None:
    gateway.auto_complete = False
    gateway.steps = [{"status": "in_progress"}, {"status": "in_progress", "progress": 0.25},
                     {"status": "in_progress", "progress": 0.6}]
    client = client_for(gateway, tmp_path)
    job = client.generate("a fox")
    card = ProgressCard(job)
    card.attach()
    deadline = time.monotonic() + 10
    while job.server_progress != 0.6 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)  # one more status answer, now without progress: the figure is kept
    assert job.server_progress == 0.6 and not job.progress_is_estimate
    # Between answers the bar goes on at the service's pace, at most half of what is left.
    assert 0.6 <= job.progress <= 0.8
    line = live_status(job)
    assert re.search(r"\b([67][0-9]|80) %", line) and "estimated" not in line
    assert "about $0.28 (quoted by the service)" in line
    assert 0.6 <= card.shown_progress <= 0.8
    assert re.search(r'aria-valuenow="([67][0-9]|80)"', card.widget.html)
    gateway.release()
    job.wait(20)
    assert card.shown_progress == 1.0
    assert 'data-state="completed"' in card.widget.html and 'aria-valuenow="100"' in card.widget.html


@pytest.mark.parametrize("error, expected", [
    ({"code": 2016095, "message": "upstream broke"},  # omni's shape, code as a number
     "Kirin error 002016095: Internal generation error"),
    ({"code": "006001094", "error_message": "no capacity"},  # v3's shape
     "Kirin error 006001094: Task resource insufficient"),
    ("content rejected by moderation",  # a plain string, as the CLI also reads it
     "the service reported failure: content rejected by moderation"),
])
def test_both_error_shapes_and_a_plain_string(gateway: Gateway, tmp_path: Path, error: object,
                                               expected: str) -> None:
    gateway.final = lambda task: {"status": "failed", "error": error}
    job = client_for(gateway, tmp_path).generate("a fox")
    with pytest.raises(TaskFailed) as caught:
        job.wait(20)
    assert expected in str(caught.value) and job.task_id in str(caught.value)


def test_a_create_refused_with_an_http_error_says_why(gateway: Gateway, tmp_path: Path) -> None:
    client = Client(api_key="sk-wrong-key", base_url=gateway.url, output_dir=tmp_path,
                    poll_policy=FAST_POLL, **protocol_kw(gateway))  # type: ignore[arg-type]
    job = client.generate("a fox")
    with pytest.raises(Exception, match="refused the key"):
        job.wait(20)
    assert gateway.creates == 1 and gateway.tasks == {}


@pytest.mark.parametrize("word, status", [
    ("in_progress", "running"), ("completed", "completed"), ("failed", "failed")])
def test_every_status_word_of_the_gateway(word: str, status: str) -> None:
    assert parse_task({"id": "t", "status": word}).status == status


@pytest.mark.parametrize("answer, status", [
    ({"request_id": "r", "status": "IN_QUEUE"}, "queued"),
    ({"request_id": "r", "status": "IN_PROGRESS", "progress": 40}, "running"),
    ({"request_id": "r", "status": "COMPLETED"}, "completed"),
    ({"request_id": "r", "status": "COMPLETED", "error": "boom",
      "error_type": "INFERENCE_TIMEOUT"}, "failed"),
    ({"request_id": "r", "status": "COMPLETED", "error_type": "CANCELED"}, "failed")])
def test_every_status_word_of_the_queue(answer: dict, status: str) -> None:
    from kirin_jupyter.service.queue import queue_snapshot

    snapshot = queue_snapshot(answer)
    assert snapshot.status == status and snapshot.task_id == "r"
    if "error_type" in answer:
        assert answer["error_type"] in (snapshot.error_message or "")


def test_usage_with_quantity_and_unit_price(gateway: Gateway, tmp_path: Path) -> None:
    gateway.final = lambda task: completed(task, usage={"quantity": 3, "unit_price": "0.035"})
    result = client_for(gateway, tmp_path).generate("a fox", n=3).wait(20)
    assert result.cost == Decimal("0.105")
    snapshot = parse_task({"id": "t", "status": "completed", "usage": {
        "cost": "0.10", "quantity": 3, "unit_price": "0.035", "discount": 0.7}})
    assert (snapshot.cost, snapshot.quantity, snapshot.unit_price) == \
        (Decimal("0.10"), 3, Decimal("0.035"))  # the total, when given, is what was billed


def test_a_task_is_found_by_its_external_id(gateway: Gateway, tmp_path: Path) -> None:
    client = client_for(gateway, tmp_path)
    job = client.generate("a fox", external_task_id="order-42")
    job.wait(20)
    if gateway.dialect == "queue":  # the queue has no lookup: the engine never asks one
        from kirin_jupyter.engine import dialect

        assert get_engine().submit(dialect.find(job, client.run_context())).result(10) is None
        assert not [p for _, p in gateway.requests if p.endswith("/order-42")]
        return
    found = get_engine().submit(client._api.find_by_external_id("order-42")).result(10)
    assert found is not None and found.task_id == job.task_id


def test_upstream_model_names_are_sent_as_the_kirin_ids(gateway: Gateway, tmp_path: Path
                                                        ) -> None:
    client = client_for(gateway, tmp_path)
    client.generate("a fox", model="kling_image_o1").wait(20)
    client.generate("a fox", model="kling_v3_image").wait(20)
    assert [t.model for t in gateway.tasks.values()] == ["kirin_image_omni", "kirin_v3_image"]


def test_a_key_echoed_by_the_service_is_redacted_everywhere(
    gateway: Gateway, tmp_path: Path, log_capture
) -> None:
    """Issue 14, item 5: in an error code, a long message (past the 300-character cut),
    metadata and a status word; checked in the exception, the card, the journal and logs."""
    from kirin_jupyter.display.static import job_html

    gateway.steps = [{"status": f"thinking-{TEST_KEY}"},
                     {"status": f"pondering {TEST_KEY.upper()}"}]  # a case change too
    gateway.final = lambda task: {"status": "failed", "metadata": {"echo": TEST_KEY},
                                  "error": {"code": TEST_KEY,
                                            "message": "x" * 290 + TEST_KEY}}
    client = client_for(gateway, tmp_path)
    job = client.generate("a fox")
    with pytest.raises(TaskFailed) as caught:
        job.wait(20)
    journal = (tmp_path / "home" / "journal.sqlite3")
    texts = [str(caught.value), repr(caught.value), job_html(job), live_status(job),
             log_capture.getvalue(), str(client.journal.history(limit=20)),
             str(client.journal.get(job.external_task_id))]
    assert journal == client.journal.path and journal.exists()
    for stored in (journal, journal.with_name(journal.name + "-wal")):  # every state written
        if stored.exists():
            texts.append(stored.read_bytes().decode("latin-1"))
    for text in texts:
        assert TEST_KEY[:10].lower() not in text.lower()  # not even a cut, in any case


def test_a_key_escaped_in_json_is_still_found() -> None:
    import httpx

    from kirin_jupyter.service.http import GatewayHTTP
    from kirin_jupyter.service.protocol import Endpoint

    api = GatewayHTTP(Endpoint("http://gateway.invalid"), TEST_KEY)
    escaped = "".join(f"\\u{ord(c):04x}" for c in TEST_KEY)
    answer = httpx.Response(200, content=f'{{"error": {{"code": "{escaped}"}}}}'.encode())
    assert api.json_of(answer) == {"error": {"code": "***"}}
