"""The one card design: theme colours only, option chips, rows that fill, the same frame live
and finished, and ``display(job)`` from Python that stays live until the result replaces it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from kirin_jupyter.display import static
from kirin_jupyter.engine.job import Result
from kirin_jupyter.model import spec
from kirin_jupyter.model.request import build_request
from tests.support.html_checks import colours_outside_theme, style_blocks


def a_result(tmp_path: Path, n: int, **options: object) -> Result:
    paths = []
    for index in range(n):
        path = tmp_path / f"img-{index}.png"
        Image.new("RGB", (64, 48), (index * 20, 90, 160)).save(path)
        paths.append(path)
    request = build_request("a red fox asleep in snow", n=n, **options)  # type: ignore[arg-type]
    return Result(task_id="sim-0123456789abcdef", external_task_id=request.external_task_id,
                  model=request.model.name, prompt=request.prompt, paths=paths,
                  urls=[""] * n, types=["image"] * n, simulated=True,
                  options=dict(request.options), finished_at=1_790_000_000.0)


@pytest.mark.parametrize("count, columns", [
    (1, 1), (2, 2), (3, 3), (4, 4), (5, 3), (6, 3), (7, 4), (8, 4), (9, 3), (10, 4)])
def test_rows_fill(count: int, columns: int) -> None:
    assert static.columns_for(count) == columns
    rows = -(-count // columns)
    assert count > (rows - 1) * columns  # no row left empty
    assert rows == 1 or columns >= count / rows  # as few rows as the columns allow


def test_gallery_of_four_is_one_row_and_of_nine_three_by_three(tmp_path: Path) -> None:
    four = static.result_html(a_result(tmp_path, 4))
    assert "grid-template-columns:repeat(4,minmax(0,1fr))" in four
    nine = static.result_html(a_result(tmp_path, 9))
    assert "grid-template-columns:repeat(3,minmax(0,1fr))" in nine
    assert nine.count('class="kirin-tile"') == 9


def test_every_colour_is_a_theme_variable_said_once_in_a_style_block(tmp_path: Path) -> None:
    result = a_result(tmp_path, 2, negative_prompt="blurry", model="v3")
    request = build_request("a fox", n=1)
    from kirin_jupyter.engine.job import Job
    from kirin_jupyter.engine.polling import Expectation

    job = Job(request, expected=Expectation(median=20.0, low=10.0, high=40.0, learned=False), simulated=True)
    for html in (static.result_html(result), static.live_html(job)):
        assert style_blocks(html) == 1  # one block, then classes
        assert "var(--jp-ui-font-color1" in html and "var(--jp-border-color1" in html
        assert colours_outside_theme(html) == []
        assert "var(" not in "".join(re.findall(r'style="([^"]*)"', html))  # inline: plain


def test_options_show_as_chips_with_finished_time_and_cost(tmp_path: Path) -> None:
    from decimal import Decimal

    result = a_result(tmp_path, 2, aspect_ratio="16:9", negative_prompt="blurry hands",
                      model="v3")
    result.cost = Decimal("0.08")
    html = static.result_html(result)
    chips = re.findall(r'class="kirin-pill"[^>]*>(?:<span[^>]*></span>)?([^<]*)<', html)
    assert {"2 images", "ratio 16:9", spec.DEFAULT_RESOLUTION, "not: blurry hands"} <= set(
        chips), chips
    assert re.search(r"finished 20\d\d-\d\d-\d\d \d\d:\d\d · cost \$0\.08", html)
    visible = re.sub(r'title="[^"]*"', "", html)  # ids only on hover, no empty metadata
    assert "external id" not in visible and "external id" in html
    assert "{&quot;simulated&quot;: true}" not in html


def test_live_and_finished_cards_share_the_frame_and_header(tmp_path: Path) -> None:
    from kirin_jupyter.engine.job import Job
    from kirin_jupyter.engine.polling import Expectation

    result = a_result(tmp_path, 1)
    request = build_request(result.prompt, n=1, external_task_id=result.external_task_id)
    job = Job(request, expected=Expectation(median=20.0, low=10.0, high=40.0, learned=False), simulated=True)
    job.task_id = result.task_id
    live, final = static.live_html(job), static.result_html(result)

    def frame(html: str) -> str:  # the style block may hold more rules (the gallery's)
        html = re.sub(r"<style>.*?</style>", "", html)
        return re.sub(r'class="kirin kirin-card [a-z0-9_ -]+" data-state="[a-z]+"', "",
                      html.split('class="kirin-pill"')[0])

    assert frame(live) == frame(final)  # same frame style, same title: nothing jumps
    assert 'class="kirin-chips"' in live and 'class="kirin-chips"' in final
    assert 'class="kirin-bar"' in live and 'class="kirin-gallery"' in final


