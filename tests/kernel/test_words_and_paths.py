"""A result shown in a real kernel's notebook names no absolute path."""

from __future__ import annotations

import re
from pathlib import Path


def test_a_result_shown_in_a_notebook_names_no_absolute_path(tmp_path: Path) -> None:
    """A Result as a cell's value (the card with buttons on its pictures, then its static
    copy): the copy's plain text (saved with the notebook beside the card) is the card's
    text form, not the dataclass repr with the absolute paths, and the widget's output
    says nothing of its own."""
    from tests.kernel.kernel_helpers import running_kernel

    with running_kernel() as kernel:  # KIRIN_OUTPUT_DIR is absolute here (conftest)
        shown = kernel.run("import kirin_jupyter\nkirin_jupyter.generate('a fox').wait(30)")
        widget, copy = (m["content"]["data"] for m in shown.of_type("display_data"))
        assert widget["text/plain"] == "" and "text/html" not in widget
        text = copy["text/plain"]
        html = copy["text/html"]
        assert "1 result" in text and "…/sim-" in text and "01.png" in text
        for data in (text, re.sub(r"data:image/jpeg;base64,[A-Za-z0-9+/=]+", "", html)):
            assert str(tmp_path) not in data and str(Path.home()) + "/" not in data
