"""``%kirin batch FILE [options]`` and ``%kirin batch show NAME [--page P]``.

The file is read and every item checked, priced and budgeted before anything is sent; the
magic's usual options are the defaults of every item (a CSV column wins over them).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ...model.quote import summed
from ...model.request import OPTION_NAMES, unchecked_note
from .. import grammar as magic_options
from ..context import Context
from ..follow import follow_batch
from ..grammar import seconds

if TYPE_CHECKING:
    from ...client import Client

USAGE = ("%kirin batch FILE.txt|FILE.csv [--name NAME] [--concurrency N] [options], "
         "or %kirin batch show NAME [--page P]")
_NOT_FOR_BATCHES = ("external_task_id",)


def _parser() -> argparse.ArgumentParser:
    parser = magic_options.build_parser(with_var=False)
    parser.prog = "%kirin batch"
    parser.add_argument("file", help="a .txt (one prompt a line) or .csv file")
    parser.add_argument("--name", help="resumable by this name (run it again to resume)")
    parser.add_argument("--concurrency", type=int, help="at most this many at once")
    return parser


def run(ctx: Context, line: str) -> Any:
    """Start (or resume) the batch a ``%kirin batch`` line asks for and show its card."""
    from ...batches.items import read_file
    from ...errors import KirinError

    if not line.strip():
        raise UsageError(f"%kirin batch: which file? usage: {USAGE}")
    try:
        client = ctx.client()
    except KirinError as exc:
        raise UsageError(f"%kirin batch: {exc}") from None
    words = magic_options._split(line)
    if words and words[0] == "show":
        return show(client, words[1:])
    args = _parser().parse_args(words)
    if args.external_task_id:
        raise UsageError("%kirin batch: --id cannot be used: each item's external id is the "
                         "batch's name and its number (--name NAME)")
    timeout = seconds(args.timeout, command="%kirin batch")
    common = {name: getattr(args, name) for name in OPTION_NAMES
              if name not in _NOT_FOR_BATCHES and getattr(args, name) not in (None, [])}
    try:
        items, said = read_file(args.file)
        print(said)  # before anything is priced: what was read, as items
        if args.dry_run:
            _dry_run(client, items, common)
            return None
        batch = client.batch(items, name=args.name, concurrency=args.concurrency, **common)
    except KirinError as exc:
        raise UsageError(f"%kirin batch: {exc}") from None
    ctx.user_ns["_kirin_batch"] = batch
    follow_batch(ctx.shell, batch, wait=args.wait, timeout=timeout)
    return None


def _dry_run(client: Client, items: list[dict[str, Any]], common: dict[str, Any]) -> None:
    """The plan and its price; nothing created (a price quote creates nothing)."""
    from ...batches.setup import build_requests

    requests = build_requests(client.batch_services(), items, "dry-run", common)
    quotes = client.prices.per_kind(requests)
    total = summed(quotes)  # in USD, or in credits on a service that quotes so
    price = total.describe() if total is not None else "price not known yet"
    models = sorted({r.model.name for r in requests})
    print(f"batch of {len(requests)} prompts ({', '.join(models)}): {price}")
    for request in requests[:5]:
        print(f"  {request.prompt[:80]}")
    if len(requests) > 5:
        print(f"  ... and {len(requests) - 5} more")
    unchecked = unchecked_note(requests)
    if unchecked:
        print(unchecked)
    print("dry run: nothing was created")


def show(client: Client, words: list[str]) -> Any:
    """``%kirin batch show NAME [--page P]``: a page of a batch of this kernel."""
    if not words or len(words) not in (1, 3) or (len(words) == 3 and words[1] != "--page"):
        raise UsageError(f"%kirin batch show: usage: {USAGE}")
    name = words[0]
    page = 1
    if len(words) == 3:
        if not words[2].isdigit() or int(words[2]) < 1:
            raise UsageError(f"%kirin batch show: --page must be 1 or more, not {words[2]!r}")
        page = int(words[2])
    found = [b for b in client.batches if b.name == name]
    if not found:
        known = ", ".join(b.name for b in client.batches[-5:]) or "none yet"
        raise UsageError(f"%kirin batch show: no batch {name!r} in this kernel (its batches: "
                         f"{known}); run it again by name to resume it")
    return found[-1].page(page)

