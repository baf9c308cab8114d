"""The task stream is bounded like every other answer (issue 26 item 1): a line over 64 KiB
or more than 8 MiB in all is refused, a silent stream is given up, an event that is not a
JSON object stops it, keep-alives and [DONE] are understood, and the key never passes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from kirin_jupyter.errors import LimitExceeded
from kirin_jupyter.service.http import GatewayHTTP
from kirin_jupyter.service.protocol import Endpoint
from kirin_jupyter.service.task_stream import MAX_BYTES, MAX_LINE, StreamStopped, _parse

KEY = "sk-stream-Zq7Yh3VvN2"


class Chunks(httpx.AsyncByteStream):
    """One answer's body, sent in these chunks, with a pause after each if asked."""

    def __init__(self, chunks: list[bytes], pause: float = 0.0) -> None:
        self.chunks, self.pause = chunks, pause

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
            await asyncio.sleep(self.pause)


def read(chunks: list[bytes], *, pause: float = 0.0, silence: float = 5.0) -> list[object]:
    api = GatewayHTTP(Endpoint("http://gateway.example"), KEY)
    response = httpx.Response(200, stream=Chunks(chunks, pause))

    async def collect() -> list[object]:
        return [(e.name, e.data) async for e in _parse(response, api, silence)]

    return asyncio.run(collect())


def test_events_keepalives_done_and_the_key_redacted() -> None:
    found = read([b": keep-alive\n\n", b'event: output\ndata: {"cursor": 1, "progress": 0.5,',
                  b' "note": "' + KEY.encode() + b'"}\n\n', b"data: [DONE]\n\n"])
    assert found == [("output", {"cursor": 1, "progress": 0.5, "note": "***"}),
                     ("done", {})]


def test_a_line_too_long_is_refused_before_it_ends() -> None:
    with pytest.raises(LimitExceeded, match="a line over 64 KiB"):
        read([b"data: " + b"x" * (MAX_LINE // 2)] * 3)


def test_more_than_the_cap_in_all_is_refused() -> None:
    frame = b'event: output\ndata: {"pad": "' + b"y" * 60_000 + b'"}\n\n'
    with pytest.raises(LimitExceeded, match="more than 8 MiB"):
        read([frame] * (MAX_BYTES // len(frame) + 2))


def test_a_silent_stream_is_given_up() -> None:
    with pytest.raises(StreamStopped, match=r"silent for 0\.2 s"):
        read([b": hello\n\n", b"event: output\n"], pause=1.0, silence=0.2)


def test_an_event_that_is_not_a_json_object_stops_it() -> None:
    with pytest.raises(StreamStopped, match="not a JSON object"):
        read([b"event: output\ndata: [1, 2]\n\n"])
    with pytest.raises(StreamStopped, match="not JSON"):
        read([b"event: output\ndata: {oops\n\n"])
