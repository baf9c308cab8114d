"""``%%kirin --ar 1:1,16:9 --model omni,v3`` and ``a {red|blue} fox``: a cell that sweeps.

A comma list on ``--model``, ``-n``, ``--res`` or ``--ar`` (values that never hold a comma),
or an ``{a|b}`` group in the prompt, makes the cell a sweep. ``--neg``, ``--image``,
``--element`` and ``--callback-url`` are never split: a negative prompt is often a list of
words ("blurry, dark"), and paths and URLs may hold commas (sweep those with the Python
API). Axes come in the order written: the prompt's groups, then the options as they appear
on the line; the last is the grid's columns.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

from ..batches.axes import has_alternatives
from ..model.request import OPTION_NAMES, unchecked_note
from . import grammar as magic_options
from .context import Context
from .follow import follow_sweep
from .grammar import seconds
from .prompting import PromptError, interpolate, prompt_from_cell
from .variables import image_arg

SPLIT = ("model", "n", "resolution", "aspect_ratio")  # one value each, never a comma
_WHOLE_VAR_PREFIX = "$"


def _source(body: str, namespace: dict[str, Any]) -> tuple[str, Callable[[str], str] | None]:
    """The text to expand, and what fills each cell's prompt afterwards. A body that is
    just ``$var`` is that variable's text (expanded as given); any other body is expanded
    as typed, then ``{name}`` filled from the notebook's variables, as for one job."""
    stripped = body.strip()
    if stripped.startswith(_WHOLE_VAR_PREFIX) and stripped[1:].isidentifier():
        return prompt_from_cell(body, namespace), None
    return body, lambda text: interpolate(text, namespace)


def _lists(args: argparse.Namespace) -> bool:
    return any("," in str(getattr(args, name) or "") for name in SPLIT)


def wanted(args: argparse.Namespace, body: str, namespace: dict[str, Any]) -> bool:
    """Is this cell a sweep (a comma list, or prompt alternatives)?"""
    if _lists(args):
        return True
    try:
        text, _ = _source(body, namespace)
    except PromptError:
        return False  # the single-job path says what is wrong with it
    return has_alternatives(text)


def _order(options_text: str) -> dict[str, int]:
    """Where each option first appears on the line (axes follow the order written)."""
    flags = {flag: o.dest for o in magic_options.OPTIONS for flag in o.flags}
    found: dict[str, int] = {}
    for index, word in enumerate(magic_options._split(options_text)):
        dest = flags.get(word.split("=", 1)[0])
        if dest is not None:
            found.setdefault(dest, index)
    return found


def options_from(args: argparse.Namespace, options_text: str,
                 image: Callable[[str], Any]) -> dict[str, Any]:
    """The request options of the line, comma lists split, in the order written."""
    if args.external_task_id:
        raise UsageError("%kirin: --id cannot be used in a sweep: each cell's external id "
                         "is the sweep's name and the cell's number")
    options: dict[str, Any] = {}
    for name in OPTION_NAMES:
        value = getattr(args, name, None)
        if value is None or value == [] or (name == "fit" and not value):
            continue
        if name in SPLIT and "," in str(value):
            pieces = [piece.strip() for piece in str(value).split(",")]
            if not all(pieces):
                raise UsageError(f"%kirin: {value!r}: an empty value in a comma list")
            value = pieces
        elif name == "images":
            value = [image(v) for v in value]
        options[name] = value
    place = _order(options_text)
    return dict(sorted(options.items(), key=lambda item: place.get(item[0], len(place))))


def run(ctx: Context, args: argparse.Namespace, body: str, *, options_text: str,
        var: str | None) -> None:
    """Plan the sweep a cell asks for; print the plan (``--dry-run``) or start it and show
    its card. Every mistake is one ``UsageError`` line, before anything is sent."""
    from ..batches.sweep import make_plan, plan_text, start
    from ..errors import KirinError

    timeout = seconds(args.timeout)
    namespace = ctx.user_ns
    try:
        text, fill = _source(body, namespace)
    except PromptError as exc:
        raise UsageError(f"%kirin: {exc}") from None
    try:
        options = options_from(args, options_text,
                               lambda value: image_arg(value, namespace))  # --image $nope
        client = ctx.client()
        services = client.batch_services()
        plan = make_plan(services, text, options, fill=fill)
        if args.dry_run:
            print(plan_text(plan, ctx.text_width()))
            unchecked = unchecked_note(plan.requests)
            if unchecked:
                print(unchecked)
            print("dry run: nothing was created (a price quote creates nothing)")
            return
        sweep = start(services, plan, checked=True)  # checked once: by the plan above
    except KirinError as exc:
        raise UsageError(f"%kirin: {exc}") from None
    if var:
        namespace[var] = sweep
    namespace["_kirin_sweep"] = sweep
    follow_sweep(ctx.shell, sweep, wait=args.wait or client.settings.blocking,
                 timeout=timeout)
