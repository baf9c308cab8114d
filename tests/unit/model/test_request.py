"""Building a request: what is counted is what is sent."""

from __future__ import annotations


def test_prompt_length_counts_what_is_sent() -> None:
    from kirin_jupyter.model.request import build_request

    assert len(build_request("x" * 2500 + "\n").prompt) == 2500
