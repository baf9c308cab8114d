"""Where a finished ``kirin_custom_elements`` task names its new element id.

No page says (gateway-facts.md: UNKNOWN), so every plausible place is read, in this
order: an output content item's ``element_id``, then its ``id`` (only when it is a whole
number), a top-level ``element_id``, and ``task_result.elements[].element_id`` (where
upstream Kling puts it). Ids are 64-bit: read exactly (``model.elements.exact_id``), never
through a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model.elements import exact_id


def _task_object(payload: Any) -> Mapping[str, Any] | None:
    """The task, from ``{...}`` or ``{"data": {...}}`` (as ``responses._unwrap`` reads)."""
    if isinstance(payload, list) and len(payload) == 1:
        payload = payload[0]
    if not isinstance(payload, Mapping):
        return None
    data = payload.get("data")
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    return data if isinstance(data, Mapping) else payload


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [value]
    return value if isinstance(value, list) else []


def find_element_id(payload: Any) -> int | None:
    """The element id a finished task's answer names, or None when it names none."""
    task = _task_object(payload)
    if task is None:
        return None
    for block in _as_list(task.get("output")):
        contents = block.get("content") if isinstance(block, Mapping) else None
        for item in _as_list(contents):
            if not isinstance(item, Mapping):
                continue
            found = exact_id(item.get("element_id"))
            if found is None and isinstance(item.get("id"), (int, str)):
                found = exact_id(item.get("id"))
            if found is not None:
                return found
    found = exact_id(task.get("element_id"))
    if found is not None:
        return found
    result = task.get("task_result")
    if isinstance(result, Mapping):
        for item in _as_list(result.get("elements")):
            if isinstance(item, Mapping):
                found = exact_id(item.get("element_id"))
                if found is not None:
                    return found
    return None


def answer_keys(payload: Any, limit: int = 12) -> str:
    """The answer's keys, for the one-line error when no id was found: the top level, and
    one level into ``data``, ``output`` and ``task_result``."""
    task = _task_object(payload)
    if task is None:
        return f"not an object ({type(payload).__name__})"
    names: list[str] = []
    for key, value in list(task.items())[:limit]:
        inner: list[str] = []
        if isinstance(value, Mapping):
            inner = [str(k)[:24] for k in list(value)[:6]]
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            inner = [str(k)[:24] for k in list(value[0])[:6]]
        names.append(f"{str(key)[:24]}" + (f"{{{', '.join(inner)}}}" if inner else ""))
    more = ", …" if len(task) > limit else ""
    return ", ".join(names) + more
