"""Front ends: detection, Colab's blocking card, and the IPython terminal under a pty."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter.base import frontends
from kirin_jupyter.display.card import ProgressCard
from tests.kernel.kernel_helpers import running_kernel
from tests.kernel.test_kernel import card_comm_ids, states_sent


class KernelShell:
    """Stands in for ipykernel's shell: it has a kernel and a user namespace."""

    def __init__(self, user_ns: dict[str, Any] | None = None) -> None:
        self.kernel = object()
        self.user_ns = user_ns or {}


def test_detection() -> None:
    none: dict[str, Any] = {}
    assert frontends.detect(None, {}, none) == "terminal"
    no_kernel = types.SimpleNamespace(user_ns={})  # as the IPython terminal's shell
    assert frontends.detect(no_kernel, {"COLAB_RELEASE_TAG": "x"}, none) == "terminal"
    assert frontends.detect(KernelShell(), {}, none) == "jupyter"
    assert frontends.detect(KernelShell(), {"COLAB_RELEASE_TAG": "release-colab_2025"}, none) \
        == "colab"
    assert frontends.detect(KernelShell(), {}, {"google.colab": object()}) == "colab"
    assert frontends.detect(KernelShell({"__vsc_ipynb_file__": "/w/a.ipynb"}), {}, none) \
        == "vscode"
    assert frontends.detect(KernelShell(), {"VSCODE_PID": "4242"}, none) == "vscode"
    assert frontends.detect(KernelShell(), {"VSCODE_PID": "1", "COLAB_RELEASE_TAG": "x"}, none) \
        == "colab"
    assert [frontends.mode(f) for f in ("jupyter", "vscode", "colab", "terminal")] == \
        ["live", "live", "blocking", "terminal"]


def test_colab_found_by_import(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not frontends.in_colab({})  # google.colab is not installed here
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert frontends.in_colab({})


# -- Colab: the cell waits and the main thread drives the card --------------------------

@pytest.fixture
def colab_shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[InteractiveShell, list[str]]]:
    """An IPython shell that detects as Colab, recording the thread of every card refresh."""
    monkeypatch.setattr(frontends, "detect", lambda shell, *a: "colab")
    threads: list[str] = []
    refresh = ProgressCard.refresh

    def recording(self: ProgressCard, job: Any) -> None:
        threads.append(threading.current_thread().name)
        refresh(self, job)

    monkeypatch.setattr(ProgressCard, "refresh", recording)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "kirin_jupyter")
    publisher = CapturingDisplayPublisher()
    original, ip.display_pub = ip.display_pub, publisher
    yield ip, threads
    ip.display_pub = original
    ip.run_line_magic("unload_ext", "kirin_jupyter")
    InteractiveShell.clear_instance()


