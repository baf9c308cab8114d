"""The gateway's queue protocol, the second dialect: submit, status, response, cancel.

As seacloud-cli's ``internal/queue/client.go`` speaks it (and SeaCloud's documentation of
multimodal models): ``POST {base}/model/v1/queue/{model}`` with the raw parameters as the
body (no ``model`` key, no ``input`` wrapper), answered with a ``request_id``; then
``GET …/requests/{id}/status`` (``IN_QUEUE``, ``IN_PROGRESS``, ``COMPLETED``; completed
with an ``error`` is a failure), ``GET …/requests/{id}/response`` for the ``outputs``, and
``PUT …/requests/{id}/cancel``. The ``status_url``/``response_url`` of the answer are not
followed: the paths are built here, so the key never goes to a host the answer names.

Every request goes through ``GatewayHTTP`` (bounded answers, redaction, retries). What
stays unknown (whether ``external_task_id`` is honoured, how a lost submit answer could be
found again) is built safe either way: a submit whose answer is lost is never sent again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import quote

import httpx

from ..base.retrying import TryAgain, with_retries
from ..errors import (
    AnswerCut,
    APIError,
    InsufficientBalance,
    KirinError,
    LimitExceeded,
    OutcomeUnknown,
    ServiceBusy,
    ServiceUnavailable,
    SubmitRefused,
)
from .http import GatewayHTTP, Sendable
from .responses import TaskSnapshot, parse_task

log = logging.getLogger("kirin_jupyter")

QUEUE_PATH = "/model/v1/queue/{model}"
REQUEST_PATH = QUEUE_PATH + "/requests/{id}"
CancelOutcome = Literal["cancelled", "completed", "gone"]
_LOST = ("the task may exist, and the queue protocol offers no lookup by external id, so "
         "it is not sent again: %kirin resume (or kirin_jupyter.resume()) asks again")


def _segment(value: str) -> str:
    if value in (".", ".."):
        raise APIError(f"refusing the id {value!r}")
    return quote(value, safe="")


def queue_body(request: Sendable) -> dict[str, Any]:
    """The raw parameters: the flat body without ``model`` (it is in the path)."""
    return {k: v for k, v in request.body().items() if k != "model"}


def _unwrap(payload: Any) -> Mapping[str, Any]:
    if isinstance(payload, Mapping):
        data = payload.get("data")
        if isinstance(data, Mapping) and any(
                k in data for k in ("request_id", "status", "outputs", "id")):
            return data
        return payload
    raise ValueError("the answer is not a JSON object")


def _error_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """``error`` (text or object) with ``error_type``, in the generation's error shape: an
    object's code (else the type) as the code; a text keeps the type beside it."""
    error, kind = obj.get("error"), obj.get("error_type")
    kind = kind if isinstance(kind, str) and kind.strip() else None
    if isinstance(error, Mapping):
        code = error.get("code") or error.get("error_code") or kind
        message = error.get("message") or error.get("error_message") or kind
        return {"code": code, "message": message} if code or message else None
    if isinstance(error, str) and error.strip():
        return {"message": f"{error} ({kind})" if kind else error}
    return {"message": kind} if kind else None


def queue_snapshot(payload: Any, request_id: str | None = None) -> TaskSnapshot:
    """A submit or status answer as a ``TaskSnapshot`` (ValueError when it names neither
    a request nor a status)."""
    obj = _unwrap(payload)
    ident = obj.get("request_id") or obj.get("id") or request_id
    status = obj.get("status")
    error = _error_of(obj)
    word = status.strip().lower() if isinstance(status, str) else None
    if word == "completed" and error is not None:
        word = "failed"
    shaped: dict[str, Any] = {"id": ident, "status": word or ("failed" if error else None)}
    for key in ("progress", "usage", "metadata", "external_task_id"):
        if key in obj:
            shaped[key] = obj[key]
    if error is not None:
        shaped["error"] = error
    if shaped["status"] is None:
        del shaped["status"]
    if not isinstance(ident, (str, int)) or isinstance(ident, bool):
        shaped.pop("id")
    return parse_task(shaped)


def queue_result(payload: Any, request_id: str) -> TaskSnapshot:
    """The response call's ``{request_id, outputs: [...], metadata}`` as a completed (or,
    with an ``error``, failed) snapshot; the cost from ``usage``, at the top or inside
    ``metadata`` (no page says where; none: the job counts at its quote)."""
    obj = _unwrap(payload)
    outputs = obj.get("outputs")
    contents = []
    for item in outputs if isinstance(outputs, list) else []:
        if isinstance(item, Mapping):
            kind = item.get("type")
            if not isinstance(kind, str) or not kind:
                content_type = item.get("content_type")
                kind = content_type.split("/")[0] if isinstance(content_type, str) \
                    and content_type else "image"
            contents.append({**item, "type": kind})
    found = obj.get("metadata")
    metadata: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    usage = obj.get("usage") if isinstance(obj.get("usage"), Mapping) else \
        metadata.get("usage") if isinstance(metadata.get("usage"), Mapping) else None
    error = _error_of(obj)
    shaped: dict[str, Any] = {"id": request_id, "status": "failed" if error else "completed",
                              "output": [{"content": contents}], "metadata": dict(metadata)}
    if usage is not None:
        shaped["usage"] = usage
    if error is not None:
        shaped["error"] = error
    return parse_task(shaped)


