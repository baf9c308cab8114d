"""One generation from a line: parse the options, build the request, then a dry run, or
submit and follow. ``%%kirin``, ``%kirin PROMPT`` and ``%kirin rerun`` all go this way; a
line with comma lists or ``{a|b}`` becomes a sweep (sweep.py).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ..model.request import OPTION_NAMES, unchecked_note
from . import grammar
from .context import Context
from .follow import follow_job
from .prompting import PromptError, prompt_from_cell
from .variables import image_arg

if TYPE_CHECKING:
    from ..client import Client


def from_cell(ctx: Context, line: str, cell: str) -> None:
    """``%%kirin [VAR] [options]``: the cell body is the prompt."""
    from . import sweep

    args = grammar.parse_cell_line(line)
    if sweep.wanted(args, cell, ctx.user_ns):  # comma lists or {a|b}
        sweep.run(ctx, args, cell, options_text=line, var=args.var)
        return
    try:
        prompt = prompt_from_cell(cell, ctx.user_ns)
    except PromptError as exc:
        raise UsageError(f"%%kirin: {exc}") from None
    generate(ctx, args, prompt, var=args.var)


def from_line(ctx: Context, line: str) -> None:
    """``%kirin [options] PROMPT``: the rest of the line is the prompt."""
    args, prompt = grammar.parse_line(line)
    if not prompt:
        raise UsageError("%kirin: no prompt given (see %kirin help)")
    from . import sweep

    if sweep.wanted(args, prompt, ctx.user_ns):  # comma lists or {a|b}
        sweep.run(ctx, args, prompt, var=None,
                  options_text=grammar.split_line_prompt(line)[0])
        return
    try:
        prompt = prompt_from_cell(prompt, ctx.user_ns)
    except PromptError as exc:
        raise UsageError(f"%kirin: {exc}") from None
    generate(ctx, args, prompt, var=None)


def generate(ctx: Context, args: argparse.Namespace, prompt: str, var: str | None) -> None:
    """Parsed options and a prompt: build the request, then a dry run, or submit it,
    keep the job in ``VAR`` and ``_kirin``, and follow it."""
    from ..errors import KirinError, ValidationError

    timeout = grammar.seconds(args.timeout)  # every option is checked before anything is sent
    from ..client import checked_provenance

    try:
        checked_provenance(args.provenance)
    except ValidationError as exc:
        raise UsageError(f"%kirin: --provenance: {exc}") from None
    try:
        client = ctx.client()
    except KirinError as exc:
        raise UsageError(f"%kirin: {exc}") from None
    try:
        options = {name: getattr(args, name) for name in OPTION_NAMES}
        options["images"] = [image_arg(value, ctx.user_ns) for value in args.images or []]
        request = client.build(prompt, **options)
    except ValidationError as exc:
        raise UsageError(f"%kirin: {exc}") from None
    if args.dry_run:
        dry_run(client, request)
        return
    try:
        job = client.submit(request, provenance=args.provenance)
    except KirinError as exc:  # a budget, a journal that cannot be used, ...
        raise UsageError(f"%kirin: {exc}") from None
    if var:
        ctx.user_ns[var] = job
    ctx.user_ns["_kirin"] = job
    for ref in request.images:
        if ref.mended:
            print(f"kirin: {ref.label} mended with --fit: {ref.mended}")
    follow_job(ctx.shell, job, wait=args.wait or client.settings.blocking, timeout=timeout)


def dry_run(client: Client, request: Any) -> None:
    """The exact request (key redacted) and its price; nothing is created."""
    endpoint = client.api.endpoint
    print(f"POST {endpoint.create_url()}")
    print("Authorization: Bearer ***" if not client.simulated else "(simulator: no key)")
    print(json.dumps(endpoint.wire_body(request.dry_run_body()), indent=2,
                     ensure_ascii=False))
    unchecked = unchecked_note([request])
    if unchecked:
        print(unchecked)
    print(f"price: {client.quote_request(request).describe()}")
    print("dry run: no task was created (a price quote creates nothing)")
