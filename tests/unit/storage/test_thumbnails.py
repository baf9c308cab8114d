"""Thumbnails are prepared together, and a broken file is left for the card to report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


def test_thumbnails_are_prepared_together_and_a_broken_file_is_left_to_the_card(
        make_image: Callable[..., Path], tmp_path: Path) -> None:
    from kirin_jupyter.storage import thumbnails

    paths = [make_image(320 + i, 240, name=f"p{i}.png") for i in range(3)]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    thumbnails.prepare([*paths, broken])
    with thumbnails._lock:
        cached = {key[0] for key in thumbnails._cache}
    assert {str(p) for p in paths} <= cached and str(broken) not in cached
    with pytest.raises(OSError):  # the card's own call still sees the error
        thumbnails.thumbnail_jpeg(broken)
