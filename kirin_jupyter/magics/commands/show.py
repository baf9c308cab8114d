"""``%kirin show TASK_ID`` (the journal's row) and ``%kirin show PATH`` (the generation
record saved inside a result file); ``$name`` and ``$name[i]`` name either."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from ...errors import ValidationError
from ...storage.shared_results import is_shared
from ..context import Context
from ..variables import named


def run(ctx: Context, rest: str) -> None:
    if not rest.split():
        raise UsageError("%kirin show: which job? usage: %kirin show TASK_ID")
    ident = named("show", rest, ctx.user_ns).strip()  # a task id, or a path (quoted)
    from ...display.history import HistoryView

    path = path_argument(ident)
    if path is not None:  # a result file: the record inside it
        show_record(path)
        return
    row = ctx.client().journal.find(ident)
    if row is None:
        raise UsageError(f"%kirin show: no job with task id or external id {ident!r}")
    display(HistoryView([row]))  # type: ignore[no-untyped-call]


def path_argument(text: str) -> Path | None:
    """The file a ``show``/``rerun``/``lineage`` argument names, if it names one (quotes
    allowed around a path with spaces)."""
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    if len(words) != 1:
        return None
    if is_shared(words[0]):  # a teammate's result in shared storage: fetched once
        from ...storage.shared_results import local_path

        path = local_path(words[0])
        return path if path.is_file() else None
    path = Path(words[0]).expanduser()
    try:
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


def record(path: Path, command: str) -> dict[str, Any]:
    """The record inside a result file; a file without one is one UsageError line."""
    from ...storage.file_provenance import provenance

    try:
        return provenance(path)
    except ValidationError as exc:
        raise UsageError(f"%kirin {command}: {exc}") from None


def show_record(path: Path) -> None:
    """The record inside a result file, as a card (text in a terminal)."""
    from ...display.provenance_views import RecordView

    view = RecordView(record(path, "show"), path)
    display(view)  # type: ignore[no-untyped-call]
