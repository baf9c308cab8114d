"""``%kirin models --live [MODEL]`` in an IPython shell: the simulator's document (no key,
in process) or a loopback gateway's, rendered, naming the fields the spec table lacks; a
failed fetch is one line; nothing is fetched at ``%load_ext`` or by ``%kirin models``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter.model import spec
from kirin_jupyter.simulator.service import Fault, SimulatorService
from tests.conftest import TEST_KEY
from tests.support.gateway import SKILL, Gateway, GatewayServer


def simulator(shell: InteractiveShell) -> SimulatorService:
    service = shell.magics_manager.registry["KirinMagics"].client().simulator
    assert service is not None
    return service


def shown(shell: InteractiveShell, line: str) -> dict[str, Any]:
    """What ``%kirin LINE`` displayed: its one output's MIME bundle."""
    publisher = CapturingDisplayPublisher()
    shell.display_pub, original = publisher, shell.display_pub
    try:
        shell.run_line_magic("kirin", line)
    finally:
        shell.display_pub = original
    assert len(publisher.outputs) == 1
    return dict(publisher.outputs[0]["data"])


def test_the_simulators_document_names_the_fields_the_spec_table_lacks(
        shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    assert "doc" not in simulator(shell).stats()["requests"]  # nothing at %load_ext
    shell.run_line_magic("kirin", "models")  # today's table: still no request
    assert "doc" not in simulator(shell).stats()["requests"]
    capsys.readouterr()
    shell.run_line_magic("kirin", "models --live kirin_v3_image")
    out = capsys.readouterr().out  # the terminal's text form
    lines = out.splitlines()
    assert lines[0].startswith("kirin_v3_image: the gateway's document, from built-in "
                               "simulator, fetched ")
    assert "image_reference, image_fidelity, human_fidelity" in lines[1]
    assert "not an option of kirin-jupyter" in lines[1]
    assert "| `image_fidelity` | any | no |" in out and "## Parameters" in out
    bundle = shown(shell, "models --live v3")
    html, markdown = bundle["text/html"], bundle["text/markdown"]
    head = html.split('class="kirin-doc-body"')[0]
    assert "image_fidelity" in head and "kirin-pill" in head
    assert "<table" in html and "&lt;API key&gt;" in html  # the document, drawn, escaped
    assert "image\\_fidelity" in markdown.split("---")[0] and "## Parameters" in markdown
    requests = simulator(shell).stats()["requests"]
    assert requests["doc"] == 1  # the second came from KIRIN_HOME


def test_the_list_and_refresh(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
                              ) -> None:
    shell.run_line_magic("kirin", "models --live")
    out = capsys.readouterr().out
    assert all(name in out for name in spec.MODELS)
    assert "a model's document: %kirin models --live MODEL" in out
    shell.run_line_magic("kirin", "models --live --refresh")
    shell.run_line_magic("kirin", "models --live omni --refresh")
    assert "kirin_image_omni: the gateway's document" in capsys.readouterr().out
    assert simulator(shell).stats()["requests"]["doc"] == 3


@pytest.mark.parametrize(("line", "words"), [
    ("models --live kirin_nope_image", "has none (HTTP 404)"),
    ("models --live ../journal", "is not a model name"),
    ("models --live a b", "unexpected"),
    ("models kirin_v3_image", "unexpected"),
    ("models --live --all", "unexpected"),
    ("models --live 'unclosed", "No closing quotation"),
])
def test_a_failure_is_one_line(shell: InteractiveShell, line: str, words: str) -> None:
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("kirin", line)
    text = str(caught.value)
    assert "\n" not in text and words in text and text.startswith("%kirin models")


def test_a_failing_service_is_one_line(shell: InteractiveShell) -> None:
    simulator(shell).add_fault(Fault("doc", "status", status=503))
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("kirin", "models --live v3")
    assert str(caught.value) == ("%kirin models --live: the gateway's document for "
                                 "kirin_v3_image: the Kirin API answered HTTP 503 with error 503: "
                                 "injected fault")


@pytest.fixture
def gateway_shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[InteractiveShell,
                                                                     Gateway]]:
    state = Gateway(TEST_KEY)
    with GatewayServer(state) as server:
        monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)
        monkeypatch.setenv("KIRIN_BASE_URL", server.url)
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "kirin_jupyter")
        yield ip, state
        ip.run_line_magic("unload_ext", "kirin_jupyter")
        InteractiveShell.clear_instance()
    assert state.rejections == []


def test_a_gateways_document_through_the_magic(
        gateway_shell: tuple[InteractiveShell, Gateway],
        capsys: pytest.CaptureFixture[str]) -> None:
    shell, gateway = gateway_shell
    assert gateway.requests == []  # nothing at %load_ext
    shell.run_line_magic("kirin", "models --live v3")
    out = capsys.readouterr().out
    assert "image_fidelity" in out.splitlines()[1] and TEST_KEY not in out
    assert gateway.requests == [("GET", SKILL + spec.V3)]
