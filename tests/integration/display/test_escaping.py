"""Hostile text from a prompt or the service is escaped wherever it is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

import kirin_jupyter
from kirin_jupyter.display.history import history_html
from kirin_jupyter.display.static import error_html, result_html
from kirin_jupyter.simulator import Fault
from kirin_jupyter.simulator.server import SimulatorServer
from tests.support.simulated import client_for

XSS = '<img src=x onerror=alert(1)>'


def test_prompt_error_and_metadata_are_escaped(sim_server: SimulatorServer,
                                               tmp_path: Path) -> None:
    client = client_for(sim_server, tmp_path)
    result = client.generate(f"a fox {XSS}").wait(30)
    result.metadata["note"] = XSS + " from the server"
    html = result_html(result)
    assert XSS not in html
    assert "a fox &lt;img src=x onerror=alert(1)&gt;" in html  # the prompt, escaped
    assert "&lt;img src=x onerror=alert(1)&gt; from the server" in html  # metadata too
    sim_server.service.add_fault(Fault("create", "fail_task", code="002016095", message=XSS))
    job = client.generate(XSS)
    with pytest.raises(kirin_jupyter.TaskFailed):
        job.wait(30)
    assert XSS in str(job.error)  # the message itself keeps the text ...
    page = error_html(job)
    assert XSS not in page and "onerror=alert(1)&gt;" in page  # ... but is shown escaped
    assert XSS not in history_html(client.journal.history(limit=10)[0])
