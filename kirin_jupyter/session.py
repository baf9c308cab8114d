"""The session: one per kernel (one per process outside IPython). It owns the resolved
settings, the one client every front door uses, and the one list of jobs.

Before, the magics built a client of their own from ``%config Kirin`` while ``generate()``
used another built from the environment alone: ``[tool.kirin] n = 3`` made three images
from ``%kirin`` and one from ``generate()``, and ``max_cost`` stopped only the magics.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

from .config import files as config_files
from .config.settings import CONFIGURED, Layer, Settings, api_key_from_env, check, environment_layer
from .config.settings import names as setting_names
from .config.settings import resolve as resolve_settings
from .engine.registry import JobRegistry

if TYPE_CHECKING:
    from .client import Client


class Session:
    """Settings, client and jobs shared by ``%kirin``, the panel and the Python API."""

    def __init__(self, shell: Any = None) -> None:
        self.shell = shell
        self.registry = JobRegistry()
        self.login_key: str | None = None  # from %kirin login: memory only, never a setting
        self.configurable: Any = None  # the Kirin configurable, once %load_ext made one
        self._files: config_files.Loaded | None = None
        self._client: Client | None = None
        self._applied: tuple[Any, ...] | None = None
        self._lock = threading.RLock()

    # -- settings ----------------------------------------------------------------------

    def files(self) -> config_files.Loaded:
        """What the settings files say, read once (``reload_files`` reads them again)."""
        with self._lock:
            if self._files is None:
                self._files = _load_files()
            return self._files

    def reload_files(self) -> config_files.Loaded:
        with self._lock:
            self._files = _load_files()
            return self._files

    def configured(self) -> dict[str, Any]:
        """The names set with ``%config Kirin`` or IPython's config, with their values.

        A name counts as set when IPython's config holds it, even at its default value
        (``%config Kirin.n = 1`` must win over a file's ``n = 3``)."""
        section = _kirin_section(self.shell)
        chosen: dict[str, Any] = {}
        for name in setting_names():
            if name not in section:
                continue
            if self.configurable is not None:
                chosen[name] = getattr(self.configurable, name)  # checked by its traits
                continue
            value, problem = check(name, section[name])
            if problem is None:
                chosen[name] = value
        return chosen

    def settings(self) -> Settings:
        files = self.files()
        return resolve_settings(Layer(files.values, files.sources), environment_layer(),
                                Layer(self.configured(), CONFIGURED))

    # -- the client --------------------------------------------------------------------

    def client(self) -> Client:
        """The session's client, brought up to date with the settings first."""
        from .client import Client

        install()  # its jobs show as cards, and Client() follows %config Kirin too
        with self._lock:
            settings = self.settings()
            wanted = (settings, self.login_key, api_key_from_env())
            if self._client is None:
                self._client = Client(api_key=self.login_key, settings=settings,
                                      registry=self.registry)
            elif wanted != self._applied:
                self._client.apply(settings, self.login_key)
            self._applied = wanted
            return self._client

    def refresh(self) -> None:
        """Bring an existing client up to date now (after a ``%config`` change)."""
        with self._lock:
            if self._client is not None:
                self.client()

    def use_client(self, client: Client | None) -> None:
        """Make ``client`` the session's client (None: build one from the settings)."""
        with self._lock:
            self._client = client
            self._applied = None
            if client is not None:
                client.registry = self.registry


def _kirin_section(shell: Any) -> dict[str, Any]:
    config = getattr(shell, "config", None)
    if config is None:
        return {}
    try:
        section = config.get("Kirin") or {}
        return dict(section.items())
    except Exception:  # a config object of another kind: nothing set
        return {}


def _load_files() -> config_files.Loaded:
    try:
        return config_files.load()
    except Exception as exc:  # never break a front door over a settings file
        return config_files.Loaded(problems=[f"kirin: settings files not read: {exc}"])


_process_session: Session | None = None
_session_lock = threading.Lock()


def session_for(shell: Any) -> Session:
    """The session of an IPython shell (made on first use), or the process's own."""
    global _process_session
    with _session_lock:
        if shell is None:
            if _process_session is None:
                _process_session = Session()
            return _process_session
        session: Session | None = getattr(shell, "_kirin_session", None)
        if session is None:
            session = Session(shell)
            shell._kirin_session = session
        return session


def current_session() -> Session:
    """This kernel's session; outside IPython, the process's."""
    shell = None
    if "IPython" in sys.modules:
        from IPython import get_ipython

        shell = get_ipython()
    return session_for(shell)


_installed = False


def install() -> None:
    """Once: make the session the source of a new ``Client``'s settings
    (``config.current``), so ``Client()`` in a notebook follows ``%config Kirin`` as the
    magics do; fill the display layer's renderers; and teach a running IPython to show
    jobs, results, batches and sweeps as cards. The package's face and the session's
    client call it: no layer below imports the display or the session to do it."""
    global _installed
    from .display import formatters

    formatters.register_with_running_shell()  # cheap, per shell
    if _installed:
        return
    _installed = True
    from .config.current import provide

    provide(lambda: current_session().settings())
    formatters.install()
