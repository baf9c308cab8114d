"""``%kirin show``, ``rerun`` and ``lineage`` take a variable: ``$path``, ``$job``,
``$job[i]`` (a notebook has its paths and jobs in variables, not typed out)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

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
    ("rerun $fox[5]", "has 1 image(s); [5] is not one of them"),
    ("rerun $fox[-2]", "has 1 image(s); [-2] is not one of them"),
])
def test_a_bad_variable_is_one_line(shell: InteractiveShell, line: str, message: str,
                                    tmp_path: Path) -> None:
    shell.run_cell_magic("kirin", "fox --wait", "a fox")
    shell.user_ns["number"] = 3
    with pytest.raises(UsageError, match=re.escape(message)):
        shell.run_line_magic("kirin", line)


def test_name_index_counts_images_for_image_show_rerun_and_lineage(
        shell: InteractiveShell, html_out: Any, tmp_path: Path) -> None:
    """``$r[0]`` is the first image everywhere: ``%kirin show $r[0]`` counted every file
    (a video first made it the video), ``--image $r[0]`` counted images."""
    from kirin_jupyter.engine.job import Result
    from kirin_jupyter.lineage import resolve_images, variable_image
    from kirin_jupyter.storage.file_provenance import embed

    video = tmp_path / "01.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    picture = tmp_path / "02.png"
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (20, 90, 200)).save(buffer, format="PNG")
    picture.write_bytes(embed(buffer.getvalue(), {"kirin_record": 1, "prompt": "a fox",
                                                  "task_id": "t-picture"}))
    shell.user_ns["r"] = Result("t-picture", "kj-r", "kirin_image_omni", "a fox",
                                [video, picture], ["url-1", "url-2"], types=["video", "image"])
    [reference] = resolve_images([variable_image("$r[0]", shell.user_ns)], None, fit=False)
    assert reference.label == "t-picture/02.png"
    shell.run_line_magic("kirin", "show $r[0]")  # the same file: its record, no video error
    assert "t-picture" in html_out[-1] and "02.png" in html_out[-1]
