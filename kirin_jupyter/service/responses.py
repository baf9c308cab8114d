"""Tolerant parsing of the service's JSON, in one place.

The two documents differ (``error.message`` vs ``error.error_message``) and do not show a
whole response, so every known variant is read here and nowhere else. Unknown status values
count as "running" (logged once), never as a crash.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ..model.spec import canonical_error_code

log = logging.getLogger("kirin_jupyter")

Status = Literal["queued", "running", "completed", "failed"]

_STATUS_WORDS: dict[str, Status] = {}
for _status, _words in {
    "queued": "queued queue queueing pending submitted waiting created in_queue",
    "running": "running processing in_progress progress generating started",
    "completed": "completed complete succeed succeeded success successful done finished",
    "failed": "failed failure fail error errored cancelled canceled timeout expired",
}.items():
    for _word in _words.split():
        _STATUS_WORDS[_word] = _status  # type: ignore[assignment]
_warned_statuses: set[str] = set()


@dataclass(frozen=True)
class ResultItem:
    """One generated resource (an image, or a video should the service send one)."""

    type: str
    url: str
    duration: float | None = None
    job_id: str | None = None


@dataclass(frozen=True)
class TaskSnapshot:
    """What one status response says about a task."""

    task_id: str | None
    status: Status
    raw_status: str | None = None
    external_task_id: str | None = None
    items: tuple[ResultItem, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    cost: Decimal | None = None
    discount: float | None = None
    quantity: int | None = None  # usage: units billed (images) ...
    unit_price: Decimal | None = None  # ... at this price each
    progress: float | None = None  # 0..1, only when the service sends it
    metadata: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None  # a hint from the service: when to ask next
    # The answer's JSON (redacted), kept only when asked (``get_task(keep_raw=True)``): an
    # element task's id is read from it, and the journal keeps it.
    raw: Any = field(default=None, repr=False, compare=False)


def _unwrap(payload: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(task, envelope): the task object, from ``{...}`` or ``{"data": {...}}`` (or a
    one-element list of either), and the object around it (the same when unwrapped)."""
    if isinstance(payload, list) and len(payload) == 1:
        payload = payload[0]
    if not isinstance(payload, Mapping):
        raise ValueError("response is not a JSON object")
    data = payload.get("data")
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if isinstance(data, Mapping) and any(
        k in data for k in ("id", "task_id", "taskId", "status", "task_status", "state")
    ):
        return data, payload
    return payload, payload


def _first(obj: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = obj.get(key)
        if value not in (None, ""):
            return value
    return None


def _status_word(obj: Mapping[str, Any]) -> str | None:
    """A status word; numbers (an envelope's HTTP-like ``status: 200``) are not statuses."""
    for key in ("status", "task_status", "state"):
        value = obj.get(key)
        if isinstance(value, str) and value.strip() and not value.strip().isdigit():
            return value
    return None


def normalise_status(raw: Any) -> Status:
    word = str(raw or "").strip().lower().replace(" ", "_").replace("-", "_")
    status = _STATUS_WORDS.get(word)
    if status is None:
        if word not in _warned_statuses:
            _warned_statuses.add(word)
            log.warning("unknown task status %.60r from the service; treating it as running",
                        raw)  # as sent (and redacted): never a case-changed copy
        return "running"
    return status


_SUCCESS_CODES = {"0", "200", "ok", "success", "succeed", "none", ""}


# As every official client reads them: ``error_message`` before ``message`` (seacloud-cli
# ``internal/clierrors``, the SDKs); ``detail`` is what a proxy or framework in front says.
_MESSAGE_KEYS = ("error_message", "message", "msg", "detail")
_CODE_KEYS = ("code", "error_code")


def parse_error(payload: Any) -> tuple[str | None, str | None]:
    """(code, message) of an error answer in any shape the gateway's clients read, else
    (None, None): ``{"error": {"code", "error_message" | "message"}}``, ``{"error":
    "text"}``, ``{"error_code", "message"}``, ``{"status": {"code", "message",
    "error_code"}}`` and ``{"detail": ...}``.

    Success codes (0, 200, "ok") are no error.
    """
    if not isinstance(payload, Mapping):
        return None, None
    err = payload.get("error")
    status = payload.get("status")
    if isinstance(err, Mapping):
        code = _first(err, "code", "error_code") or _first(payload, "error_code")
        message = _first(err, *_MESSAGE_KEYS)
    elif isinstance(err, str) and err.strip():
        code, message = _first(payload, "error_code", "code"), err
    elif isinstance(status, Mapping):  # {"status": {"code", "message", "error_code"}}
        code = _first(status, "error_code", "code")
        message = _first(status, *_MESSAGE_KEYS)
    else:
        code = _first(payload, *_CODE_KEYS[::-1])
        message = _first(payload, *_MESSAGE_KEYS)
    if code is not None and str(code).strip().lower() in _SUCCESS_CODES:
        code = None
    return (canonical_error_code(_scalar_text(code)) if code is not None else None), \
        (_scalar_text(message) if message else None)


def _scalar_text(value: Any) -> str:
    """Text of a code or message; a list or object (a framework's ``detail`` list) as
    compact JSON, cut, never a Python repr."""
    if isinstance(value, (str, int, float)):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))[:300]
    except (TypeError, ValueError):
        return type(value).__name__


