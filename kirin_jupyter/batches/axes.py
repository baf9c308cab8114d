"""What a sweep varies: its axes (prompt alternatives, options given as lists) and every
combination of them (its cells), in plan order. Pure: no client, nothing sent.

Prompt alternatives are ``{a|b}`` groups: a brace group with a ``|`` at its own level
(groups nest: ``{small|big {red|blue}}`` is three alternatives). Any other brace stays as
typed: ``{name}`` (which the magic fills from a variable after the expansion), a lone
``{``, and ``{{`` / ``}}`` (the magic's literal braces). In a sweep's prompt, ``\\{``,
``\\}`` and ``\\|`` are literal characters (for a prompt whose ``{name}`` is filled
afterwards, ``template=True``, an escaped brace comes out doubled, so it stays literal).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from ..model import spec

# Options whose value is already a list: a list of lists sweeps them.
LIST_VALUED = ("images", "elements")
MAX_CELLS = 256  # the default of max_sweep_cells: a grid bigger is a batch, not a comparison
TITLE_CHARS = 40  # an axis named by its values: "red / arctic"
_ESCAPED = "{}|"


@dataclass(frozen=True)
class Axis:
    """One thing that varies: an option (``option`` names it) or a prompt group."""

    name: str  # the option's name ("model"), or the prompt group as typed ("{red|blue}")
    values: tuple[Any, ...]
    labels: tuple[str, ...]
    option: str | None = None  # None: a prompt group

    @property
    def title(self) -> str:
        """What a person reads for the axis: an option's name ("aspect ratio"), or a prompt
        group's values ("red / arctic"), never the template's braces."""
        if self.option is not None:
            return self.option.replace("_", " ")
        shown = " / ".join(self.labels)
        return shown if len(shown) <= TITLE_CHARS else shown[:TITLE_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True)
class Cell:
    """One combination: its prompt and options, and which value of each axis it took."""

    index: int
    choice: tuple[int, ...]
    prompt: str
    options: dict[str, Any] = field(hash=False)
    labels: tuple[str, ...] = ()

    def describe(self, axes: list[Axis]) -> str:
        """'model=omni, n=2, red': names the cell in errors (a label that already names its
        option, 'n=2', is not named twice; a prompt group's value names itself)."""
        return ", ".join(label if axis.option is None or label.startswith(f"{axis.name}=")
                         else f"{axis.name}={label}"
                         for axis, label in zip(axes, self.labels, strict=True))


@dataclass(frozen=True)
class _Group:
    source: str  # as typed, with its braces
    choices: tuple[str, ...]  # each alternative, its own groups expanded


@dataclass(frozen=True)
class _Node:
    """A parsed ``{a|b}`` group, not expanded: each alternative as its segments."""

    source: str
    parts: tuple[tuple[str | _Node, ...], ...]


def _unescaped(text: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """Each character of ``text`` from ``start`` with its index, skipping escaped ones."""
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPED:
            index += 2
            continue
        yield index, char
        index += 1


def _pairs(text: str) -> dict[int, int]:
    """Each ``{``'s matching ``}``, in one pass (escapes skipped); a ``{`` never closed,
    or a ``}`` never opened, has no pair. Looking for each ``{``'s match anew took
    quadratic time: 45 s for a prompt of unbalanced braces."""
    pairs: dict[int, int] = {}
    opened: list[int] = []
    for index, char in _unescaped(text):
        if char == "{":
            opened.append(index)
        elif char == "}" and opened:
            pairs[opened.pop()] = index
    return pairs


def _split_top(text: str) -> list[str]:
    """``text`` cut at each ``|`` outside nested braces (escapes skipped)."""
    parts, depth, start = [], 0, 0
    for index, char in _unescaped(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
        elif char == "|" and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _parse(text: str, *, top: bool = True, template: bool = False) -> list[str | _Node]:
    """Literal text (escapes read) and alternative groups, in order, nothing expanded.
    At the top level, ``{{`` and ``}}`` stay as typed (the magic turns them into single
    braces later), and with ``template`` an escaped brace is written doubled for the same
    reason."""
    pairs = _pairs(text)
    out: list[str | _Node] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPED:
            escaped = text[index + 1]
            literal.append(escaped * 2 if template and escaped in "{}" else escaped)
            index += 2
            continue
        if top and text.startswith(("{{", "}}"), index):
            literal.append(text[index:index + 2])
            index += 2
            continue
        if char == "{" and index in pairs:
            end = pairs[index]
            parts = _split_top(text[index + 1:end])
            if len(parts) > 1:
                if literal:
                    out.append("".join(literal))
                    literal = []
                out.append(_Node(text[index:end + 1], tuple(
                    tuple(_parse(part, top=False, template=template)) for part in parts)))
                index = end + 1
                continue
        literal.append(char)  # any other brace is text (its inside is read on)
        index += 1
    if literal:
        out.append("".join(literal))
    return out


def _count(segments: tuple[str | _Node, ...] | list[str | _Node], cap: int) -> int:
    """How many texts ``segments`` stand for, counted from the grammar without expanding
    anything, and never past ``cap + 1`` (so a count of 10**100 costs nothing)."""
    total = 1
    for segment in segments:
        if isinstance(segment, _Node):
            total = min(cap + 1, total * _choices(segment, cap))
    return total


def _choices(node: _Node, cap: int) -> int:
    return min(cap + 1, sum(_count(part, cap) for part in node.parts))


def _expand(segments: tuple[str | _Node, ...] | list[str | _Node]) -> list[str]:
    pools = [[s] if isinstance(s, str) else
             [c for part in s.parts for c in _expand(part)] for s in segments]
    return ["".join(parts) for parts in itertools.product(*pools)] if pools else [""]


def _segments(text: str, *, top: bool = True, template: bool = False,
              cap: int | None = None) -> list[str | _Group]:
    """The top-level segments with each group's alternatives expanded; with ``cap``,
    ``ValidationError`` first when the groups make more than ``cap`` combinations."""
    tree = _parse(text, top=top, template=template)
    if cap is not None:
        count = _count(tree, cap)
        if count > cap:
            raise ValidationError(_too_many(count, cap))
    return [s if isinstance(s, str) else
            _Group(s.source, tuple(c for part in s.parts for c in _expand(part)))
            for s in tree]


def _too_many(count: int, cap: int, *, exact: bool = False) -> str:
    said = str(count) if exact else f"more than {cap}"
    return (f"the sweep has {said} combinations; at most {cap} (max_sweep_cells; for "
            "more, use a batch)")


def check_braces(prompt: str) -> None:
    """A sweep's prompt whose braces do not pair up is refused in one line (linear time),
    instead of being read as text: it is almost always a typo in an ``{a|b}`` group."""
    opened = closed = 0
    depth = 0
    for _index, char in _unescaped(prompt):
        if char == "{":
            depth += 1
            opened += 1
        elif char == "}":
            closed += 1
            if depth == 0:
                raise ValidationError("the sweep's prompt has a '}' with no '{' before it; "
                                      "write \\} for a literal brace")
            depth -= 1
    if depth:
        raise ValidationError(f"the sweep's prompt has {opened} '{{' but {closed} '}}': "
                              "close every {a|b} group (\\{ is a literal brace)")


def has_alternatives(prompt: str) -> bool:
    """Does the prompt hold an ``{a|b}`` group (and so make a sweep)? Parsed, never
    expanded: this runs on every cell."""
    return isinstance(prompt, str) and "|" in prompt and any(
        isinstance(s, _Node) for s in _parse(prompt))


def prompt_axes(prompt: str, *, template: bool = False, cap: int | None = None,
                ) -> tuple[list[Axis], list[str | _Group]]:
    """One axis per top-level group, and the segments that make each cell's prompt."""
    segments = _segments(prompt, template=template, cap=cap)
    groups = [s for s in segments if isinstance(s, _Group)]
    axes = []
    for group in groups:
        labels = tuple(_word(choice) for choice in group.choices)
        _refuse_repeats(group.source, labels)
        axes.append(Axis(group.source, group.choices, labels))
    return axes, segments


def _word(choice: str) -> str:
    return " ".join(choice.split()) or "(nothing)"


def option_axes(options: dict[str, Any]) -> tuple[dict[str, Any], list[Axis]]:
    """Options given one value (fixed) and those given several (axes, in the order given).
    A list of one value is that value; ``images`` and ``elements`` sweep a list of lists."""
    fixed: dict[str, Any] = {}
    axes: list[Axis] = []
    for name, value in options.items():
        if name in LIST_VALUED:
            swept = isinstance(value, (list, tuple)) and bool(value) and all(
                isinstance(v, (list, tuple)) for v in value)
        else:
            swept = isinstance(value, (list, tuple))
        if not swept:
            fixed[name] = value
            continue
        values = tuple(value)
        if not values:
            raise ValidationError(f"{name}=[]: give at least one value to sweep")
        if len(values) == 1:
            fixed[name] = values[0]
            continue
        labels = tuple(label_of(name, v) for v in values)
        _refuse_repeats(name, labels)
        axes.append(Axis(name, values, labels, option=name))
    return fixed, axes


def label_of(name: str, value: Any) -> str:
    """A short header for one value of an option: 'omni', '16:9', 'n=2', 'not: blurry'."""
    if name == "model":
        try:
            return spec.resolve_model(str(value)).alias
        except KeyError:
            return str(value)
    if name == "n":
        return f"n={value}"
    if name == "negative_prompt":
        return "not: " + _cut(str(value or ""), 24) if value else "no negative"
    if name == "watermark":
        return "watermark " + ("on" if value else "off")
    if name == "extra_params" and isinstance(value, dict):
        return _cut(", ".join(f"{k}={v}" for k, v in value.items()) or "no extra params", 40)
    if name in LIST_VALUED:
        names = [Path(v).name if isinstance(v, (str, Path)) else type(v).__name__
                 for v in value]
        return _cut(", ".join(str(n) for n in names), 32) or "none"
    return _cut(str(value), 32)


def _cut(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def _refuse_repeats(name: str, labels: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise ValidationError(f"{name}: {label!r} is given twice; each value of a sweep "
                                  "is bought once")
        seen.add(label)


def expand(prompt: str, options: dict[str, Any], *, template: bool = False,
           max_cells: int = MAX_CELLS) -> tuple[list[Axis], list[Cell]]:
    """The axes (the prompt's groups first, then options in the order given) and every
    cell, row by row: the last axis changes fastest (it is the grid's columns).
    ``template``: each cell's prompt has its ``{name}`` filled afterwards (the magic)."""
    if not isinstance(prompt, str):
        raise ValidationError(f"a sweep's prompt must be text, not {type(prompt).__name__} "
                              "(alternatives go inside it: 'a {red|blue} fox')")
    if ("{" in prompt or "}" in prompt) and "|" in prompt:
        check_braces(prompt)
    fixed, value_axes = option_axes(options)
    by_options = 1
    for axis in value_axes:
        by_options *= len(axis.values)
    if by_options > max_cells:
        raise ValidationError(_too_many(by_options, max_cells, exact=True))
    text_axes, segments = prompt_axes(prompt, template=template, cap=max_cells)
    axes = text_axes + value_axes
    count = 1
    for axis in axes:
        count *= len(axis.values)
    if count > max_cells:
        raise ValidationError(_too_many(count, max_cells, exact=True))
    cells = []
    for index, choice in enumerate(itertools.product(*(range(len(a.values)) for a in axes))):
        picks = iter(choice[:len(text_axes)])
        text = "".join(s if isinstance(s, str) else s.choices[next(picks)] for s in segments)
        cell_options = dict(fixed)
        for axis, pick in zip(value_axes, choice[len(text_axes):], strict=True):
            assert axis.option is not None
            cell_options[axis.option] = axis.values[pick]
        labels = tuple(axis.labels[pick] for axis, pick in zip(axes, choice, strict=True))
        cells.append(Cell(index, tuple(choice), text, cell_options, labels))
    return axes, cells
