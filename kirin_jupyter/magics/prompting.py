"""Prompt text from a cell: ``{name}`` interpolation and ``$var`` bodies, never ``eval``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHOLE_VAR = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


class PromptError(ValueError):
    """The prompt names a variable that does not hold text."""


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace ``{name}`` by a plain identifier's value; ``{{``/``}}`` give braces.

    Any other brace, and ``{name}`` for a name that is not defined, stays as typed.
    Only plain identifiers are looked up: no attribute access, indexing or calls.
    """

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        return str(namespace[name]) if name in namespace else token

    return _FIELD.sub(replace, text)


def prompt_from_cell(body: str, namespace: Mapping[str, Any]) -> str:
    """The cell body as a prompt: ``$var`` alone takes the prompt from that variable."""
    whole = _WHOLE_VAR.match(body.strip())
    if whole:
        name = whole.group(1)
        if name not in namespace:
            raise PromptError(f"${name}: no variable named {name!r}")
        value = namespace[name]
        if not isinstance(value, str):
            raise PromptError(f"${name} holds a {type(value).__name__}, not text")
        return value
    return interpolate(body, namespace)
