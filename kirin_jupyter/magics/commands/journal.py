"""``%kirin journal migrate postgresql://...``: copy this kernel's personal SQLite journal
into a team's shared one, keeping every id; running it again adds nothing."""

from __future__ import annotations

from IPython.core.error import UsageError

from ..context import Context
from .usage import unexpected


def run(ctx: Context, rest: str) -> None:
    from ...config import settings as config
    from ...errors import KirinError
    from ...storage.journal import Journal
    from ...storage.journal_pg import PgJournal, redacted
    from ...storage.journals import SQLITE_NAME

    words = rest.split()
    if len(words) != 2 or words[0] != "migrate":
        raise unexpected("journal", rest)
    url = words[1]
    if not url.startswith(("postgresql://", "postgres://")):
        raise UsageError(f"%kirin journal migrate: the target must be a postgresql:// URL, "
                         f"not {redacted(url)!r}")
    client = ctx.client()
    source = client.journal if not isinstance(client.journal, PgJournal) else \
        Journal(client.home / SQLITE_NAME)
    if not source.path.is_file():
        raise UsageError(f"%kirin journal migrate: no personal journal at {source.path}")
    target = PgJournal(url, user=client.settings.user or None)
    try:
        added = target.import_sqlite(source)
    except (KirinError, OSError) as exc:
        raise UsageError(f"%kirin journal migrate: {exc}") from None
    except Exception as exc:  # sqlite3.Error or StoreError: one line, no traceback
        raise UsageError(f"%kirin journal migrate: {type(exc).__name__}: {exc}") from None
    finally:
        target.close()
    parts = ", ".join(f"{n} {table}" for table, n in added.items())
    print(f"journal {source.path} copied into {redacted(url)}: added {parts} "
          f"(rows already there were kept). Set journal_url to use it: "
          f"%config Kirin.journal_url = '{redacted(url)}' or {config.ENV_JOURNAL_URL}")
