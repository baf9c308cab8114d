"""Bounds that must hold whatever the service does (issue 22, class C): a job's timeout
bounds every request it makes, body included, and a create that gets no answer at all;
a base URL that is no URL is one line."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from kirin_jupyter import LimitExceeded, OutcomeUnknown, TaskTimeout, ValidationError
from kirin_jupyter.client import Client
from tests.conftest import FAST_POLL, TEST_KEY
from tests.integration.service.test_hostile_service import answer, png
from tests.support.gateway import PREFIX, Gateway, GatewayServer, Task, completed


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state = Gateway(TEST_KEY)
    with GatewayServer(state):
        yield state


def test_a_dripping_download_ends_within_the_jobs_timeout(gateway: Gateway, tmp_path: Path
                                                          ) -> None:
    """Client(timeout=3) with the default request deadline (300 s): the download that
    drips one byte every 0.2 s is cut at 3 s, not 300."""
    gateway.hostile["/drip"] = lambda h: answer(h, png(40, 30), drip=0.2)

    def final(task: Task) -> dict:
        done = completed(task)
        done["output"] = [{"content": [{"type": "image", "url": gateway.url + "/drip"}]}]
        return done

    gateway.final = final
    client = Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                    poll_policy=FAST_POLL, home=tmp_path / "home", timeout=3)
    assert client.api.limits.request_seconds == 3
    started = time.monotonic()
    with pytest.raises(LimitExceeded, match="did not finish within 3 s"):
        client.generate("a fox").wait(60)
    assert time.monotonic() - started < 8


def test_a_longer_request_deadline_set_on_purpose_is_kept(tmp_path: Path) -> None:
    from kirin_jupyter.config.settings import ARGUMENT, Layer, overlay, resolve

    settings = overlay(resolve(), Layer({"request_seconds": 120.0, "timeout": 5.0}, ARGUMENT))
    client = Client(home=tmp_path, settings=settings)
    assert client.api.limits.request_seconds == 120


def test_a_dripping_status_answer_ends_within_the_jobs_timeout(gateway: Gateway,
                                                               tmp_path: Path) -> None:
    def drip_status(handler) -> None:
        body = b'{"id": "gw-0001", "status": "in_progress"' + b" " * 400 + b"}"
        answer(handler, body, kind="application/json", drip=0.05)

    client = Client(api_key=TEST_KEY, base_url=gateway.url, output_dir=tmp_path / "out",
                    poll_policy=FAST_POLL, home=tmp_path / "home", timeout=2)
    gateway.hostile[PREFIX + "/task/gw-0001"] = drip_status
    started = time.monotonic()
    with pytest.raises(TaskTimeout, match=r"the answer \(HTTP 200\) did not finish within 2 s"):
        client.generate("a fox").wait(60)
    assert time.monotonic() - started < 8


@pytest.fixture
def tarpit() -> Iterator[str]:
    """A server that accepts connections and reads requests, and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


def test_a_tarpit_holds_a_job_no_longer_than_its_timeout(tarpit: str, tmp_path: Path) -> None:
    client = Client(api_key=TEST_KEY, base_url=tarpit, output_dir=tmp_path / "out",
                    poll_policy=FAST_POLL, home=tmp_path / "home", timeout=3)
    job = client.generate("a fox")
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown, match=r"within the job's timeout \(3 s\)"):
        job.wait(60)
    assert time.monotonic() - started < 5
    row = client.journal.get(job.external_task_id)
    assert row is not None and row["status"] == "interrupted"  # resumable, maybe billed


@pytest.mark.parametrize("url, words", [("http://[::1", "is not a URL"),
                                        ("https://", "names no host"),
                                        ("https://host:port", "is not a URL")])
def test_a_base_url_that_is_no_url_is_one_line(url: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words) as caught:
        Client(api_key=TEST_KEY, base_url=url)
    assert "\n" not in str(caught.value)


def test_history_search_too_long_is_one_line_in_the_magic(shell) -> None:
    with pytest.raises(UsageError, match="%kirin history: search text is 5000 characters"):
        shell.run_line_magic("kirin", "history --search " + "%" * 5000)
    shell.run_line_magic("kirin", "history --search " + "%_" * 50)  # plain text, no error
