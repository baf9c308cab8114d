"""Exceptions users can read: every message is one line and never carries the API key.

In IPython (a notebook, the terminal) a ``KirinError`` a cell raises is shown as that one
line, not as a traceback through the package's frames; ``%tb`` right after shows the
frames (IPython's ``_render_traceback_`` protocol).
"""

from __future__ import annotations

import sys
from typing import Any


class KirinError(Exception):
    """Base of every error this package raises on purpose."""

    def _render_traceback_(self) -> list[str]:
        """IPython's hook for how an uncaught exception is shown: the one line, or the
        whole traceback when ``%tb`` asks (IPython calls this hook for ``%tb`` too)."""
        return render(self, full=_asked_by_tb_magic())


def render(error: BaseException, *, full: bool) -> list[str]:
    """The lines IPython prints for ``error``: its type and message in IPython's colours,
    or (``full``) the traceback as IPython would have shown it without the hook."""
    shell = _shell()
    if shell is None:  # called outside IPython: the plain forms
        import traceback

        if full:
            return [line.rstrip("\n") for line in traceback.format_exception(error)]
        return [f"{type(error).__name__}: {error}"]
    formatter = shell.InteractiveTB
    if full:
        return list(formatter.structured_traceback(type(error), error, error.__traceback__))
    return [line.rstrip("\n") for line in formatter.get_exception_only(type(error), error)]


def _shell() -> Any:
    module = sys.modules.get("IPython")
    if module is None:
        return None
    return module.get_ipython()


def _asked_by_tb_magic() -> bool:
    """Whether IPython's ``%tb`` magic is on the stack (it renders the last error again)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "tb" and \
                frame.f_globals.get("__name__") == "IPython.core.magics.execution":
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


class ValidationError(KirinError, ValueError):
    """The request breaks a documented rule; nothing was sent."""


class APIError(KirinError):
    """The service answered with an error (HTTP status and/or documented error code)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        task_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status_code = status_code
        self.task_id = task_id


class AuthenticationError(APIError):
    """HTTP 401/403: the key is missing, wrong or not allowed."""


class InsufficientBalance(APIError):
    """The account cannot pay: HTTP 402, or a 403 (or a refused submit) whose answer names
    the balance or credits, or one of the ``error_code``s 40201-40208 the SeaCloud CLI
    knows. Nothing was created; topping up the account is the fix, not a new key."""


class SubmitRefused(APIError):
    """A create answered 2xx with an error and no task id (the SeaCloud CLI's "failed
    submit"): nothing was created, so nothing is billed or left to resume."""


class RateLimited(APIError):
    """HTTP 429 that outlasted the retries; ``retry_after`` says how long to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServiceBusy(RateLimited):
    """The service has no room for another task now: HTTP 429, error ``006001094`` (task
    resource insufficient) or a message about concurrency. Nothing was created; a batch
    waits and sends the same request again at a lower concurrency."""


class ServiceUnavailable(APIError):
    """The service could not be reached or kept failing (network errors, 5xx)."""


class AnswerCut(ServiceUnavailable):
    """A status line came back, but not the rest of the answer (cut off, too slow or too
    large): the request arrived, so a create is never sent again after this."""


class TaskFailed(APIError):
    """The task reached the ``failed`` state; ``code`` holds the service's error code."""


class TaskTimeout(KirinError):
    """The job's deadline passed; the task may still finish: the ids allow a later resume."""

    def __init__(self, message: str, *, task_id: str | None, external_task_id: str) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.external_task_id = external_task_id


class OutcomeUnknown(APIError):
    """A create request may have reached the service, but whether a task exists is unknown."""


class NeverCreated(KirinError):
    """A resumed job whose external id the service does not list: nothing to follow."""


class Cancelled(KirinError):
    """A job ended by ``cancel()``: on the queue dialect the service took the cancel
    (nothing is downloaded); on the generation dialect, which has no cancel, only the
    following stopped (``by_service`` False), and the task stays resumable."""

    def __init__(self, message: str, *, task_id: str | None = None,
                 by_service: bool = False) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.by_service = by_service


class BudgetExceeded(KirinError):
    """Starting this job would take the session's spend past ``max_cost``."""


class ResultExpired(APIError):
    """A result URL no longer serves the image, even after asking for fresh URLs."""


class DownloadError(APIError):
    """A result could not be downloaded intact."""


class LimitExceeded(DownloadError):
    """An answer broke a size, count or time limit (a setting, ``Client(limits=...)``);
    nothing more of it is read. The task stays resumable."""