def test_colab_cell_blocks_and_only_the_main_thread_updates_the_card(
    colab_shell: tuple[InteractiveShell, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIRIN_SIMULATOR_SECONDS", "1.0")
    ip, threads = colab_shell
    started = time.monotonic()
    ip.run_cell_magic("kirin", "fox -n 2", "a fox")
    assert time.monotonic() - started >= 0.9  # blocked until the images were in
    job = ip.user_ns["fox"]
    assert job.status == "completed" and len(job.result.paths) == 2
    assert len(threads) >= 4 and set(threads) == {"MainThread"}, threads
    shown, final = ip.display_pub.outputs[0], ip.display_pub.outputs[-1]
    assert "kirin-live" in shown["data"]["text/html"]  # the live card ...
    assert final["update"] and final["transient"] == shown["transient"]  # ... replaced
    assert final["data"]["text/html"].count('<img src="data:image/jpeg;base64,') == 2


def test_colab_timeout_stops_waiting_but_not_the_job(
    colab_shell: tuple[InteractiveShell, list[str]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KIRIN_SIMULATOR_SECONDS", "1.2")
    ip, _ = colab_shell
    started = time.monotonic()
    ip.run_cell_magic("kirin", "slow --timeout 0.3", "a slow fox")
    assert time.monotonic() - started < 1.0
    assert "kirin: stopped waiting after 0.3 s; the job goes on" in capsys.readouterr().out
    job = ip.user_ns["slow"]
    assert not job.done()
    assert job.wait(10).paths  # it went on in the background


def test_terminal_into_a_pipe_prints_each_state_once_and_stops_at_a_timeout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KIRIN_SIMULATOR_SECONDS", "1.0")
    ip = InteractiveShell.instance()  # no kernel: the terminal path; stdout is not a tty
    try:
        ip.run_line_magic("load_ext", "kirin_jupyter")
        ip.run_line_magic("kirin", "--timeout 0.3 a slow fox")
        out = capsys.readouterr().out
        job = ip.user_ns["_kirin"]
        assert "\r" not in out and "kirin: job still " in out
        states = [line.split()[2] for line in out.splitlines() if line.startswith("kirin omni")]
        assert states and len(states) == len(set(states)), out
        job.wait(10)
        assert capsys.readouterr().out == ""  # silent once the cell has returned
    finally:
        ip.run_line_magic("unload_ext", "kirin_jupyter")
        InteractiveShell.clear_instance()


def test_colab_in_a_real_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIRIN_SIMULATOR_SECONDS", "1.2")
    env = dict(os.environ, COLAB_RELEASE_TAG="release-colab-test")
    with running_kernel(env=env) as kernel:
        kernel.run("%load_ext kirin_jupyter\n"
                   "import threading\n"
                   "from kirin_jupyter.display.card import ProgressCard\n"
                   "threads, refresh = [], ProgressCard.refresh\n"
                   "def recording(self, job):\n"
                   "    threads.append(threading.current_thread().name)\n"
                   "    refresh(self, job)\n"
                   "ProgressCard.refresh = recording")
        cell = kernel.run("%%kirin fox\na fox in Colab")
        [card] = card_comm_ids(cell.messages)
        values = [state["progress"] for state in states_sent(cell.messages, {card})
                  if "progress" in state]
        assert len(values) >= 3 and values == sorted(values) and values[-1] == 1.0, values
        [final] = cell.of_type("update_display_data")  # before the cell went idle
        assert '<img src="data:image/jpeg;base64,' in final["content"]["data"]["text/html"]
        said = kernel.run("print(sorted(set(threads)), len(threads))\n%kirin config")
        text = "".join(m["content"]["text"] for m in said.of_type("stream"))
        assert re.search(r"\['MainThread'\] \d+", text), text
        assert "front end:  Google Colab" in text


# -- the IPython terminal, for real, under a pty ----------------------------------------

def ipython_terminal(tmp_path: Path, *, seconds: float, columns: int) -> pexpect.spawn:
    """A real IPython terminal under a pty, on the simulator with tasks of ``seconds``."""
    env = dict(os.environ, KIRIN_SIMULATOR_SECONDS=str(seconds),
               IPYTHONDIR=str(tmp_path / "ipython"), TERM="xterm")
    return pexpect.spawn(
        sys.executable,
        ["-m", "IPython", "--no-banner", "--colors=NoColor", "--HistoryManager.enabled=False"],
        env=env, cwd=str(tmp_path), encoding="utf-8", timeout=60, dimensions=(40, columns),
    )


def test_terminal_prints_one_updating_line_and_the_saved_paths(tmp_path: Path) -> None:
    child = ipython_terminal(tmp_path, seconds=1.0, columns=200)
    try:
        child.expect(r"In \[1\]")
        child.sendline("%load_ext kirin_jupyter")
        child.expect(r"In \[2\]")
        child.sendline("%kirin -n 2 a fox")
        child.expect(r"In \[3\]")
        out = child.before
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)  # this child only, by its own pid
    progress = out[out.index("\rkirin omni"):out.index("kirin: 2 files saved")]
    assert progress.count("\n") == 1 and progress.endswith("\n")  # one line, redrawn
    frames = [f.strip() for f in progress.split("\r") if f.strip()]
    assert len(frames) >= 4
    assert any(re.fullmatch(r"kirin omni running +\[#+-+\] +\d+% +\d+\.\d s", f) for f in frames)
    assert re.fullmatch(r"kirin omni completed +\[#{20}\] 100% +\d+\.\d s", frames[-1])
    paths = re.findall(r"^  (\S+\.png)\s*$", out, re.M)
    assert len(paths) == 2 and all(Path(p).is_file() for p in paths), out
    assert "kirin: 2 files saved, cost $0.08" in out


def test_terminal_listings_are_text_tables(tmp_path: Path) -> None:
    """In the real IPython terminal, ``%kirin history`` and ``%kirin models`` print aligned
    text tables (``models`` printed ``<IPython.core.display.HTML object>``) and ``help``
    fits the terminal without a split word."""
    child = ipython_terminal(tmp_path, seconds=0.2, columns=80)
    said: dict[str, str] = {}
    try:
        child.expect(r"In \[1\]")
        for number, line in enumerate(["%load_ext kirin_jupyter", "%kirin -n 2 a fox",
                                       "%kirin -m v3 -- an owl at dusk", "%kirin history",
                                       "%kirin models", "%kirin help"], start=2):
            child.sendline(line)
            child.expect(rf"In \[{number}\]")
            said[line] = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "",
                                child.before.replace("\r\n", "\n"))  # no escapes
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)  # this child only, by its own pid
    history = said["%kirin history"].split("\n", 1)[1]
    rows = [line for line in history.splitlines() if line.strip()]
    assert rows[0].split() == ["date", "state", "model", "n", "cost", "task", "prompt"], history
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d +completed +v3 +1 +\$0\.04 +sim-\w+ +an owl at dusk",
                        rows[2]), history
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d +completed +omni +2 +\$0\.08 +sim-\w+ +a fox",
                        rows[3]), history
    assert rows[4].strip() == "2 jobs" and "<" not in history
    models = said["%kirin models"]
    assert "object>" not in models and re.search(r"^kirin_image_omni +omni +10 ", models, re.M)
    help_lines = said["%kirin help"].split("\n")[1:]
    assert help_lines and max(len(line) for line in help_lines) < 80
    assert "--aspect-ratio" in said["%kirin help"]


