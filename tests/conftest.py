"""Shared fixtures: an isolated KIRIN_HOME, a loopback simulator, images to upload."""

from __future__ import annotations

import contextlib
import io
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from kirin_jupyter import session
from kirin_jupyter.client import Client
from kirin_jupyter.engine.polling import PollPolicy
from kirin_jupyter.simulator.server import SimulatorServer

from .support import postgres, s3
from .support.gateway import Gateway, GatewayServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "notebooks"))  # run_notebook.execute, shared with the README

# Short gaps for a simulator whose tasks take a fraction of a second.
FAST_POLL = PollPolicy(first=0.05, floor=0.02, cap=0.2)
TEST_KEY = "sk-test-Zq7Yh3VvN2pLk9"  # a made-up key the tests look for in every output


# The folders whose tests carry a marker of the same name (docs/testing.md), so that
# ``-m "not browser"`` or ``-m "not kernel and not browser"`` need no list of files.
FOLDER_MARKERS = ("integration", "kernel", "browser", "performance")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by its folder under tests/ (tests/unit and the top stay unmarked)."""
    here = Path(__file__).resolve().parent
    for item in items:
        try:
            folder = item.path.resolve().relative_to(here).parts[0]
        except ValueError:
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(folder)


def _close_history_at_exit(self: InteractiveShell) -> None:
    """A test's shell at exit: only its history is closed (its thread stopped, its
    database shut). IPython's own ``atexit_operations`` also resets the namespaces, which
    runs a full ``gc.collect()`` for every shell ever made: with some 80 shells and the
    suite's heap that kept the process alive 35 to 48 s after pytest's summary, and then
    failed to write the history into the tests' deleted folders."""
    history = self.history_manager
    if history is not None:
        self.history_manager = None
        with contextlib.suppress(sqlite3.Error, OSError):
            history.close()


@pytest.fixture(autouse=True, scope="session")
def package_face_set_up() -> None:
    """What a user's first ``kirin.<name>`` does (the package's face): the session
    provides settings, the display layer its renderers. Tests that build a ``Client``
    from ``kirin_jupyter.client`` directly would otherwise depend on which test ran
    first (the layers keep the client from importing either)."""
    from kirin_jupyter.session import install

    install()


@pytest.fixture(autouse=True, scope="session")
def quick_shell_exit() -> Iterator[None]:
    """Every shell the tests make registers its exit work as it is made (a bound method),
    so the class's is replaced before the first one and for the whole session."""
    original = InteractiveShell.atexit_operations
    InteractiveShell.atexit_operations = _close_history_at_exit
    yield
    InteractiveShell.atexit_operations = original