class QueueHTTP:
    """The queue dialect over one ``GatewayHTTP`` (its pool, limits, retries, redaction)."""

    def __init__(self, api: GatewayHTTP) -> None:
        self.api = api

    def __repr__(self) -> str:
        return f"QueueHTTP({self.api.endpoint.base_url!r})"

    def url(self, model: str, request_id: str | None = None, tail: str = "") -> str:
        path = QUEUE_PATH.replace("{model}", _segment(model)) if request_id is None else \
            REQUEST_PATH.replace("{model}", _segment(model)).replace("{id}",
                                                                      _segment(request_id))
        return self.api.endpoint.base_url.rstrip("/") + path + tail

    def _wire(self, request: Sendable) -> bytes:
        return json.dumps(queue_body(request), ensure_ascii=False).encode("utf-8")

    async def create(self, request: Sendable, *, busy_raises: bool = False,
                     sent_before: bool = False) -> TaskSnapshot:
        """Submit at most once. Sent again only after an answer that says nothing was
        made (no connection, "no room now"); any answer that may hide a request (lost,
        cut, unreadable, 5xx, a 409 after a busy answer) ends in ``OutcomeUnknown``."""
        api = self.api
        body = await asyncio.to_thread(self._wire, request)
        url = self.url(request.model.name)
        last: KirinError | None = None
        for attempt in range(api.retry.attempts):
            response: httpx.Response | None = None
            try:
                response = await api._send("POST", url, content=body,
                                           headers={"Content-Type": "application/json"})
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.LocalProtocolError) as exc:
                last = ServiceUnavailable(
                    f"could not reach the Kirin API ({exc.__class__.__name__})")
            except (AnswerCut, LimitExceeded, httpx.TransportError) as exc:
                raise OutcomeUnknown(f"lost the answer to the queue submit "
                                     f"({exc.__class__.__name__}); {_LOST}",
                                     status_code=getattr(exc, "status_code", None)) from None
            else:
                status = response.status_code
                if status < 300:
                    try:
                        snapshot = queue_snapshot(api.json_of(response))
                    except (ValueError, ArithmeticError):
                        snapshot = None
                    if snapshot is not None and snapshot.task_id:
                        return snapshot
                error = api.error_for(response) if status >= 400 else \
                    api._busy_in_body(response) or api._refused_in_body(response)
                if isinstance(error, (SubmitRefused, InsufficientBalance)):
                    raise error
                if isinstance(error, ServiceBusy):
                    if busy_raises:
                        raise error
                    sent_before, last = True, error
                elif error is not None and 400 <= status < 500 and status != 409:
                    raise error
                elif status == 409 and not sent_before:
                    raise APIError(
                        f"external task id {request.external_task_id!r} was already used on "
                        "this account; ids must be unique (leave it out to get a fresh one)",
                        code="409", status_code=409)
                else:
                    raise OutcomeUnknown(f"the queue submit answered HTTP {status} without a "
                                         f"request id; {_LOST}", status_code=status)
            if attempt + 1 < api.retry.attempts:
                await api._retry_wait(attempt, response)
        assert last is not None
        raise last

    async def _get(self, url: str, task_id: str, *, missing_ok: bool = False) -> Any:
        """One GET's JSON (redacted), retried on 5xx, 429 and network errors; None on a
        404 when ``missing_ok``."""
        return await self.api.get_read(url, task_id, lambda payload, _response: payload,
                                       missing_ok=missing_ok, what="JSON")

    async def get_task(self, request_id: str, model: str, *, missing_ok: bool = False
                       ) -> TaskSnapshot | None:
        """The request's status; once ``COMPLETED`` without an error, its outputs from the
        response call (the status answer lists none)."""
        payload = await self._get(self.url(model, request_id, "/status"), request_id,
                                  missing_ok=missing_ok)
        if payload is None:
            return None
        try:
            snapshot = queue_snapshot(payload, request_id)
        except (ValueError, ArithmeticError):
            raise ServiceUnavailable("the Kirin API sent a queue status that cannot be read",
                                     task_id=request_id) from None
        if snapshot.status != "completed":
            return snapshot
        answer = await self._get(self.url(model, request_id, "/response"), request_id)
        try:
            result = queue_result(answer, request_id)
        except (ValueError, ArithmeticError):
            raise ServiceUnavailable("the Kirin API sent a queue response that cannot be "
                                     "read", task_id=request_id) from None
        if result.cost is None and snapshot.cost is not None:  # a cost on the status only
            result = replace(result, cost=snapshot.cost)
        return result

    async def cancel(self, request_id: str, model: str) -> CancelOutcome:
        """``PUT …/cancel``: 2xx (202 ``CANCELLATION_REQUESTED``) is "cancelled", 400
        ``ALREADY_COMPLETED`` "completed" (fetch the result), 404 "gone". Retried like a
        status query (a cancel may be repeated); any other answer raises."""
        api = self.api
        url = self.url(model, request_id, "/cancel")

        async def attempt() -> CancelOutcome:
            try:
                response = await api._send("PUT", url)
            except httpx.TransportError as exc:
                raise TryAgain(ServiceUnavailable(
                    f"could not reach the Kirin API ({exc.__class__.__name__})",
                    task_id=request_id)) from None
            status = response.status_code
            if status < 300:
                return "cancelled"
            if status == 404:
                return "gone"
            if status == 400 and b"ALREADY_COMPLETED" in response.content.upper():
                return "completed"
            error = api.error_for(response, request_id)
            if status != 429 and status < 500:
                raise error
            raise TryAgain(error, response)

        return await with_retries(attempt, attempts=api.retry.attempts, wait=api._retry_wait)
