"""The gateway's routes: ids are escaped into URLs, never paths."""

from __future__ import annotations

from kirin_jupyter.service.protocol import Endpoint


def test_task_url_escapes_ids() -> None:
    url = Endpoint("http://h/api/", task_path="/v1/tasks/{id}").task_url("a/../b c")
    assert url == "http://h/api/v1/tasks/a%2F..%2Fb%20c"
