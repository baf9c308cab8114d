"""compare(): the before/after slider for two pictures, the strip for more, from results,
jobs, files and PIL images; static HTML that degrades to side by side; the panel's action.

The slider's dragging is checked in a real browser (tests/browser/test_browser_workflows.py).
"""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import kirin_jupyter
from kirin_jupyter.client import Client
from kirin_jupyter.display.static import NO_MATH
from kirin_jupyter.errors import ValidationError
from kirin_jupyter.panel import Panel
from tests.support.html_checks import colours_outside_theme, style_blocks


class Tags(HTMLParser):
    """Every start tag with its attributes, and whether the markup is well nested."""

    VOID = frozenset({"img", "br", "hr", "input", "meta"})

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.open: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, (tag, self.open[-3:])
        self.open.pop()

    def find(self, tag: str, cls: str = "") -> list[dict[str, str]]:
        return [a for t, a in self.tags
                if t == tag and (not cls or cls in a.get("class", "").split())]


def picture(colour: tuple[int, int, int], size: tuple[int, int] = (1024, 1024)) -> Any:
    return Image.new("RGB", size, colour)


def decoded(src: str) -> Image.Image:
    assert src.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))


@pytest.fixture
def two_results(http_client: Client) -> list[Any]:
    jobs = [http_client.generate("a <b>bold</b> lighthouse at dusk", model="omni",
                                 aspect_ratio="1:1"),
            http_client.generate("the same lighthouse at dawn", model="omni",
                                 aspect_ratio="1:1")]
    return [job.wait(30) for job in jobs]


def test_two_results_make_a_slider_that_degrades_to_side_by_side(two_results: list) -> None:
    before, after = two_results
    view = kirin_jupyter.compare(before, after)
    assert view.kind == "slider"
    html = view._repr_html_()
    tags = Tags(html)
    assert not tags.open  # well nested
    root = tags.tags[0][1]
    assert root["class"].split()[:3] == ["kirin", "kirin-compare", "kirin-compare-slider"]
    assert set(NO_MATH.split()) <= set(root["class"].split())
    # The slider: the before picture in a resizable, clipping box over the after picture.
    box = tags.find("td", "kirin-compare-before")
    assert len(box) == 1
    style = box[0]["style"]
    for rule in ("position:absolute", "resize:horizontal", "overflow:hidden", "width:50%",
                 "max-width:100%"):
        assert rule in style, rule
    assert len(tags.find("td", "kirin-compare-after")) == 1
    # Without styles: one table row of two cells, a labelled header over each, and each
    # picture given a plain width attribute (half the slider) so they stand side by side.
    assert [t for t, _ in tags.tags if t in ("table", "tr", "th", "td")] == [
        "table", "tr", "th", "th", "tr", "td", "td"]
    images = tags.find("img")
    assert len(images) == 2 and all(img["width"] == "320" for img in images)
    first, second = (decoded(img["src"]) for img in images)
    assert first.size == second.size == (640, 640)  # lined up, and small
    assert first.getpixel((5, 5)) != second.getpixel((5, 5)) or before.paths != after.paths
    assert images[0]["alt"].startswith("before: ") and images[1]["alt"].startswith("after: ")
    # Labels: the prompt (escaped) and a short task id; the full story in the title.
    assert "a &lt;b&gt;bold&lt;/b&gt; lighthouse" in html and "<b>bold</b>" not in html
    assert before.task_id[-6:] in html  # in the title
    assert "<input" not in html and style_blocks(html) == 1
    assert colours_outside_theme(html) == []
    # Live, one small script of its own makes the line the handle (mouse and keys); where
    # scripts do not run, the hint names the CSS-only handle it leaves in place.
    [script] = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert html.index("<script>") > html.index('class="kirin-compare-stage"')
    assert "closest('.kirin-compare-slider')" in script and "'role', 'slider'" in script
    for key in ("ArrowLeft", "ArrowRight", "Home", "End"):
        assert f"'{key}'" in script
    for never in ("eval(", "fetch(", "XMLHttpRequest", "innerHTML", "import(", "Jupyter"):
        assert never not in script, never
    assert "drag the handle" in html
    assert "2 images, slider" in repr(view)


def test_three_make_a_strip_from_a_result_a_path_and_a_pil_image(
        two_results: list, make_image: Any) -> None:
    path = make_image(800, 600, "PNG", name="sketch <1>.png")
    pil = picture((10, 200, 30), (600, 800))
    view = kirin_jupyter.compare(two_results[0], path, pil)
    assert view.kind == "strip"
    html = view._repr_html_()
    tags = Tags(html)
    assert "kirin-compare-strip" in tags.tags[0][1]["class"]
    assert len(tags.find("td", "kirin-compare-item")) == 3
    assert "resize:" not in re.sub(r"<style>.*?</style>", "", html) and "<script" not in html
    sizes = [decoded(img["src"]).size for img in tags.find("img")]
    assert sizes == [(384, 384), (384, 288), (288, 384)]  # each at most 384 px
    assert "sketch &lt;1&gt;.png" in html and "image 3" in html
    # A list reads like the arguments; a Job stands for its result's images.
    assert kirin_jupyter.compare([path, pil]).kind == "strip"  # two shapes: side by side
    assert "different shapes" in kirin_jupyter.compare(path, pil)._repr_html_()


