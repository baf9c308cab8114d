"""The simulator as an in-process httpx transport: no socket, same client code path."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx

from .service import SimulatorService


class SimulatorTransport(httpx.AsyncBaseTransport):
    """Hands each request to a ``SimulatorService`` (in a worker thread: renders are slow)."""

    def __init__(self, service: SimulatorService) -> None:
        self.service = service

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        path = request.url.raw_path.decode("ascii")
        answer = await asyncio.to_thread(
            self.service.handle, request.method, path, dict(request.headers), body
        )
        if answer.drop:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        if answer.stream is not None:
            return httpx.Response(answer.status, headers=answer.headers,
                                  stream=_PulledInThreads(answer.stream), request=request)
        return httpx.Response(
            answer.status, headers=answer.headers, content=answer.body, request=request
        )


class _PulledInThreads(httpx.AsyncByteStream):
    """A streamed answer whose generator sleeps between events: each chunk is pulled in a
    worker thread, so the engine's loop stays free meanwhile."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await asyncio.to_thread(next, self._chunks, None)
            if chunk is None:
                return
            yield chunk

    async def aclose(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            with contextlib.suppress(ValueError):  # still running in a worker thread
                await asyncio.to_thread(close)
