"""The life of one element task on the engine loop: journal, create, poll, read the id.

An element is a task of the model ``kirin_custom_elements`` on the same generation
protocol as an image: the same ``GatewayHTTP`` creates it (exactly once, by its
``external_task_id``) and polls it. It has no files to download; what it makes is an id,
read from the finished answer (``service.element_answers``) and kept in the journal with
the raw answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from dataclasses import dataclass

from ..errors import (
    APIError,
    AuthenticationError,
    InsufficientBalance,
    KirinError,
    OutcomeUnknown,
    RateLimited,
    ServiceUnavailable,
    SubmitRefused,
    TaskFailed,
    TaskTimeout,
)
from ..model.elements import Element, ElementRequest, other_body_version
from ..service.element_answers import answer_keys, find_element_id
from ..service.http import GatewayHTTP, documented_error, one_line
from ..service.responses import TaskSnapshot
from ..storage.journal import ANSWER_MAX_CHARS, Journal
from .polling import Expectation, PollPolicy, PollSchedule, StatusRequestRate

log = logging.getLogger("kirin_jupyter")
_YOUNG_TASK_SECONDS = 10.0  # a 404 this soon after creation means "not listed yet"
ELEMENT_PRIOR_SECONDS = 20.0  # a guess: no page says how long an element takes


@dataclass
class ElementRun:
    """What one element task needs from its client."""

    api: GatewayHTTP
    journal: Journal
    timeout: float
    policy: PollPolicy
    expected_seconds: float = ELEMENT_PRIOR_SECONDS
    status_rate: StatusRequestRate | None = None


async def make_element(request: ElementRequest, run: ElementRun) -> tuple[Element,
                                                                           TaskSnapshot]:
    """Create the element task, follow it to its end and return the element (with the
    final answer, whose ``cost`` the budget counts). Raises a one-line ``KirinError``."""
    journal, api = run.journal, run.api
    external_id = request.external_task_id
    try:
        await asyncio.to_thread(
            journal.record_element_submit, external_id, request.summary(),
            request.frontal.sha256, [ref.sha256 for ref in request.refers],
            api.endpoint.base_url)
    except (sqlite3.Error, OSError) as exc:
        raise KirinError(f"the journal {journal.where} cannot be written ({exc}); nothing "
                         "was sent. Set KIRIN_HOME to a writable folder and try again"
                         ) from None
    try:
        snapshot = await _create(request, run)
        task_id = snapshot.task_id or external_id
        await _note(journal, external_id, "created", task_id=task_id)
        final = await _poll(task_id, snapshot, run, external_id)
    except KirinError as exc:
        await _note(journal, external_id, _state_after(exc), detail=str(exc))
        raise
    answer = _answer_text(final.raw)
    if final.status == "failed":
        detail = api.redact(one_line(final.error_message)) if final.error_message else None
        code = f" with error {final.error_code}" if final.error_code else ""
        said = documented_error(final.error_code, detail) or (
            f"the service reported failure{code}" + (f": {detail}" if detail else ""))
        failed = TaskFailed(f"element task {task_id} failed: {said}", code=final.error_code,
                            task_id=task_id)
        await _note(journal, external_id, "failed", detail=str(failed), answer=answer)
        raise failed
    element_id = find_element_id(final.raw)
    if element_id is None:
        error = APIError(
            f"element task {task_id} completed, but its answer names no element id (looked "
            "for output[].content[].element_id or id, element_id, "
            f"task_result.elements[].element_id); its keys: {answer_keys(final.raw)}; "
            "the whole answer is in the journal", task_id=task_id)
        await _note(journal, external_id, "no_id", detail=str(error), answer=answer)
        raise error
    cost = None if final.cost is None else str(final.cost)
    try:
        await asyncio.to_thread(journal.record_element_made, external_id, element_id, cost,
                                answer)
    except sqlite3.Error as exc:  # the id is shown to the user all the same
        log.warning("element %s (id %d) could not be journaled: %s", request.name,
                    element_id, exc)
    log.info("element %s: id %d (task %s)", request.name, element_id, task_id)
    return Element(
        element_id=element_id, name=request.name, description=request.description,
        tags=request.tags, frontal_sha256=request.frontal.sha256,
        refer_sha256=tuple(ref.sha256 for ref in request.refers), task_id=task_id,
        external_task_id=external_id, base_url=api.endpoint.base_url,
    ), final


def _state_after(error: KirinError) -> str:
    """'failed' when nothing was created (a refusal); 'interrupted' when a task may exist."""
    if isinstance(error, (OutcomeUnknown, TaskTimeout, ServiceUnavailable)):
        return "interrupted"
    return "failed"


async def _note(journal: Journal, external_id: str, status: str, **kw: str | None) -> None:
    try:
        await asyncio.to_thread(journal.record_element_state, external_id, status, **kw)
    except sqlite3.Error as exc:
        log.warning("element %s: journal write failed: %s", external_id, exc)


def _answer_text(payload: object) -> str:
    try:
        text = json.dumps(payload, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(payload)
    return text[:ANSWER_MAX_CHARS]


async def _create(request: ElementRequest, run: ElementRun) -> TaskSnapshot:
    try:
        return await asyncio.wait_for(run.api.create(request), run.timeout)
    except asyncio.TimeoutError:
        raise OutcomeUnknown(f"no answer to the element create within {run.timeout:g} s; "
                             "the task may exist (check the account's element library)"
                             ) from None
    except (InsufficientBalance, AuthenticationError, RateLimited, OutcomeUnknown):
        raise
    except APIError as exc:
        refused = isinstance(exc, SubmitRefused) or (
            exc.status_code is not None and 400 <= exc.status_code < 500
            and exc.status_code != 409)
        if not refused:
            raise
        other = other_body_version(request.body_version)
        raise type(exc)(
            f"{exc}; the service refused the element body of element_body="
            f"{request.body_version!r} (nothing was created): if it follows the other page "
            f"version, try element_body={other!r} (%config Kirin.element_body = {other!r}, "
            f"or Client(element_body={other!r}))",
            code=exc.code, status_code=exc.status_code) from None


async def _poll(task_id: str, snapshot: TaskSnapshot, run: ElementRun, external_id: str
                ) -> TaskSnapshot:
    """Poll until final; the final answer is always one read with its raw JSON."""
    schedule = PollSchedule(Expectation.around(run.expected_seconds, 0.5), run.policy)
    started = time.monotonic()
    deadline = started + run.timeout
    outage: Exception | None = None
    fetched_raw = False
    first = True
    while snapshot.status not in ("completed", "failed") or not fetched_raw:
        final = snapshot.status in ("completed", "failed")
        delay = 0.0 if final and first else \
            schedule.next_delay(time.monotonic() - started, snapshot.retry_after)
        first = False
        if time.monotonic() + delay > deadline:
            why = f" (the service has been failing: {outage})" if outage else ""
            raise TaskTimeout(f"element task {task_id} not finished after {run.timeout:g} s"
                              f"{why}; check the account's element library later",
                              task_id=task_id, external_task_id=external_id)
        await asyncio.sleep(delay)
        if run.status_rate is not None:
            await run.status_rate.acquire()
        try:
            fetched = await run.api.get_task(task_id, keep_raw=True)
        except APIError as exc:
            if exc.status_code == 404 and time.monotonic() - started < _YOUNG_TASK_SECONDS:
                continue
            if not isinstance(exc, (ServiceUnavailable, RateLimited)):
                raise
            outage = exc
            continue
        assert fetched is not None
        snapshot, fetched_raw, outage = fetched, True, None
    return snapshot
