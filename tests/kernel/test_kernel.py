"""Real kernels: the card moves while the kernel is busy; images land in the right cell."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from run_notebook import execute

from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import ROOT, TEST_KEY
from tests.kernel.kernel_helpers import running_kernel


def card_comm_ids(messages: list[dict]) -> set[str]:
    """The live cards opened: anywidgets whose first frame holds a progress bar."""
    return {
        m["content"]["comm_id"] for m in messages
        if m["msg_type"] == "comm_open"
        and m["content"]["data"]["state"].get("_model_name") == "AnyModel"
        and 'class="kirin-bar"' in m["content"]["data"]["state"].get("frame", "")
    }


def states_sent(messages: list[dict], comms: set[str]) -> list[dict]:
    """The state changes sent to the cards ``comms`` (a tick: progress and status)."""
    return [
        m["content"]["data"]["state"] for m in messages
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] in comms
        and m["content"]["data"].get("method") == "update"
    ]


def test_progress_moves_while_another_cell_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIRIN_SIMULATOR_SECONDS", "4")
    with running_kernel() as kernel:
        kernel.run("%load_ext kirin_jupyter")
        started = kernel.run("%%kirin fox -n 1\na red fox")
        assert started.reply["content"]["status"] == "ok"
        cards = card_comm_ids(started.messages)
        assert len(cards) == 1
        sleeping = kernel.run("import time; time.sleep(2.5)")
        # The engine thread redraws the card about every 0.5 s while the main thread is
        # blocked in time.sleep: the elapsed time each tick, and the bar whenever the
        # service reports more progress (the simulator's status answers).
        drawings = states_sent(sleeping.messages, cards)
        assert len(drawings) >= 3, drawings
        lines = "".join(state.get("status", "") for state in drawings)
        elapsed = [float(m) for m in re.findall(r"([0-9]+\.[0-9]) s · ", lines)]
        assert len(set(elapsed)) >= 3 and elapsed == sorted(elapsed), elapsed
        bars = [state["progress"] for state in drawings if "progress" in state]
        assert bars == sorted(bars) and bars[-1] > bars[0], bars
        # A tick sends the moving parts only, never the whole card again.
        assert all("frame" not in state for state in drawings[1:-1]), drawings
        done = kernel.run("%kirin wait")
        assert any("1 completed" in m["content"].get("text", "") for m in done.of_type("stream"))


def image_outputs(cell: nbformat.NotebookNode) -> list[str]:
    """HTML outputs of a cell that carry an embedded result thumbnail."""
    return [
        out["data"]["text/html"] for out in cell.get("outputs", [])
        if "text/html" in out.get("data", {})
        and '<img src="data:image/jpeg;base64,' in out["data"]["text/html"]
    ]


def test_each_model_puts_its_images_in_its_own_cell(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in [
        "%load_ext kirin_jupyter",
        "%%kirin a -m omni -n 2 --ar 1:1\nan omni fox",
        "x = 1 + 1",
        "%%kirin b -m v3 --ar 4:3 --neg blurry\na v3 owl",
        "%kirin wait",
        "print(len(a.wait().paths), len(b.wait().paths), a.wait().images[0].size)",
    ]]
    source = tmp_path / "models.ipynb"
    nbformat.write(nb, source)
    done = execute(source, tmp_path / "models.out.ipynb")
    omni_cell, plain_cell, v3_cell = done.cells[1], done.cells[2], done.cells[3]
    assert len(image_outputs(omni_cell)) == 1 and image_outputs(omni_cell)[0].count("<img") == 2
    assert "kirin_image_omni" in image_outputs(omni_cell)[0]
    assert len(image_outputs(v3_cell)) == 1 and image_outputs(v3_cell)[0].count("<img") == 1
    assert "kirin_v3_image" in image_outputs(v3_cell)[0]
    assert image_outputs(plain_cell) == []
    assert "2 1 (1024, 1024)" in done.cells[5].outputs[0]["text"]


def test_quickstart_notebook_executes_with_images_in_the_magic_cells(tmp_path: Path) -> None:
    source = ROOT / "notebooks" / "quickstart.ipynb"
    done = execute(source, tmp_path / "quickstart.out.ipynb")
    magic_cells = [c for c in done.cells if c.cell_type == "code" and c.source.startswith("%%kirin")]
    assert len(magic_cells) == 2
    for cell in magic_cells:
        assert image_outputs(cell), cell.source
    outputs = Path(os.environ["KIRIN_OUTPUT_DIR"])
    assert len(list(outputs.glob("*/*.png"))) == 3
    # The live cards were replaced by their results: their saved widget state is emptied.
    saved_state = json.dumps(done.metadata.get("widgets", {}))
    assert "kirin-card" not in saved_state and len(saved_state) < 6_000, len(saved_state)


def test_api_key_never_lands_in_an_executed_notebook(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with SimulatorServer(task_seconds=0.3, api_key=TEST_KEY) as server:
        monkeypatch.setenv("KIRIN_API_KEY", TEST_KEY)
        monkeypatch.setenv("KIRIN_BASE_URL", server.url)
        nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
        nb.cells += [nbformat.v4.new_code_cell(src) for src in [
            "%kirin config",
            "%config Kirin",
            "fox",
            "print(repr(fox), repr(fox.request), fox.request.summary())",
            "import kirin_jupyter; kirin_jupyter.default_client()",
            "%%kirin --dry-run -n 2\na dry fox",
            "%kirin jobs",
            "%%kirin bad -n 12\ntoo many",
        ]]
        source = tmp_path / "secret.ipynb"
        nbformat.write(nb, source)
        target = tmp_path / "secret.out.ipynb"
        done = execute(source, target, allow_errors=True)
        assert server.service.stats()["tasks"] == 2  # both quickstart jobs, against the server
    # A UsageError shows as one line on stderr, no traceback.
    assert [o.get("text") for o in done.cells[-1].outputs] == [
        "UsageError: %%kirin: n is 12; ask for between 1 and 9 images\n"  # as typed
    ]
    data = target.read_bytes()
    assert b"Authorization: Bearer ***" in data  # the dry run did show the header, redacted
    assert TEST_KEY.encode() not in data
    home = Path(os.environ["KIRIN_HOME"])
    for path in home.rglob("*"):
        if path.is_file():
            assert TEST_KEY.encode() not in path.read_bytes(), path
