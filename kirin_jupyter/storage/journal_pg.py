"""The journal on PostgreSQL (``journal_url``): one store for a team's kernels on many hosts.

The same methods as the SQLite ``Journal`` (it is a subclass, so every caller takes
either), over psycopg 3 (the ``[team]`` extra). What a shared server changes:

- the schema is created and migrated by the client through numbered migrations
  (``MIGRATIONS``; applied ones are rows of ``kirin_migrations``), one transaction each,
  under an advisory lock, so kernels starting together migrate once;
- a job or batch row is owned with a lease (``lease_until``) that the owning process
  renews while it lives (``LEASE_SECONDS``, renewed every third of it); another host
  cannot see whether a pid is alive, so a row is claimable once its lease has run out;
- resume claims rows with ``SELECT ... FOR UPDATE SKIP LOCKED``: two kernels resuming at
  once split the rows, neither waits for nor repeats the other;
- the external id is the primary key, so of two kernels racing on one id, one inserts
  its row and the other's create is never sent;
- the team budget is rows of ``reservations`` (``money/team_budget.py`` decides);
- each saved file's record, stars and pick are rows of ``result_files`` (migration 4),
  written by one ``INSERT ... ON CONFLICT`` each, so two kernels rating one file at once
  both land and neither loses the row the other made.

Database errors are raised as ``StoreError``, a ``sqlite3.Error``: every place that
tolerates a failing journal (a job that is paid for goes on) tolerates this one too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from .journal import (
    ANSWER_MAX_CHARS,
    FINAL_STATES,
    RECHECKED_COMPLETED,
    Journal,
    _files_missing,
    check_mark,
    current_owner,
    history_filter,
    login_name,
)

LEASE_SECONDS = 120.0  # a row whose owner has not renewed it for this long is claimable
CONNECT_SECONDS = 10  # a server that does not answer in this long is unreachable
_LOCK_KEY = 0x6B6972696E  # "kirin": the advisory lock the migrations take
_BUDGET_KEY = _LOCK_KEY + 1  # the one the team budget's reservations take
_UNFINISHED = "status NOT IN ({})".format(", ".join(f"'{s}'" for s in FINAL_STATES))

# The PostgreSQL schema's own numbered migrations (apart from SQLite's user_version, which
# other changes bump): each runs once, in order, in one transaction, and is recorded in
# kirin_migrations. A change to the schema is a new entry at the end; an entry is never
# edited once released.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "jobs, durations, elements, host facts, uploads, batches", f"""
CREATE TABLE jobs (
    external_id TEXT COLLATE "C" PRIMARY KEY,
    seq         BIGSERIAL NOT NULL,
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
    lease_until DOUBLE PRECISION,
    output_dir  TEXT,
    parents     TEXT,
    protocol    TEXT,
    user_name   TEXT,
    host        TEXT,
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX jobs_by_created ON jobs (created_at DESC, seq DESC);
CREATE INDEX jobs_by_task ON jobs (task_id);
CREATE INDEX jobs_by_user ON jobs (user_name, created_at DESC);
CREATE INDEX jobs_unfinished ON jobs (base_url, created_at) WHERE {_UNFINISHED};
CREATE INDEX jobs_by_status ON jobs (base_url, status, updated_at);
CREATE INDEX jobs_by_owner ON jobs (owner) WHERE {_UNFINISHED};
CREATE TABLE durations (
    model       TEXT NOT NULL,
    resolution  TEXT NOT NULL,
    n           INTEGER NOT NULL,
    seconds     DOUBLE PRECISION NOT NULL,
    at          DOUBLE PRECISION NOT NULL,
    uncertainty DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX durations_by_model ON durations (model, resolution, at DESC);
CREATE TABLE elements (
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
    created_at   DOUBLE PRECISION NOT NULL,
    updated_at   DOUBLE PRECISION NOT NULL
);
CREATE INDEX elements_by_name ON elements (base_url, name, updated_at);
CREATE TABLE host_facts (
    base_url    TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    learned_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (base_url, name)
);
CREATE TABLE uploads (
    upload_url  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    url         TEXT NOT NULL,
    nbytes      BIGINT NOT NULL,
    uploaded_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (upload_url, sha256)
);
CREATE TABLE batches (
    name        TEXT PRIMARY KEY,
    base_url    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    size        INTEGER NOT NULL,
    inputs      TEXT,
    output_dir  TEXT,
    status      TEXT NOT NULL,
    owner       TEXT,
    lease_until DOUBLE PRECISION,
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
)
"""),
    (2, "reservations: the team budget", """
CREATE TABLE reservations (
    external_id TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL,
    model       TEXT NOT NULL,
    unit        TEXT NOT NULL,
    amount      NUMERIC NOT NULL,
    state       TEXT NOT NULL,
    lease_until DOUBLE PRECISION NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX reservations_by_time ON reservations (unit, created_at)
"""),
    # One round trip while the budget's lock is held (it was four): a function's every
    # statement sees what committed before it, so the sum after the lock is never stale.
    (3, "kirin_reserve: a reservation in one call", """
CREATE FUNCTION kirin_reserve(p_external_id TEXT, p_user TEXT, p_model TEXT, p_unit TEXT,
                              p_amount NUMERIC, p_limit NUMERIC, p_since DOUBLE PRECISION,
                              p_now DOUBLE PRECISION, p_lease_until DOUBLE PRECISION,
                              p_lock BIGINT)
RETURNS NUMERIC LANGUAGE plpgsql VOLATILE AS $$
DECLARE total NUMERIC;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    SELECT COALESCE(sum(amount), 0) INTO total FROM reservations WHERE unit = p_unit
        AND created_at >= p_since
        AND (state = 'billed' OR (state = 'held' AND lease_until > p_now));
    IF total + p_amount > p_limit THEN
        RETURN total;
    END IF;
    INSERT INTO reservations (external_id, user_name, model, unit, amount, state,
                              lease_until, created_at, updated_at)
        VALUES (p_external_id, p_user, p_model, p_unit, p_amount, 'held', p_lease_until,
                p_now, p_now)
        ON CONFLICT (external_id) DO NOTHING;
    RETURN NULL;
END
$$
"""),
    # SQLite's schema 7: each saved file's full record, the provenance level it carries,
    # its stars (0-5) and its flag; keyed by the file's path, as there.
    (4, "result_files: saved files' records, ratings and picks", """
CREATE TABLE result_files (
    path        TEXT COLLATE "C" PRIMARY KEY,
    external_id TEXT,
    image       INTEGER,
    provenance  TEXT,
    stored_in   TEXT,
    c2pa        TEXT,
    record      TEXT,
    rating      INTEGER CHECK (rating BETWEEN 0 AND 5),
    flag        TEXT CHECK (flag IN ('picked', 'rejected')),
    rated_at    DOUBLE PRECISION,
    updated_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX result_files_by_job ON result_files (external_id)
"""),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class StoreError(sqlite3.OperationalError):
    """The PostgreSQL journal failed (unreachable, refused, a broken statement)."""


class StoreIntegrityError(sqlite3.IntegrityError):
    """A row the PostgreSQL journal refused: most often an external id already taken."""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ValidationError("journal_url names PostgreSQL, which needs psycopg: "
                              "pip install 'kirin-jupyter[team]'") from None
    return psycopg


_URL = re.compile(r"(postgres(?:ql)?://)([^@/]*@)?(.*)")


def redacted(url: str) -> str:
    """The URL without its user and password, for messages and reprs."""
    match = _URL.fullmatch(url)
    if match is None:
        return "postgresql://…"
    return match.group(1) + ("…@" if match.group(2) else "") + match.group(3).split("?")[0]


def _q(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s`` (the shared queries use ``?``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgJournal(Journal):
    """The journal in a PostgreSQL database. One connection per thread, like the SQLite
    journal; every call is one transaction on it."""

    dialect = "postgresql"
    _NEWEST_RATING = "rated_at DESC NULLS LAST"  # as SQLite sorts: never rated, last

    def __init__(self, url: str, *, lease_seconds: float | None = None,
                 user: str | None = None) -> None:
        """``user``: who this kernel's jobs are recorded as (the ``user`` setting;
        None: the login name)."""
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValidationError(f"journal_url must start with postgresql://, not "
                                  f"{redacted(url)!r}")
        self.url = url
        self.path = Path(redacted(url))
        self.lease_seconds = LEASE_SECONDS if lease_seconds is None else lease_seconds
        self.user = user or login_name()
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._renewer_pid = 0
        # held while this process renews its leases or claims rows: its own renewal never
        # makes its own claim skip a row (SKIP LOCKED skips rows another transaction holds)
        self._claiming = threading.Lock()

    def __repr__(self) -> str:
        return f"PgJournal({redacted(self.url)!r})"

    @property
    def where(self) -> str:
        return redacted(self.url)

    # -- connections ---------------------------------------------------------------

    def _open(self) -> Any:
        psycopg = _psycopg()
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_SECONDS,
                                   application_name="kirin-jupyter")
        except psycopg.Error as exc:
            raise StoreError(f"the journal {redacted(self.url)} is unreachable: "
                             f"{_first_line(exc)}") from None
        conn.row_factory = psycopg.rows.dict_row
        return conn

    @contextmanager
    def _connect(self, *, durable: bool = False, alone: bool = False) -> Iterator[Any]:
        """This thread's connection in one transaction. Commits are synchronous (on the
        server's disk) when ``durable``; others may be lost by a server crash only (the
        service has them: resume finds them again by external id). ``alone``: one durable
        statement, its own transaction (no BEGIN and COMMIT round trips around it)."""
        group = getattr(self._local, "group", None)
        if group is not None:
            yield group
            return
        psycopg = _psycopg()
        conn = getattr(self._local, "conn", None)
        if conn is not None and (self._local.pid != os.getpid() or conn.closed):
            conn = None
        if conn is None:
            conn = self._open()
            self._local.conn, self._local.pid = conn, os.getpid()
            if not self._ready:
                try:
                    self._migrate(conn)
                except BaseException:
                    self.close()
                    raise
        try:
            if alone:
                yield conn
            else:
                with conn.transaction():
                    if not durable:
                        conn.execute("SET LOCAL synchronous_commit = off")
                    yield conn
        except psycopg.IntegrityError as exc:
            raise StoreIntegrityError(_first_line(exc)) from None
        except psycopg.Error as exc:
            if conn.closed or conn.broken:
                self.close()
            raise StoreError(f"the journal {redacted(self.url)}: {_first_line(exc)}"
                             ) from None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _migrate(self, conn: Any) -> None:
        """Run the migrations this database has not had, in order, each in its own
        transaction, under an advisory lock: of several kernels starting at once, one
        migrates and the others find the rows and do nothing."""
        psycopg = _psycopg()
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                conn.execute("CREATE TABLE IF NOT EXISTS kirin_migrations (version INTEGER"
                             " PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION"
                             " NOT NULL)")
                done = {row["version"] for row in
                        conn.execute("SELECT version FROM kirin_migrations").fetchall()}
                if done and max(done) > SCHEMA_VERSION:
                    raise ValidationError(
                        f"the journal {redacted(self.url)} has schema {max(done)}, newer "
                        f"than this version of kirin-jupyter knows ({SCHEMA_VERSION}): "
                        "upgrade kirin-jupyter")
                for version, name, script in MIGRATIONS:
                    if version in done:
                        continue
                    # a function's body holds semicolons: such a script is one statement
                    statements = [script] if "$$" in script else script.split(";")
                    for statement in (s.strip() for s in statements):
                        if statement:
                            conn.execute(statement)
                    conn.execute("INSERT INTO kirin_migrations VALUES (%s, %s, %s)",
                                 (version, name, time.time()))
        except psycopg.Error as exc:
            raise StoreError(f"the journal {redacted(self.url)} could not be migrated: "
                             f"{_first_line(exc)}") from None
        self._ready = True

    def schema_version(self) -> int:
        rows = self._rows("SELECT max(version) AS v FROM kirin_migrations")
        return int(rows[0]["v"] or 0)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._connect() as conn:
            return [dict(row) for row in conn.execute(_q(sql), tuple(params)).fetchall()]

    def _run(self, sql: str, params: Sequence[Any] = (), *, durable: bool = False) -> int:
        with self._connect(durable=durable) as conn:
            return int(conn.execute(_q(sql), tuple(params)).rowcount)

    # -- leases ----------------------------------------------------------------------

    def lease_end(self) -> float:
        return time.time() + self.lease_seconds

    def _ensure_renewer(self) -> None:
        """Start (once per process) the thread that renews this process's leases."""
        if self._renewer is not None and self._renewer.is_alive() \
                and self._renewer_pid == os.getpid():
            return
        self._renewer_pid = os.getpid()
        self._renewer = threading.Thread(target=_renew_forever, args=(weakref.ref(self),),
                                         name="kirin-lease", daemon=True)
        self._renewer.start()

    def renew_leases(self) -> int:
        """Push on the lease of every unfinished row this process owns; how many."""
        me, until = current_owner(), self.lease_end()
        with self._claiming, self._connect() as conn:
            count = conn.execute(
                f"UPDATE jobs SET lease_until = %s WHERE owner = %s AND {_UNFINISHED}",
                (until, me)).rowcount
            conn.execute("UPDATE batches SET lease_until = %s WHERE owner = %s"
                         " AND status = 'running'", (until, me))
            conn.execute("UPDATE reservations SET lease_until = %s WHERE state = 'held'"
                         " AND external_id IN (SELECT external_id FROM jobs WHERE owner = %s"
                         f" AND {_UNFINISHED})", (until, me))
        return int(count)

    # -- jobs ------------------------------------------------------------------------

    def record_submit(self, external_id: str, model: str, prompt: str,
                      request: dict[str, Any], base_url: str, output_dir: Path | str,
                      parents: Sequence[str] = ()) -> None:
        now = time.time()
        user, host = self.user, socket.gethostname()
        self._ensure_renewer()
        self._run(
            "INSERT INTO jobs (external_id, model, prompt, request, base_url, status, owner,"
            " lease_until, output_dir, parents, user_name, host, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, 'submitting', ?, ?, ?, ?, ?, ?, ?, ?)",
            (external_id, model, prompt, json.dumps(request), base_url, current_owner(),
             self.lease_end(), str(output_dir),
             json.dumps(list(parents)) if parents else None, user, host, now, now),
            durable=True)

    def record_state(self, external_id: str, status: str, *, task_id: str | None = None,
                     detail: str | None = None) -> None:
        with self._connect() as conn:
            conn.execute(
                "UPDATE jobs SET status = %s, task_id = COALESCE(%s, task_id),"
                " updated_at = %s, error = CASE WHEN %s = 'failed' THEN %s ELSE error END"
                " WHERE external_id = %s",
                (status, task_id, time.time(), status, detail, external_id))
            self._settle(conn, external_id, status, None)

    def record_protocol(self, external_id: str, protocol: str) -> None:
        self._run("UPDATE jobs SET protocol = ?, updated_at = ? WHERE external_id = ?",
                  (protocol, time.time(), external_id), durable=True)

    def record_urls(self, external_id: str, cost: str | None, urls: Sequence[str]) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE jobs SET cost = %s, urls = %s, updated_at = %s"
                         " WHERE external_id = %s",
                         (cost, json.dumps(list(urls)), time.time(), external_id))
            self._settle(conn, external_id, None, cost)

    def record_result(self, external_id: str, cost: str | None, urls: Sequence[str],
                      paths: Sequence[Path | str]) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE jobs SET status = 'completed', cost = %s, urls = %s,"
                         " paths = %s, updated_at = %s WHERE external_id = %s",
                         (cost, json.dumps(list(urls)), json.dumps([str(p) for p in paths]),
                          time.time(), external_id))
            self._settle(conn, external_id, "completed", cost)

    def record_request(self, external_id: str, request: dict[str, Any]) -> None:
        self._run("UPDATE jobs SET request = ?, updated_at = ? WHERE external_id = ?",
                  (json.dumps(request), time.time(), external_id))

    def record_duration(self, model: str, resolution: str, n: int, seconds: float,
                        uncertainty: float = 0.0) -> None:
        self._run("INSERT INTO durations (model, resolution, n, seconds, at, uncertainty)"
                  " VALUES (?, ?, ?, ?, ?, ?)",
                  (model, resolution, n, seconds, time.time(), uncertainty))

    def durations(self, model: str, resolution: str, n: int,
                  limit: int = 20) -> list[tuple[float, float]]:
        query = ("SELECT seconds, uncertainty FROM durations WHERE model = ? AND resolution = ?"
                 "{} ORDER BY at DESC LIMIT ?")
        rows = self._rows(query.format(" AND n = ?"), (model, resolution, n, limit))
        if len(rows) < 3:
            rows = self._rows(query.format(""), (model, resolution, limit))
        return [(float(r["seconds"]), float(r["uncertainty"])) for r in rows]

    def record_host_fact(self, base_url: str, name: str, value: str) -> None:
        self._run("INSERT INTO host_facts (base_url, name, value, learned_at) VALUES (?,?,?,?)"
                  " ON CONFLICT (base_url, name) DO UPDATE SET value = excluded.value,"
                  " learned_at = excluded.learned_at", (base_url, name, value, time.time()))

    def host_facts(self, base_url: str) -> dict[str, tuple[str, float]]:
        rows = self._rows("SELECT name, value, learned_at FROM host_facts WHERE base_url = ?",
                          (base_url,))
        return {str(r["name"]): (str(r["value"]), float(r["learned_at"])) for r in rows}

    def record_upload(self, upload_url: str, sha256: str, url: str, nbytes: int) -> None:
        self._run("INSERT INTO uploads (upload_url, sha256, url, nbytes, uploaded_at)"
                  " VALUES (?,?,?,?,?) ON CONFLICT (upload_url, sha256) DO UPDATE SET"
                  " url = excluded.url, nbytes = excluded.nbytes,"
                  " uploaded_at = excluded.uploaded_at",
                  (upload_url, sha256, url, nbytes, time.time()))

    def upload(self, upload_url: str, sha256: str) -> str | None:
        rows = self._rows("SELECT url FROM uploads WHERE upload_url = ? AND sha256 = ?",
                          (upload_url, sha256))
        return str(rows[0]["url"]) if rows else None

    def forget_upload(self, upload_url: str, sha256: str, url: str) -> None:
        self._run("DELETE FROM uploads WHERE upload_url = ? AND sha256 = ? AND url = ?",
                  (upload_url, sha256, url))

    # -- elements --------------------------------------------------------------------

    def record_element_submit(self, external_id: str, summary: dict[str, Any],
                              frontal: str, refers: Sequence[str], base_url: str) -> None:
        now = time.time()
        self._run("INSERT INTO elements (external_id, name, description, tags, frontal,"
                  " refers, body_version, status, base_url, created_at, updated_at)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?, 'submitting', ?, ?, ?)",
                  (external_id, summary["element_name"], summary["element_description"],
                   json.dumps(summary["tags"]), frontal, json.dumps(list(refers)),
                   summary["body_version"], base_url, now, now), durable=True)

    def record_element_state(self, external_id: str, status: str, *,
                             task_id: str | None = None, detail: str | None = None,
                             answer: str | None = None) -> None:
        self._run("UPDATE elements SET status = ?, task_id = COALESCE(?, task_id),"
                  " error = COALESCE(?, error), answer = COALESCE(?, answer), updated_at = ?"
                  " WHERE external_id = ?",
                  (status, task_id, detail,
                   None if answer is None else answer[:ANSWER_MAX_CHARS], time.time(),
                   external_id))

    def record_element_made(self, external_id: str, element_id: int, cost: str | None,
                            answer: str) -> None:
        self._run("UPDATE elements SET status = 'completed', element_id = ?, cost = ?,"
                  " answer = ?, updated_at = ? WHERE external_id = ?",
                  (str(element_id), cost, answer[:ANSWER_MAX_CHARS], time.time(),
                   external_id))

    # -- result files: their records, ratings and picks (migration 4) ----------------

    def record_files(self, external_id: str, files: Sequence[dict[str, Any]]) -> None:
        """As the SQLite journal's: a row per saved file; a rating given earlier (by any
        kernel) is kept."""
        now = time.time()
        rows = [(str(item["path"]), external_id, item.get("image"), item.get("provenance"),
                 item.get("stored_in"), item.get("c2pa"),
                 None if item.get("record") is None
                 else json.dumps(item["record"], ensure_ascii=False), now)
                for item in files]
        if not rows:
            return
        with self._connect() as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO result_files (path, external_id, image, provenance, stored_in,"
                " c2pa, record, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (path) DO UPDATE SET external_id = excluded.external_id,"
                " image = excluded.image, provenance = excluded.provenance,"
                " stored_in = excluded.stored_in, c2pa = excluded.c2pa,"
                " record = excluded.record, updated_at = excluded.updated_at", rows)

    def set_mark(self, path: Path | str, *, rating: int | None = None, flag: str | None = None,
                 clear_flag: bool = False, external_id: str | None = None) -> dict[str, Any]:
        """As the SQLite journal's, in one statement: the row is made or changed
        atomically, so of two kernels marking one file at once each change lands (the
        stars of one and the flag of the other, or the later of two ratings)."""
        check_mark(rating, flag)
        rates, flags = rating is not None, flag is not None or clear_flag
        now = time.time()
        with self._connect() as conn:
            if external_id is None:
                external_id = _job_of_file(conn, str(path))
            row = conn.execute(
                "INSERT INTO result_files AS f (path, external_id, rating, flag, rated_at,"
                " updated_at) VALUES (%(path)s, %(job)s, %(rating)s, %(flag)s, %(rated)s,"
                " %(now)s) ON CONFLICT (path) DO UPDATE SET"
                " external_id = COALESCE(f.external_id, excluded.external_id),"
                " rating = CASE WHEN %(rates)s THEN excluded.rating ELSE f.rating END,"
                " flag = CASE WHEN %(flags)s THEN excluded.flag ELSE f.flag END,"
                " rated_at = COALESCE(excluded.rated_at, f.rated_at)"
                " RETURNING path, external_id, image, provenance, stored_in, c2pa, rating,"
                " flag",
                {"path": str(path), "job": external_id, "rating": rating, "flag": flag,
                 "rated": now if rates or flags else None, "now": now, "rates": rates,
                 "flags": flags}).fetchone()
        return dict(row)

    def file_marks(self, paths: Sequence[Path | str]) -> dict[str, dict[str, Any]]:
        """As the SQLite journal's, in one query (an array of paths)."""
        wanted = [str(p) for p in paths]
        if not wanted:
            return {}
        rows = self._rows("SELECT path, external_id, image, provenance, stored_in, c2pa,"
                          " rating, flag FROM result_files WHERE path = ANY(?)", (wanted,))
        return {str(row["path"]): row for row in rows}

    def moved_file(self, old: Path, new: Path | str) -> None:
        """As the SQLite journal's; the job's row is locked while its paths change, so a
        concurrent write to it waits instead of being overwritten."""
        with self._connect() as conn:
            moved = conn.execute(
                "UPDATE result_files SET path = %s, updated_at = %s WHERE path = %s"
                " RETURNING external_id", (str(new), time.time(), str(old))).fetchone()
            job = moved["external_id"] if moved else None
            if job is not None:
                rows = conn.execute("SELECT external_id, paths FROM jobs WHERE"
                                    " external_id = %s FOR UPDATE", (job,)).fetchall()
            else:
                rows = conn.execute("SELECT external_id, paths FROM jobs WHERE"
                                    " strpos(paths, %s) > 0 FOR UPDATE",
                                    (json.dumps(str(old))[1:-1],)).fetchall()
            for row in rows:
                try:
                    listed = json.loads(row["paths"] or "[]")
                except ValueError:
                    continue
                if isinstance(listed, list) and str(old) in listed:
                    updated = [str(new) if p == str(old) else p for p in listed]
                    conn.execute("UPDATE jobs SET paths = %s WHERE external_id = %s",
                                 (json.dumps(updated), row["external_id"]))

    def forgot_file(self, path: Path | str) -> None:
        self._run("DELETE FROM result_files WHERE path = ?", (str(path),))

    # -- reading ---------------------------------------------------------------------

    def get(self, external_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM jobs WHERE external_id = ?", (external_id,))
        return _plain(rows[0]) if rows else None

    def find(self, ident: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM jobs WHERE task_id = ? OR external_id = ?"
                          " ORDER BY created_at DESC LIMIT 1", (ident, ident))
        return _plain(rows[0]) if rows else None

    def history(self, *, limit: int = 20, offset: int = 0, model: str | None = None,
                failed: bool = False, search: str | None = None, picked: bool = False,
                min_rating: int | None = None, user: str | None = None,
                ) -> tuple[list[dict[str, Any]], int]:
        where, params = history_filter(
            model=model, failed=failed, search=search, picked=picked,
            min_rating=min_rating, user=user,
            searched=lambda text: ("strpos(lower(prompt), lower(?)) > 0", text))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = [_plain(r) for r in self._rows(
            f"SELECT * FROM jobs{clause} ORDER BY created_at DESC, seq DESC LIMIT ? OFFSET ?",
            (*params, limit, offset))]
        if offset == 0 and len(rows) < limit:
            return rows, len(rows)
        total = self._rows(f"SELECT count(*) AS n FROM jobs{clause}", params)[0]["n"]
        return rows, int(total)

    def claim_unfinished(self, base_url: str, *, steal: bool = False,
                         skip: frozenset[str] = frozenset(),
                         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Claim the unfinished jobs on this service whose lease has run out (or this
        process's own): ``(claimed, held)``. Rows another claimer has locked right now
        are skipped (``FOR UPDATE SKIP LOCKED``), so two resumers split them."""
        me, now = current_owner(), time.time()
        claimed: list[dict[str, Any]] = []
        held: list[dict[str, Any]] = []
        self._ensure_renewer()
        with self._claiming, self._connect() as conn:
            rows = [dict(r) for r in conn.execute(
                f"SELECT * FROM jobs WHERE {_UNFINISHED} AND base_url = %s"
                " ORDER BY created_at FOR UPDATE SKIP LOCKED", (base_url,))]
            recent = [dict(r) for r in conn.execute(
                "SELECT * FROM jobs WHERE base_url = %s AND status = 'completed'"
                " ORDER BY updated_at DESC LIMIT %s FOR UPDATE SKIP LOCKED",
                (base_url, RECHECKED_COMPLETED))]
            rows = sorted(rows + [r for r in recent if _files_missing(r)],
                          key=lambda r: r["created_at"])
            mine: list[str] = []
            for row in rows:
                if row["external_id"] in skip:
                    continue
                live = row.get("owner") not in (None, me) \
                    and (row.get("lease_until") or 0) > now
                if live and not steal:
                    held.append(_plain(row))
                    continue
                mine.append(row["external_id"])
                claimed.append(_plain({**row, "owner": me}))
            if mine:
                conn.execute("UPDATE jobs SET owner = %s, lease_until = %s"
                             " WHERE external_id = ANY(%s)", (me, self.lease_end(), mine))
        return claimed, held

    # -- the team budget (money/team_budget.py decides what to reserve) ---------------

    def reserve(self, external_id: str, model: str, amount: Decimal, limit: Decimal,
                since: float, unit: str = "USD") -> Decimal | None:
        """Reserve ``amount`` for a job about to be created, unless what is billed or held
        (by a live lease) since ``since`` plus it would pass ``limit``: None when
        reserved, else that total. One transaction under an advisory lock, so of twenty
        submitters at once each sees the others' reservations (never an overrun); the
        lock is taken, the sum read and the row added in one call (``kirin_reserve``,
        migration 3), so the lock is held for one round trip and the commit."""
        self._ensure_renewer()
        with self._connect(alone=True) as conn:  # autocommit: commits as it ends
            total = conn.execute(
                "SELECT kirin_reserve(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) AS over",
                (external_id, self.user, model, unit, amount, limit, since, time.time(),
                 self.lease_end(), _BUDGET_KEY)).fetchone()["over"]
        return None if total is None else Decimal(total)

    def _settle(self, conn: Any, external_id: str, status: str | None,
                cost: str | None) -> None:
        """Turn a job's reservation into its billed cost (the reserved amount when the
        cost is not known: never zero), or release it when the job cannot be billed."""
        billed = None if cost is None else _decimal(cost)
        if billed is not None:
            conn.execute("UPDATE reservations SET state = 'billed', amount = %s,"
                         " updated_at = %s WHERE external_id = %s",
                         (billed, time.time(), external_id))
        elif status == "completed" or cost is not None:  # no readable cost: as reserved
            conn.execute("UPDATE reservations SET state = 'billed', updated_at = %s"
                         " WHERE external_id = %s AND state = 'held'",
                         (time.time(), external_id))
        elif status in ("failed", "not_created"):
            conn.execute("UPDATE reservations SET state = 'released', updated_at = %s"
                         " WHERE external_id = %s AND state = 'held'",
                         (time.time(), external_id))

    def spend(self, since: float = 0.0) -> list[dict[str, Any]]:
        """The team's spend since ``since``: billed and held, by user and model."""
        return self._rows(
            "SELECT user_name AS user, model, unit,"
            " sum(CASE WHEN state = 'billed' THEN amount ELSE 0 END) AS billed,"
            " sum(CASE WHEN state = 'held' AND lease_until > ? THEN amount ELSE 0 END)"
            " AS held, count(*) AS jobs FROM reservations WHERE created_at >= ?"
            " AND state <> 'released' GROUP BY user_name, model, unit"
            " ORDER BY user_name, model", (time.time(), since))

    # -- copying a personal journal in (``%kirin journal migrate``) -----------------

    def import_sqlite(self, source: Journal) -> dict[str, int]:
        """Copy a personal SQLite journal's rows in, keeping their ids; rows already here
        are left as they are, so running it twice changes nothing. How many rows of each
        table were added. A job keeps the user and host it was recorded with (this
        journal's user and this host where it has none); a saved file its stars and
        pick."""
        added: dict[str, int] = {}
        user, host = self.user, socket.gethostname()
        jobs = source._rows("SELECT * FROM jobs ORDER BY created_at")
        with self._connect(durable=True) as conn:
            count = 0
            for row in jobs:
                count += conn.execute(
                    "INSERT INTO jobs (external_id, task_id, model, prompt, request, base_url,"
                    " status, cost, urls, paths, error, owner, lease_until, output_dir,"
                    " parents, protocol, user_name, host, created_at, updated_at) VALUES"
                    " (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,NULL,NULL,%s,%s,%s,%s,%s,%s,%s)"
                    " ON CONFLICT (external_id) DO NOTHING",
                    (row["external_id"], row["task_id"], row["model"], row["prompt"],
                     row["request"], row["base_url"], row["status"], row["cost"],
                     row["urls"], row["paths"], row["error"], row.get("output_dir"),
                     row.get("parents"), row.get("protocol"), row.get("user_name") or user,
                     row.get("host") or host, row["created_at"], row["updated_at"])).rowcount
            added["jobs"] = count
            for table, key in (("elements", "external_id"), ("host_facts", "base_url, name"),
                               ("uploads", "upload_url, sha256"), ("result_files", "path")):
                rows = source._rows(f"SELECT * FROM {table}")
                count = 0
                for row in rows:
                    names = ", ".join(row)
                    marks = ", ".join(["%s"] * len(row))
                    count += conn.execute(
                        f"INSERT INTO {table} ({names}) VALUES ({marks})"
                        f" ON CONFLICT ({key}) DO NOTHING", tuple(row.values())).rowcount
                added[table] = count
            count = 0
            for row in source._rows("SELECT * FROM durations"):
                count += conn.execute(
                    "INSERT INTO durations (model, resolution, n, seconds, at, uncertainty)"
                    " SELECT %s, %s, %s, %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM"
                    " durations WHERE model = %s AND resolution = %s AND n = %s AND at = %s)",
                    (row["model"], row["resolution"], row["n"], row["seconds"], row["at"],
                     row["uncertainty"], row["model"], row["resolution"], row["n"],
                     row["at"])).rowcount
            added["durations"] = count
            try:
                batches = source._rows("SELECT * FROM batches")
            except sqlite3.Error:
                batches = []  # a journal that never ran a batch has no such table
            count = 0
            for row in batches:
                count += conn.execute(
                    "INSERT INTO batches (name, base_url, fingerprint, size, inputs,"
                    " output_dir, status, owner, lease_until, created_at, updated_at) VALUES"
                    " (%s,%s,%s,%s,%s,%s,%s,NULL,NULL,%s,%s) ON CONFLICT (name) DO NOTHING",
                    (row["name"], row["base_url"], row["fingerprint"], row["size"],
                     row["inputs"], row["output_dir"], row["status"], row["created_at"],
                     row["updated_at"])).rowcount
            added["batches"] = count
        return added

    def write_together(self, calls: Sequence[tuple[Callable[..., None], tuple[Any, ...],
                                                   dict[str, Any]]],
                       *, durable: bool = False) -> list[BaseException | None]:
        return super().write_together(calls, durable=durable)


def _job_of_file(conn: Any, path: str) -> str | None:
    """The external id of the job that saved ``path``: its ``result_files`` row says,
    else the job whose paths name it (a scan, for a file saved before migration 4)."""
    row = conn.execute("SELECT external_id FROM result_files WHERE path = %s"
                       " AND external_id IS NOT NULL", (path,)).fetchone()
    if row is None:
        row = conn.execute("SELECT external_id FROM jobs WHERE strpos(paths, %s) > 0"
                           " LIMIT 1", (json.dumps(path)[1:-1],)).fetchone()
    return None if row is None else str(row["external_id"])


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the SQLite journal gives it: without the columns only this store has
    under other names (``user_name`` is also given as ``user``)."""
    row = dict(row)
    row.pop("seq", None)
    row["user"] = row.get("user_name")
    return row


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except ArithmeticError:
        return None
    return value if value.is_finite() and value >= 0 else None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _renew_forever(ref: weakref.ReferenceType[PgJournal]) -> None:
    """Renew this process's leases every third of a lease, while the journal lives."""
    while True:
        journal = ref()
        if journal is None:
            return
        pause = journal.lease_seconds / 3
        del journal
        time.sleep(pause)  # a lease is set when a row is taken: renewed a third later
        journal = ref()
        if journal is None:
            return
        # unreachable for now: tried again next time (the lease may run out)
        with contextlib.suppress(sqlite3.Error, OSError):
            journal.renew_leases()
        del journal