def parse_task(payload: Any) -> TaskSnapshot:
    """Read a create or status response; raise ValueError if it names no task.

    The task's own status decides; an error code alone means failure only when the answer
    carries no status word at all (a running task is never called failed).
    """
    obj, envelope = _unwrap(payload)
    task_id = _first(obj, "id", "task_id", "taskId")
    raw_status = _status_word(obj) or (_status_word(envelope) if envelope is not obj else None)
    code, message = parse_error(obj)
    if code is None and envelope is not obj:
        code, outer_message = parse_error(envelope)
        message = message or (outer_message if code else None)
    if task_id is None and raw_status is None:
        raise ValueError("response has neither a task id nor a status")
    if raw_status is not None:
        status: Status = normalise_status(raw_status)
    else:
        status = "failed" if code is not None else "queued"
    usage = obj.get("usage") if isinstance(obj.get("usage"), Mapping) else {}
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    quantity = _count(usage.get("quantity")) if usage else None
    unit_price = money(usage.get("unit_price")) if usage else None
    stated = usage.get("cost") if usage else None
    cost = money(stated)
    if stated in (None, "") and quantity is not None and unit_price is not None:
        cost = unit_price * quantity  # a usage block that itemises but does not total
    # A total that is there but unreadable ("NaN", "-1", {...}) stays unknown: the budget
    # then counts the job at its quote or estimate, never at an itemisation it contradicts.
    return TaskSnapshot(
        task_id=str(task_id) if task_id is not None else None,
        status=status,
        raw_status=str(raw_status) if raw_status is not None else None,
        external_task_id=_opt_str(_first(obj, "external_task_id", "externalTaskId")),
        items=tuple(_items(obj)),
        error_code=code,
        error_message=message,
        cost=cost,
        discount=_float(usage.get("discount") if usage else None),
        quantity=quantity,
        unit_price=unit_price,
        progress=_progress(obj.get("progress")),
        metadata=dict(metadata or {}),
    )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _items(obj: Mapping[str, Any]) -> list[ResultItem]:
    items: list[ResultItem] = []
    output = obj.get("output")
    if isinstance(output, Mapping):
        output = [output]
    for block in output if isinstance(output, list) else []:
        contents = block.get("content") if isinstance(block, Mapping) else None
        if isinstance(contents, Mapping):
            contents = [contents]
        for content in contents if isinstance(contents, list) else []:
            item = _item(content)
            if item:
                items.append(item)
    result = obj.get("task_result")
    if not items and isinstance(result, Mapping):
        for key in ("images", "videos"):
            for content in result.get(key) or []:
                item = _item(content, default_type=key[:-1])
                if item:
                    items.append(item)
    return items


def _item(content: Any, default_type: str = "image") -> ResultItem | None:
    if isinstance(content, str) and content.startswith(("http://", "https://")):
        return ResultItem(type=default_type, url=content)  # a bare URL
    if not isinstance(content, Mapping):
        return None
    url = _first(content, "url", "image_url", "imageUrl")
    if not isinstance(url, str):
        return None
    return ResultItem(
        type=str(content.get("type") or default_type).lower(),
        url=url,
        duration=_float(content.get("duration")),
        job_id=_opt_str(_first(content, "jobId", "job_id", "id", "img_id")),
    )


def money(value: Any) -> Decimal | None:
    """A finite, non-negative amount below 10**10, else None: a cost of "NaN", "-100" or
    "9e999999999" from a broken service is unknown, never a number that disables (or
    overflows) the budget."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount.adjusted() > 9:
        log.warning("ignoring the amount %.40r from the service: not a finite, "
                    "non-negative number", value)
        return None
    return amount


def _count(value: Any) -> int | None:
    number = _float(value)
    if number is None or not number.is_integer() or number < 0:
        return None
    return int(number)


@dataclass(frozen=True)
class QuoteAnswer:
    """What a precharge answer says: the price, or why there is none."""

    cost: Decimal | None
    currency: str = "USD"
    discount: float | None = None
    reason: str | None = None


def parse_quote(payload: Any) -> QuoteAnswer:
    """``{"status": "success", "data": {"cost", "currency", "discount", ...}}``, tolerant
    of a bare ``{"cost": ...}``; an answer without a usable cost says why."""
    if not isinstance(payload, Mapping):
        return QuoteAnswer(None, reason="the quote is not a JSON object")
    status = payload.get("status")
    if isinstance(status, str) and status.strip().lower() not in ("success", "ok", ""):
        return QuoteAnswer(None, reason=f"the quote answered status {status[:40]!r}")
    inner = payload.get("data")
    data: Mapping[str, Any] = inner if isinstance(inner, Mapping) else payload
    cost = money(data.get("cost"))
    currency = data.get("currency")
    return QuoteAnswer(
        cost,
        currency=currency.strip()[:8] if isinstance(currency, str) and
        currency.strip() else "USD",
        discount=_float(data.get("discount")),
        reason=None if cost is not None else "the quote names no usable cost",
    )


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # a 400-digit integer overflows
        return None
    return number if math.isfinite(number) else None


def _progress(value: Any) -> float | None:
    number = _float(value)
    if number is None:
        return None
    return max(0.0, min(1.0, number / 100 if number > 1 else number))
