"""The static result card says when the job finished."""

from __future__ import annotations

import time
from pathlib import Path


def test_a_result_card_shows_when_the_job_finished_not_when_it_was_drawn(
    tmp_path: Path,
) -> None:
    from kirin_jupyter.display.static import result_html
    from kirin_jupyter.engine.job import Result

    finished = time.mktime((2026, 3, 14, 15, 9, 0, 0, 0, -1))
    result = Result("t-1", "kj-1", "kirin_image_omni", "a fox", [], [], finished_at=finished)
    assert "finished 2026-03-14 15:09" in result_html(result)
