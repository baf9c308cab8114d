"""The HTTP layer's own rules: error mapping, Retry-After, no link-local downloads."""

from __future__ import annotations

import httpx
import pytest

import kirin_jupyter
from kirin_jupyter.service.http import GatewayHTTP, parse_retry_after
from kirin_jupyter.service.protocol import Endpoint


def test_error_response_mapping_single_shapes() -> None:
    api = GatewayHTTP(Endpoint("http://x"), "sk-secret")
    auth = api.error_for(httpx.Response(401, json={"error": {"message": "bad key sk-secret"}}))
    assert "set KIRIN_API_KEY" in str(auth) and "sk-secret" not in str(auth)
    missing = api.error_for(httpx.Response(404, json={}), task_id="t-9")
    assert str(missing) == "task t-9 was not found (HTTP 404)"
    said_twice = api.error_for(  # the simulator's own words: not appended a second time
        httpx.Response(404, json={"error": {"code": "not_found",
                                            "message": "task t-9 not found"}}), task_id="t-9")
    assert str(said_twice) == "task t-9 was not found (HTTP 404)"
    limited = api.error_for(httpx.Response(429, headers={"Retry-After": "7"}))
    assert getattr(limited, "retry_after", None) == 7.0
    plain = api.error_for(httpx.Response(500, text="<html>oops</html>"))
    assert str(plain) == "the Kirin API answered HTTP 500"


def test_retry_after_both_forms() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None


def test_downloads_never_reach_link_local_addresses() -> None:
    import asyncio

    import httpx

    from kirin_jupyter.service.http import _refuse_link_local

    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/x.png",
                "http://[::ffff:169.254.169.254]/x.png"):
        with pytest.raises(kirin_jupyter.DownloadError, match="link-local"):
            asyncio.run(_refuse_link_local(httpx.Request("GET", url)))
    asyncio.run(_refuse_link_local(httpx.Request("GET", "https://cdn.example.com/a.png")))
