"""Cancel over loopback HTTP against the strict fake: a queued and a running task ended at
the service on the queue protocol (the fake counts the cancels), its 400 and 404 answers,
the one line of the generation protocol, ``%kirin cancel`` in an IPython shell, and the
live card's Cancel message handled as the front end sends it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kirin_jupyter import BudgetExceeded, Cancelled
from kirin_jupyter.client import Client
from kirin_jupyter.engine.job import Job
from tests.conftest import FAST_POLL, TEST_KEY
from tests.support.gateway import Gateway, GatewayServer, completed


@pytest.fixture
def queue_gw() -> Iterator[Gateway]:
    state = Gateway(TEST_KEY, dialect="queue", auto_complete=False)
    with GatewayServer(state):
        yield state
    assert state.rejections == [] and state.cdn_auth_headers == []


def client_for(gateway: Gateway, tmp_path: Path, **kw: object) -> Client:
    return Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                  poll_policy=FAST_POLL, home=tmp_path / "home", **kw)  # type: ignore[arg-type]


def until(check, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def downloads(gateway: Gateway) -> int:
    return sum(1 for _, p in gateway.requests if p.startswith("/cdn/"))


@pytest.mark.parametrize("step, state", [({"status": "queued"}, "queued"),
                                         ({"status": "in_progress"}, "running")])
def test_cancel_ends_a_queued_and_a_running_task_on_the_queue(
    queue_gw: Gateway, tmp_path: Path, step: dict, state: str
) -> None:
    queue_gw.steps = [step]
    client = client_for(queue_gw, tmp_path, protocol="queue")
    job = client.generate("a fox")
    until(lambda: job.status == state and job.task_id is not None)
    line = job.cancel()
    assert line == f"task {job.task_id} cancelled by the service (202)"
    with pytest.raises(Cancelled, match="nothing was downloaded"):
        job.wait(10)
    assert queue_gw.cancels == [(job.task_id, 202)] and downloads(queue_gw) == 0
    assert client.journal.get(job.external_task_id)["status"] == "cancelled"
    assert job.cancel().startswith(f"job {job.external_task_id} has already ended")


def test_a_cancel_after_completion_fetches_the_result(queue_gw: Gateway, tmp_path: Path
                                                      ) -> None:
    slow: list[str] = []

    def slow_png(handler) -> None:  # type: ignore[no-untyped-def]
        from tests.integration.service.test_hostile_service import answer, png

        slow.append(handler.path)
        time.sleep(1.0)
        answer(handler, png(40, 30))

    queue_gw.hostile["/slow.png"] = slow_png
    queue_gw.auto_complete = True

    def final(task):  # type: ignore[no-untyped-def]
        done = completed(task)
        done["output"] = [{"content": [{"type": "image", "url": queue_gw.url + "/slow.png"}]}]
        return done

    queue_gw.final = final
    job = client_for(queue_gw, tmp_path, protocol="queue").generate("a fox")
    until(lambda: job.status == "downloading")
    assert "already completed (400 ALREADY_COMPLETED); fetching its result" in job.cancel()
    assert len(job.wait(10).paths) == 1
    assert queue_gw.cancels == [(job.task_id, 400)]


def test_a_cancel_answered_404_says_gone(queue_gw: Gateway, tmp_path: Path) -> None:
    client = client_for(queue_gw, tmp_path, protocol="queue")
    job = client.generate("a fox")
    until(lambda: job.status == "running")
    with queue_gw.lock:
        del queue_gw.tasks[job.task_id]  # the service forgot it
    assert job.cancel() == f"task {job.task_id} is gone (404): nothing to cancel or fetch"
    with pytest.raises(Cancelled, match="no longer knows it"):
        job.wait(10)
    assert queue_gw.cancels == [(job.task_id, 404)]


def test_the_generation_protocol_says_it_cannot_cancel(gateway: Gateway, tmp_path: Path
                                                       ) -> None:
    gateway.auto_complete = False
    client = client_for(gateway, tmp_path, max_cost="0.50")
    job = client.generate("a fox", n=2)  # quoted $0.28
    until(lambda: job.status == "running")
    line = job.cancel()
    assert "stop following; the service finishes and bills it" in line and "\n" not in line
    with pytest.raises(Cancelled):
        job.wait(10)
    assert gateway.cancels == [] and client.journal.get(job.external_task_id)["status"] \
        == "interrupted"  # resumable
    # The budget counts it at its quote until the service says otherwise.
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.28 of max_cost \$0.50"):
        client.generate("a fox", n=2)
    gateway.release()
    [resumed] = client_for(gateway, tmp_path).resume()
    assert resumed.wait(20).task_id == job.task_id and gateway.creates == 1


def test_a_cancelled_queue_task_counts_at_its_quote(queue_gw: Gateway, tmp_path: Path) -> None:
    client = client_for(queue_gw, tmp_path, protocol="queue", max_cost="0.50")
    job = client.generate("a fox", n=2)
    until(lambda: job.task_id is not None and job.status == "running")
    job.cancel()
    with pytest.raises(Cancelled):
        job.wait(10)
    with pytest.raises(BudgetExceeded, match=r"spent or committed \$0.28 of max_cost \$0.50"):
        client.generate("a fox", n=2)


def test_batch_cancel_stops_the_queue_and_cancels_those_in_flight(
    queue_gw: Gateway, tmp_path: Path
) -> None:
    client = client_for(queue_gw, tmp_path, protocol="queue")
    batch = client.batch([f"fox {i}" for i in range(6)], concurrency=2)
    until(lambda: sum(1 for j in batch.jobs if j is not None and j.status == "running") == 2)
    lines = batch.cancel()
    assert len(lines) == 2 and all("cancelled by the service (202)" in x for x in lines)
    batch.wait(10)
    assert queue_gw.creates == 2 and len(queue_gw.cancels) == 2


def test_kirin_cancel_in_an_ipython_shell(shell, queue_gw: Gateway, tmp_path: Path,
                                          monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)
    shell.run_line_magic("config", f"Kirin.base_url = '{queue_gw.url}'")
    shell.run_line_magic("config", "Kirin.protocol = 'generation, omni=queue'")
    shell.run_line_magic("config", f"Kirin.output_dir = '{tmp_path / 'out'}'")
    shell.run_line_magic("kirin", "cancel")
    assert "kirin: nothing is running" in capsys.readouterr().out
    # A terminal shell's %%kirin cell waits for its job: this one is started through the
    # session's client, which %kirin cancel reads.
    session = shell.magics_manager.registry["KirinMagics"].client()
    job: Job = session.generate("a fox")
    until(lambda: job.status == "running")
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="no running job of this session"):
        shell.run_line_magic("kirin", "cancel nosuchtask")
    shell.run_line_magic("kirin", f"cancel {job.task_id}")
    assert f"kirin: task {job.task_id} cancelled by the service (202)" in capsys.readouterr().out
    with pytest.raises(Cancelled):
        job.wait(10)
    second = session.generate("a fox")
    until(lambda: second.status == "running")
    shell.run_line_magic("kirin", "cancel --all")
    assert "cancelled by the service (202)" in capsys.readouterr().out
    assert len(queue_gw.cancels) == 2


def test_the_cards_cancel_message_is_handled(gateway: Gateway, tmp_path: Path) -> None:
    from kirin_jupyter.display.card import ProgressCard

    gateway.auto_complete = False
    job = client_for(gateway, tmp_path).generate("a fox")
    card = ProgressCard(job)
    card.attach()
    assert card.widget.cancellable
    until(lambda: job.status == "running")
    card.widget._from_front_end(card.widget, {"event": "other"}, [])  # ignored
    assert card.widget.note == "" and not job.done()
    # As the front end's model.send({event: "cancel"}) arrives: through on_msg's handlers.
    card.widget._msg_callbacks(card.widget, {"event": "cancel"}, [])
    assert "stop following; the service finishes and bills it" in card.widget.note
    with pytest.raises(Cancelled):
        job.wait(10)
    until(lambda: not card.widget.cancellable)
    assert "Cancel" in card.widget._esm and "model.send" in card.widget._esm


def test_the_panels_run_card_has_the_cancel_button(queue_gw: Gateway, tmp_path: Path) -> None:
    """The panel shows each run through the same progress card: its Cancel button cancels
    the run (here on the queue protocol: the fake counts the cancel)."""
    from kirin_jupyter.panel import Panel

    client = client_for(queue_gw, tmp_path, protocol="queue")
    panel = Panel(client, namespace={})
    panel.options.prompt.value = "a fox in the snow"
    job = panel.generate()
    assert job is not None
    card = panel.jobs_view.view(job).card
    assert card.widget.cancellable
    until(lambda: job.task_id is not None)
    card.widget._msg_callbacks(card.widget, {"event": "cancel"}, [])
    with pytest.raises(Cancelled):
        job.wait(10)
    assert len(queue_gw.cancels) == 1 and card.widget.note
    until(lambda: not card.widget.cancellable)
