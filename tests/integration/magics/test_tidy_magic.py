"""``%kirin tidy``: ``kirin.tidy`` on the magic line (tests/unit/exporter/test_tidy.py
checks the repair itself)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter.exporter.tidy import widget_state_problems
from tests.unit.exporter.test_tidy import MODEL, notebook, write


def test_kirin_tidy_repairs_a_notebook_and_refuses_in_one_line(
        shell: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A quoted path with spaces, the widget switch, and a bad file or bad words as one
    UsageError line, the file unchanged."""
    path = write(tmp_path / "from colab.ipynb", notebook({"abc": MODEL}))
    assert widget_state_problems(json.loads(path.read_text())["metadata"]) != []
    shell.run_line_magic("kirin", f'tidy "{path}"')
    assert "from colab.ipynb: " in capsys.readouterr().out
    assert widget_state_problems(json.loads(path.read_text())["metadata"]) == []
    shell.run_line_magic("kirin", f'tidy "{path}" --drop-widgets')
    assert "widgets" not in json.loads(path.read_text())["metadata"]
    bad = tmp_path / "notes.ipynb"
    bad.write_text("not json")
    for line, words in [(f"tidy {bad}", "is not a notebook"),
                        ("tidy", "usage: %kirin tidy NOTEBOOK.ipynb"),
                        (f"tidy {bad} {bad}", "usage: %kirin tidy NOTEBOOK.ipynb"),
                        (f"tidy {bad} --drop-widgets --drop-widgets", "usage:")]:
        with pytest.raises(UsageError) as caught:
            shell.run_line_magic("kirin", line)
        assert words in str(caught.value) and "\n" not in str(caught.value), line
    assert bad.read_text() == "not json"
