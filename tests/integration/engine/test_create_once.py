"""A create is sent once: never again once answered, resent only as the setting allows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import kirin_jupyter
from kirin_jupyter import (
    OutcomeUnknown,
)
from kirin_jupyter.client import Client
from kirin_jupyter.service.http import RetryPolicy
from kirin_jupyter.simulator import Fault
from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.simulated import client_for


def lookup_finds_nothing() -> Fault:
    """Both lookups of an ambiguous create answer 404 (a fresh Fault: they are used up)."""
    return Fault("get", "status", status=404, code="not_found", times=2)


def test_reusing_an_external_id_is_refused_before_sending(sim_server: SimulatorServer,
                                                          tmp_path: Path) -> None:
    client = client_for(sim_server, tmp_path)
    first = client.generate("a red fox", external_task_id="run-1").wait(30)
    creates = sim_server.service.stats()["requests"]["create"]
    with pytest.raises(kirin_jupyter.ValidationError, match="'run-1' was already used"):
        client.generate("a blue whale", n=3, external_task_id="run-1")
    assert sim_server.service.stats()["requests"]["create"] == creates
    assert client.journal.get("run-1")["prompt"] == "a red fox"  # not overwritten
    # Another journal (another machine) does not know it: the service's 409 says so.
    other = Client(api_key=TEST_KEY, base_url=sim_server.url, output_dir=tmp_path / "o",
                   poll_policy=FAST_POLL, home=tmp_path / "other-home")
    job = other.generate("a blue whale", external_task_id="run-1")
    with pytest.raises(kirin_jupyter.APIError, match="'run-1' was already used on this account"):
        job.wait(30)
    assert job.result is None and first.paths[0].is_file()
    assert other.journal.get("run-1")["status"] == "failed"


def test_lookup_failing_after_an_ambiguous_create_stays_resumable(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    client = client_for(sim_server, tmp_path)
    sim_server.service.add_fault(Fault("create", "drop"))
    sim_server.service.add_fault(Fault("get", "status", status=400, code="no_lookup", times=1))
    job = client.generate("a fox")
    with pytest.raises(kirin_jupyter.OutcomeUnknown, match="could not tell whether the task"):
        job.wait(30)
    assert client.journal.get(job.external_task_id)["status"] == "interrupted"
    [resumed] = client_for(sim_server, tmp_path).resume()
    assert resumed.wait(30).paths
    assert sim_server.service.stats()["requests"]["create"] == 1


def test_a_lost_create_is_posted_once(http_client: Client, sim_server: SimulatorServer) -> None:
    """Not only one task on the service: one POST on the wire (a service that does not
    deduplicate would have billed every extra POST)."""
    sim_server.service.add_fault(Fault("create", "drop"))
    http_client.generate("a fox").wait(30)
    assert sim_server.service.stats()["requests"]["create"] == 1


@pytest.mark.parametrize("answer", [
    Fault("create", "malformed"),  # 2xx that cannot be read: the task exists
    Fault("create", "status", status=500),  # 5xx: it may exist
    Fault("create", "status", status=502, message="bad gateway"),
])
def test_an_answered_create_is_never_sent_again(
    sim_server: SimulatorServer, tmp_path: Path, answer: Fault
) -> None:
    """Even when the external-id lookup finds nothing, a create whose request got any
    status line is not repeated: it ends as OutcomeUnknown and stays resumable."""
    sim_server.service.add_fault(answer)
    sim_server.service.add_fault(lookup_finds_nothing())
    client = client_for(sim_server, tmp_path)
    job = client.generate("a fox")
    with pytest.raises(OutcomeUnknown, match="could not tell whether the task was created"):
        job.wait(30)
    assert sim_server.service.stats()["requests"]["create"] == 1
    assert client.journal.get(job.external_task_id)["status"] == "interrupted"
    if answer.kind == "malformed":  # the task was made: resume finds and finishes it
        [resumed] = client.resume()
        assert resumed.wait(30).paths[0].is_file()
    assert sim_server.service.stats()["requests"]["create"] == 1


def test_a_429_on_create_waits_and_tries_again(sim_server: SimulatorServer, tmp_path: Path
                                               ) -> None:
    sim_server.service.add_fault(Fault("create", "status", status=429,
                                       headers={"Retry-After": "0"}))
    client = client_for(sim_server, tmp_path)
    client.generate("a fox").wait(30)
    assert sim_server.service.stats()["requests"]["create"] == 2  # refused, then accepted
    assert sim_server.service.stats()["tasks"] == 1


@pytest.mark.parametrize("resends, proven, posts", [(1, True, 2), (0, True, 1), (1, False, 1)])
def test_an_unanswered_create_is_resent_only_as_the_setting_allows(
    sim_server: SimulatorServer, tmp_path: Path, resends: int, proven: bool, posts: int
) -> None:
    """The connection closes before any status line and the lookup finds nothing: sent
    once more with the same external id when the setting allows it (the default, 1) and
    only once a lookup by external id has been seen to work on this host (an earlier job
    proved it); otherwise the lookup's "not found" proves nothing and the job ends as
    OutcomeUnknown after one create."""
    client = client_for(sim_server, tmp_path)
    client._api.retry = RetryPolicy(base=0.01, cap=0.05, resend_unanswered=resends)
    before = 0
    if proven:
        client.generate("a first fox").wait(30)  # its create is followed by one lookup
        deadline = time.monotonic() + 10
        while not client._api.facts.lookup_proven and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client._api.facts.lookup_proven
        before = sim_server.service.stats()["requests"]["create"]
    assert client._api.facts.lookup_proven is proven
    sim_server.service.add_fault(Fault("create", "drop"))
    sim_server.service.add_fault(lookup_finds_nothing())
    job = client.generate("a fox")
    if resends and proven:
        job.wait(30)
    else:
        with pytest.raises(OutcomeUnknown, match="could not tell" if proven
                           else "not been seen to work"):
            job.wait(30)
    stats = sim_server.service.stats()
    assert stats["requests"]["create"] - before == posts
    assert job.external_task_id in stats["creates_by_external_id"]
