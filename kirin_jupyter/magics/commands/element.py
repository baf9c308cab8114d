"""``%kirin element create NAME --front PATH --refer PATH ...`` makes a subject with
``kirin_custom_elements``; ``%kirin element list`` shows the ones made for this service.
A name then works wherever an element id does (``--element NAME``)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from IPython.core.error import UsageError

from ...errors import KirinError
from .. import grammar
from ..context import Context
from .usage import USAGE


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, never SystemExit
        raise UsageError(f"%kirin element: {message}; usage: {USAGE['element']}")


def _create_parser() -> _Parser:
    parser = _Parser(prog="%kirin element create", add_help=False)
    parser.add_argument("name")
    parser.add_argument("--front", required=True)
    parser.add_argument("--refer", action="append", default=[])
    parser.add_argument("--tag", action="append", default=[])
    parser.add_argument("--description", default="")
    parser.add_argument("--body", choices=("docs", "domestic"), default=None)
    return parser


def _image(ctx: Context, value: str) -> Any:
    """A path or URL as typed; ``$name`` is the value of that variable (a PIL image, bytes)."""
    if value.startswith("$") and value[1:].isidentifier():
        if value[1:] not in ctx.user_ns:
            raise UsageError(f"%kirin element: no variable named {value[1:]!r}")
        return ctx.user_ns[value[1:]]
    return value


def run(ctx: Context, rest: str) -> Any:
    words = grammar._split(rest)
    if not words or words[0] not in ("create", "list"):
        raise UsageError(f"%kirin element: create or list? usage: {USAGE['element']}")
    if words[0] == "list":
        if len(words) > 1:
            raise UsageError(f"%kirin element list takes nothing more; usage: "
                             f"{USAGE['element']}")
        return _list(ctx)
    args = _create_parser().parse_args(words[1:])
    client = ctx.client()
    try:
        element = client.create_element(
            args.name, args.description, _image(ctx, args.front),
            [_image(ctx, path) for path in args.refer], tags=args.tag,
            element_body=args.body)
    except KirinError as exc:  # ValidationError too: one line, never a traceback
        raise UsageError(f"%kirin element: {exc}") from None
    tags = f", tags {', '.join(element.tags)}" if element.tags else ""
    print(f"element {element.name!r}: id {element.element_id} (task {element.task_id}"
          f"{tags}); use it with --element {_quoted(element.name)}")
    ctx.user_ns["_kirin_element"] = element
    return None


def _quoted(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else repr(name)


def _list(ctx: Context) -> None:
    client = ctx.client()
    found = client.elements()
    if not found:
        print("no elements made for this service yet (%kirin element create NAME "
              "--front PATH --refer PATH)")
        return
    from ...display.tables import text_table

    rows = [[element.name, str(element.element_id), ", ".join(element.tags) or "-",
             element.task_id or "-",
             time.strftime("%Y-%m-%d %H:%M", time.localtime(element.created_at))]
            for element in found]
    print(text_table(["name", "element id", "tags", "task", "made"], rows,
                     width=ctx.text_width()))
