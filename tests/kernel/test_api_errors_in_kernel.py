"""A Python-API error in a real kernel: one line in the cell, the frames one ``%tb`` away
(issue 22 D7: the README promises one-line errors, and they were 5-frame tracebacks)."""

from __future__ import annotations

import re

from kirin_jupyter.errors import KirinError, ValidationError, render
from tests.kernel.kernel_helpers import Execution, running_kernel

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def error_lines(execution: Execution) -> list[str]:
    """The lines the cell's error output shows, colours taken out."""
    [error] = execution.of_type("error")
    return ANSI.sub("", "\n".join(error["content"]["traceback"])).splitlines()


def test_a_failing_api_cell_shows_one_line_and_tb_shows_the_frames() -> None:
    with running_kernel() as kernel:
        kernel.run("import kirin_jupyter as kirin")
        failed = kernel.run('kirin.generate("a fox in the snow", n=99)')
        assert failed.reply["content"]["status"] == "error"
        assert failed.reply["content"]["ename"] == "ValidationError"
        lines = error_lines(failed)
        assert lines == ["ValidationError: n is 99; ask for between 1 and 9 images"], lines
        # The reply (what nbclient saves as the output) carries the same one line.
        reply = ANSI.sub("", "\n".join(failed.reply["content"]["traceback"]))
        assert reply.splitlines() == lines

        frames = error_lines(kernel.run("%tb"))
        text = "\n".join(frames)
        assert "kirin.generate(" in text  # the cell's own frame
        assert "client.py" in text and "request.py" in text, text  # the package's frames
        assert frames[-1] == lines[0]
        assert len(frames) > 10, frames

        # A task that fails at the service: job.wait() raises TaskFailed, one line too.
        kernel.run("from kirin_jupyter.simulator.service import Fault\n"
                   "kirin.default_client().simulator.add_fault("
                   "Fault('create', 'fail_task', code='002016095', times=1))")
        waited = kernel.run("kirin.generate('a fox', aspect_ratio='1:1').wait()")
        assert waited.reply["content"]["ename"] == "TaskFailed"
        [line] = error_lines(waited)
        assert line.startswith("TaskFailed: ") and "002016095" in line, line

def test_outside_ipython_the_plain_forms() -> None:
    try:
        raise ValidationError("a fox too many")
    except KirinError as exc:
        assert render(exc, full=False) == ["ValidationError: a fox too many"]
        full = "\n".join(render(exc, full=True))
        assert "Traceback (most recent call last)" in full and "raise ValidationError" in full