def isolate(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Journal, outputs, settings and IPython profile under ``folder``; no credentials.
    (A fixture wider than one test calls this itself: ``kirin_env`` is not yet in force
    when it runs.)"""
    monkeypatch.setenv("KIRIN_HOME", str(folder / "home"))
    monkeypatch.setenv("KIRIN_OUTPUT_DIR", str(folder / "outputs"))
    monkeypatch.setenv("KIRIN_SIMULATOR_SECONDS", "0.3")
    monkeypatch.setenv("KIRIN_CONFIG", str(folder / "no-user-config.toml"))  # not ~/.kirin
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)  # kernels show live cards
    monkeypatch.setenv("IPYTHONDIR", str(folder / "ipython"))  # no developer's profile
    monkeypatch.delenv("KIRIN_API_KEY", raising=False)
    monkeypatch.delenv("KIRIN_BASE_URL", raising=False)
    monkeypatch.delenv("KIRIN_JOURNAL_URL", raising=False)  # the personal journal
    monkeypatch.delenv("KIRIN_USER", raising=False)


@pytest.fixture(autouse=True)
def kirin_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own journal, output folder and session (settings, client and
    jobs), and no real credentials."""
    isolate(monkeypatch, tmp_path)
    session._process_session = None
    yield tmp_path
    session._process_session = None
    if InteractiveShell.initialized():  # a shell left behind would carry its session over
        InteractiveShell.clear_instance()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.Cluster]:
    """One throw-away PostgreSQL server for the session (tests/support/postgres.py)."""
    postgres.require()
    with postgres.running() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: postgres.Cluster) -> str:
    """A fresh, empty database on the session's server."""
    return pg_cluster.database()


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_at(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a journal is, on each store in turn: a SQLite file, or a PostgreSQL URL
    (open it with ``open_journal_at``). The journal tests run once per store."""
    if request.param == "sqlite":
        return str(tmp_path / "journal.sqlite3")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def each_journal(journal_at: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Clients made in the test keep their journal on each store in turn (the SQLite
    file under KIRIN_HOME, then a fresh PostgreSQL database through KIRIN_JOURNAL_URL):
    the store's ``dialect``. Name it before the fixtures that make a client."""
    if journal_at.startswith("postgresql://"):
        monkeypatch.setenv("KIRIN_JOURNAL_URL", journal_at)
        return "postgresql"
    return "sqlite"


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    """An IPython shell (no kernel) with the extension loaded."""
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "kirin_jupyter")
    yield ip
    ip.run_line_magic("unload_ext", "kirin_jupyter")
    InteractiveShell.clear_instance()


@pytest.fixture
def sim_server() -> Iterator[SimulatorServer]:
    """The simulator over real HTTP on 127.0.0.1, requiring TEST_KEY."""
    with SimulatorServer(task_seconds=0.3, api_key=TEST_KEY) as server:
        yield server


@pytest.fixture
def http_client(sim_server: SimulatorServer, tmp_path: Path) -> Client:
    """A Client talking real HTTP to the loopback simulator with a key."""
    return Client(api_key=TEST_KEY, base_url=sim_server.url, output_dir=tmp_path / "out",
                  poll_policy=FAST_POLL)


@pytest.fixture
def log_capture() -> Iterator[io.StringIO]:
    """Everything the package and httpx log, at DEBUG, as text."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("kirin_jupyter", "httpx", "httpcore")]
    old = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield stream
    for lg, (level, _) in zip(loggers, old, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


@pytest.fixture
def make_image(tmp_path: Path) -> Callable[..., Path]:
    """Write an image file of the given size and format; returns its path."""

    def make(width: int = 640, height: int = 480, fmt: str = "PNG", name: str | None = None,
             mode: str = "RGB") -> Path:
        from PIL import Image

        suffix = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif"}[fmt]
        path = tmp_path / (name or f"img_{width}x{height}{suffix}")
        Image.new(mode, (width, height), (200, 80, 40) if mode == "RGB" else 128).save(
            path, format=fmt
        )
        return path

    return make


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    """The strict fake of the gateway (tests/support/gateway.py) over loopback HTTP; the test
    fails if the client sent anything off the protocol, or the key to a result URL.
    (tests/integration/service/test_hostile_service.py and test_bounds.py have a fixture
    of their own.)"""
    state = Gateway(TEST_KEY)
    with GatewayServer(state):
        yield state
    assert state.rejections == []
    assert state.cdn_auth_headers == []


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (settings files; tests/unit/config and tests/kernel) with notebooks two levels down; the home file is a temp file."""
    root = tmp_path / "project"
    (root / "notebooks" / "drafts").mkdir(parents=True)
    monkeypatch.setenv("KIRIN_CONFIG", str(tmp_path / "home-config.toml"))
    return root


def write(path: Path, text: str) -> Path:
    """Write a settings file, making its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def s3_server() -> Iterator[s3.S3Server]:
    """One local S3 server (moto, tests/support/s3.py) for the session."""
    with s3.running() as server:
        yield server


@pytest.fixture
def s3_env(s3_server: s3.S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process pointed at the local S3 server; the variables, for child processes."""
    env = s3_server.environment()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
