"""The key: whitespace stripped, a key that cannot be a header refused unseen."""

from __future__ import annotations

from pathlib import Path

import pytest

import kirin_jupyter
from kirin_jupyter.client import Client
from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import FAST_POLL, TEST_KEY


def test_key_with_whitespace_is_stripped_and_a_broken_key_refused_unseen(
    sim_server: SimulatorServer, tmp_path: Path
) -> None:
    client = Client(api_key=f"  {TEST_KEY}\n", base_url=sim_server.url, output_dir=tmp_path,
                    poll_policy=FAST_POLL)
    assert client.generate("a fox").wait(30).paths
    with pytest.raises(kirin_jupyter.KirinError, match="cannot be sent in an HTTP header") as caught:
        Client(api_key=f"{TEST_KEY}\nX-Evil: 1", base_url=sim_server.url)
    assert TEST_KEY not in str(caught.value)
