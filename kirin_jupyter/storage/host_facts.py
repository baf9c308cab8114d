"""What one service host has been seen to do, kept per host in the journal.

The gateway's public clients leave some of its behaviour unknown (``docs/protocol.md``).
Where the safe choice depends on it, the client learns it on the user's own account, at no
cost, and keeps it: after a create, whether a lookup by external id finds the task (only
then may a create whose answer was lost be sent again); from ``%kirin doctor``, whether
the key is accepted, whether the precharge route exists and in which currency it quotes,
and whether a body without ``model`` is taken with the ``X-Model`` header alone.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .journal import Journal

log = logging.getLogger("kirin_jupyter")

LOOKUP = "lookup_by_external_id"  # "yes": a lookup found the task a create had just made
FACT_NAMES = (LOOKUP, "host_answers", "key_accepted", "precharge_route", "quote_currency",
              "model_header_only")
YES, NO = "yes", "no"


class HostFacts:
    """The facts of one host, read from the journal once, written back as learned.

    Thread-safe: the engine loop learns, the doctor and ``%kirin config`` read."""

    def __init__(self, base_url: str = "", journal: Journal | None = None) -> None:
        self.base_url = base_url
        self._journal = journal
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}
        self._at: dict[str, float] = {}
        if journal is not None:
            try:
                for name, (value, at) in journal.host_facts(base_url).items():
                    self._values[name], self._at[name] = value, at
            except (sqlite3.Error, OSError) as exc:  # facts are a help: never a failure
                log.info("host facts of %s not read (%s)", base_url, exc)

    def __repr__(self) -> str:
        return f"HostFacts({self.base_url!r}, {self.as_dict()!r})"

    def get(self, name: str) -> str | None:
        with self._lock:
            return self._values.get(name)

    def as_dict(self) -> dict[str, str]:
        with self._lock:
            return dict(self._values)

    @property
    def lookup_proven(self) -> bool:
        """Has a lookup by external id been seen to find a task on this host?"""
        return self.get(LOOKUP) == YES

    def proven_since(self) -> bool:
        """``lookup_proven``, read again from the journal when not yet known here: another
        kernel on the same journal (one running the same named batch) may have proven it
        since this one started. A blocking read: not on the loop."""
        if self.lookup_proven or self._journal is None:
            return self.lookup_proven
        try:
            value = self._journal.host_facts(self.base_url).get(LOOKUP)
        except (sqlite3.Error, OSError) as exc:
            log.info("host facts of %s not read (%s)", self.base_url, exc)
            return False
        if value is not None and value[0] == YES:
            with self._lock:
                self._values[LOOKUP], self._at[LOOKUP] = value
        return self.lookup_proven

    def learn(self, name: str, value: str) -> None:
        """Keep ``value``; written to the journal (a blocking call: not on the loop)."""
        with self._lock:
            if self._values.get(name) == value:
                return
            self._values[name] = value
        if self._journal is not None:
            try:
                self._journal.record_host_fact(self.base_url, name, value)
            except (sqlite3.Error, OSError) as exc:
                log.info("host fact %s of %s not saved (%s)", name, self.base_url, exc)


Learn = Callable[[str, str], None]
