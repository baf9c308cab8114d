"""Journal writes of many jobs go in groups: fewer commits, same outcome per write."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from kirin_jupyter.storage.journal import Journal
from kirin_jupyter.storage.journal_writer import writer_for


def _submit_args(external_id: str) -> tuple[Any, ...]:
    return (external_id, "kirin_v3_image", "a fox", {}, "http://x", Path("/tmp"))


def test_writes_made_together_commit_together_and_all_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    groups: list[int] = []
    together = journal.write_together

    def counted(calls: Any, *, durable: bool = False) -> Any:
        groups.append(len(calls))
        return together(calls, durable=durable)

    monkeypatch.setattr(journal, "write_together", counted)
    writer = writer_for(journal)

    async def main() -> None:
        await asyncio.gather(*(writer.write(journal.record_submit, *_submit_args(f"kj-{i}"), durable=True)
                               for i in range(300)))
        await asyncio.gather(*(writer.write(journal.record_state, f"kj-{i}", "running")
                               for i in range(300)))

    asyncio.run(main())
    assert sum(groups) == 600
    assert len(groups) < 60  # 600 writes, a handful of commits
    rows, total = journal.history(limit=400)
    assert total == len(rows) == 300 and {row["status"] for row in rows} == {"running"}


def test_a_failing_write_fails_alone(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    writer = writer_for(journal)
    journal.record_submit(*_submit_args("kj-taken"))

    async def main() -> list[BaseException | None]:
        writes = [writer.write(journal.record_submit, *_submit_args(f"kj-{i}"), durable=True) for i in range(20)]
        writes.insert(7, writer.write(journal.record_submit, *_submit_args("kj-taken"),
                                         durable=True))
        return await asyncio.gather(*writes, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert isinstance(outcomes[7], sqlite3.IntegrityError)  # an external id is never reused
    assert outcomes[:7] + outcomes[8:] == [None] * 20
    assert all(journal.get(f"kj-{i}") is not None for i in range(20))
