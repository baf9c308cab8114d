"""Make a saved notebook one that GitHub and nbviewer render: ``kirin.tidy(path)``.

GitHub refuses to render a whole notebook whose ``metadata.widgets`` lacks the ``state``
key of the widget-state format (version 2: ``version_major``, ``version_minor``,
``state``). Colab, and some older front ends, save the models without that wrapper. What a
reader without a kernel can use of widget state is little: nbviewer can redraw a widget
from it, GitHub cannot at all, and kirin-jupyter's own cards already leave static HTML
where a live widget stood. So ``tidy`` repairs what can be repaired (the models are
wrapped in the format GitHub expects) and drops what cannot (a model that is not a model),
or, with ``widgets="drop"``, drops all widget state and every widget view whose output has
another picture to show instead. The notebook file is replaced in one step, never left
half written, and it passes ``nbformat.validate``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..base.user_files import read_user_file
from ..errors import ValidationError

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# A notebook larger than this is not read (a notebook of 50 cards is about 1 MB).
MAX_NOTEBOOK_BYTES = 512 * 1024 * 1024
WidgetMode = Literal["repair", "drop"]


@dataclass
class TidyReport:
    """What ``tidy`` changed in one notebook (nothing when already tidy)."""

    path: Path
    changes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.changes:
            return f"{self.path.name}: already renders on GitHub and nbviewer; unchanged"
        return f"{self.path.name}: " + "; ".join(self.changes)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def widget_state_problems(metadata: Mapping[str, Any]) -> list[str]:
    """Why a notebook's ``metadata.widgets`` would stop GitHub from rendering it (empty
    when it would not): the widget-state format, version 2, checked by hand."""
    widgets = metadata.get("widgets")
    if widgets is None:
        return []
    if not isinstance(widgets, dict):
        return ["metadata.widgets is not an object"]
    saved = widgets.get(WIDGET_STATE)
    if saved is None:
        return [] if not widgets else [f"metadata.widgets has no {WIDGET_STATE!r} entry"]
    if not isinstance(saved, dict):
        return ["the widget state is not an object"]
    problems = []
    if "state" not in saved:
        problems.append("the 'state' key is missing from 'metadata.widgets'")
    elif not isinstance(saved["state"], dict):
        problems.append("the widget state's 'state' is not an object")
    else:
        problems += [f"widget model {key} is malformed" for key, model in
                     saved["state"].items() if not _is_model(model)]
    if saved.get("version_major") != 2 or not isinstance(saved.get("version_minor"), int):
        problems.append("the widget state is not version 2.x")
    return problems


def tidy(path: str | os.PathLike[str], *, widgets: WidgetMode = "repair") -> TidyReport:
    """Repair a saved notebook in place so that GitHub and nbviewer render it.

    ``widgets="repair"`` wraps widget models saved without the format's ``state`` key
    (as Colab saves them) and drops entries that are not models; ``widgets="drop"`` saves
    no widget state at all, and a widget view whose output also carries HTML, an image or
    text shows that instead. Raises ``ValidationError`` (one line) for a file that is not a
    notebook; the file is then left as it was.
    """
    import nbformat

    if widgets not in ("repair", "drop"):
        raise ValidationError(f"widgets must be 'repair' or 'drop', not {widgets!r}")
    source = Path(path).expanduser()
    raw = read_user_file(source, MAX_NOTEBOOK_BYTES, "notebook")
    try:
        text = raw.decode("utf-8")
        json.loads(text)
    except ValueError as exc:  # bad UTF-8, bad JSON
        raise ValidationError(f"{source.name} is not a notebook: {_first_line(exc)}") from None
    try:  # nbformat's reader trips over some shapes before its validator sees them
        nb = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValidationError(f"{source.name} is not a valid notebook, left unchanged: "
                              f"{_first_line(exc)}") from None
    report = TidyReport(source)
    if widgets == "drop":
        _drop_widgets(nb, report)
    else:
        _repair_widgets(nb, report)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise ValidationError(f"{source.name} is not a valid notebook, left unchanged: "
                              f"{_first_line(exc)}") from None
    left = widget_state_problems(nb.metadata)
    if left:  # only a bug here could leave one; never write a file that still fails
        raise ValidationError(f"{source.name}: {left[0]}; left unchanged")
    if report.changes:
        _replace(source, nbformat.writes(nb) + "\n")  # type: ignore[no-untyped-call]
    return report


def _repair_widgets(nb: Any, report: TidyReport) -> None:
    widgets = nb.metadata.get("widgets")
    if widgets is None or not widget_state_problems(nb.metadata):
        return
    saved = widgets.get(WIDGET_STATE) if isinstance(widgets, dict) else None
    if not isinstance(saved, dict):
        del nb.metadata["widgets"]
        report.changes.append("dropped widget state that was not an object")
        return
    models: dict[str, Any]
    if "state" in saved:  # the format's wrapper, whatever it holds
        models = saved["state"] if isinstance(saved["state"], dict) else {}
    else:  # Colab's shape: the models themselves, by id
        models = {k: v for k, v in saved.items() if k not in ("version_major", "version_minor")}
    kept = {key: model for key, model in models.items() if _is_model(model)}
    if len(kept) < len(models):
        report.changes.append(f"dropped {len(models) - len(kept)} malformed widget model(s)")
    if "state" not in saved:
        report.changes.append(f"wrapped {len(kept)} widget model(s) in the 'state' key "
                              "GitHub requires")
    elif saved.get("version_major") != 2 or not isinstance(saved.get("version_minor"), int):
        report.changes.append("set the widget state's version to 2.0")
    nb.metadata["widgets"] = {WIDGET_STATE: {"version_major": 2, "version_minor": 0,
                                             "state": kept}}


def _drop_widgets(nb: Any, report: TidyReport) -> None:
    if "widgets" in nb.metadata:
        del nb.metadata["widgets"]
        report.changes.append("dropped the saved widget state")
    replaced = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if isinstance(data, dict) and WIDGET_VIEW in data and len(data) > 1:
                del data[WIDGET_VIEW]
                replaced += 1
    if replaced:
        report.changes.append(f"{replaced} widget view(s) now show their saved picture")


def _is_model(model: object) -> bool:
    return (isinstance(model, dict) and isinstance(model.get("model_name"), str)
            and isinstance(model.get("model_module"), str)
            and isinstance(model.get("state"), dict))


def _replace(path: Path, text: str) -> None:
    """Write beside the file and rename over it: a crash leaves the old notebook whole."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else exc.__class__.__name__

