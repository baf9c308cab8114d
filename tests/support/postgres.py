"""A throw-away PostgreSQL cluster for the tests: Debian's server binaries, ``initdb`` into
a temporary folder, listening on 127.0.0.1 on a free port, stopped by its own PID.

initdb refuses to run as root, so as root (CI) the cluster belongs to the ``postgres``
user that Debian's package makes, and the folder is given to that user. Under CI=true a
missing server fails the tests that need it (``.ci/run`` installs it); elsewhere they are
skipped with the command that installs it.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kirin_jupyter.storage.journal import Journal

INSTALL = "apt-get install postgresql (Debian), then pip install 'kirin-jupyter[team]'"
_names = itertools.count(1)


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def unavailable() -> str | None:
    """Why no cluster can be started here, or None."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    if _bin_dir() is None:
        return "PostgreSQL's server (initdb) is not installed"
    return None


def require() -> None:
    """Fail under CI (the run must test the team store), skip elsewhere."""
    why = unavailable()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}: .ci/run must install it ({INSTALL})")
    pytest.skip(f"{why}: {INSTALL}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One running server; ``database()`` makes a fresh, empty database on it."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.folder = Path(tempfile.mkdtemp(prefix="kirin-pg-"))
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["runuser", "-u", "postgres", "--", *argv]

    def start(self) -> Cluster:
        bin_dir = _bin_dir()
        assert bin_dir is not None
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data = self.folder / "data"
        subprocess.run(self._as_owner([
            str(bin_dir / "initdb"), "-D", str(data), "-U", "kirin", "--auth=trust",
            "-E", "UTF8", "--no-locale", "--no-sync"]),
            check=True, capture_output=True, timeout=120)
        settings = ["-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}",
                    "-c", f"unix_socket_directories={self.folder}", "-c", "max_connections=200"]
        if not self.durable:  # tests: a crash of this server loses nothing anyone keeps
            settings += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        log = open(self.folder / "server.log", "wb")  # noqa: SIM115 (kept for the server)
        self.proc = subprocess.Popen(self._as_owner([str(bin_dir / "postgres"), "-D",
                                                     str(data), *settings]),
                                     stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                self.connect("postgres").close()
                # the server's own PID, from its pid file (runuser stands between)
                self.pid = int((data / "postmaster.pid").read_text().splitlines()[0])
                break
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    text = (self.folder / "server.log").read_text(errors="replace")
                    self.stop()
                    raise RuntimeError(f"PostgreSQL did not start:\n{text[-2000:]}") from None
                time.sleep(0.1)
        return self

    def url(self, dbname: str) -> str:
        return f"postgresql://kirin@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str) -> object:
        import psycopg

        return psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=5)

    def database(self) -> str:
        """A new empty database's URL."""
        name = f"kirin_{os.getpid()}_{next(_names)}"
        conn = self.connect("postgres")
        try:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')  # type: ignore[attr-defined]
        finally:
            conn.close()  # type: ignore[attr-defined]
        return self.url(name)

    def stop(self) -> None:
        """Stop the server by its own PID (fast shutdown), then remove its folder."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGINT)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                if self.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def running(*, durable: bool = False) -> Iterator[Cluster]:
    cluster = Cluster(durable=durable).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def open_journal_at(where: str, **kw: Any) -> Journal:
    """The journal at ``where`` (a SQLite path or a PostgreSQL URL), as ``journal_at``
    gives it."""
    from kirin_jupyter.storage.journal_pg import PgJournal

    if where.startswith("postgresql://"):
        return PgJournal(where, **kw)
    return Journal(Path(where))
