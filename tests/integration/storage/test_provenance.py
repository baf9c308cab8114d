"""Provenance inside every saved file: written by the engine, read back by Pillow alone and
by ``kirin_jupyter.provenance``; pixels never re-encoded (issue 13)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

import kirin_jupyter
from kirin_jupyter.client import Client
from kirin_jupyter.errors import ValidationError
from kirin_jupyter.model import provenance_record
from kirin_jupyter.model.provenance_record import job_stamp, stamp_files, utc_iso
from kirin_jupyter.model.request import build_request
from kirin_jupyter.simulator import render
from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.simulator.service import Fault
from kirin_jupyter.storage.file_provenance import (
    embed,
    read_record,
    stamp_file,
)
from kirin_jupyter.storage.journal import Journal
from kirin_jupyter.storage.result_files import check_result
from tests.conftest import TEST_KEY

PROMPT = "a red fox in the snow, 雪の中の狐 — ünïcødé & <tags>"


def _pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert(img.mode))


def test_a_saved_png_shows_its_prompt_to_pillow_and_keeps_the_pixels_sent(
        http_client: Client, sim_server: SimulatorServer) -> None:
    """DONE-WHEN: Pillow alone reads the prompt; the pixels are those the service sent."""
    job = http_client.generate(PROMPT, model="v3", n=2, aspect_ratio="16:9",
                               negative_prompt="blurry")
    result = job.wait(30)
    sent = sim_server.service.tasks[result.task_id].rendered
    for index, path in enumerate(result.paths):
        with Image.open(path) as img:
            assert img.info["parameters"].startswith(PROMPT + "\nNegative prompt: blurry\n")
            assert f"Task id: {result.task_id}" in img.text["parameters"]
            assert "Model: kirin_v3_image, Size: 1024x576, Aspect ratio: 16:9" in \
                img.text["parameters"]
            assert json.loads(img.info["kirin"])["prompt"] == PROMPT
        assert np.array_equal(_pixels(path.read_bytes()), _pixels(sent[index]))
        record = kirin_jupyter.provenance(path)
        assert record["task_id"] == result.task_id
        assert record["external_task_id"] == job.external_task_id
        assert record["model"] == "kirin_v3_image" and record["prompt"] == PROMPT
        assert record["negative_prompt"] == "blurry"
        assert record["options"]["n"] == 2 and record["options"]["aspect_ratio"] == "16:9"
        assert record["cost"] == str(result.cost) and record["cost"] is not None
        assert record["created_at"] and record["finished_at"] >= record["created_at"]
        assert record["image"] == index + 1 and record["images"] == 2
        assert record["version"] == kirin_jupyter.__version__
        assert record["references"] == [] and record["parents"] == []
        # The key the client holds is nowhere in the file.
        assert TEST_KEY.encode() not in path.read_bytes()
    assert not [p for p in result.paths[0].parent.iterdir() if p.name.startswith(".")]


def _encoded(fmt: str, mode: str = "RGB", **options: object) -> bytes:
    rng = np.random.default_rng(7)
    channels = {"RGB": 3, "RGBA": 4}[mode]
    img = Image.fromarray(rng.integers(0, 255, (300, 420, channels), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)  # type: ignore[arg-type]
    return buf.getvalue()


FORMATS = [
    ("PNG", "RGB", {}),
    ("PNG", "RGBA", {}),
    ("JPEG", "RGB", {"quality": 88}),
    ("JPEG", "RGB", {"quality": 88, "exif": Image.Exif()}),
    ("WEBP", "RGB", {"quality": 80}),  # simple VP8: a VP8X header is added
    ("WEBP", "RGB", {"lossless": True}),  # simple VP8L
    ("WEBP", "RGBA", {"lossless": True}),  # VP8L with alpha
    ("WEBP", "RGBA", {"quality": 80}),  # already VP8X (ALPH + VP8)
]


@pytest.mark.parametrize(("fmt", "mode", "options"), FORMATS)
def test_png_jpeg_and_webp_take_a_record_without_re_encoding(
        tmp_path: Path, fmt: str, mode: str, options: dict[str, object]) -> None:
    original = _encoded(fmt, mode, **options)
    path = tmp_path / f"01.{fmt.lower()}"
    path.write_bytes(original)
    path.chmod(0o640)
    mode = path.stat().st_mode & 0o777
    record = {"prompt": PROMPT, "task_id": "t-1", "options": {"n": 1}}
    stamp_file(path, record, "text" if fmt == "PNG" else None)
    stamp_file(path, {**record, "task_id": "t-2"}, "text" if fmt == "PNG" else None)
    data = path.read_bytes()
    assert np.array_equal(_pixels(data), _pixels(original))
    assert kirin_jupyter.provenance(path) == {  # one record; an older one reads as full
        **record, "task_id": "t-2", "provenance": "full", "stored_in": "file"}
    assert data.count(b"t-2") == 1 and b"t-1" not in data
    with Image.open(path) as img:
        img.load()  # the whole file decodes
        if fmt == "PNG":
            assert img.info["parameters"] == "text"
        else:
            xmp = img.info["xmp"]
            xmp = xmp.decode() if isinstance(xmp, bytes) else xmp
            assert "&lt;tags&gt;" in xmp and "dc:description" in xmp
    if fmt == "WEBP":
        assert data[12:16] == b"VP8X" and data[20] & 0x04  # the XMP flag
        assert int.from_bytes(data[4:8], "little") == len(data) - 8  # the RIFF size
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left
    assert path.stat().st_mode & 0o777 == mode  # the mode it had, not mkstemp's 0600


def test_embed_in_bytes_matches_the_file_and_reads_back() -> None:
    original = _encoded("JPEG")
    marked = embed(original, {"prompt": "x"})
    assert read_record(marked) == {"prompt": "x"}
    assert marked[:2] == b"\xff\xd8" and len(marked) > len(original)
    assert read_record(original) is None and read_record(b"not an image") is None


def test_provenance_of_a_file_without_a_record_is_one_clear_line(
        tmp_path: Path, make_image: Callable[..., Path]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    plain = make_image(320, 320, "PNG")
    cases = [(text, "not a PNG, JPEG or WebP"), (plain, "holds no kirin record"),
             (tmp_path / "gone.png", "result file not found")]
    for path, message in cases:
        with pytest.raises(ValidationError, match=message) as caught:
            kirin_jupyter.provenance(path)
        assert "\n" not in str(caught.value)
    with pytest.raises(ValidationError, match="PNG, JPEG and WebP files only"):
        stamp_file(text, {"prompt": "x"})


def test_the_engine_step_stamps_a_jpeg_and_a_webp_result(tmp_path: Path) -> None:
    """The simulator serves PNG only: the engine's stamping step is run on files of the
    other formats as they would lie in output_dir/<task_id>/."""
    journal = Journal(tmp_path / "journal.sqlite3")
    request = build_request("a lighthouse at dusk", model="v3", n=2)
    journal.record_submit(request.external_task_id, request.model.name, request.prompt,
                          request.summary(), "http://127.0.0.1:1", tmp_path)
    folder = tmp_path / "task-9"
    folder.mkdir()
    paths = [folder / "01.jpg", folder / "02.webp"]
    originals = [_encoded("JPEG"), _encoded("WEBP", quality=70)]
    for path, data in zip(paths, originals, strict=True):
        path.write_bytes(data)
    stamp = job_stamp(journal, request, task_id="task-9", cost=None, finished_at=2e9,
                      simulated=False)
    done = stamp_files(stamp, paths, ["image", "image"])
    assert [item.where for item in done] == ["file", "file"]
    for index, (path, data) in enumerate(zip(paths, originals, strict=True)):
        record = kirin_jupyter.provenance(path)
        assert record["task_id"] == "task-9" and record["image"] == index + 1
        assert record["prompt"] == "a lighthouse at dusk" and record["cost"] is None
        assert np.array_equal(_pixels(path.read_bytes()), _pixels(data))


# -- the record spliced into a downloaded PNG -------------------------------------------------

def _photo_png(size: int = 640, text: dict[str, str] | None = None) -> bytes:
    """A photo-like PNG (noise: it compresses badly, so it streams in many pieces) with
    some chunks between IHDR and IDAT, as cameras and other tools write them."""
    rng = np.random.default_rng(11)
    img = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "x" * 300)  # longer than the scanner's 88-byte window
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info, compress_level=1, dpi=(72, 72))
    return buf.getvalue()


def _served(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """The simulator serves ``data`` as every result (it renders on first download)."""
    monkeypatch.setattr(render, "render_result", lambda body, index, seed: data)


def _counted_splices(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    spliced: list[Path] = []
    real = provenance_record.stamp_file

    def counting(path: Path, *args: object) -> None:
        spliced.append(path)
        real(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(provenance_record, "stamp_file", counting)
    return spliced


def test_a_downloaded_png_gets_its_record_spliced_in_once_even_after_a_refetch(
        http_client: Client, sim_server: SimulatorServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """DONE-WHEN: over loopback HTTP a 1.2 MB PNG gets its record once its download is
    done: one splice per file, the record right before the first IDAT and every byte
    sent kept around it, the whole-file check passes, the pixels are those sent, and a
    download that failed its check and was fetched again holds one record."""
    sent = _photo_png()
    _served(monkeypatch, sent)
    spliced = _counted_splices(monkeypatch)
    sim_server.service.add_fault(Fault(route="download", kind="truncate"))
    job = http_client.generate(PROMPT, model="v3", n=2, negative_prompt="blurry")
    result = job.wait(30)
    assert spliced == result.paths  # each file spliced once, after its last attempt
    assert sim_server.service.requests["download"] == 3  # one of the two fetched twice
    first_idat = sent.index(b"IDAT") - 4
    for index, path in enumerate(result.paths):
        data = path.read_bytes()
        added = len(data) - len(sent)  # the record's chunks, and nothing else
        assert data[:first_idat] == sent[:first_idat] and data[first_idat + added:] == \
            sent[first_idat:]
        assert data[first_idat + 4:first_idat + 14] == b"iTXtkirin\x00"
        assert data.count(b'"kirin_record"') == 1 and data.count(b"parameters\x00") == 1
        check_result(path, "image", 10**8)  # every CRC, the inflated size
        assert np.array_equal(_pixels(data), _pixels(sent))
        with Image.open(path) as img:
            assert img.info["parameters"].startswith(PROMPT + "\nNegative prompt: blurry\n")
            assert "Size: 640x640" in img.info["parameters"]
            assert img.info["Software"] == "x" * 300
        record = kirin_jupyter.provenance(path)
        assert record["task_id"] == result.task_id and record["image"] == index + 1
        assert record["cost"] == str(result.cost)
        # finished_at: when the task was seen complete, before the files were saved
        assert record["created_at"] <= record["finished_at"] <= utc_iso(result.finished_at)
    assert not [p for p in result.paths[0].parent.iterdir() if p.name.startswith(".")]


def test_a_png_that_already_names_parameters_is_spliced_so_it_holds_one_record(
        http_client: Client, sim_server: SimulatorServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A service PNG with its own ``parameters`` chunk would hold two if ours were only
    added (Pillow shows the last): the splice leaves ours alone."""
    sent = _photo_png(200, {"parameters": "the service's own text"})
    _served(monkeypatch, sent)
    spliced = _counted_splices(monkeypatch)
    result = http_client.generate(PROMPT, model="v3").wait(30)
    assert spliced == result.paths
    data = result.paths[0].read_bytes()
    assert data.count(b"parameters\x00") == 1 and b"the service's own text" not in data
    assert data.count(b'"kirin_record"') == 1
    check_result(result.paths[0], "image", 10**8)
    assert np.array_equal(_pixels(data), _pixels(sent))
