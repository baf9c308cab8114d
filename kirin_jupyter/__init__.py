"""Generate images with the Kirin image API from Jupyter.

``%load_ext kirin_jupyter`` registers ``%kirin`` / ``%%kirin``; ``Client`` and ``generate``
are the plain Python API; ``Panel`` is the widget panel (``%kirin ui``). Names are loaded on
first use so that loading the extension stays fast (httpx, Pillow and ipywidgets are
imported only when a job or a widget needs them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .base import renderers as _renderers
from .version import __version__ as __version__

_EXPORTS = {
    "Client": "client",
    "generate": "shortcuts",
    "batch": "shortcuts",
    "Batch": "batches.batch",
    "sweep": "shortcuts",
    "plan_sweep": "shortcuts",
    "Sweep": "batches.sweep",
    "ServiceBusy": "errors",
    "default_client": "shortcuts",
    "Job": "engine.job",
    "Result": "engine.job",
    "KirinError": "errors",
    "ValidationError": "errors",
    "APIError": "errors",
    "AuthenticationError": "errors",
    "InsufficientBalance": "errors",
    "SubmitRefused": "errors",
    "RateLimited": "errors",
    "ServiceUnavailable": "errors",
    "TaskFailed": "errors",
    "TaskTimeout": "errors",
    "ResultExpired": "errors",
    "DownloadError": "errors",
    "LimitExceeded": "errors",
    "Limits": "service.http",
    "NeverCreated": "errors",
    "OutcomeUnknown": "errors",
    "BudgetExceeded": "errors",
    "Cancelled": "errors",
    "resume": "shortcuts",
    "create_element": "shortcuts",
    "elements": "shortcuts",
    "Element": "model.elements",
    "doctor": "shortcuts",
    "model_doc": "shortcuts",
    "Panel": "panel",
    "provenance": "storage.file_provenance",
    "compare": "display.comparison",
    "export": "exporter.export",
    "history_frame": "exporter.export",
    "tidy": "exporter.tidy",
}

__all__ = [*_EXPORTS, "load_ipython_extension", "unload_ipython_extension"]

if TYPE_CHECKING:
    from .batches.batch import Batch as Batch
    from .batches.sweep import Sweep as Sweep
    from .client import Client as Client
    from .display.comparison import compare as compare
    from .engine.job import Job as Job
    from .engine.job import Result as Result
    from .errors import APIError as APIError
    from .errors import AuthenticationError as AuthenticationError
    from .errors import BudgetExceeded as BudgetExceeded
    from .errors import Cancelled as Cancelled
    from .errors import DownloadError as DownloadError
    from .errors import InsufficientBalance as InsufficientBalance
    from .errors import KirinError as KirinError
    from .errors import LimitExceeded as LimitExceeded
    from .errors import NeverCreated as NeverCreated
    from .errors import OutcomeUnknown as OutcomeUnknown
    from .errors import RateLimited as RateLimited
    from .errors import ResultExpired as ResultExpired
    from .errors import ServiceBusy as ServiceBusy
    from .errors import ServiceUnavailable as ServiceUnavailable
    from .errors import SubmitRefused as SubmitRefused
    from .errors import TaskFailed as TaskFailed
    from .errors import TaskTimeout as TaskTimeout
    from .errors import ValidationError as ValidationError
    from .exporter.export import export as export
    from .exporter.export import history_frame as history_frame
    from .exporter.tidy import tidy as tidy
    from .model.elements import Element as Element
    from .panel import Panel as Panel
    from .service.http import Limits as Limits
    from .shortcuts import batch as batch
    from .shortcuts import create_element as create_element
    from .shortcuts import default_client as default_client
    from .shortcuts import doctor as doctor
    from .shortcuts import elements as elements
    from .shortcuts import generate as generate
    from .shortcuts import model_doc as model_doc
    from .shortcuts import plan_sweep as plan_sweep
    from .shortcuts import resume as resume
    from .shortcuts import sweep as sweep
    from .storage.file_provenance import provenance as provenance


def _set_up() -> None:
    """Once, at first use of the face: the session provides settings to new clients, the
    display layer fills the renderer registry, and a running IPython shows jobs, results,
    batches and sweeps as cards. Done here, at the top, so no layer imports one above."""
    from .session import install

    install()


def _fill_renderers() -> None:
    """The display layer's views, asked for by a domain object's ``_repr_html_`` before the
    face was used (``from kirin_jupyter.client import Client`` in marimo or nbconvert)."""
    from .display import formatters

    formatters.install()


# The one thing done at import: name who fills the renderer registry on first need (one
# assignment, nothing imported), because every import of the package runs this file first
# and no layer below may import the display layer (docs/decisions/0015).
_renderers.fill_with(_fill_renderers)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kirin_jupyter' has no attribute {name!r}")
    _set_up()
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext kirin_jupyter``: register the magics and the ``Kirin`` configurable."""
    from .magics.core import KirinMagics

    _set_up()
    ipython.register_magics(KirinMagics(shell=ipython))


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.get("KirinMagics")
    if magics is not None:
        for kind in ("line", "cell"):
            ipython.magics_manager.magics[kind].pop("kirin", None)
