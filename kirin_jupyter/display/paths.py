"""Paths as a saved output may show them: never the user's absolute paths.

A notebook is shared; what its outputs hold goes with it. So a file is named relative to
the working directory (the notebook's folder, where the kernel runs: the default output
folder ``kirin_outputs/`` is there), as ``~/…`` under the home folder, and elsewhere by
its place in the output folder (``…/<task>/01.png``). Links go only where a relative link
reaches: a file under the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

ELSEWHERE = "…"


def _under(path: Path, folder: Path) -> PurePath | None:
    try:
        return path.relative_to(folder)
    except ValueError:
        return None


def _folders(name: str) -> list[Path]:
    """A folder as written and as resolved (``/tmp`` may be a link): either may be the
    prefix of a path the kernel made."""
    try:
        folder = Path.cwd() if name == "cwd" else Path.home()
    except (OSError, RuntimeError, KeyError):
        return []
    found = [folder]
    try:
        resolved = folder.resolve()
    except OSError:
        return found
    return found if resolved == folder else [folder, resolved]


def shown_path(path: str | os.PathLike[str]) -> str:
    """'kirin_outputs/sim-1/01.png', '~/pictures/cat.png' or '…/sim-1/01.png'."""
    given = Path(path)
    if not given.is_absolute():
        return given.as_posix()
    for folder in _folders("cwd"):
        inside = _under(given, folder)
        if inside is not None:
            return inside.as_posix() or "."
    for folder in _folders("home"):
        inside = _under(given, folder)
        if inside is not None:
            return f"~/{inside.as_posix()}"
    tail = given.parts[-2:] if len(given.parts) > 2 else given.parts[-1:]
    return f"{ELSEWHERE}/{'/'.join(tail)}"


def link(path: str | os.PathLike[str]) -> str | None:
    """A relative link to the file (JupyterLab opens it beside the notebook), or None
    where none would reach it: a file outside the working directory."""
    shown = shown_path(path)
    return None if shown.startswith(("~/", ELSEWHERE)) else shown
