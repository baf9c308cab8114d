"""The widget panel driven like a person would: set values, click buttons, read widgets.

Jobs run on the in-process simulator (0.3 s each, see conftest.py).
"""

from __future__ import annotations

import datetime
import io
import os
import subprocess
import sys
import threading
import time
from html import escape
from pathlib import Path
from typing import Any

import ipywidgets
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

from kirin_jupyter.client import Client
from kirin_jupyter.display import theme
from kirin_jupyter.magics import cells as panel_code
from kirin_jupyter.model import spec
from kirin_jupyter.panel import Panel
from kirin_jupyter.panel.references import from_upload
from kirin_jupyter.simulator.service import Fault
from tests.conftest import ROOT

# -- helpers ---------------------------------------------------------------------------------


def image_bytes(width: int = 640, height: int = 480, fmt: str = "PNG",
                colour: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format=fmt)
    return buf.getvalue()


def upload(panel: Panel, *files: tuple[str, bytes]) -> None:
    """What the browser's file input does: set FileUpload.value (the panel then clears it)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    panel.references.upload.value = tuple(
        {"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
         "last_modified": now}
        for name, data in files
    )


def type_source(panel: Panel, text: str) -> None:
    panel.references.source.value = text
    panel.references.add_source.click()


def rows(panel: Panel) -> list[Any]:
    return [panel.references._rows[r.key] for r in panel.references.items]


def visible(widget: Any) -> bool:
    return widget.layout.display != "none"


def reason(panel: Panel) -> str:
    return panel.reason.value


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def namespace() -> dict[str, Any]:
    return {}


@pytest.fixture
def panel(client: Client, namespace: dict[str, Any]) -> Panel:
    return Panel(client=client, namespace=namespace)


# -- model-dependent controls ------------------------------------------------------------------


def test_controls_follow_the_model(panel: Panel) -> None:
    o = panel.options
    upload(panel, ("a.png", image_bytes()))
    row = rows(panel)[0]
    # omni: several images, <<<image_N>>> actions, auto; no negative prompt, no elements
    assert o.model.value == spec.OMNI and spec.MODELS[spec.OMNI].description in \
        o.model_help.value.replace("&lt;", "<").replace("&gt;", ">").replace("&#x27;", "'")
    assert panel.references.upload.multiple is True
    assert visible(row.insert) and row.insert.description == "insert <<<image_1>>>"
    assert [v for _, v in o.aspect_ratio.options][-1] == "auto" and o.aspect_ratio.value == "auto"
    assert not visible(o.negative_box) and not visible(o.elements_box)

    o.model.value = spec.V3
    assert panel.references.upload.multiple is False
    assert "one, for image-to-image" in panel.references.heading.value
    assert not visible(row.insert)
    assert "auto" not in [v for _, v in o.aspect_ratio.options]
    assert o.aspect_ratio.value == "16:9"  # v3's own default
    assert visible(o.negative_box) and visible(o.elements_box)
    assert o.negative.disabled and "only for text-to-image" in o.negative_reason.value

    row.remove.click()
    assert not o.negative.disabled and o.negative_reason.value == ""

    o.aspect_ratio.value = "1:1"  # a ratio the person chose survives a model switch
    o.model.value = spec.OMNI
    assert o.aspect_ratio.value == "1:1"


def test_prompt_and_negative_counters(panel: Panel) -> None:
    o = panel.options
    assert "0 / 2500 characters" in o.prompt_count.value
    o.prompt.value = "x" * 2501
    assert "2501 / 2500 characters" in o.prompt_count.value and theme.ERROR in o.prompt_count.value
    assert panel.generate_button.disabled
    assert "prompt is 2501 characters; the limit is 2500" in reason(panel)
    o.prompt.value = "a calm lake"
    assert not panel.generate_button.disabled
    o.model.value = spec.V3
    o.negative.value = "n" * 2600
    assert "2600 / 2500 characters" in o.negative_count.value
    assert "negative prompt is 2600 characters; the limit is 2500" in reason(panel)


# -- reference images --------------------------------------------------------------------------

BIG = 1900  # a 1900x1900 noise PNG is over 10 MB


def noise_png(side: int) -> bytes:
    rng = np.random.default_rng(7)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(
        buf, format="PNG", compress_level=0)
    return buf.getvalue()


@pytest.mark.parametrize(("name", "make", "rules"), [
    ("photo.webp", lambda: image_bytes(640, 480, "WEBP"),
     ["format WEBP is not accepted (use JPEG or PNG)"]),
    ("small.png", lambda: image_bytes(250, 400),
     ["is 250x400 px; both sides must be at least 300 px"]),
    ("wide.png", lambda: image_bytes(1000, 300),
     ["aspect ratio 1000:300 is outside 1:2.5 .. 2.5:1"]),
    ("huge.png", lambda: noise_png(BIG), ["file is 10.3 MB; the limit is 10 MB"]),
    ("tiny_tall.gif", lambda: image_bytes(100, 400, "GIF"), [
        "format GIF is not accepted (use JPEG or PNG)",
        "is 100x400 px; both sides must be at least 300 px",
        "aspect ratio 100:400 is outside 1:2.5 .. 2.5:1",
    ]),
])
def test_each_broken_rule_is_a_badge_and_fit_mends_it(panel: Panel, name: str, make: Any,
                                                      rules: list[str]) -> None:
    panel.options.prompt.value = "a cat"
    upload(panel, (name, make()))
    (row,) = rows(panel)
    for rule in rules:
        assert escape(rule) in row.badge.value
    assert visible(row.fit)
    assert panel.generate_button.disabled
    assert f"image 1 ({name}): {escape('; '.join(rules))} (click fit to mend it" in reason(panel)

    row.fit.click()
    (ref,) = panel.references.items
    (row,) = rows(panel)
    assert ref.ok and ref.mended and ">ok<" in row.badge.value and "mended: " in row.badge.value
    assert not visible(row.fit)
    assert not panel.generate_button.disabled and "ready: omni" in reason(panel)


def test_a_good_image_shows_thumbnail_size_and_ok(panel: Panel) -> None:
    upload(panel, ("good.jpg", image_bytes(800, 600, "JPEG")))
    assert panel.references.upload.value == ()  # no second copy in the saved widget state
    (row,) = rows(panel)
    assert row.thumbnail.value[:2] == b"\xff\xd8" and visible(row.thumbnail)
    assert "800×600 px · JPEG" in row.size.value
    assert ">ok<" in row.badge.value and not visible(row.fit)
    assert "1.</b> good.jpg" in row.title.value


def test_urls_paths_variables_and_what_cannot_be_added(panel: Panel, namespace: dict[str, Any],
                                                      tmp_path: Path) -> None:
    type_source(panel, "https://example.com/cat.jpg")
    type_source(panel, "https://example.com/cat.webp")
    ok_url, bad_url = panel.references.items
    assert bad_url.wire is None and not bad_url.can_fit
    assert ok_url.ok and "URL: sent as is" in rows(panel)[0].size.value
    badge = rows(panel)[1].badge.value
    assert "image URL ends in .webp; the API accepts only .jpg, .jpeg and .png" in badge
    assert not visible(rows(panel)[1].fit)  # a URL is never fetched, so never mended
    assert "(remove it)" in reason(panel)
    rows(panel)[1].remove.click()

    path = tmp_path / "ref.png"
    path.write_bytes(image_bytes())
    type_source(panel, str(path))
    assert panel.references.items[-1].path == path and panel.references.source.value == ""
    type_source(panel, str(tmp_path / "missing.png"))
    assert "image file not found" in panel.references.message.value
    (tmp_path / "notes.txt").write_text("not an image")
    type_source(panel, str(tmp_path / "notes.txt"))
    assert "not a readable image" in panel.references.message.value
    upload(panel, ("broken.png", b"\x89PNG nonsense"))
    assert "broken.png: not a readable image" in panel.references.message.value
    assert len(panel.references.items) == 2

    namespace["portrait"] = Image.new("RGB", (400, 600), "green")
    namespace["array"] = np.zeros((320, 480, 3), dtype=np.uint8)
    namespace["text"] = "not an image"
    namespace["table"] = np.zeros((100, 7, 5))
    panel.references.refresh_variables.click()
    assert [v for v in panel.references.variable.options] == ["array", "portrait"]
    panel.references.variable.value = "portrait"
    panel.references.add_variable.click()
    added = panel.references.items[-1]
    assert added.origin == "variable" and added.facts.width == 400 and added.ok


def test_reorder_remove_and_placeholders_follow_their_image(panel: Panel) -> None:
    upload(panel, ("a.png", image_bytes(colour=(255, 0, 0))),
           ("b.png", image_bytes(colour=(0, 255, 0))),
           ("c.png", image_bytes(colour=(0, 0, 255))))
    o = panel.options
    o.prompt.value = "mix"
    for row in rows(panel)[:2]:
        row.insert.click()
    assert o.prompt.value == "mix <<<image_1>>> <<<image_2>>>"
    b_value = panel.references.items[1].wire.value

    rows(panel)[1].up.click()  # b becomes image 1; the prompt still means the same pictures
    assert [r.label for r in panel.references.items] == ["b.png", "a.png", "c.png"]
    assert o.prompt.value == "mix <<<image_2>>> <<<image_1>>>"
    assert rows(panel)[0].up.disabled and rows(panel)[2].down.disabled
    request, _ = panel.check()
    assert request.body()["image_list"][0] == {"image": b_value}

    rows(panel)[1].remove.click()  # a (image 2) goes, and so does its placeholder
    assert [r.label for r in panel.references.items] == ["b.png", "c.png"]
    assert o.prompt.value == "mix  <<<image_1>>>"
    assert rows(panel)[1].insert.description == "insert <<<image_2>>>"


def test_images_and_elements_never_pass_ten(panel: Panel) -> None:
    many = [(f"img{i}.png", image_bytes(320, 320, colour=(i * 20, 0, 0))) for i in range(12)]
    upload(panel, *many)
    assert len(panel.references.items) == 10
    assert "not added: img10.png, img11.png (at most 10 images and elements in total)" in \
        panel.references.message.value
    assert panel.references.upload.disabled and panel.references.add_source.disabled
    rows(panel)[0].remove.click()
    assert not panel.references.upload.disabled

    o = panel.options
    o.model.value = spec.V3
    o.prompt.value = "a subject"
    assert "kirin_v3_image takes one reference image; 9 were given" in reason(panel)
    while len(panel.references.items) > 1:
        rows(panel)[-1].remove.click()
    o.elements.value = ", ".join(str(i) for i in range(1, 11))
    assert "1 images + 10 elements = 11; at most 10 in total" in reason(panel)
    assert panel.references.upload.disabled  # no room for an image next to 10 elements
    type_source(panel, "https://example.com/one-more.png")
    assert "(at most 10 images and elements in total)" in panel.references.message.value
    o.elements.value = "101, 202"
    upload(panel, ("new.png", image_bytes()))  # v3 has one image: a new one replaces it
    assert [r.label for r in panel.references.items] == ["new.png"]
    assert "added new.png in place of img1.png (kirin_v3_image takes one reference image)" in \
        panel.references.message.value
    request, _ = panel.check()
    assert request.body()["element_list"] == [{"element_id": 101}, {"element_id": 202}]


@pytest.mark.parametrize(("setup", "why"), [
    ({}, "prompt is empty; write what the image should show"),
    ({"prompt": "<<<image_2>>> at sea"},
     "prompt refers to &lt;&lt;&lt;image_2&gt;&gt;&gt; but only 0 images are given"),
    ({"model": spec.V3, "elements": "12, abc"},
     "no element named &#x27;abc&#x27; in the journal for this service"),
    ({"model": spec.V3, "elements": "12, 1.5"}, "element id &#x27;1.5&#x27; is not a whole number"),
    ({"callback_url": "ftp://x"}, "callback URL must be an http(s) URL, not &#x27;ftp://x&#x27;"),
    ({"external_id": "x" * 300}, "external task id must be 1..255 printable characters"),
])
def test_generate_is_disabled_with_the_reason(panel: Panel, setup: dict[str, str],
                                              why: str) -> None:
    o = panel.options
    o.prompt.value = "a lighthouse"
    if "model" in setup:
        o.model.value = setup["model"]
    for name in ("prompt", "elements", "callback_url", "external_id"):
        if name in setup:
            getattr(o, name).value = setup[name]
    if not setup:
        o.prompt.value = "   "
    assert panel.generate_button.disabled and panel.code_button.disabled
    assert why in reason(panel)
    assert panel.generate() is None
    # Nothing created; the only request is the price quote asked while the form was still
    # valid ("a lighthouse"), which creates nothing.
    assert set(panel.client.simulator.stats()["requests"]) <= {"quote"}
    assert panel.client.simulator.stats()["tasks"] == 0


def test_negative_prompt_is_not_sent_with_an_image(panel: Panel) -> None:
    o = panel.options
    o.model.value = spec.V3
    o.prompt.value = "a castle"
    o.negative.value = "fog"
    assert panel.check()[0].body()["negative_prompt"] == "fog"
    upload(panel, ("ref.png", image_bytes()))
    assert o.negative.disabled
    body = panel.check()[0].body()
    assert "negative_prompt" not in body and "image" in body


# -- runs, cards, gallery ---------------------------------------------------------------------


def test_full_run_to_the_gallery(panel: Panel, tmp_path: Path) -> None:
    o = panel.options
    o.prompt.value = "<<<image_1>>> as a lighthouse keeper"
    upload(panel, ("keeper.png", image_bytes()))
    o.n.value = 2
    o.resolution.value = "2k"
    o.aspect_ratio.value = "3:2"
    o.watermark.value = True
    assert "ready: omni, 2 images, 2k, 3:2, 1 reference image" in reason(panel)
    first = panel.generate()
    second = panel.generate()  # several runs in flight, each with its own card
    assert first is not None and second is not None
    assert first.external_task_id != second.external_task_id
    # the newest run is open, the one before it folded into "older runs"
    latest, older = panel.jobs_view.view(second), panel.jobs_view.view(first)
    assert panel.jobs_view.latest.children == (latest.widget,)
    assert panel.jobs_view.older.children == (older.widget,)
    assert panel.jobs_view.older.selected_index is None
    tiles = panel.gallery._tiles[first.external_task_id]
    assert len(tiles) == 4 and [visible(t.widget) for t in tiles] == [True, True, False, False]
    assert tiles[0].view.disabled and visible(tiles[0].placeholder)  # a skeleton, no image
    assert not visible(tiles[0].image) and "kirin-skeleton" in tiles[0].placeholder.value
    # The skeleton is the picture's box: 3:2 at the tile's picture height, where the
    # picture will be (its width the same CSS; the height follows the ratio).
    width = "min(100% - 4px, var(--kirin-tile-side, 180px) * 1.5000)"  # less its margins
    assert f"width:{width.replace(' - 4px', '')};aspect-ratio:1.5000" in \
        tiles[0].placeholder.value
    assert tiles[0].image.layout.width == width and tiles[0].image.layout.height == "auto"

    for job in (first, second):
        job.wait(20)
    assert first.status == second.status == "completed"
    card = older.card.widget.html
    assert 'data-state="completed"' in card and "cost $0.16" in card
    assert 'aria-valuenow="100"' in card
    assert panel.jobs_view.older.titles == ("Run 1 · completed · 2 images · $0.16",)
    assert "2 runs: 0 running, 2 done · cost $0.32 in this panel · session total $0.32" in \
        panel.jobs_view.totals.value

    tile = tiles[0]
    assert tile.path == first.result.paths[0] and tile.image.value[:2] == b"\xff\xd8"
    assert tile.image.layout.width == width  # the picture made is 3:2 too
    assert "01.png" in tile.caption.value and not tile.view.disabled
    assert [visible(t.widget) for t in tiles] == [True, True, False, False]
    assert visible(tile.image) and not visible(tile.placeholder)

    tile.view.click()
    assert visible(panel.gallery.viewer) and panel.gallery.viewer_image.value[:2] == b"\xff\xd8"
    viewer = panel.gallery.viewer_image.layout  # capped, whole image shown
    assert viewer.max_height == "560px" and "560px" in viewer.max_width
    assert viewer.object_fit == "contain"

    tile.save.click()
    target = tmp_path / "saved" / "keeper.jpg"
    panel.gallery.save_path.value = str(target)
    panel.gallery.save_button.click()
    assert "saved" in panel.gallery.save_message.value
    with Image.open(target) as saved:
        assert saved.format == "JPEG" and saved.size == first.result.images[0].size
    panel.gallery.save_button.click()
    assert "exists; choose another name" in panel.gallery.save_message.value

    tile.use.click()
    ref = panel.references.items[-1]
    assert ref.origin == "result" and ref.path == first.result.paths[0] and ref.ok

    tile.code.click()
    assert panel.gallery.code.startswith("%%kirin -m omni -n 2 --res 2k --ar 3:2 -i ")
    assert escape(panel.gallery.code) in panel.gallery.code_box.value
    assert visible(panel.gallery.code_area) and panel_code.last() == panel.gallery.code


def test_a_failed_run_says_why_under_its_card(panel: Panel, client: Client) -> None:
    client.simulator.add_fault(Fault("create", "fail_task", code="006001094"))
    panel.options.prompt.value = "a storm"
    job = panel.generate()
    with pytest.raises(Exception, match="Task resource insufficient"):
        job.wait(20)
    view = panel.jobs_view.view(job)
    assert "Task resource insufficient" in view.error.value
    assert 'data-state="failed"' in view.card.widget.html
    assert not any(visible(t.widget) for t in panel.gallery._tiles[job.external_task_id])
    assert "1 failed" in panel.jobs_view.totals.value


def test_a_run_past_the_budget_is_refused_with_the_reason(namespace: dict[str, Any]) -> None:
    client = Client(max_cost="0.05")
    panel = Panel(client=client, namespace=namespace)
    panel.options.prompt.value = "a fox"
    panel.generate().wait(20)  # $0.04 on the simulator
    panel.options.n.value = 2
    deadline = time.monotonic() + 10  # the service's quote arrives in the background
    while "(quoted by the service)" not in reason(panel) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "ready: omni, 2 images, 1k, auto · about $0.08 (quoted by the service)" in \
        reason(panel)
    assert "about $0.08 (quoted by the service)" in panel.generate_button.tooltip
    assert panel.generate() is None
    assert "budget: this session has spent or committed $0.04 of max_cost $0.05; this job " \
        "would cost about $0.08 (quoted by the service) and pass it" in reason(panel)
    assert len(panel.jobs) == 1 and client.simulator.stats()["tasks"] == 1


def test_the_engine_thread_only_sets_values(panel: Panel, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    made_on: list[str] = []
    original = ipywidgets.Widget.__init__

    def spy(self: Any, **kwargs: Any) -> None:
        made_on.append(threading.current_thread().name)
        original(self, **kwargs)

    monkeypatch.setattr(ipywidgets.Widget, "__init__", spy)
    panel.options.prompt.value = "a quiet street"
    job = panel.generate()
    job.wait(20)
    assert job.status == "completed" and made_on  # widgets were made, on the click's thread
    assert "kirin-engine" not in made_on


def test_callbacks_from_many_threads_keep_the_state_whole(panel: Panel) -> None:
    panel.options.prompt.value = "a crowd"
    files = [(f"t{i}.png", image_bytes(320, 320, colour=(i * 10, 50, 50))) for i in range(16)]
    start = threading.Barrier(8)

    def add(pair: list[tuple[str, bytes]]) -> None:
        start.wait()
        for name, data in pair:
            panel.references.add([from_upload(name, data)])

    threads = [threading.Thread(target=add, args=(files[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = panel.references.items
    assert len(items) == 10 and len({r.key for r in items}) == 10
    assert len(panel.references.rows.children) == 10
    titles = [panel.references._rows[r.key].title.value for r in items]
    assert [t.split("</b>")[0] for t in titles] == [f"<b>{i}." for i in range(1, 11)]

    jobs: list[Any] = []
    go = threading.Barrier(3)

    def click() -> None:
        go.wait()
        jobs.append(panel.generate())

    clickers = [threading.Thread(target=click) for _ in range(3)]
    for t in clickers:
        t.start()
    for t in clickers:
        t.join()
    for job in jobs:
        job.wait(20)
    assert len({j.external_task_id for j in jobs}) == 3 and len(panel.jobs) == 3
    assert len(panel.jobs_view.latest.children) == 1
    assert len(panel.jobs_view.older.children) == 2
    assert all(t.path is not None for j in jobs for t in panel.gallery._tiles[j.external_task_id])
    assert "3 runs: 0 running, 3 done" in panel.jobs_view.totals.value


# -- copy as code -----------------------------------------------------------------------------


def run_code_cell(shell: InteractiveShell, cell: str) -> Any:
    before = shell.user_ns.get("_kirin")
    result = shell.run_cell(cell)
    assert result.error_in_exec is None and result.error_before_exec is None, result
    job = shell.user_ns["_kirin"]
    assert job is not before
    return job


def same_request(a: Any, b: Any) -> None:
    first, second = a.request.body(), b.request.body()
    assert first.pop("external_task_id") != second.pop("external_task_id")
    assert first == second


def test_copy_as_code_omni_makes_the_same_request(shell: InteractiveShell, tmp_path: Path) -> None:
    client = shell.magics_manager.registry["KirinMagics"].client()
    namespace: dict[str, Any] = {"tall": Image.new("RGB", (200, 900), "purple")}
    ui = Panel(client=client, namespace=namespace)
    o = ui.options
    path = tmp_path / "my photo.png"
    path.write_bytes(image_bytes(700, 500))
    upload(ui, ("upload.jpg", image_bytes(500, 500, "JPEG")))
    type_source(ui, str(path))
    type_source(ui, "https://example.com/ref.png")
    ui.references.variable.value = "tall"
    ui.references.add_variable.click()
    rows(ui)[-1].fit.click()  # mended bytes: only a saved copy can carry them
    o.prompt.value = "{braces} stay: <<<image_1>>> and <<<image_2>>> meet <<<image_4>>>"
    o.n.value = 3
    o.resolution.value = "2k"
    o.aspect_ratio.value = "21:9"
    o.watermark.value = True
    o.callback_url.value = "https://example.com/hook"
    job = ui.generate()
    job.wait(20)

    cell = ui.code_for_job(job)
    line = cell.splitlines()[0]
    assert f"-i '{path}'" in line and "-i https://example.com/ref.png" in line
    assert line.count("panel_inputs") == 2  # the upload and the mended variable
    shell.run_line_magic("config", "Kirin.default_model = 'v3'")  # the cell says everything
    shell.run_line_magic("config", "Kirin.n = 5")
    shell.user_ns["braces"] = "REPLACED"
    same_request(job, run_code_cell(shell, cell))


def test_copy_as_code_v3_makes_the_same_request(shell: InteractiveShell) -> None:
    client = shell.magics_manager.registry["KirinMagics"].client()
    ui = Panel(client=client, namespace={})
    o = ui.options
    o.model.value = spec.V3
    o.prompt.value = "a portrait,\nsecond line"
    o.negative.value = "-blurry, 'odd' \"quotes\""
    o.elements.value = "7 8"
    o.aspect_ratio.value = "9:16"
    cell = ui.show_code()
    assert ui.gallery.code == cell and visible(ui.gallery.code_area)
    job = ui.generate()
    assert cell == ui.code_for_job(job)
    same_request(job, run_code_cell(shell, cell))

    upload(ui, ("only.png", image_bytes()))  # image-to-image: the negative is not sent
    job = ui.generate()
    assert "--neg" not in ui.code_for_job(job)
    same_request(job, run_code_cell(shell, ui.code_for_job(job)))
    for j in client.jobs:
        j.wait(20)


# -- how the panel is opened ------------------------------------------------------------------


def test_kirin_ui_opens_a_panel_on_the_magics_client(shell: InteractiveShell,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[Any] = []
    monkeypatch.setattr("kirin_jupyter.magics.commands.ui.display", shown.append)
    monkeypatch.setattr("kirin_jupyter.base.frontends.detect", lambda *_a, **_k: "jupyter")
    shell.user_ns["pic"] = Image.new("RGB", (400, 400))
    shell.run_line_magic("kirin", "ui")
    (panel,) = shown
    assert isinstance(panel, Panel)
    assert panel.client is shell.magics_manager.registry["KirinMagics"].client()
    assert list(panel.references.variable.options) == ["pic"]  # the notebook's variables
    bundle = panel._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == \
        panel.widget.model_id


def test_panel_is_exported_lazily() -> None:
    code = (
        "import sys, kirin_jupyter, kirin_jupyter.magics.core\n"
        "assert 'ipywidgets' not in sys.modules and 'PIL' not in sys.modules\n"
        "from kirin_jupyter import Panel\n"
        "assert Panel.__module__ == 'kirin_jupyter.panel.panel'\n"
        "assert 'Panel' in kirin_jupyter.__all__\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


# -- first look, history, saved copy, copy as code -------------------------------------------


def test_no_validation_message_before_the_first_edit(panel: Panel) -> None:
    assert "kirin-problem" not in reason(panel) and "prompt is empty" not in reason(panel)
    assert not panel.generate_button.disabled  # a click is how a person asks what is wrong
    assert panel.generate() is None
    assert "prompt is empty" in reason(panel) and panel.generate_button.disabled
    fresh = Panel(client=panel.client, namespace={})
    upload(fresh, ("a.png", image_bytes()))  # any edit counts, not only the prompt
    assert "prompt is empty" in reason(fresh) and fresh.generate_button.disabled
    fresh.options.prompt.value = "a harbour"
    assert "ready: omni" in reason(fresh) and not fresh.generate_button.disabled


def test_older_runs_fold_and_the_panel_stays_bounded(panel: Panel) -> None:
    from kirin_jupyter.panel.jobs_view import MAX_OLDER

    panel.options.prompt.value = "a lantern"
    jobs = [panel.generate() for _ in range(MAX_OLDER + 3)]
    for job in jobs:
        job.wait(20)
    view = panel.jobs_view
    assert view.latest.children == (view.view(jobs[-1]).widget,)
    assert len(view.older.children) == MAX_OLDER and view.older.selected_index is None
    assert view.older.titles[0].startswith(f"Run {len(jobs) - 1} · completed · 1 image")
    assert "2 earlier not shown (%kirin history lists every job)" in view.older_heading.value
    gone = jobs[:2]  # the oldest runs left the panel: their widgets are closed
    assert all(view.view(j) is None and j.external_task_id not in panel.gallery._tiles
               for j in gone)
    assert f"{len(jobs)} runs: 0 running, {len(jobs)} done" in view.totals.value


def test_the_saved_copy_shows_the_results_without_a_kernel(
        panel: Panel, monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    sent: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda obj, **kw: sent.append(("display", obj, kw)))
    monkeypatch.setattr(IPython.display, "update_display",
                        lambda obj, **kw: sent.append(("update", obj, kw)))
    panel._ipython_display_()
    (_, widget, _), (_, first, options) = sent
    # Where widgets are not drawn, the saved copy's line is the one notice (no second one
    # in another font, and no page of the widget's repr).
    assert widget["text/plain"] == ""
    assert "application/vnd.jupyter.widget-view+json" in widget
    assert "no runs yet" in first["text/html"] and options["display_id"] == panel.saved.display_id
    panel.options.prompt.value = "a kite"
    job = panel.generate()
    job.wait(20)
    deadline = time.monotonic() + 5
    while len(sent) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    kind, update, options = sent[-1]
    html = update["text/html"]
    assert kind == "update" and options["display_id"] == panel.saved.display_id
    assert "the results of its 1 run" in html and html.count("data:image/jpeg;base64,") == 1
    assert job.result.task_id in html
    # live, the copy hides itself: the panel carries the class the style rule looks for
    live = f"kirin-panel-{panel.saved.key}"
    assert live in panel.widget._dom_classes and f"body:has(.{live})" in html


def test_copy_button_carries_the_cell_exactly(panel: Panel) -> None:
    from html.parser import HTMLParser

    panel.options.prompt.value = 'quotes \' " <tags> & {braces}\nsecond line'
    cell = panel.show_code()
    found: dict[str, str | None] = {}

    class Find(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "button":
                found.update(attrs)

    Find().feed(panel.gallery.code_box.value)
    assert found["data-code"] == cell
    assert "navigator.clipboard.writeText" in (found["onclick"] or "")
    assert "%kirin code" in panel.gallery.code_box.value


def test_kirin_code_puts_the_panel_code_in_the_next_cell(shell: InteractiveShell,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    panel_code.remember("%%kirin -m omni\nold")  # another panel earlier
    ui = Panel(client=shell.magics_manager.registry["KirinMagics"].client(), namespace={})
    ui.options.prompt.value = "a bell"
    cell = ui.show_code()
    shell.run_line_magic("kirin", "code")
    assert shell.rl_next_input == cell
    assert "new cell below" in capsys.readouterr().out


def test_the_panel_takes_every_colour_from_the_theme() -> None:
    import re

    folder = ROOT / "kirin_jupyter" / "panel"
    for source in sorted(folder.glob("*.py")):
        hexes = re.findall(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b", source.read_text())
        assert not hexes, (source.name, hexes)
