"""%config changes apply to the one client in place and close the old transport."""

from __future__ import annotations

import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import TEST_KEY


def test_config_changes_apply_to_the_one_client_in_place_and_close_the_old_transport(
    shell: InteractiveShell, sim_server: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kirin_jupyter

    client = kirin_jupyter.default_client()
    first = client.generate("a fox")
    first.wait(30)
    old = client.api
    assert client.simulated and old.is_open()
    shell.run_line_magic("config", "Kirin.max_result_mb = 5")  # no new connection for this
    assert client.api is old and old.limits.result_bytes == 5_000_000
    monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)
    shell.run_line_magic("config", f"Kirin.base_url = '{sim_server.url}'")
    assert kirin_jupyter.default_client() is client  # the same object, the panel's too
    assert client.api is not old and not client.simulated
    assert client.base_url == sim_server.url
    deadline = time.monotonic() + 10
    while old.is_open() and time.monotonic() < deadline:  # closed on the engine thread
        time.sleep(0.02)
    assert not old.is_open()
    second = client.generate("a cat")
    assert second.wait(30).paths and not second.simulated
    assert [job.prompt for job in client.jobs] == ["a fox", "a cat"]  # one job list
