"""``%kirin history [N] [--page P] [--model M] [--failed] [--search WORD] [--picked]
[--rating 4+] [--user NAME]``: the journal, a page at a time."""

from __future__ import annotations

import dataclasses
import re
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from ...model import spec
from ..context import Context
from .usage import USAGE


def run(ctx: Context, rest: str) -> None:
    history(ctx, parse(rest) if rest.split() else HistoryArgs())


def history(ctx: Context, query: HistoryArgs) -> None:
    from ...display.history import HistoryPage, HistoryView
    from ...errors import ValidationError

    model = spec.resolve_model(query.model).name if query.model else None
    try:
        rows, total = ctx.client().journal.history(
            limit=query.limit, offset=(query.page - 1) * query.limit, model=model,
            failed=query.failed, search=query.search, picked=query.picked,
            min_rating=query.min_rating, user=query.user)
    except ValidationError as exc:
        raise UsageError(f"%kirin history: {exc}") from None
    pages = max(1, -(-total // query.limit))
    following = query.line(page=query.page + 1) if query.page < pages else ""
    display(HistoryView(HistoryPage(  # type: ignore[no-untyped-call]
        rows=rows, total=total, page=query.page, per_page=query.limit,
        next_command=following, filtered=query.filtered)))


@dataclasses.dataclass(frozen=True)
class HistoryArgs:
    """What ``%kirin history`` was asked for; checked before the journal is opened."""

    limit: int = 20
    page: int = 1
    model: str | None = None  # as typed: an alias or a full name
    failed: bool = False
    search: str | None = None
    picked: bool = False  # jobs with a picked image
    min_rating: int | None = None  # jobs with an image rated this or more ("--rating 4+")
    user: str | None = None  # who made the jobs (a team journal records it)

    @property
    def filtered(self) -> bool:
        return bool(self.model or self.failed or self.search or self.picked
                    or self.min_rating is not None or self.user)

    def line(self, *, page: int) -> str:
        """The magic line for another page of the same listing."""
        words = ["%kirin", "history"] + ([str(self.limit)] if self.limit != 20 else [])
        words += ["--page", str(page)]
        words += ["--model", shlex.quote(self.model)] if self.model else []
        words += ["--failed"] if self.failed else []
        words += ["--search", shlex.quote(self.search)] if self.search else []
        words += ["--picked"] if self.picked else []
        words += ["--rating", f"{self.min_rating}+"] if self.min_rating is not None else []
        words += ["--user", shlex.quote(self.user)] if self.user else []
        return " ".join(words)


_HISTORY_MAX = 1000  # jobs on one page


def parse(text: str) -> HistoryArgs:
    """``[N] [--page P] [--model M] [--failed] [--search WORD]``; every mistake is one
    UsageError line. Numbers are ASCII digits only (``int`` would take '٣')."""
    usage = f"usage: {USAGE['history']}"

    def bad(message: str) -> UsageError:
        return UsageError(f"%kirin history: {message}; {usage}")

    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise bad(f"cannot read the options ({exc})") from None
    found: dict[str, Any] = {}

    def count(value: str, what: str, top: int) -> int:
        if not re.fullmatch(r"[0-9]{1,7}", value, re.ASCII) or not 1 <= int(value) <= top:
            raise bad(f"{what} must be a whole number from 1 to {top}, not {value!r}")
        return int(value)

    index = 0
    while index < len(words):
        word = words[index]
        name, eq, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        index += 1
        if name in ("--page", "--model", "--search", "--rating", "--user"):
            if eq:
                value = inline
            elif index < len(words):
                value, index = words[index], index + 1
            else:
                raise bad(f"{name} needs a value")
            if name in found:
                raise bad(f"{name} given twice")
            if name == "--page":
                found[name] = count(value, "--page", 10**7)
            elif name == "--rating":
                if not re.fullmatch(r"[0-5]\+?", value, re.ASCII):
                    raise bad(f"--rating is 0 to 5 stars, as 4+ (or 4), not {value!r}")
                found[name] = int(value.rstrip("+"))
            elif name == "--model":
                try:
                    spec.resolve_model(value)
                except KeyError as exc:
                    raise bad(str(exc.args[0])) from None
                found[name] = value
            elif name == "--user":
                if not re.fullmatch(r"[^\s]{1,100}", value):
                    raise bad("--user needs a user name (no spaces, at most 100 characters)")
                found[name] = value
            else:
                if not value.strip():
                    raise bad("--search needs a word to look for")
                found[name] = value.strip()
        elif word in ("--failed", "--picked"):
            found[word] = True
        elif word.startswith("-") and word != "-":
            raise bad(f"unknown option {word}")
        elif "N" in found:
            raise bad(f"unexpected {word!r}")
        else:
            found["N"] = count(word, "N (how many jobs)", _HISTORY_MAX)
    return HistoryArgs(limit=found.get("N", 20), page=found.get("--page", 1),
                       model=found.get("--model"), failed=found.get("--failed", False),
                       search=found.get("--search"), picked=found.get("--picked", False),
                       min_rating=found.get("--rating"), user=found.get("--user"))
