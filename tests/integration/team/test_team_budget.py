"""The team budget on the real PostgreSQL server: twenty submitters in two processes at
once never overrun ``team_max_cost``; the reservations become the billed cost."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.storage.journal_pg import PgJournal
from tests.conftest import TEST_KEY

LIMIT = "0.50"  # USD; the simulator quotes and bills $0.04 an image: 12 jobs fit


def _submitters(url: str, base_url: str, folder: str, start_at: float, out: Any) -> None:
    try:
        os.environ["KIRIN_JOURNAL_URL"] = url
        os.environ["KIRIN_HOME"] = os.path.join(folder, "home")
        config = Path(folder) / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f"team_max_cost = {LIMIT}\nteam_budget_period = \"day\"\n"
                          f"user = \"{Path(folder).name}\"\n")
        os.environ["KIRIN_CONFIG"] = str(config)
        from kirin_jupyter.client import Client
        from kirin_jupyter.errors import BudgetExceeded
        from tests.conftest import FAST_POLL

        client = Client(api_key=TEST_KEY, base_url=base_url, output_dir=Path(folder) / "out",
                        poll_policy=FAST_POLL)
        jobs: list[Any] = []

        def submit(i: int) -> None:
            while time.time() < start_at:
                time.sleep(0.001)
            jobs.append(client.generate(f"a kite {i}", model="kirin_v3_image", n=1))

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        made = refused = 0
        for job in jobs:
            try:
                job.wait(60)
                made += 1
            except BudgetExceeded:
                refused += 1
        out.put(("ok", made, refused))
    except BaseException as exc:
        out.put(("error", repr(exc), 0))


def test_twenty_submitters_in_two_processes_never_overrun_the_team_budget(
        pg_url: str, tmp_path: Path) -> None:
    with SimulatorServer(task_seconds=0.3, api_key=TEST_KEY) as sim:
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        start_at = time.time() + 3.0
        procs = [ctx.Process(target=_submitters,
                             args=(pg_url, sim.url, str(tmp_path / name), start_at, out))
                 for name in ("ana", "bo")]
        for proc in procs:
            proc.start()
        outcomes = [out.get(timeout=120) for _ in procs]
        for proc in procs:
            proc.join(30)
        stats = sim.service.stats()
    assert [o[0] for o in outcomes] == ["ok", "ok"], outcomes
    made = sum(o[1] for o in outcomes)
    assert made == 12 and sum(o[2] for o in outcomes) == 8  # $0.48 made, the rest refused
    assert sum(stats["creates_by_external_id"].values()) == 12  # refused: never sent
    spend = PgJournal(pg_url).spend()
    billed = sum((Decimal(row["billed"]) for row in spend), Decimal(0))
    assert billed == Decimal("0.48") <= Decimal(LIMIT)
    assert all(Decimal(row["held"]) == 0 for row in spend)  # every reservation settled
    assert {row["user"] for row in spend} <= {"ana", "bo"}
