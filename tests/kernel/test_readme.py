"""The README's examples run as pasted: its code blocks, read from README.md itself,
executed as cells in a real kernel on the built-in simulator. The first example saves the
images it asks for; every other block, pasted as one cell, ends on a line that shows
something (a card, a grid, a value), not on an assignment or a tuple.

So the front door cannot drift from the code: renaming an option, or an example that needs
a file nobody has, fails here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.conftest import ROOT
from tests.kernel.kernel_helpers import Execution, running_kernel

README = ROOT / "README.md"
SECTION = "## First example"


def first_example_cells(text: str) -> list[str]:
    """The ```python blocks of the README's first-example section, in order."""
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n## ", start)
    section = text[start:] if end < 0 else text[start:end]
    return [block.strip() for block in re.findall(r"```python\n(.*?)```", section, re.S)]


def later_blocks(text: str) -> list[str]:
    """The ```python blocks after the first-example section (the API, batches, sweeps,
    provenance, compare), in order."""
    start = text.index(SECTION) + len(SECTION)
    after = text[text.find("\n## ", start):]
    return [block.strip() for block in re.findall(r"```python\n(.*?)```", after, re.S)]


def _problems(execution: Execution) -> list[str]:
    """What a reader would see go wrong: an error reply, a traceback, text on stderr."""
    found = []
    if execution.reply["content"]["status"] != "ok":
        content = execution.reply["content"]
        found.append(f"{content.get('ename')}: {content.get('evalue')}")
    found += [m["content"]["text"] for m in execution.of_type("stream")
              if m["content"]["name"] == "stderr"]
    return found


def test_readme_has_a_first_example_with_the_magic() -> None:
    cells = first_example_cells(README.read_text(encoding="utf-8"))
    assert cells[0] == "%load_ext kirin_jupyter"
    assert any(cell.startswith("%%kirin") for cell in cells)
    assert "photo.jpg" not in "\n".join(cells)  # a file a newcomer does not have


def test_readme_first_example_runs_as_pasted(tmp_path: Path) -> None:
    cells = first_example_cells(README.read_text(encoding="utf-8"))
    env = dict(os.environ)  # the test's own KIRIN_HOME, no key, no base URL: the simulator
    env.pop("KIRIN_OUTPUT_DIR", None)  # the default, ./kirin_outputs, as a newcomer has it
    with running_kernel(env=env, cwd=str(tmp_path)) as kernel:
        for cell in cells:
            execution = kernel.run(cell, timeout=90)
            assert not _problems(execution), f"README cell failed: {cell!r}: {_problems(execution)}"
        done = kernel.run("%kirin wait", timeout=90)
        assert not _problems(done)
        said = "".join(m["content"]["text"] for m in done.of_type("stream"))
        assert "0 failed" in said, said
        jobs = kernel.run("print(len(_kirin.request.images), _kirin.status)", timeout=30)
        printed = "".join(m["content"]["text"] for m in jobs.of_type("stream"))

    outputs = tmp_path / "kirin_outputs"
    images = sorted(outputs.glob("*/*.png"))
    magics = [cell for cell in cells if cell.startswith("%%kirin")]
    asked = sum(int(m.group(1)) if (m := re.search(r"-n (\d)", cell.split("\n")[0])) else 1
                for cell in magics)
    assert len(images) == asked, f"expected {asked} images, found {images}"
    assert len({image.parent for image in images}) == len(magics)  # one folder per task
    if "--image" in magics[-1]:  # the last cell used an earlier result as its reference
        assert printed.split() == ["1", "completed"], printed


def test_each_later_readme_block_shows_something_when_pasted_as_one_cell(
        tmp_path: Path) -> None:
    blocks = later_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 5, blocks
    env = dict(os.environ)  # the simulator, as above
    env.pop("KIRIN_OUTPUT_DIR", None)
    with running_kernel(env=env, cwd=str(tmp_path)) as kernel:
        for block in blocks:
            execution = kernel.run(block, timeout=90)
            assert not _problems(execution), f"README block failed: {block!r}: " \
                f"{_problems(execution)}"
            last = block.splitlines()[-1]
            shown = execution.of_type("execute_result") + execution.of_type("display_data")
            assert shown, f"the last line shows nothing: {last!r}"
            data = shown[-1]["content"]["data"]
            assert "text/html" in data or "image/png" in data or \
                data.get("text/plain", "").strip("'\"()[], "), (last, data)
