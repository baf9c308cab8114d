"""The journal (SQLite, WAL; rollback mode on a network disk) and where result files go:
nothing paid for is lost.

The journal row for a job is written before its create request is sent, so a crash at any
point leaves the external id on disk. Requests are stored with images by hash; the API key
is never given to this module.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from . import journal_disk

FINAL_STATES = ("completed", "failed", "not_created")
SEARCH_MAX_CHARS = 200
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
log = logging.getLogger("kirin_jupyter")
_told: set[str] = set()  # journals whose mode was explained (once per process)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    external_id TEXT PRIMARY KEY,
    task_id     TEXT,
    model       TEXT NOT NULL,
    prompt      TEXT NOT NULL,
    request     TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    status      TEXT NOT NULL,
    cost        TEXT,
    urls        TEXT,
    paths       TEXT,
    error       TEXT,
    owner       TEXT,
    output_dir  TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS durations (
    model       TEXT NOT NULL,
    resolution  TEXT NOT NULL,
    n           INTEGER NOT NULL,
    seconds     REAL NOT NULL,
    at          REAL NOT NULL,
    uncertainty REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created_at);
CREATE TABLE IF NOT EXISTS elements (
    external_id  TEXT PRIMARY KEY,
    element_id   TEXT,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    tags         TEXT NOT NULL,
    frontal      TEXT NOT NULL,
    refers       TEXT NOT NULL,
    body_version TEXT NOT NULL,
    task_id      TEXT,
    status       TEXT NOT NULL,
    cost         TEXT,
    answer       TEXT,
    error        TEXT,
    base_url     TEXT NOT NULL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS elements_by_name ON elements (base_url, name, updated_at);
CREATE TABLE IF NOT EXISTS host_facts (
    base_url    TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    learned_at  REAL NOT NULL,
    PRIMARY KEY (base_url, name)
);
CREATE TABLE IF NOT EXISTS uploads (
    upload_url  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    url         TEXT NOT NULL,
    nbytes      INTEGER NOT NULL,
    uploaded_at REAL NOT NULL,
    PRIMARY KEY (upload_url, sha256)
);
CREATE TABLE IF NOT EXISTS result_files (
    path        TEXT PRIMARY KEY,
    external_id TEXT,
    image       INTEGER,
    provenance  TEXT,
    stored_in   TEXT,
    c2pa        TEXT,
    record      TEXT,
    rating      INTEGER,
    flag        TEXT,
    rated_at    REAL,
    updated_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS result_files_by_job ON result_files (external_id);
"""

# What resume() looks for, found through indexes: a 100,000-job journal is never read
# whole. The partial index holds only the unfinished jobs (the query must repeat its
# WHERE term word for word for SQLite to use it).
_UNFINISHED = "status NOT IN ({})".format(", ".join(f"'{s}'" for s in FINAL_STATES))
_INDEXES = f"""
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs (base_url, created_at) WHERE {_UNFINISHED};
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (base_url, status, updated_at);
CREATE INDEX IF NOT EXISTS jobs_by_user ON jobs (user_name, created_at);
"""
RECHECKED_COMPLETED = 1000  # resume() looks for missing files among this many newest
_WAL_KEPT = 4 << 20  # bytes of WAL file left after a checkpoint


# Columns added after the first release of the schema: a journal written by an older
# version gains them (NULL or the default) instead of failing every job.
_LATER_COLUMNS = {
    "jobs": {"owner": "TEXT", "output_dir": "TEXT", "parents": "TEXT",
             "protocol": "TEXT",  # "queue", or NULL: the generation protocol
             "user_name": "TEXT", "host": "TEXT"},  # who made the job, and where
    "durations": {"uncertainty": "REAL NOT NULL DEFAULT 0"},
}


SCHEMA_VERSION = 8  # 1: the tables before host_facts; 2: host_facts; 3: no events;
# 4: elements (the subjects made by kirin_custom_elements); 5: uploads (references
# uploaded once, by content hash, per upload host); 6: jobs.protocol; 7: result_files
# (each saved file's full record, the provenance level it carries, its rating and pick);
# 8: jobs.user_name and jobs.host (who made each job and where, as a team journal keeps
# them; older jobs get the journal's user and their owner's host)
FLAGS = ("picked", "rejected")
ANSWER_MAX_CHARS = 64_000  # an element task's raw answer, as kept in the journal

