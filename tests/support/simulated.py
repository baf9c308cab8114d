"""A Client on the loopback simulator that retries quickly (tests of faults and resume)."""

from __future__ import annotations

from pathlib import Path

from kirin_jupyter.client import Client
from kirin_jupyter.service.http import RetryPolicy
from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import FAST_POLL, TEST_KEY

QUICK_RETRY = RetryPolicy(base=0.01, cap=0.05)


def client_for(server: SimulatorServer, tmp_path: Path, **kw: object) -> Client:
    client = Client(api_key=TEST_KEY, base_url=server.url, output_dir=tmp_path / "out",
                    poll_policy=FAST_POLL, **kw)  # type: ignore[arg-type]
    client._api.retry = QUICK_RETRY
    return client
