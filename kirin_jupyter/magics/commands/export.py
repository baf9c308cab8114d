"""``%kirin export PATH [--since DATE] [--model M] [--user NAME] [--picked] [--rating 4+]
[--provenance LEVEL]``: the journal's finished jobs (or their winners, or one user's),
exported: ``export_journal`` on the magic line.

Everything is checked (the suffix, the date, the model) before the journal is read or a
file is written; a bad value is one UsageError line.
"""

from __future__ import annotations

import re

from IPython.core.error import UsageError

from .. import grammar
from ..context import Context
from .usage import USAGE as USAGES

USAGE = USAGES["export"]


def run(ctx: Context, rest: str) -> None:
    """Parse the words after ``export``, export, and say what was written."""
    from ...errors import KirinError
    from ...exporter.export import check_path, day_start, export_journal
    from ...model import spec

    words = grammar._split(rest)  # before the client: a bad line sends nothing
    try:
        client = ctx.client()
    except KirinError as exc:
        raise UsageError(f"%kirin export: {exc}") from None
    path, since, model, found = _parse(words)
    rating = found.get("--rating")
    if rating is not None and not re.fullmatch(r"[0-5]\+?", rating, re.ASCII):
        raise UsageError(f"%kirin export: --rating is 0 to 5 stars, as 4+, not {rating!r}")
    try:
        target = check_path(path)
        start = None if since is None else day_start(since)
        name = None if model is None else spec.resolve_model(model).name
        done = export_journal(target, client.journal, since=start, model=name,
                              picked="--picked" in found,
                              min_rating=None if rating is None else int(rating.rstrip("+")),
                              provenance=found.get("--provenance", "full"),
                              user=found.get("--user"))
    except KirinError as exc:
        raise UsageError(f"%kirin export: {exc}") from None
    except KeyError as exc:  # an unknown model: the message names the choices
        raise UsageError(f"%kirin export: --model: {exc.args[0]}") from None
    except OSError as exc:
        raise UsageError(f"%kirin export: cannot write {path}: {exc.strerror or exc}"
                         ) from None
    print(f"kirin: {done}")


def _parse(words: list[str]) -> tuple[str, str | None, str | None, dict[str, str]]:
    path: str | None = None
    found: dict[str, str] = {}
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word == "--picked":
            found[word] = ""
        elif word in ("--since", "--model", "--user", "--rating", "--provenance"):
            if not rest:
                raise UsageError(f"%kirin export: {word} needs a value; usage: {USAGE}")
            found[word] = rest.pop(0)
        elif word.startswith("--") or path is not None:
            raise UsageError(f"%kirin export: unexpected {word!r}; usage: {USAGE}")
        else:
            path = word
    if path is None:
        raise UsageError(f"%kirin export: where to? usage: {USAGE}")
    return path, found.get("--since"), found.get("--model"), found