@pytest.mark.parametrize("cell", ["%kirin batch prompts.txt --name kitchen --timeout 0.3",
                                  "%%kirin --ar 1:1,16:9 --timeout 0.3\na slow fox"])
def test_colab_gives_an_interrupted_batch_or_sweep_its_final_view_after_a_later_cell(
    colab_shell: tuple[InteractiveShell, list[str]], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: str,
) -> None:
    """One follower for every kind: a single job already got its final view after a later
    cell; a batch's or a sweep's card stayed live forever."""
    monkeypatch.setenv("KIRIN_SIMULATOR_SECONDS", "1.0")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompts.txt").write_text("a red kettle\na blue mug\n")
    ip, _ = colab_shell
    ip.run_cell(cell)
    assert "stopped waiting after 0.3 s" in capsys.readouterr().out
    live = len(ip.display_pub.outputs)
    assert not any(out.get("update") for out in ip.display_pub.outputs)
    ip.run_cell("%kirin wait")  # later cells: the first one after the end shows it
    deadline = time.monotonic() + 15
    updates: list[dict] = []
    while not updates and time.monotonic() < deadline:
        ip.run_cell("pass")
        updates = [out for out in ip.display_pub.outputs[live:] if out.get("update")]
        time.sleep(0.05)
    ip.run_cell("pass")  # and only once
    updates = [out for out in ip.display_pub.outputs[live:] if out.get("update")]
    assert len(updates) == 1 and "text/html" in updates[0]["data"]
    assert "kirin-live" not in updates[0]["data"].get("text/plain", "")
