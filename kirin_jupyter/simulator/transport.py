"""The simulator as an in-process httpx transport: no socket, same client code path."""

from __future__ import annotations

import asyncio

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
        return httpx.Response(
            answer.status, headers=answer.headers, content=answer.body, request=request
        )
