"""The budget over the simulator: refused before sending, quotes shared, may-be-billed jobs counted."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

import kirin_jupyter
from kirin_jupyter import (
    BudgetExceeded,
    TaskTimeout,
)
from kirin_jupyter.simulator import Fault
from kirin_jupyter.simulator.server import SimulatorServer
from tests.support.simulated import client_for


def test_budget_guard_refuses_before_sending(sim_server: SimulatorServer,
                                             tmp_path: Path) -> None:
    client = client_for(sim_server, tmp_path, max_cost="0.10")
    first = client.generate("a fox", n=2).wait(30)  # $0.08, no price known before it
    assert first.cost == Decimal("0.08")
    creates = sim_server.service.stats()["requests"]["create"]
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.08 of max_cost \$0.10"):
        client.generate("another fox", n=1)
    assert sim_server.service.stats()["requests"]["create"] == creates


def test_budget_with_no_known_price_allows_one_job_in_flight(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    sim_server.service.precharge = False  # a service that quotes nothing: estimates only
    client = client_for(sim_server, tmp_path, max_cost="0.10")
    first = client.generate("a fox", n=9, resolution="2k")  # price unknown: allowed
    with pytest.raises(BudgetExceeded, match="price of this kind of job is not known yet"):
        client.generate("another", n=9, resolution="2k")
    first.wait(30)
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.72 of max_cost \$0.10"):
        client.generate("a third", n=1)
    assert sim_server.service.stats()["requests"]["create"] == 1


def test_with_the_service_quote_no_job_can_pass_the_budget(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    """The first job of a kind is priced by the service before it is sent, so even it is
    refused when it would pass max_cost, and jobs in flight count at their quotes."""
    client = client_for(sim_server, tmp_path, max_cost="0.10")
    with pytest.raises(BudgetExceeded, match=r"this job would cost about \$0.72 \(quoted by "
                       r"the service\) and pass it"):
        client.generate("a fox", n=9, resolution="2k")
    first = client.generate("a fox", n=1)  # $0.04, quoted
    second = client.generate("a cat", n=1)  # $0.08 committed while both run
    assert first.quote is not None and first.quote.source == "service"
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.08 of max_cost \$0.10"):
        client.generate("a third", n=1)  # 0.08 + 0.04 > 0.10, with neither finished
    first.wait(30), second.wait(30)
    assert client.session_spend() == Decimal("0.08") <= client.max_cost
    stats = sim_server.service.stats()["requests"]
    # one quote per kind (n=9 at 2k; n=1 at 1k), shared by the three jobs of the second
    assert stats["create"] == 2 and stats["quote"] == 2


def test_jobs_of_one_kind_share_one_quote_until_it_is_stale(
    sim_server: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty jobs started at once ask the service for their price once; another kind
    asks again, and so does the same kind once the quote has grown stale."""
    import kirin_jupyter.money.prices as prices_module

    client = client_for(sim_server, tmp_path)
    jobs = [client.generate(f"fox {i}", n=2) for i in range(20)]
    [job.wait(30) for job in jobs]
    assert all(job.quote is not None and job.quote.source == "service" for job in jobs)
    assert {job.quote.cost for job in jobs if job.quote} == {Decimal("0.08")}
    assert sim_server.service.stats()["requests"]["quote"] == 1
    client.generate("a wide fox", n=2, resolution="2k").wait(30)
    assert sim_server.service.stats()["requests"]["quote"] == 2
    monkeypatch.setattr(prices_module, "QUOTE_FRESH_SECONDS", 0.0)
    late = client.generate("fox again", n=2)
    late.wait(30)
    assert sim_server.service.stats()["requests"]["quote"] == 3


def test_jobs_that_may_be_billed_count_against_the_budget(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    """A timed-out job's task runs on (and will be billed): it counts at its quote until
    its real cost is known; before, timeouts counted as $0 and 8 tasks ran under $0.10."""
    sim_server.service.task_seconds = 60
    client = client_for(sim_server, tmp_path, max_cost="0.10", timeout=0.3)
    for _ in range(2):
        with pytest.raises(TaskTimeout):
            client.generate("a slow fox").wait(30)  # $0.04 each, quoted
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.08 of max_cost \$0.10"):
        client.generate("a third slow fox")
    assert sim_server.service.stats()["requests"]["create"] == 2
    sim_server.service.add_fault(Fault("create", "fail_task", code="002016095"))
    sim_server.service.task_seconds = 0.2
    client.timeout = 30  # later jobs, and each of their requests, may take what they need
    client.api.limits = replace(client.api.limits, request_seconds=30.0)  # (a download under
    client.max_cost = Decimal("0.20")  # load took more than the 0.3 s the client began with)
    with pytest.raises(kirin_jupyter.TaskFailed):  # the service failed it: not billed
        client.generate("a failing fox").wait(30)
    client.generate("a cheap fox").wait(30)  # 0.08 + 0.04 <= 0.20: the failure is free
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.12 of max_cost \$0.20"):
        client.generate("a fox too many", n=3)
    for task_id in list(sim_server.service.tasks):  # the slow tasks end; resume fetches them
        sim_server.service.finish_now(task_id)
    for job in client.resume():
        job.wait(30)
    assert client.session_spend() == Decimal("0.12")  # each task once, at its real cost
