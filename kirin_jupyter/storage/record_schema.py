"""What a kirin record inside an image file must look like before anything uses it.

A record comes from a file, and a file may come from anyone (or from a hostile service
that wrote it into the image): every field a reader touches is checked for its type here,
once, so the views, ``rerun`` and ``lineage`` never meet a list where an object belongs.
Fields this version does not know are kept as they are.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import ValidationError

MAX_RECORD_CHARS = 1_000_000  # a real record is a few kB
_MAX_DEPTH = 32  # a real record nests 4 deep


class DamagedRecord(ValidationError):
    """A file carries a kirin record that cannot be used (bad JSON, wrong types)."""


_TEXT = (str,)
_TEXT_OR_NONE = (str, type(None))
_INT = (int,)
# field -> the types it may have; a field left out is fine (older records lack some).
_FIELDS: dict[str, tuple[type, ...]] = {
    "kirin_record": _INT, "model": _TEXT, "prompt": _TEXT,
    "negative_prompt": _TEXT_OR_NONE, "options": (dict,), "task_id": _TEXT_OR_NONE,
    "external_task_id": _TEXT_OR_NONE, "cost": _TEXT_OR_NONE,
    "created_at": _TEXT_OR_NONE, "finished_at": _TEXT_OR_NONE, "references": (list,),
    "parents": (list,), "image": _INT, "images": _INT, "simulated": (bool,),
    "version": _TEXT_OR_NONE, "provenance": _TEXT, "service": _TEXT_OR_NONE,
}
_REFERENCE: dict[str, tuple[type, ...]] = {
    "label": _TEXT, "sha256": _TEXT, "url": (bool,), "parent_task_id": _TEXT_OR_NONE,
    "uploaded_url": _TEXT,  # where it was uploaded (service/uploads.py), without query
}


def parse_record(text: str) -> dict[str, Any]:
    """The record in ``text`` (JSON), checked; ``DamagedRecord`` (one line) otherwise."""
    if len(text) > MAX_RECORD_CHARS:
        raise DamagedRecord(f"this file's record is damaged: {len(text):,} characters, "
                            f"more than a record can be ({MAX_RECORD_CHARS:,})")
    if _depth(text) > _MAX_DEPTH:
        raise DamagedRecord("this file's record is damaged: nested deeper than a record is")
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        raise DamagedRecord("this file's record is damaged: it is not JSON") from None
    return check_record(record)


def check_record(record: Any) -> dict[str, Any]:
    """``record`` when every known field has its type; ``DamagedRecord`` otherwise."""
    if not isinstance(record, dict):
        raise DamagedRecord("this file's record is damaged: it is not a JSON object")
    for name, kinds in _FIELDS.items():
        if name in record and not _is(record[name], kinds):
            raise DamagedRecord(f"this file's record is damaged: {name!r} is "
                                f"{_what(record[name])}, not {_names(kinds)}")
    for index, ref in enumerate(record.get("references") or []):
        if not isinstance(ref, dict):
            raise DamagedRecord(f"this file's record is damaged: reference {index + 1} is "
                                f"{_what(ref)}, not an object")
        for name, kinds in _REFERENCE.items():
            if name in ref and not _is(ref[name], kinds):
                raise DamagedRecord(f"this file's record is damaged: reference "
                                    f"{index + 1}'s {name!r} is {_what(ref[name])}")
    for parent in record.get("parents") or []:
        if not isinstance(parent, str):
            raise DamagedRecord("this file's record is damaged: a parent task id is "
                                f"{_what(parent)}, not text")
    return record


def _is(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in kinds:
        return False  # True is an int to Python, never a count to a record
    return isinstance(value, kinds)


def _depth(text: str) -> int:
    """How deep the JSON's brackets nest (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > _MAX_DEPTH:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _what(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false",
            int: "a number", float: "a number", type(None): "null"}.get(type(value),
                                                                        type(value).__name__)


def _names(kinds: tuple[type, ...]) -> str:
    return " or ".join(_what(kind()) if kind is not type(None) else "null" for kind in kinds)
