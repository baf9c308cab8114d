"""The key: a warning before it goes over plain http to another host."""

from __future__ import annotations

import pytest

from kirin_jupyter.client import Client
from tests.conftest import TEST_KEY


def test_a_key_over_plain_http_to_another_host_warns() -> None:
    with pytest.warns(UserWarning, match="over plain http"):
        Client(api_key=TEST_KEY, base_url="http://gateway.example.com")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Client(api_key=TEST_KEY, base_url="http://127.0.0.1:9")  # loopback: no warning
        Client(api_key=TEST_KEY, base_url="https://gateway.example.com")
