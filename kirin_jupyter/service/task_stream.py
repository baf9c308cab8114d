"""A task followed as server-sent events: ``GET …/task/{id}/stream?cursor=N``, as the
gateway's Python SDK subscribes to it (sea-sdk-python ``modal.py``: ``subscribe``,
``_iterate_task_stream``).

Events: ``output`` (``{"id", "model", "status": "in_progress", "output": [...], "cursor"}``,
with ``progress`` where the service sends it), ``done`` (the task's answer, as a status
request gives it), ``error`` (the delivery failed; the task may still run). ``data:
[DONE]`` also ends it, and ``:`` lines keep an idle connection open. One open request tells
the client the moment the task ends.

Bounded like every other answer: a line of at most ``MAX_LINE`` bytes, ``MAX_BYTES`` in
all, and no more than ``silence`` seconds without a byte (keep-alives count). Whether the
Kirin models' gateway serves the stream is UNKNOWN: 404, 405 or 501 is ``StreamRefused``
and the caller polls instead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import LimitExceeded

if TYPE_CHECKING:
    import httpx

    from .http import GatewayHTTP

MAX_LINE = 64 * 1024
MAX_BYTES = 8 * 1024 * 1024
NO_STREAM = (404, 405, 501)  # the route is not there: poll, and remember it for the host


class StreamRefused(Exception):
    """The host has no task stream (HTTP 404, 405 or 501)."""


class StreamStopped(Exception):
    """The stream gave nothing usable: silent past its deadline, an HTTP error, an event
    that is not JSON, or too long. The task is followed by polling instead."""


@dataclass(frozen=True)
class StreamEvent:
    name: str  # "output", "done" or "error"
    data: dict[str, Any]

    @property
    def cursor(self) -> int | None:
        value = self.data.get("cursor")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def stream_url(api: GatewayHTTP, task_id: str, cursor: int) -> str:
    url = f"{api.endpoint.task_url(task_id)}/stream"
    return f"{url}?cursor={cursor}" if cursor > 0 else url


async def events(api: GatewayHTTP, task_id: str, *, cursor: int = 0, silence: float = 30.0
                 ) -> AsyncIterator[StreamEvent]:
    """The task's events from ``cursor`` on, until ``done`` or ``error``, or until the
    connection ends (then the caller resumes from the last cursor it saw)."""
    client = api.stream_client()
    url = stream_url(api, task_id, cursor)
    request = client.stream("GET", url, headers={"Accept": "text/event-stream"})
    try:
        response = await asyncio.wait_for(request.__aenter__(), silence)
    except asyncio.TimeoutError:
        raise StreamStopped(f"no answer within {silence:g} s") from None
    try:
        if response.status_code in NO_STREAM:
            raise StreamRefused(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise StreamStopped(f"HTTP {response.status_code}")
        async for found in _parse(response, api, silence):
            yield found
            if found.name in ("done", "error"):
                return
    finally:
        await request.__aexit__(None, None, None)


async def _parse(response: httpx.Response, api: GatewayHTTP, silence: float
                 ) -> AsyncIterator[StreamEvent]:
    name, pending, total = "", b"", 0
    data: list[str] = []
    chunks = response.aiter_bytes().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), silence)
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise StreamStopped(f"silent for {silence:g} s") from None
        total += len(chunk)
        if total > MAX_BYTES:
            raise LimitExceeded(f"a task stream sent more than {MAX_BYTES // 2**20} MiB")
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) > MAX_LINE:
            raise LimitExceeded(f"a task stream sent a line over {MAX_LINE // 1024} KiB")
        for raw in lines:
            if len(raw) > MAX_LINE:
                raise LimitExceeded(f"a task stream sent a line over {MAX_LINE // 1024} KiB")
            line = api.redact(raw.decode("utf-8", errors="replace").rstrip("\r"))
            if line == "":
                found = _event(name, data)
                name, data = "", []
                if found is not None:
                    yield found
            elif line.startswith(":"):
                continue  # a keep-alive
            elif line.startswith("event:"):
                name = line[len("event:"):].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:"):].strip())


def _event(name: str, data: list[str]) -> StreamEvent | None:
    if not name and not data:
        return None
    text = "\n".join(data).strip()
    if text == "[DONE]":
        return StreamEvent("done", {})
    try:
        payload = json.loads(text) if text else {}
    except ValueError:
        raise StreamStopped("a stream event that is not JSON") from None
    if not isinstance(payload, dict):
        raise StreamStopped("a stream event that is not a JSON object")
    return StreamEvent(name or "output", payload)
