"""Words, numbers and paths a reader sees (issue 22, D6 and D8): one money format, counts
that fit what they count, a gallery that says which picture answers which prompt, errors
titled by the magic typed, and no absolute path in what a notebook saves.

The notebooks themselves are executed and searched for absolute paths in
tests/kernel/test_notebooks.py.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

from kirin_jupyter.base.money import usd
from kirin_jupyter.display import paths, static
from kirin_jupyter.display.history import history_html, history_text
from kirin_jupyter.display.paths import link, shown_path
from kirin_jupyter.display.provenance_views import LineageView, RecordView
from kirin_jupyter.engine.job import Result
from kirin_jupyter.lineage import Node
from kirin_jupyter.model.quote import Quote

# -- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "shown"), [
    (Decimal("0"), "$0.00"), (Decimal("0.04"), "$0.04"), (Decimal("1.2"), "$1.20"),
    (Decimal("0.035"), "$0.035"), (Decimal("0.0350"), "$0.035"), (Decimal("0E-8"), "$0.00"),
    (Decimal("12"), "$12.00"), ("0.16", "$0.16"), (0, "$0.00"),
])
def test_one_money_format(value: Any, shown: str) -> None:
    assert usd(value) == shown


def test_money_reads_the_same_on_every_path(tmp_path: Path) -> None:
    """The card, the history, the record, a quote: "$0.00" beside "$0.04", never "$0"."""
    assert Quote(Decimal("0"), source="service").describe() == \
        "about $0.00 (quoted by the service)"
    image = tmp_path / "01.png"
    Image.new("RGB", (32, 32)).save(image)
    result = Result(task_id="sim-1", external_task_id="x", model="kirin_image_omni",
                    prompt="a fox", paths=[image], urls=[""], types=["image"], simulated=True,
                    options={}, finished_at=1_790_000_000.0, cost=Decimal("0"))
    assert "cost $0.00" in static.result_html(result)
    assert "cost $0.00" in static.result_text(result)
    row = {"status": "completed", "prompt": "a fox", "task_id": "sim-1", "created_at": 1.0,
           "cost": "0", "model": "kirin_image_omni", "request": "{}", "paths": "[]"}
    assert ">$0.00<" in history_html([row]) and "$0.00" in history_text([row])
    record = {"model": "kirin_image_omni", "prompt": "a fox", "cost": "0.1", "image": 1,
              "images": 1}
    assert "$0.10" in RecordView(record, image).text()


def test_shell_spend_uses_the_money_format(shell: InteractiveShell,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_cell_magic("kirin", "--wait", "a fox")
    capsys.readouterr()
    shell.run_line_magic("kirin", "jobs")
    out = capsys.readouterr().out
    assert re.search(r"session spend: \$\d+\.\d\d\b", out), out
    assert "$0.04" in out


# -- a batch's words ----------------------------------------------------------------------------




# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "cell", "message"), [
    ("--bogus", "a fox", "%%kirin: unrecognized arguments: --bogus"),
    ("-n 99", "a fox", "%%kirin: "),
    ("--image $nope", "a fox", "%%kirin: --image $nope: no variable named 'nope'"),
    ("--timeout soon", "a fox", "%%kirin: "),
    ("", "$nope", "%%kirin: $nope: no variable named 'nope'"),
])
def test_cell_magic_errors_are_titled_by_the_cell_magic(
        shell: InteractiveShell, line: str, cell: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        shell.run_cell_magic("kirin", line, cell)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert not str(caught.value).startswith("%%%")
    with pytest.raises(UsageError) as caught:  # the line magic keeps its own name
        shell.run_line_magic("kirin", f"{line} {cell}")
    assert str(caught.value).startswith("%kirin")
    assert not str(caught.value).startswith("%%")


# -- paths --------------------------------------------------------------------------------------


def test_paths_are_shown_relative_to_the_notebook_the_home_or_the_output_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, work = tmp_path / "home" / "ann", tmp_path / "home" / "ann" / "project"
    work.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    inside = work / "kirin_outputs" / "sim-1" / "01.png"
    assert shown_path(inside) == "kirin_outputs/sim-1/01.png" == link(inside)
    assert shown_path("kirin_outputs/sim-1/01.png") == "kirin_outputs/sim-1/01.png"
    assert shown_path(home / "pictures" / "cat.png") == "~/pictures/cat.png"
    assert link(home / "pictures" / "cat.png") is None  # no relative link reaches it
    elsewhere = Path("/srv/kirin/sim-2/02.png")
    assert shown_path(elsewhere) == "…/sim-2/02.png" and link(elsewhere) is None
    assert str(tmp_path) not in shown_path(home / "x.png")


def test_saved_views_carry_no_absolute_path(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The card (text and tooltips), the history tooltips, the record, the lineage and the
    batch tiles, for files under the home folder and outside it (issue 22, D8)."""
    home = tmp_path / "home" / "ann"
    work = home / "notebooks"
    work.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    files = []
    for folder in (home / "kirin-images" / "sim-1", tmp_path / "elsewhere" / "sim-2"):
        folder.mkdir(parents=True)
        image = folder / "01.png"
        Image.new("RGB", (32, 32), (200, 10, 10)).save(image)
        files.append(image)
    result = Result(task_id="sim-1", external_task_id="x", model="kirin_image_omni",
                    prompt="a fox", paths=files, urls=["", ""], types=["image", "image"],
                    simulated=True, options={}, finished_at=1_790_000_000.0)
    row = {"status": "completed", "prompt": "a fox", "task_id": "sim-1", "created_at": 1.0,
           "cost": "0.04", "model": "kirin_image_omni", "request": "{}",
           "paths": f'["{files[0]}", "{files[1]}"]'}
    nodes = [Node("sim-1", "a fox", "omni", tuple(files), ()),
             Node("sim-2", "a fox at night", "omni", (files[1],), ("sim-1",))]
    shown = [static.result_html(result), static.result_text(result), history_html([row]),
             RecordView({"prompt": "a fox"}, files[0]).html(),
             RecordView({"prompt": "a fox"}, files[1]).text(),
             LineageView(nodes).html(), LineageView(nodes).text()]
    for text in shown:
        text = re.sub(r"data:image/jpeg;base64,[A-Za-z0-9+/=]+", "", text)
        assert str(tmp_path) not in text and str(home) not in text, text
    assert "~/kirin-images/sim-1/01.png" in shown[1] and "…/sim-2/01.png" in shown[1]
    assert 'href="' not in shown[0]  # no link where none would reach the file
    assert os.path.isabs(str(files[0])) and paths.ELSEWHERE == "…"


