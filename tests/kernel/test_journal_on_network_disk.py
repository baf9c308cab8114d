"""Two real kernels sharing a journal in SQLite's rollback mode (as on a network home
folder, issue 24 item 5) claim every job exactly once and resume it; a JupyterHub user on
an NFS home is told so once, in one line."""

from __future__ import annotations

import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kirin_jupyter.simulator.server import SimulatorServer
from tests.conftest import TEST_KEY
from tests.kernel.kernel_helpers import Kernel, running_kernel


def _mode(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def _wal_files(path: Path) -> list[Path]:
    return [p for p in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
            if p.exists()]



# -- two real kernels sharing a journal in rollback mode ------------------------------------

_JOBS = 6


def _said(kernel: Kernel, code: str) -> str:
    execution = kernel.run(code, timeout=90)
    assert execution.reply["content"]["status"] == "ok", execution.reply["content"]
    return "".join(m["content"].get("text", "") for m in execution.of_type("stream"))


def _line(text: str, head: str) -> list[str]:
    found = [line for line in text.splitlines() if line.startswith(head)]
    assert len(found) == 1, text
    return found[0].split()[1:]


def test_two_kernels_share_a_rollback_journal_claim_once_and_resume(
        monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(os.environ["KIRIN_HOME"])
    path = home / "journal.sqlite3"
    with SimulatorServer(task_seconds=6, api_key=TEST_KEY) as server:
        env = dict(os.environ, KIRIN_JOURNAL_MODE="rollback", KIRIN_API_KEY=TEST_KEY,
                   KIRIN_BASE_URL=server.url)
        with running_kernel(env=env) as first:  # starts six jobs, then dies
            said = _said(first, (
                "import time, kirin_jupyter as kirin\n"
                f"jobs = [kirin.generate(f'fox {{i}}') for i in range({_JOBS})]\n"
                "while any(j.task_id is None for j in jobs): time.sleep(0.02)\n"
                "print('made', *[j.external_task_id for j in jobs])"))
            made = _line(said, "made")
            first.kill()
        assert len(made) == _JOBS and server.service.stats()["tasks"] == _JOBS
        assert _mode(path) == "delete" and not _wal_files(path)

        with running_kernel(env=env) as second, running_kernel(env=env) as third:
            kernels = (second, third)
            for kernel in kernels:  # each has the journal open before the race
                _said(kernel, "import time, kirin_jupyter as kirin\n"
                              "kirin.default_client().journal.history(limit=1)")
            assert not _wal_files(path)  # two connections open, and no WAL
            start_at = time.time() + 1.0
            race = (f"while time.time() < {start_at}: time.sleep(0.001)\n"
                    "mine = kirin.resume()\n"
                    "print('claimed', *[j.external_task_id for j in mine])\n"
                    "print('held', *[h[0] for h in kirin.default_client().held_elsewhere])")
            with ThreadPoolExecutor(2) as pool:
                said_b, said_c = pool.map(lambda k: _said(k, race), kernels)
            claimed_b, claimed_c = _line(said_b, "claimed"), _line(said_c, "claimed")
            assert not set(claimed_b) & set(claimed_c)  # no job followed twice ...
            assert sorted(claimed_b + claimed_c) == sorted(made)  # ... and none left out
            held = _line(said_b, "held") + _line(said_c, "held")
            assert sorted(held) == sorted(made)  # each saw the other's jobs as held
            waited = [_said(k, "print('done', *[j.wait(60).task_id for j in mine])")
                      for k in kernels]
            assert len(_line(waited[0], "done") + _line(waited[1], "done")) == _JOBS
            assert not _wal_files(path)
            again = _said(second, "print('claimed', *[j.external_task_id for j in"
                                  " kirin.resume()])")
            assert _line(again, "claimed") == []  # all done: nothing left to follow
        stats = server.service.stats()
        assert stats["tasks"] == _JOBS  # resuming created nothing ...
        assert sorted(stats["creates_by_external_id"]) == sorted(made)
        assert set(stats["creates_by_external_id"].values()) == {1}  # ... billed once each
    assert len(list(Path(os.environ["KIRIN_OUTPUT_DIR"]).rglob("*.png"))) == _JOBS
    assert _mode(path) == "delete" and not _wal_files(path)
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
    assert rows == [("completed", _JOBS)]


def test_in_a_kernel_the_network_disk_is_said_once_in_one_line() -> None:
    """What a JupyterHub user on an NFS home sees: one line under the first cell that
    uses the journal, none under the next."""
    path = Path(os.environ["KIRIN_HOME"]) / "journal.sqlite3"
    env = dict(os.environ, KIRIN_SIMULATOR_SECONDS="0.2")
    with running_kernel(env=env) as kernel:
        kernel.run("%load_ext kirin_jupyter\nfrom kirin_jupyter.storage import journal_disk\n"
                   "journal_disk.fstype_of = lambda path: 'nfs4'  # as an NFS home answers")
        cells = [kernel.run(f"%%kirin fox{i} --wait\na fox on a shared disk") for i in (1, 2)]
        errs = ["".join(m["content"]["text"] for m in cell.of_type("stream")
                        if m["content"]["name"] == "stderr") for cell in cells]
    assert errs[0] == (f"kirin: the journal {path} is on a network disk (nfs4): it uses "
                       "SQLite's rollback journal, not WAL; set KIRIN_HOME to a local folder "
                       "to keep it there\n"), errs
    assert errs[1] == ""
    assert _mode(path) == "delete" and not _wal_files(path)