# Tables of earlier versions that nothing reads any more, dropped by the migration: the
# per-job ``events`` log (every state change; only tests read it, and the jobs row and
# kirin.log say the same to a person).
_RETIRED = "DROP TABLE IF EXISTS events"


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def _migrate(conn: sqlite3.Connection, user: str) -> None:
    """Bring the schema to ``SCHEMA_VERSION`` in one ``BEGIN IMMEDIATE`` transaction.
    ``user``: who the jobs of a journal older than version 8 were made by (a personal
    journal's are its user's)."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    if conn.in_transaction:
        conn.commit()
    conn.execute("BEGIN IMMEDIATE")  # the one writer; the others wait (connect timeout)
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            for statement in _statements(_SCHEMA):
                conn.execute(statement)
            conn.execute(_RETIRED)
            _add_missing_columns(conn)
            _name_the_makers(conn, user)
            for statement in _statements(_INDEXES):  # after the columns they may name
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """A journal written by an older version gains the later columns."""
    for table, columns in _LATER_COLUMNS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns.items():
            if name not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def _name_the_makers(conn: sqlite3.Connection, user: str) -> None:
    """Version 8: jobs written before it get ``user`` and the host of the kernel that
    owned them (``owner`` is "host:pid"), so ``history(user=...)`` still finds them."""
    rows = conn.execute("SELECT rowid, owner FROM jobs WHERE user_name IS NULL").fetchall()
    conn.executemany("UPDATE jobs SET user_name = ?, host = ? WHERE rowid = ?",
                     [(user, _owner_host(owner), rowid) for rowid, owner in rows])


def _owner_host(owner: str | None) -> str | None:
    host, colon, _ = (owner or "").rpartition(":")
    return host if colon and host else None


def safe_dirname(task_id: str) -> str:
    """A folder name for a server-given id: the id itself only if it is plainly safe."""
    if _SAFE_ID.fullmatch(task_id) and ".." not in task_id:
        return task_id
    return "task-" + hashlib.sha256(task_id.encode()).hexdigest()[:20]


def result_path(output_dir: Path, task_id: str, index: int, suffix: str) -> Path:
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ".png"
    return output_dir / safe_dirname(task_id) / f"{index + 1:02d}{suffix}"


class Journal:
    """Every job's life on disk; safe for several threads and kernels.

    Each thread keeps one connection (opening one cost more than the write it was opened
    for); every call is one transaction on it. A connection that failed is dropped, so the
    next call starts afresh."""

    dialect = "sqlite"
    _NEWEST_RATING = "rated_at DESC"  # SQLite sorts NULL (never rated) last here

    def __init__(self, path: Path, mode: str | None = None, *,
                 user: str | None = None) -> None:
        """``mode``: "wal" or "rollback"; None: ``KIRIN_JOURNAL_MODE``, else the disk
        decides (``journal_disk``). ``user``: who this kernel's jobs are recorded as (the
        ``user`` setting; None: the login name)."""
        self.path = path
        self._mode = mode
        self.user = user or login_name()
        self._rollback = False  # set when the first connection opens
        self._ready = False
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    @property
    def where(self) -> str:
        """Where the journal is, for messages (a file; a URL without its password)."""
        return str(self.path)

    @contextmanager
    def _connect(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """This thread's connection, for one transaction. ``durable``: the commit reaches
        the disk before this returns (fsync). Otherwise it survives the process being
        killed, and an OS crash or power cut may lose it (WAL with synchronous=NORMAL):
        only the row written before a create request must outlive those, as resume finds
        everything else again from the service by the external id."""
        group: sqlite3.Connection | None = getattr(self._local, "group", None)
        if group is not None:  # inside write_together: its transaction, its commit
            yield group
            return
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid != os.getpid():
            conn = None  # a forked child never uses its parent's connection
        if conn is None:
            if not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                # A connection kept open keeps the WAL file: once checkpointed, trimmed.
                conn.execute(f"PRAGMA journal_size_limit = {_WAL_KEPT}")
                conn.execute("PRAGMA locking_mode = NORMAL")  # lock per transaction: shared
                if not self._ready:
                    self._initialise(conn)
            except BaseException:
                conn.close()
                raise
            self._local.conn, self._local.pid, self._local.durable = conn, os.getpid(), None
        if self._local.durable != durable:  # outside a transaction: PRAGMA is allowed here
            # A rollback journal is synced in full always: NORMAL there may corrupt the file
            # on a power cut (sqlite.org/pragma.html#pragma_synchronous), not just lose it.
            full = durable or self._rollback
            conn.execute(f"PRAGMA synchronous = {'FULL' if full else 'NORMAL'}")
            self._local.durable = durable
        conn.row_factory = None  # a call may have set sqlite3.Row
        try:
            with conn:
                yield conn
        except sqlite3.Error:
            self.close()
            raise

    def write_together(
        self, calls: Sequence[tuple[Callable[..., None], tuple[Any, ...], dict[str, Any]]],
        *, durable: bool = False,
    ) -> list[BaseException | None]:
        """Run several write methods in one transaction (one commit, one fsync when
        ``durable``); what each raised, or None. If any fails, the group is rolled back
        and each is run again alone, so one bad write never takes the others with it."""
        try:
            with self._connect(durable=durable) as conn:
                self._local.group = conn
                try:
                    for call, args, kwargs in calls:
                        call(*args, **kwargs)
                finally:
                    self._local.group = None
            return [None] * len(calls)
        except Exception as exc:
            if len(calls) == 1:
                return [exc]
        return [_raised(call) for call in calls]

    def close(self) -> None:
        """Close this thread's connection (the next call opens another)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _initialise(self, conn: sqlite3.Connection) -> None:
        """The journal mode (WAL, or rollback on a network disk), then the schema, created
        or migrated in one write transaction that ends by setting its version (``PRAGMA
        user_version``): of several processes opening a fresh journal at once, one
        migrates and the others, waiting on the lock, find the version set and do nothing
        ("duplicate column name" failed their jobs before). Retried while the database is
        locked."""
        choice = journal_disk.choose(self.path, self._mode)
        self._rollback = choice.mode == "rollback"
        for attempt in range(50):
            try:
                in_force = _journal_mode(conn, choice.pragma)
                _migrate(conn, self.user)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05 + 0.01 * attempt)
            else:
                self._ready = True
                self._tell(choice, in_force)
                return

    def _tell(self, choice: journal_disk.Choice, in_force: str) -> None:
        """Say once per process, in one line, that the disk chose the rollback journal
        (or that another process keeps this one in WAL)."""
        line = choice.notice(self.path)
        if self._rollback and in_force == "wal":
            line = (f"kirin: the journal {self.path} stays in WAL mode: another process has "
                    "it open in that mode")
        log.info("journal %s: %s mode (file system %s)", self.path, in_force,
                 choice.fstype or choice.forced or "unknown")
        if line and str(self.path) not in _told:
            _told.add(str(self.path))
            print(line, file=sys.stderr)

    def record_submit(
        self,
        external_id: str,
        model: str,
        prompt: str,
        request: dict[str, Any],
        base_url: str,
        output_dir: Path | str,
        parents: Sequence[str] = (),
    ) -> None:
        """``parents``: task ids of earlier results used as references (lineage)."""
        now = time.time()
        with self._connect(durable=True) as conn:  # on disk before the create is sent
            conn.execute(  # a plain INSERT: an external id is never reused
                "INSERT INTO jobs (external_id, model, prompt, request, base_url,"
                " status, owner, output_dir, parents, user_name, host, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, 'submitting', ?, ?, ?, ?, ?, ?, ?)",
                (external_id, model, prompt, json.dumps(request), base_url, current_owner(),
                 str(output_dir), json.dumps(list(parents)) if parents else None,
                 self.user, socket.gethostname(), now, now),
            )

    def record_state(
        self,
        external_id: str,
        status: str,
        *,
        task_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        now = time.time()
        with self._connect() as conn:
            conn.execute(
                "UPDATE jobs SET status = ?, task_id = COALESCE(?, task_id), updated_at = ?,"
                " error = CASE WHEN ? = 'failed' THEN ? ELSE error END WHERE external_id = ?",
                (status, task_id, now, status, detail, external_id),
            )

    def record_protocol(self, external_id: str, protocol: str) -> None:
        """The protocol a job is sent in, written (durably) before its create: resume
        must follow a queued request on the queue protocol."""
        with self._connect(durable=True) as conn:
            conn.execute("UPDATE jobs SET protocol = ?, updated_at = ? WHERE external_id = ?",
                         (protocol, time.time(), external_id))

    def record_urls(self, external_id: str, cost: str | None, urls: Sequence[str]) -> None:
        """Written as soon as the task completes: the results can be fetched again later."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE jobs SET cost = ?, urls = ?, updated_at = ? WHERE external_id = ?",
                (cost, json.dumps(list(urls)), time.time(), external_id),
            )

    def record_result(
        self, external_id: str, cost: str | None, urls: Sequence[str], paths: Sequence[Path | str]
    ) -> None:
        now = time.time()
        with self._connect() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'completed', cost = ?, urls = ?, paths = ?,"
                " updated_at = ? WHERE external_id = ?",
                (cost, json.dumps(list(urls)), json.dumps([str(p) for p in paths]), now,
                 external_id),
            )

    def record_duration(self, model: str, resolution: str, n: int, seconds: float,
                        uncertainty: float = 0.0) -> None:
        """How long a task took (creation to completion, +- ``uncertainty``: it ended
        somewhere between two checks). The poller learns from these."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO durations (model, resolution, n, seconds, at, uncertainty)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (model, resolution, n, seconds, time.time(), uncertainty),
            )

    def durations(self, model: str, resolution: str, n: int,
                  limit: int = 20) -> list[tuple[float, float]]:
        """Recent (seconds, uncertainty) of tasks like this, newest first: the same n when
        there are a few of those, else any n of this model and resolution."""
        query = ("SELECT seconds, uncertainty FROM durations WHERE model = ? AND resolution = ?{}"
                 " ORDER BY at DESC LIMIT ?")
        with self._connect() as conn:
            rows = conn.execute(query.format(" AND n = ?"),
                                (model, resolution, n, limit)).fetchall()
            if len(rows) < 3:
                rows = conn.execute(query.format(""), (model, resolution, limit)).fetchall()
        return [(float(r[0]), float(r[1])) for r in rows]

    def record_host_fact(self, base_url: str, name: str, value: str) -> None:
        """What a service was seen to do (``host_facts.HostFacts``), kept per host."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO host_facts (base_url, name, value, learned_at) VALUES (?,?,?,?)"
                " ON CONFLICT (base_url, name) DO UPDATE SET value = excluded.value,"
                " learned_at = excluded.learned_at", (base_url, name, value, time.time()))

    def host_facts(self, base_url: str) -> dict[str, tuple[str, float]]:
        """Every fact learned about ``base_url``: name -> (value, when)."""
        with self._connect() as conn:
            rows = conn.execute("SELECT name, value, learned_at FROM host_facts"
                                " WHERE base_url = ?", (base_url,)).fetchall()
        return {str(name): (str(value), float(at)) for name, value, at in rows}

    # -- result files: their records, ratings and picks -------------------------------

    def record_files(self, external_id: str, files: Sequence[dict[str, Any]]) -> None:
        """Each saved file of a job: ``path``, ``image`` (1-based), the ``provenance``
        level and ``stored_in`` (file, sidecar, none), ``c2pa`` (a signature found) and
        the full ``record`` whatever the file carries. A rating given earlier is kept."""
        now = time.time()
        with self._connect() as conn:
            for item in files:
                record = item.get("record")
                conn.execute(
                    "INSERT INTO result_files (path, external_id, image, provenance,"
                    " stored_in, c2pa, record, updated_at) VALUES (?,?,?,?,?,?,?,?)"
                    " ON CONFLICT (path) DO UPDATE SET external_id = excluded.external_id,"
                    " image = excluded.image, provenance = excluded.provenance,"
                    " stored_in = excluded.stored_in, c2pa = excluded.c2pa,"
                    " record = excluded.record, updated_at = excluded.updated_at",
                    (str(item["path"]), external_id, item.get("image"), item.get("provenance"),
                     item.get("stored_in"), item.get("c2pa"),
                     None if record is None else json.dumps(record, ensure_ascii=False), now))

    def set_mark(self, path: Path | str, *, rating: int | None = None, flag: str | None = None,
                 clear_flag: bool = False, external_id: str | None = None) -> dict[str, Any]:
        """Rate (0-5) and/or flag (picked, rejected) one saved file; the row as it now is."""
        check_mark(rating, flag)
        now = time.time()
        if external_id is None:  # the job whose file it is, for history's filters
            owner = self._rows("SELECT external_id FROM jobs WHERE instr(paths, ?) > 0"
                               " LIMIT 1", (json.dumps(str(path))[1:-1],))
            external_id = owner[0]["external_id"] if owner else None
        with self._connect() as conn:
            conn.execute("UPDATE result_files SET external_id = ? WHERE path = ?"
                         " AND external_id IS NULL", (external_id, str(path)))
            conn.execute("INSERT INTO result_files (path, external_id, updated_at)"
                         " VALUES (?,?,?) ON CONFLICT (path) DO NOTHING",
                         (str(path), external_id, now))
            if rating is not None:
                conn.execute("UPDATE result_files SET rating = ?, rated_at = ? WHERE path = ?",
                             (rating, now, str(path)))
            if flag is not None or clear_flag:
                conn.execute("UPDATE result_files SET flag = ?, rated_at = ? WHERE path = ?",
                             (flag, now, str(path)))
        found = self.file_marks([path])
        return found[str(path)]

    def file_marks(self, paths: Sequence[Path | str]) -> dict[str, dict[str, Any]]:
        """path -> its row (rating, flag, provenance, stored_in, c2pa; no record) for the
        files the journal knows among ``paths``."""
        wanted = [str(p) for p in paths]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):  # SQLite's parameter limit
            part = wanted[start:start + 500]
            marks = ", ".join("?" * len(part))
            for row in self._rows(
                    "SELECT path, external_id, image, provenance, stored_in, c2pa, rating,"
                    f" flag FROM result_files WHERE path IN ({marks})", part):
                found[str(row["path"])] = row
        return found

    def marked_files(self, *, picked: bool = False, rejected: bool = False,
                     min_rating: int | None = None) -> list[dict[str, Any]]:
        """The rated or flagged files, newest rating first (never-rated ones last)."""
        where, params = ["1 = 1"], []
        if picked:
            where.append("flag = 'picked'")
        if rejected:
            where.append("flag = 'rejected'")
        if min_rating is not None:
            where.append("rating >= ?")
            params.append(min_rating)
        return self._rows("SELECT path, external_id, image, provenance, stored_in, c2pa,"
                          " rating, flag FROM result_files WHERE "
                          f"{' AND '.join(where)} ORDER BY {self._NEWEST_RATING}", params)

    def file_record(self, path: Path | str) -> dict[str, Any] | None:
        """The full record the journal keeps of a saved file, whatever the file carries."""
        rows = self._rows("SELECT record FROM result_files WHERE path = ?", (str(path),))
        if not rows or not rows[0]["record"]:
            return None
        found = json.loads(rows[0]["record"])
        return found if isinstance(found, dict) else None

    def moved_file(self, old: Path, new: Path | str) -> None:
        """A saved file moved (``cull``): its row and its job's paths follow it."""
        with self._connect() as conn:
            conn.execute("UPDATE result_files SET path = ?, updated_at = ? WHERE path = ?",
                         (str(new), time.time(), str(old)))
            for external_id, paths in conn.execute(
                    "SELECT external_id, paths FROM jobs WHERE instr(paths, ?) > 0",
                    (json.dumps(str(old))[1:-1],)).fetchall():
                try:
                    listed = json.loads(paths)
                except ValueError:
                    continue
                if isinstance(listed, list):
                    updated = [str(new) if p == str(old) else p for p in listed]
                    conn.execute("UPDATE jobs SET paths = ? WHERE external_id = ?",
                                 (json.dumps(updated), external_id))

    def unshared(self, output_url: str) -> list[dict[str, Any]]:
        """Completed jobs meant for shared storage ``output_url`` whose files are still
        named by local paths: an upload that failed (``shared_results.store_pending``)."""
        return self._rows("SELECT * FROM jobs WHERE status = 'completed' AND output_dir = ?"
                          " AND paths NOT LIKE '%://%' ORDER BY created_at", (output_url,))

    def forgot_file(self, path: Path | str) -> None:
        """A saved file deleted (``cull --delete``): its row goes; the job keeps its list."""
        with self._connect() as conn:
            conn.execute("DELETE FROM result_files WHERE path = ?", (str(path),))

    # -- uploads (references uploaded once: service/uploads.py) ------------------------

    def record_request(self, external_id: str, request: dict[str, Any]) -> None:
        """The job's request summary again, when what is sent changed before any task was
        made (a refused create whose references are sent again, uploaded anew)."""
        with self._connect() as conn:
            conn.execute("UPDATE jobs SET request = ?, updated_at = ? WHERE external_id = ?",
                         (json.dumps(request), time.time(), external_id))

    def record_upload(self, upload_url: str, sha256: str, url: str, nbytes: int) -> None:
        """Where the upload host keeps the image of this hash. ``url`` is kept whole, query
        included: a signed URL is useless without it, and this file is the user's own (as
        are the result URLs kept beside it); records and summaries get it cut."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO uploads (upload_url, sha256, url, nbytes, uploaded_at)"
                " VALUES (?,?,?,?,?) ON CONFLICT (upload_url, sha256) DO UPDATE SET"
                " url = excluded.url, nbytes = excluded.nbytes,"
                " uploaded_at = excluded.uploaded_at",
                (upload_url, sha256, url, nbytes, time.time()))

    def upload(self, upload_url: str, sha256: str) -> str | None:
        """The URL an earlier upload of this hash to ``upload_url`` got, or None."""
        with self._connect() as conn:
            row = conn.execute("SELECT url FROM uploads WHERE upload_url = ? AND sha256 = ?",
                               (upload_url, sha256)).fetchone()
        return str(row[0]) if row else None

    def forget_upload(self, upload_url: str, sha256: str, url: str) -> None:
        """Drop an upload the service no longer takes (only if it is still ``url``: another
        kernel may have uploaded it again since)."""
        with self._connect() as conn:
            conn.execute("DELETE FROM uploads WHERE upload_url = ? AND sha256 = ? AND url = ?",
                         (upload_url, sha256, url))

    # -- elements (subjects made by kirin_custom_elements) ----------------------------

    def record_element_submit(self, external_id: str, summary: dict[str, Any],
                              frontal: str, refers: Sequence[str], base_url: str) -> None:
        """On disk before the create is sent, like a job's row. ``frontal`` and
        ``refers`` are the images' sha256 hashes; the images themselves are never kept."""
        now = time.time()
        with self._connect(durable=True) as conn:
            conn.execute(
                "INSERT INTO elements (external_id, name, description, tags, frontal,"
                " refers, body_version, status, base_url, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'submitting', ?, ?, ?)",
                (external_id, summary["element_name"], summary["element_description"],
                 json.dumps(summary["tags"]), frontal, json.dumps(list(refers)),
                 summary["body_version"], base_url, now, now))

    def record_element_state(self, external_id: str, status: str, *,
                             task_id: str | None = None, detail: str | None = None,
                             answer: str | None = None) -> None:
        """A new state; ``answer`` (the raw JSON, cut to ``ANSWER_MAX_CHARS``) when the
        task has ended."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE elements SET status = ?, task_id = COALESCE(?, task_id),"
                " error = COALESCE(?, error), answer = COALESCE(?, answer), updated_at = ?"
                " WHERE external_id = ?",
                (status, task_id, detail, None if answer is None else answer[:ANSWER_MAX_CHARS],
                 time.time(), external_id))

    def record_element_made(self, external_id: str, element_id: int, cost: str | None,
                            answer: str) -> None:
        """The element exists: its id, kept as decimal text (exact: 64 bits)."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE elements SET status = 'completed', element_id = ?, cost = ?,"
                " answer = ?, updated_at = ? WHERE external_id = ?",
                (str(element_id), cost, answer[:ANSWER_MAX_CHARS], time.time(), external_id))

    def elements(self, base_url: str | None = None, *, made_only: bool = True
                 ) -> list[dict[str, Any]]:
        """The journaled elements, newest first (of one service when ``base_url``)."""
        where = ["element_id IS NOT NULL"] if made_only else []
        params: list[Any] = []
        if base_url is not None:
            where.append("base_url = ?")
            params.append(base_url)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return self._rows(f"SELECT * FROM elements{clause} ORDER BY updated_at DESC LIMIT 500",
                          params)

    def get_element(self, external_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM elements WHERE external_id = ?", (external_id,))
        return rows[0] if rows else None

    def get(self, external_id: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute(
                "SELECT * FROM jobs WHERE external_id = ?", (external_id,)
            ).fetchone()
        return dict(row) if row else None

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql, params).fetchall()]

    def find(self, ident: str) -> dict[str, Any] | None:
        """A job by task id or external id."""
        rows = self._rows(
            "SELECT * FROM jobs WHERE task_id = ? OR external_id = ? ORDER BY created_at DESC",
            (ident, ident),
        )
        return rows[0] if rows else None

    def history(self, *, limit: int = 20, offset: int = 0, model: str | None = None,
                failed: bool = False, search: str | None = None, picked: bool = False,
                min_rating: int | None = None, user: str | None = None,
                ) -> tuple[list[dict[str, Any]], int]:
        """One page of jobs, newest first, and how many match in all.

        Filtering and paging happen in SQL, and the newest-first order walks the
        ``created_at`` index, so the first page of a 100,000-job journal costs a few rows.
        ``search`` matches the prompt as plain text, case-insensitively (ASCII by SQLite's
        ``lower``, others by Python's casefold); never as a LIKE pattern, whose wildcards a
        long search made "too complex" for SQLite. At most ``SEARCH_MAX_CHARS``.
        ``user``: the jobs recorded as made by that user (the ``user`` setting)."""
        where, params = history_filter(model=model, failed=failed, search=search,
                                       picked=picked, min_rating=min_rating, user=user,
                                       searched=_sqlite_search)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._connect() as conn:
            conn.create_function("kirin_casefold", 1, _casefold, deterministic=True)
            conn.row_factory = sqlite3.Row
            rows = [dict(row) for row in conn.execute(
                f"SELECT * FROM jobs{clause} ORDER BY created_at DESC, rowid DESC"
                " LIMIT ? OFFSET ?", (*params, limit, offset))]
            if offset == 0 and len(rows) < limit:
                return rows, len(rows)  # all of them: no count needed
            total = conn.execute(f"SELECT COUNT(*) FROM jobs{clause}", params).fetchone()[0]
        return rows, int(total)

    def claim_unfinished(
        self, base_url: str, *, steal: bool = False, skip: frozenset[str] = frozenset()
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Claim, atomically, the unfinished jobs on this service that no live process
        follows: ``(claimed, held)``, where ``held`` are those another live process owns
        (taken too when ``steal``); ``skip`` names jobs this process follows already. One
        write transaction for the lot, so two kernels resuming at once never both follow a
        job.

        Unfinished jobs come from a partial index; completed ones are claimed again when a
        result file is missing, looked for among the newest ``RECHECKED_COMPLETED`` of
        them (a stat of every file of every job ever made took seconds)."""
        me = current_owner()
        claimed: list[dict[str, Any]] = []
        held: list[dict[str, Any]] = []
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # the second kernel waits here for the first
            conn.row_factory = sqlite3.Row
            rows = [dict(row) for row in conn.execute(
                f"SELECT * FROM jobs WHERE {_UNFINISHED} AND base_url = ?"
                " ORDER BY created_at", (base_url,))]
            recent = [dict(row) for row in conn.execute(
                "SELECT * FROM jobs WHERE base_url = ? AND status = 'completed'"
                " ORDER BY updated_at DESC LIMIT ?", (base_url, RECHECKED_COMPLETED))]
            rows = sorted(rows + [row for row in recent if _files_missing(row)],
                          key=lambda row: row["created_at"])
            for row in rows:
                if row["external_id"] in skip:
                    continue
                if row.get("owner") != me and owner_alive(row.get("owner")) and not steal:
                    held.append(row)
                    continue
                conn.execute("UPDATE jobs SET owner = ? WHERE external_id = ?",
                             (me, row["external_id"]))
                claimed.append({**row, "owner": me})
        return claimed, held


def _journal_mode(conn: sqlite3.Connection, pragma: str) -> str:
    """Set the journal mode; the mode in force. Leaving WAL needs the file to itself, so
    while another process holds it open in WAL mode it stays in WAL (SQLite says "locked"
    at once, without waiting): tried for about a second, then taken as it is."""
    for _ in range(10):
        try:
            return str(conn.execute(f"PRAGMA journal_mode={pragma}").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.1)
    return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()


def _raised(call: tuple[Callable[..., None], tuple[Any, ...], dict[str, Any]]
            ) -> BaseException | None:
    """Run one write alone: what it raised, or None."""
    fn, args, kwargs = call
    try:
        fn(*args, **kwargs)
    except Exception as exc:
        return exc
    return None


def _casefold(text: object) -> str:
    return str(text).casefold() if text is not None else ""


def _files_missing(row: dict[str, Any]) -> bool:
    """A completed job with a result file missing from its path (downloaded again). A
    shared result's URL counts as there: it is written only once the object is stored."""
    try:
        paths = json.loads(row["paths"] or "[]")
    except ValueError:
        return False
    return not all(isinstance(p, str) and ("://" in p or os.path.isfile(p)) for p in paths)


def login_name() -> str:
    """Who runs this process, as the system names them (the ``user`` setting's default)."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return "unknown"


def current_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None) -> bool:
    """Is the process that owns a job still running (on this machine)?"""
    if not owner or owner.count(":") < 1:
        return False
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # this process: its live jobs are skipped by the caller
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed kernel not yet reaped by its parent is a zombie: not alive
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def price_per_image(
    journal: Journal, model: str, resolution: str, base_url: str
) -> Decimal | None:
    """What one image cost last time for this model and resolution on this service."""
    rows = journal._rows(
        "SELECT request, cost FROM jobs WHERE model = ? AND base_url = ?"
        " AND cost IS NOT NULL ORDER BY updated_at DESC LIMIT 20",
        (model, base_url),
    )
    for row in rows:
        try:
            request = json.loads(row["request"])
            if request.get("resolution", "1k") == resolution:
                return Decimal(row["cost"]) / max(1, int(request.get("n", 1)))
        except (ValueError, ArithmeticError, TypeError):
            continue
    return None


def check_mark(rating: int | None, flag: str | None) -> None:
    """A rating 0-5 and a flag of ``FLAGS`` (or None), else a one-line error."""
    if rating is not None and not (isinstance(rating, int) and 0 <= rating <= 5):
        raise ValidationError(f"a rating is a whole number from 0 to 5, not {rating!r}")
    if flag is not None and flag not in FLAGS:
        raise ValidationError(f"a mark is one of {', '.join(FLAGS)}, not {flag!r}")


def history_filter(*, model: str | None, failed: bool, search: str | None,
                   searched: Callable[[str], tuple[str, Any]], picked: bool = False,
                   min_rating: int | None = None, user: str | None = None,
                   ) -> tuple[list[str], list[Any]]:
    """The WHERE terms (``?`` placeholders) and parameters both journals' ``history``
    share; ``searched`` is the back end's plain-text prompt match (never a LIKE).
    ``picked`` and ``min_rating`` look in ``result_files``; ``user`` is ``user_name``."""
    if search and len(search) > SEARCH_MAX_CHARS:
        raise ValidationError(f"search text is {len(search)} characters; at most "
                              f"{SEARCH_MAX_CHARS} are searched for")
    where: list[str] = []
    params: list[Any] = []
    if model is not None:
        where.append("model = ?")
        params.append(model)
    if failed:
        where.append("status IN ('failed', 'not_created')")
    if search:
        term, value = searched(search)
        where.append(term)
        params.append(value)
    if user is not None:
        where.append("user_name = ?")
        params.append(user)
    if picked:
        where.append("external_id IN (SELECT external_id FROM result_files"
                     " WHERE flag = 'picked')")
    if min_rating is not None:
        where.append("external_id IN (SELECT external_id FROM result_files"
                     " WHERE rating >= ?)")
        params.append(min_rating)
    return where, params


def _sqlite_search(search: str) -> tuple[str, str]:
    """ASCII by SQLite's ``lower`` (fast); other text by Python's casefold."""
    if search.isascii():
        return "instr(lower(prompt), ?) > 0", search.lower()
    return "instr(kirin_casefold(prompt), ?) > 0", search.casefold()
