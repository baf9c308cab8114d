"""``kirin.tidy(path)``: a notebook saved elsewhere (Colab's widget state has no ``state``
key) is repaired so that GitHub renders it, and passes ``nbformat.validate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from kirin_jupyter.errors import ValidationError
from kirin_jupyter.exporter.tidy import (
    WIDGET_STATE,
    WIDGET_VIEW,
    tidy,
    widget_state_problems,
)

MODEL = {"model_name": "HTMLModel", "model_module": "@jupyter-widgets/controls",
         "model_module_version": "2.0.0", "state": {"value": "<b>card</b>"}}


def notebook(widgets: Any, *, view: bool = True) -> dict[str, Any]:
    """A notebook as Colab saves one: a widget view beside its HTML picture."""
    data: dict[str, Any] = {"text/plain": "HTML(value='<b>card</b>')",
                            "text/html": "<b>card</b>"}
    if view:
        data[WIDGET_VIEW] = {"version_major": 2, "version_minor": 0, "model_id": "abc"}
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("w", outputs=[
        nbformat.v4.new_output("display_data", data=data)])]
    as_json: dict[str, Any] = json.loads(nbformat.writes(nb))
    if widgets is not None:
        as_json["metadata"]["widgets"] = widgets
    return as_json


def write(path: Path, nb: dict[str, Any]) -> Path:
    path.write_text(json.dumps(nb))
    return path


def test_a_colab_widget_state_is_wrapped_in_the_state_key_github_requires(
        tmp_path: Path) -> None:
    colab = {WIDGET_STATE: {"abc": MODEL, "bad": {"model_name": 3}}}
    path = write(tmp_path / "colab.ipynb", notebook(colab))
    before = nbformat.read(path, as_version=4)
    assert widget_state_problems(before.metadata)[0] == \
        "the 'state' key is missing from 'metadata.widgets'"

    report = tidy(path)

    after = nbformat.read(path, as_version=4)
    nbformat.validate(after)
    assert widget_state_problems(after.metadata) == []
    saved = after.metadata["widgets"][WIDGET_STATE]
    assert saved == {"version_major": 2, "version_minor": 0, "state": {"abc": MODEL}}
    assert str(report) == ("colab.ipynb: dropped 1 malformed widget model(s); wrapped 1 "
                           "widget model(s) in the 'state' key GitHub requires")
    assert after.cells == before.cells  # outputs untouched


def test_drop_saves_no_widget_state_and_shows_each_views_picture(tmp_path: Path) -> None:
    path = write(tmp_path / "n.ipynb", notebook({WIDGET_STATE: {"abc": MODEL}}))
    report = tidy(path, widgets="drop")
    after = nbformat.read(path, as_version=4)
    nbformat.validate(after)
    assert "widgets" not in after.metadata
    [output] = after.cells[0].outputs
    assert set(output["data"]) == {"text/plain", "text/html"}
    assert "1 widget view(s) now show their saved picture" in str(report)


def test_a_tidy_notebook_is_left_byte_for_byte(tmp_path: Path) -> None:
    good = {WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": {"abc": MODEL}}}
    path = write(tmp_path / "n.ipynb", notebook(good))
    before = path.read_bytes()
    assert str(tidy(path)) == "n.ipynb: already renders on GitHub and nbviewer; unchanged"
    assert path.read_bytes() == before


@pytest.mark.parametrize("content, words", [
    (b"{not json", "n.ipynb is not a notebook: "),
    (b'{"cells": 3, "nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
     "n.ipynb is not a valid notebook, left unchanged: "),
])
def test_a_file_that_is_not_a_notebook_is_one_line_and_left_as_it_was(
        tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "n.ipynb"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as caught:
        tidy(path)
    assert str(caught.value).startswith(words) and "\n" not in str(caught.value)
    assert path.read_bytes() == content


def test_tidy_refuses_an_unknown_mode_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="widgets must be 'repair' or 'drop'"):
        tidy(tmp_path / "n.ipynb", widgets="keep")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="notebook not found: "):
        tidy(tmp_path / "missing.ipynb")


def test_the_package_face_offers_tidy() -> None:
    import kirin_jupyter as kirin

    assert kirin.tidy is tidy
