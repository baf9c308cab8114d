"""``%kirin spend [--day | --month | --all]``: a team journal's spend (billed, and held by
jobs still running) by person and by model; this month's by default."""

from __future__ import annotations

from decimal import Decimal

from IPython.core.error import UsageError

from ..context import Context
from .usage import unexpected


def run(ctx: Context, rest: str) -> None:
    from ...money.team_budget import period_start
    from ...storage.journal_pg import PgJournal

    words = rest.split()
    if len(words) > 1 or (words and words[0] not in ("--day", "--month", "--all")):
        raise unexpected("spend", rest)
    period = words[0][2:] if words else "month"
    journal = ctx.client().journal
    if not isinstance(journal, PgJournal):
        raise UsageError("%kirin spend: the team's spend is kept in a shared journal: set "
                         "journal_url (or KIRIN_JOURNAL_URL) to a postgresql:// URL")
    rows = journal.spend(period_start(period))
    span = "in all" if period == "all" else f"this {period} (UTC)"
    if not rows:
        print(f"team spend {span}: nothing yet")
        return
    print(f"team spend {span} (billed + held by running jobs):")
    total = Decimal(0)
    for row in rows:
        billed, held = Decimal(row["billed"]), Decimal(row["held"])
        total += billed + held
        print(f"  {str(row['user'])[:40]:<20} {str(row['model'])[:40]:<24} "
              f"${billed:.2f} + ${held:.2f} held  ({row['jobs']} jobs)")
    print(f"  {'total':<45} ${total:.2f}")
