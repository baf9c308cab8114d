"""The queue protocol as a second dialect, over loopback HTTP against the strict fake:
``auto`` switching on a 404 with exactly one create, the switch kept per host, resume
following a queued request from the journal, and the budget on the queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kirin_jupyter import BudgetExceeded, TaskTimeout, ValidationError
from kirin_jupyter.client import Client
from kirin_jupyter.service.dialects import parse_protocols
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.gateway import Gateway, GatewayServer


@pytest.fixture
def queue_only() -> Iterator[Gateway]:
    state = Gateway(TEST_KEY, dialect="queue")
    with GatewayServer(state):
        yield state
    assert state.rejections == [] and state.cdn_auth_headers == []


def client_for(gateway: Gateway, tmp_path: Path, **kw: object) -> Client:
    return Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                  poll_policy=FAST_POLL, home=tmp_path / "home", **kw)  # type: ignore[arg-type]


def test_auto_switches_on_a_404_with_exactly_one_create(queue_only: Gateway, tmp_path: Path
                                                        ) -> None:
    client = client_for(queue_only, tmp_path, protocol="auto")
    result = client.generate("a fox", n=2).wait(20)
    assert len(result.paths) == 2 and all(p.is_file() for p in result.paths)
    assert len(queue_only.tasks) == 1  # exactly one create in all
    assert queue_only.generation_404 == 1 and queue_only.queue_creates == 1
    assert client.journal.get(result.external_task_id)["protocol"] == "queue"
    # The switch is kept per host: a new client (a new kernel) goes straight to the queue.
    again = client_for(queue_only, tmp_path, protocol="auto")
    again.generate("a fox").wait(20)
    assert queue_only.generation_404 == 1 and queue_only.queue_creates == 2
    assert again.api.facts.get("protocol:kirin_image_omni") == "queue"


def test_auto_stays_on_generation_where_it_works(gateway: Gateway, tmp_path: Path) -> None:
    client_for(gateway, tmp_path, protocol="auto").generate("a fox").wait(20)
    assert gateway.creates == 1 and gateway.queue_creates == 0


def test_generation_alone_never_switches(queue_only: Gateway, tmp_path: Path) -> None:
    job = client_for(queue_only, tmp_path).generate("a fox")
    with pytest.raises(Exception, match="HTTP 404"):
        job.wait(20)
    assert queue_only.generation_404 == 1 and queue_only.queue_creates == 0


def test_a_model_mapped_to_the_queue(tmp_path: Path) -> None:
    state = Gateway(TEST_KEY, dialect="both")
    with GatewayServer(state):
        client = client_for(state, tmp_path, protocol={"v3": "queue"})
        client.generate("a fox", model="v3").wait(20)
        client.generate("a fox", model="omni").wait(20)
    assert state.queue_creates == 1 and state.count("POST", "/model/v1/generation") == 1
    assert state.rejections == []


def test_the_setting_reads_defaults_pairs_and_mappings() -> None:
    parsed = parse_protocols("auto, v3=queue")
    assert parsed.choice("kirin_v3_image") == "queue"
    assert parsed.choice("kirin_image_omni") == "auto"
    assert parse_protocols("kirin_image_omni=queue").choice("kirin_v3_image") == "generation"
    for bad in ("sideways", "v3=sideways", "nosuchmodel=queue", "auto, queue"):
        with pytest.raises(ValidationError, match="protocol"):
            parse_protocols(bad)
    with pytest.raises(ValidationError, match="protocol"):
        Client(protocol="sideways", home=Path("/nonexistent-never-made"))


def test_resume_follows_a_queued_request_from_the_journal(queue_only: Gateway, tmp_path: Path
                                                          ) -> None:
    queue_only.auto_complete = False
    first = client_for(queue_only, tmp_path, protocol="queue", timeout=0.5)
    job = first.generate("a slow fox")
    with pytest.raises(TaskTimeout):
        job.wait(20)
    queue_only.release()
    # A client whose setting says "generation": the journal says where the request lives.
    [resumed] = client_for(queue_only, tmp_path).resume()
    result = resumed.wait(20)
    assert result.task_id == job.task_id and all(p.is_file() for p in result.paths)
    assert queue_only.creates == 1 and queue_only.generation_404 == 0


def test_a_lost_queue_submit_answer_is_resumable_and_never_resent(
    queue_only: Gateway, tmp_path: Path
) -> None:
    from kirin_jupyter import OutcomeUnknown

    queue_only.lose_create_answers = 1
    client = client_for(queue_only, tmp_path, protocol="queue")
    job = client.generate("a fox")
    with pytest.raises(OutcomeUnknown, match="not sent again"):
        job.wait(20)
    assert client.journal.get(job.external_task_id)["status"] == "interrupted"
    [again] = client_for(queue_only, tmp_path, protocol="queue").resume()
    with pytest.raises(OutcomeUnknown, match="no lookup by external id"):
        again.wait(20)
    assert queue_only.creates == 1


def test_the_budget_holds_on_the_queue(queue_only: Gateway, tmp_path: Path) -> None:
    client = client_for(queue_only, tmp_path, protocol="queue", max_cost="0.50")
    client.generate("a fox", n=2).wait(20)  # quoted by the precharge route: $0.28
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.28 of max_cost \$0.50"):
        client.generate("a fox", n=2)
    assert queue_only.creates == 1
