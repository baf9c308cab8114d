"""A notebook run headless on a busy machine never saves a live card (issue 22 D2).

``%kirin wait`` used to wait for the jobs it saw when it started. A sweep makes its cells'
jobs as it goes and replaces its live card only after its last job ends (and after its
final grid is drawn), so under load the wait could report every job done and let nbclient
stop the kernel first: about 1 run in 4 saved the sweep stuck at "running". Now it waits
for every batch and sweep too, and each one's ``wait()`` returns only after its card shows
its final state.

The workflows tour (jobs, a magic sweep, a Python sweep, compare, export) is executed five
times at once, beside CPU burners of the test's own, and every saved copy is searched for
anything live. Takes about a minute on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.conftest import ROOT

RUNS = 5
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# What only a live card draws: its progress bar, and the live batch and sweep cards.
LIVE_MARKS = ('class="kirin-bar"', "kirin-batch-live", "kirin-sweep-live")


def finished_widget(outputs: list[Any], at: int) -> bool:
    """Output ``at`` is a finished card's widget (buttons on its pictures): no picture of
    its own, and its static copy right after it. A live card carries its live HTML."""
    data = outputs[at].get("data", {})
    after = outputs[at + 1].get("data", {}) if at + 1 < len(outputs) else {}
    return (data.get("text/plain") == "" and "text/html" not in data
            and "kirin-copy" in after.get("text/html", ""))


def live_parts(nb: nbformat.NotebookNode) -> list[str]:
    """Where a saved notebook still holds a live card: a widget view in an output that is
    not a finished card's, live HTML in an output, or a live card's widget state that is
    not emptied."""
    found = []
    for index, cell in enumerate(nb.cells):
        outputs = cell.get("outputs", [])
        for at, output in enumerate(outputs):
            data = output.get("data", {})
            if WIDGET_VIEW in data and not finished_widget(outputs, at):
                found.append(f"cell {index}: a widget view ({cell.source[:30]!r})")
            html = data.get("text/html", "")
            found += [f"cell {index}: {mark} ({cell.source[:30]!r})"
                      for mark in LIVE_MARKS if mark in html]
    models = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for model_id, model in models.items():
        state = model.get("state", {})
        if "kirin-live" in state.get("_dom_classes", ()) and (
                state.get("value") or state.get("frame")):
            found.append(f"widget state {model_id}: a live card's HTML")
    return found


def burn_cpu() -> list[subprocess.Popen[bytes]]:
    """One busy loop per core: the machine is as busy as a loaded CI runner."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 2)]


def test_kirin_wait_returns_after_every_batch_shows_its_end(shell: Any) -> None:
    """One item at a time: the wait starts when the batch has one job of three, and it
    returns only after the batch's views were told it ended (a slow final drawing)."""
    from kirin_jupyter.shortcuts import default_client

    batch = default_client().batch(["a red fox", "a blue fox", "a green fox"],
                                   concurrency=1)
    shown: list[str] = []

    def slow_final_view(group: Any) -> None:
        if group.done():
            time.sleep(0.5)  # thumbnails of a big grid, on a busy machine
            shown.append(repr(group))

    batch.add_listener(slow_final_view)
    shell.run_line_magic("kirin", "wait")
    assert len(shown) == 1 and "3 done" in shown[0], shown


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_workflows_saved_under_load_never_holds_a_live_card(tmp_path: Path) -> None:
    runs = []
    for number in range(RUNS):
        folder = tmp_path / f"run{number}"
        folder.mkdir()
        shutil.copy(ROOT / "notebooks" / "workflows.ipynb", folder / "workflows.ipynb")
        env = {**os.environ, "KIRIN_HOME": str(folder / "home")}
        runs.append((folder, env))
    burners = burn_cpu()
    try:
        started = time.monotonic()
        procs = [subprocess.Popen(
            [sys.executable, str(ROOT / "notebooks" / "run_notebook.py"),
             str(folder / "workflows.ipynb"), "--out", str(folder / "saved.ipynb")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for folder, env in runs]
        said = [proc.communicate(timeout=420)[0].decode(errors="replace") for proc in procs]
        took = time.monotonic() - started
    finally:
        for burner in burners:
            burner.kill()  # by its own PID
            burner.wait()
    saved = []
    for (folder, _), proc, text in zip(runs, procs, said, strict=True):
        assert proc.returncode == 0, text[-3000:]
        saved.append((folder.name, nbformat.read(folder / "saved.ipynb", as_version=4)))
    problems = {name: live_parts(nb) for name, nb in saved if live_parts(nb)}
    assert not problems, (f"{len(problems)} of {RUNS} runs saved a live card "
                          f"({took:.0f} s under load)", problems)
    for name, nb in saved:  # every sweep ended as its grid, every job was counted
        for cell in nb.cells:
            if cell.source.startswith(("%%kirin lights", "foxes = kirin.sweep(")):
                html = json.dumps([o.get("data", {}) for o in cell.outputs])
                assert "kirin-sweep-result" in html, (name, cell.source)
        assert nb.cells[-1].source == "%kirin wait"
        last = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
        assert last == "kirin: 11 completed, 0 failed\n", (name, last)
