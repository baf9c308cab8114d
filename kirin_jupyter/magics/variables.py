"""``$name`` and ``$name[i]`` on a magic line, read one way for ``--image`` and for the
first word of ``show``, ``rerun`` and ``lineage``. ``[i]`` counts a result's images
everywhere (the pattern is ``lineage.VARIABLE``)."""

from __future__ import annotations

import os
import shlex
from typing import Any

from IPython.core.error import UsageError


def image_arg(value: str, namespace: dict[str, Any]) -> Any:
    """An ``--image`` value: ``$name``, or ``$job[2]`` (its third image), or as typed."""
    if value.startswith("$"):
        from ..lineage import variable_image

        return variable_image(value, namespace)
    return value


def named(command: str, rest: str, namespace: dict[str, Any]) -> str:
    """``$name`` or ``$name[i]`` as the first word of show, rerun and lineage: a path
    held in a variable, a job or result (its external id; its first file for rerun),
    or the i-th file of one. Anything else is left as typed."""
    first, _, tail = rest.strip().partition(" ")
    from ..lineage import VARIABLE, result_image

    found = VARIABLE.fullmatch(first)
    if found is None:
        return rest
    name, index = found[1], found[2]
    if name not in namespace:
        raise UsageError(f"%kirin {command}: no variable named {name!r}")
    from ..engine.job import Job, Result
    from ..errors import KirinError

    value = namespace[name]
    if isinstance(value, (str, os.PathLike)) and index is None:
        return f"{shlex.quote(os.fspath(value))} {tail}".strip()
    if isinstance(value, Job) and index is None and command != "rerun":
        return f"{value.external_task_id} {tail}".strip()
    result = value
    if isinstance(value, Job):
        if not value.done():
            raise UsageError(f"%kirin {command}: job {name!r} has not finished yet")
        try:
            result = value.wait(0)
        except KirinError as exc:
            raise UsageError(f"%kirin {command}: job {name!r} failed ({exc})") from None
    if not isinstance(result, Result):
        raise UsageError(f"%kirin {command}: {name!r} is a {type(value).__name__}; give "
                         "a path, a job or a result")
    if index is None and command != "rerun":
        return f"{result.external_task_id} {tail}".strip()
    try:  # [i] counts images, as --image $name[i] does
        path, _task = result_image(result, int(index or 0))
    except KirinError as exc:
        raise UsageError(f"%kirin {command}: {name!r}: {exc}") from None
    return f"{shlex.quote(str(path))} {tail}".strip()