def test_a_job_stands_for_all_its_images_and_labels_can_be_given(http_client: Client) -> None:
    job = http_client.generate("twins", model="omni", n=2, aspect_ratio="16:9")
    job.wait(30)
    view = kirin_jupyter.compare(job, labels=["left <one>", "right"], width=400)
    assert view.kind == "slider"
    html = view._repr_html_()
    assert "left &lt;one&gt;" in html and "max-width:400px" in html
    assert [decoded(img["src"]).width for img in Tags(html).find("img")] == [400, 400]


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((), {}, "give two images or more (got 0)"),
    ((42, "x.png"), {}, "argument 1 is a int; give results, jobs, file paths or PIL images"),
    (("no/such.png", "x.png"), {}, "argument 1: no image file at no/such.png"),
    ((Image.new("RGB", (8, 8)),), {}, "give two images or more (got 1)"),
    ((Image.new("RGB", (8, 8)), Image.new("RGB", (8, 8))), {"labels": ["one"]},
     "labels must be a list of 2 names"),
    ((Image.new("RGB", (8, 8)), Image.new("RGB", (8, 8))), {"width": 5000},
     "width must be a whole number of px from 64 to 768"),
])
def test_bad_input_is_one_line(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        kirin_jupyter.compare(*args, **kwargs)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("compare: ")


def test_an_unfinished_or_failed_job_or_a_non_image_is_refused(
        http_client: Client, tmp_path: Path) -> None:
    job = http_client.generate("slow", model="omni")
    with pytest.raises(ValidationError, match=r"is a job that is still .*job\.wait"):
        kirin_jupyter.compare(job, Image.new("RGB", (8, 8)))
    job.wait(30)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValidationError, match="is not an image Pillow can read"):
        kirin_jupyter.compare(job, text)


# -- the panel's compare action -----------------------------------------------------------------


def test_the_panel_compares_two_picked_results() -> None:
    panel = Panel(client=Client(), namespace={})
    picker = panel.gallery.picker
    assert picker.bar.layout.display == "none"  # nothing to pick yet
    panel.options.prompt.value = "a lighthouse"
    panel.options.n.value = 3
    job = panel.generate()
    assert job is not None
    job.wait(20)
    tiles = panel.gallery._tiles[job.external_task_id]
    assert picker.bar.layout.display != "none" and picker.button.disabled
    assert all(not tile.pick.disabled for tile in tiles)
    assert "pick 2 more results" in picker.hint.value

    tiles[0].pick.value = True
    assert picker.button.disabled and "pick 1 more result " in picker.hint.value + " "
    tiles[1].pick.value = True
    assert not picker.button.disabled
    tiles[2].pick.value = True  # a third pick lets go of the oldest
    assert not tiles[0].pick.value and tiles[1].pick.value and tiles[2].pick.value
    assert picker.picked == [tiles[1].path, tiles[2].path]

    picker.button.click()
    assert picker.area.layout.display != "none"
    html = picker.view.value
    assert "kirin-compare-slider" in html and html.count("<img") == 2
    assert tiles[1].path.name in html or job.task_id[-6:] in html

    tiles[2].pick.value = False
    assert picker.button.disabled and picker.picked == [tiles[1].path]
    panel.gallery.forget(job)  # its run left the panel: its picks go with it
    assert picker.picked == []


def test_colours_come_only_from_the_theme() -> None:
    package = Path(kirin_jupyter.__file__).parent
    for name in ("display/comparison.py", "display/compare_html.py",
                 "exporter/contact_sheet.py", "panel/compare_pick.py", "exporter/export.py"):
        source = (package / name).read_text()
        assert not re.findall(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b|rgba?\(", source), name


def _bomb(path: Path) -> Path:
    """A PNG whose header claims 20000 x 20000 pixels: Pillow refuses to open it."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


def test_a_file_too_big_to_decode_is_one_line(tmp_path: Path) -> None:
    huge = _bomb(tmp_path / "huge.png")
    with pytest.raises(ValidationError) as caught:  # was Pillow's DecompressionBombError
        kirin_jupyter.compare(huge, Image.new("RGB", (8, 8)))
    message = str(caught.value)
    assert message.startswith(f"compare: {huge} is not an image Pillow can read (")
    assert "\n" not in message
