"""The simulator's queue protocol: its paths and the shape of its answers.

The same paths and shapes the client speaks (``service/queue.py``, from seacloud-cli's
``internal/queue/client.go``): ``POST /model/v1/queue/{model}`` with the raw parameters
(no ``model``, no ``input``), answered with a ``request_id``; ``GET …/requests/{id}/status``
(``IN_QUEUE``, ``IN_PROGRESS``, ``COMPLETED``, with ``error`` and ``error_type`` when it
failed or was cancelled); ``GET …/requests/{id}/response`` (``outputs[]``, the usage at the
top: the strict fake puts it in ``metadata``, so both of the client's readings are used);
``PUT …/requests/{id}/cancel`` (202 ``CANCELLATION_REQUESTED``, 400 ``ALREADY_COMPLETED``,
404). Pure functions of a task's state and its generation view: ``SimulatorService`` keeps
the tasks, checks the parameters (``validate_body`` and the model table) and draws the
same pictures for both protocols.
"""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import quote, unquote

from ..service.queue import QUEUE_PATH

QueueRoute = Literal["queue_submit", "queue_status", "queue_response", "queue_cancel"]
PREFIX = QUEUE_PATH.partition("{model}")[0]  # every queue call: /model/v1/queue/
STATUS_WORDS = {"queued": "IN_QUEUE", "running": "IN_PROGRESS"}  # anything else: COMPLETED
ENDED = ("completed", "failed", "cancelled")
_CALLS: dict[tuple[str, str], QueueRoute] = {
    ("GET", "status"): "queue_status", ("GET", "response"): "queue_response",
    ("PUT", "cancel"): "queue_cancel"}


def route_of(method: str, path: str) -> tuple[QueueRoute, str, str] | None:
    """(route, model, request id) of a path under ``PREFIX`` (the id empty for a submit),
    or None when it is no queue call."""
    model, _, rest = path[len(PREFIX):].partition("/requests/")
    model = unquote(model)
    if not model or "/" in model:
        return None
    if not rest:
        return ("queue_submit", model, "") if method == "POST" and \
            "/requests" not in path[len(PREFIX):] else None
    ident, _, call = rest.rpartition("/")
    ident = unquote(ident)
    route = _CALLS.get((method, call))
    if route is None or not ident or "/" in ident:
        return None
    return route, model, ident


def raw_parameters(raw: bytes) -> dict[str, Any] | str:
    """A submit's body as its parameters, or why it is not in the queue's shape."""
    try:
        params = json.loads(raw or b"")
    except ValueError:
        return "request body is not JSON"
    if not isinstance(params, dict):
        return "request body must be a JSON object"
    if "model" in params or "input" in params:
        return "a queue submit takes the raw parameters: no model (it is in the path), " \
               "no input wrapper"
    return params


def submitted(base_url: str, model: str, ident: str) -> dict[str, Any]:
    """The submit's answer: the request id and where to ask (which the client does not
    follow: it builds the paths itself)."""
    base = f"{base_url}{PREFIX}{quote(model, safe='')}/requests/{quote(ident, safe='')}"
    return {"request_id": ident, "status": "IN_QUEUE", "status_url": base + "/status",
            "response_url": base + "/response", "cancel_url": base + "/cancel",
            "queue_position": 0}


def failure(state: str, view: dict[str, Any]) -> dict[str, Any]:
    """``error`` and ``error_type`` of a task that failed (its fault's code and message,
    as the generation view has them) or was cancelled."""
    if state == "cancelled":
        return {"error": "cancelled by the user", "error_type": "CANCELED"}
    return {"error": view.get("error"), "error_type": "INFERENCE_FAILURE"}


def status_reply(ident: str, state: str, view: dict[str, Any]) -> dict[str, Any]:
    """The status call's answer for a task in ``state`` (the simulator's word)."""
    reply: dict[str, Any] = {"request_id": ident, "status": STATUS_WORDS.get(state, "COMPLETED")}
    if "progress" in view:
        reply["progress"] = view["progress"]
    if state in ("failed", "cancelled"):
        reply.update(failure(state, view))
    return reply


def response_reply(ident: str, state: str, view: dict[str, Any],
                   size: tuple[int, int]) -> tuple[int, dict[str, Any]]:
    """The response call's (HTTP status, answer): the outputs of a completed request (the
    generation view's pictures, of ``size``), a failed one's error, 400 before it ends."""
    if state not in ENDED:
        return 400, {"error": {"code": "REQUEST_NOT_COMPLETED",
                               "message": f"the request is {STATUS_WORDS.get(state, state)}"}}
    if state != "completed":
        return 200, {"request_id": ident, "outputs": [], **failure(state, view)}
    width, height = size
    outputs = [{"type": item.get("type", "image"), "url": item.get("url"),
                "content_type": "image/png", "file_name": f"{number}.png",
                "width": width, "height": height}
               for block in view.get("output", []) for number, item in
               enumerate(block.get("content", []), start=1)]
    reply: dict[str, Any] = {"request_id": ident, "outputs": outputs,
                             "metadata": view.get("metadata", {})}
    for key in ("usage", "task_result"):
        if key in view:
            reply[key] = view[key]
    return 200, reply


CANCELLED = {"status": "CANCELLATION_REQUESTED"}
ALREADY_COMPLETED = {"error": {"code": "ALREADY_COMPLETED",
                               "message": "ALREADY_COMPLETED: the request has already ended"}}
