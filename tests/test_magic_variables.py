"""``%kirin show``, ``rerun`` and ``lineage`` take a variable: ``$path``, ``$job``,
``$job[i]`` (a notebook has its paths and jobs in variables, not typed out)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter.engine.job import Job


@pytest.fixture
def html_out(shell: InteractiveShell) -> Any:
    shown: list[str] = []
    publisher = shell.display_pub
    old = publisher.publish
    publisher.publish = lambda data, *a, **k: shown.append(  # type: ignore[method-assign]
        data.get("text/html", ""))
    yield shown
    publisher.publish = old  # type: ignore[method-assign]


def test_show_rerun_and_lineage_take_variables(shell: InteractiveShell, html_out: Any) -> None:
    shell.run_cell_magic("kirin", "fox -n 2 --wait", "a fox in a meadow")
    fox: Job = shell.user_ns["fox"]
    assert fox.result is not None and fox.task_id
    shell.user_ns["picture"] = fox.result.paths[1]
    shell.run_line_magic("kirin", "show $picture")
    assert "a fox in a meadow" in html_out[-1] and fox.task_id in html_out[-1]
    shell.run_line_magic("kirin", "show $fox[-1]")  # counted from the end, as in Python
    assert fox.result.paths[-1].name in html_out[-1]
    shell.run_line_magic("kirin", "show $fox")  # the job, from the journal
    assert fox.task_id in html_out[-1]
    shell.run_line_magic("kirin", "rerun $fox[1] --ar 16:9 --wait")
    rows, _total = shell.magics_manager.registry["KirinMagics"].client().journal.history()
    newest = rows[0]
    assert newest["external_id"] != fox.external_task_id and newest["prompt"] == fox.prompt
    assert '"aspect_ratio": "16:9"' in newest["request"] and newest["status"] == "completed"
    shell.run_line_magic("kirin", f"lineage {newest['external_id']}")
    assert "a fox in a meadow" in html_out[-1]


@pytest.mark.parametrize(("line", "message"), [
    ("show $nothing", "no variable named 'nothing'"),
    ("rerun $number", "'number' is a int; give a path, a job or a result"),
    ("rerun $fox[5]", "has 1 file(s); there is no [5]"),
    ("rerun $fox[-2]", "has 1 file(s); there is no [-2]"),
])
def test_a_bad_variable_is_one_line(shell: InteractiveShell, line: str, message: str,
                                    tmp_path: Path) -> None:
    shell.run_cell_magic("kirin", "fox --wait", "a fox")
    shell.user_ns["number"] = 3
    with pytest.raises(UsageError, match=re.escape(message)):
        shell.run_line_magic("kirin", line)
