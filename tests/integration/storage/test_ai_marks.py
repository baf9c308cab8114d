"""The IPTC "AI-generated" mark in every saved file, the provenance levels, and a signed
(C2PA) file left as the service sent it (issue 28). Read back by readers we did not
write: Debian's exiftool and Pillow's ``getxmp()``; pixels compared decoded."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kirin_jupyter
from kirin_jupyter.client import Client
from kirin_jupyter.errors import ValidationError
from kirin_jupyter.model.provenance_record import job_stamp, stamp_files
from kirin_jupyter.model.request import build_request
from kirin_jupyter.simulator import render
from kirin_jupyter.simulator.server import SimulatorServer
from kirin_jupyter.storage.file_provenance import AI_GENERATED, sidecar_path
from kirin_jupyter.storage.journal import Journal
from kirin_jupyter.version import __version__
from tests.support.exiftool import xmp_tags

PROMPT = "Zephyrine's confidential launch: the Q3 widget in teal"
NEGATIVE = "blurry Quillfeather smudges"


def _pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def _served(sim_server: SimulatorServer, task_id: str, index: int = 0) -> bytes:
    return sim_server.service.tasks[task_id].rendered[index]


def _assert_marked(path: Path, model: str) -> dict[str, object]:
    tags = xmp_tags(path)
    assert tags["DigitalSourceType"] == AI_GENERATED
    assert tags["CreatorTool"] == f"kirin-jupyter {__version__}"
    assert str(tags["Credit"]).startswith(model)
    with Image.open(path) as img:  # Pillow reads the same packet
        xmp = img.getxmp()
    description = xmp["xmpmeta"]["RDF"]["Description"]
    assert description["DigitalSourceType"] == AI_GENERATED
    assert description["CreatorTool"] == f"kirin-jupyter {__version__}"
    return tags


def test_exiftool_reads_the_ai_mark_in_a_saved_png_and_the_pixels_are_those_sent(
        http_client: Client, sim_server: SimulatorServer) -> None:
    """DONE-WHEN (PNG): DigitalSourceType and the creator tool, through the whole path
    (loopback HTTP, download, splice); beside A1111's parameters; pixels unchanged."""
    result = http_client.generate(PROMPT, model="v3", n=1).wait(30)
    path = result.paths[0]
    tags = _assert_marked(path, "kirin_v3_image")
    assert tags["Credit"] == "kirin_v3_image, 127.0.0.1"
    assert tags["Description"] == PROMPT  # full: the prompt is there for people
    with Image.open(path) as img:
        assert img.info["parameters"].startswith(PROMPT)
        assert "XML:com.adobe.xmp" in img.info
    assert np.array_equal(_pixels(path.read_bytes()),
                          _pixels(_served(sim_server, result.task_id)))
    assert kirin_jupyter.provenance(path)["provenance"] == "full"


@pytest.mark.parametrize(("fmt", "suffix"), [("JPEG", ".jpg"), ("WEBP", ".webp")])
def test_exiftool_reads_the_ai_mark_in_a_saved_jpeg_and_webp(
        tmp_path: Path, fmt: str, suffix: str) -> None:
    """DONE-WHEN (JPEG, WebP): the engine's own stamping of a downloaded file of each
    format; exiftool and Pillow read the marks, the decoded pixels are unchanged."""
    journal = Journal(tmp_path / "journal.sqlite3")
    request = build_request(PROMPT, model="v3", n=1)
    journal.record_submit(request.external_task_id, request.model.name, request.prompt,
                          request.summary(), "https://cloud.vtrix.ai", tmp_path)
    buf = io.BytesIO()
    picture = Image.effect_mandelbrot((160, 96), (-2, -1, 1, 1), 60).convert("RGB")
    picture.save(buf, fmt, quality=80)
    sent = buf.getvalue()
    path = tmp_path / f"01{suffix}"
    path.write_bytes(sent)
    stamp = job_stamp(journal, request, task_id="task-1", cost=None, finished_at=2e9,
                      simulated=False, service="cloud.vtrix.ai")
    assert [item.where for item in stamp_files(stamp, [path], ["image"])] == ["file"]
    tags = _assert_marked(path, "kirin_v3_image")
    assert tags["Credit"] == "kirin_v3_image, cloud.vtrix.ai"
    assert np.array_equal(_pixels(path.read_bytes()), _pixels(sent))
    assert path.read_bytes() != sent
    record = kirin_jupyter.provenance(path)
    assert record["prompt"] == PROMPT and record["provenance"] == "full"


def test_minimal_keeps_the_mark_and_ids_and_no_byte_of_the_prompt(
        http_client: Client, sim_server: SimulatorServer,
        make_image: Callable[..., Path]) -> None:
    """DONE-WHEN: with provenance="minimal" no byte of the prompt, the negative prompt or
    a reference's hash is in the file; the journal keeps the full record."""
    reference = make_image(640, 480)
    digest = hashlib.sha256(reference.read_bytes()).hexdigest()
    plain = http_client.generate(PROMPT, model="v3", n=1, negative_prompt=NEGATIVE,
                                 provenance="minimal").wait(30)
    with_ref = http_client.generate(PROMPT, model="omni", n=1, images=[reference],
                                    provenance="minimal").wait(30)
    for result in (plain, with_ref):
        path = result.paths[0]
        raw = path.read_bytes()
        for secret in (PROMPT, "Zephyrine", "teal", NEGATIVE, "Quillfeather", digest,
                       digest[:12], reference.name):
            assert secret.encode() not in raw, secret
        tags = _assert_marked(path, result.model)
        assert "Description" not in tags
        record = kirin_jupyter.provenance(path)
        assert record["provenance"] == "minimal" and record["task_id"] == result.task_id
        assert "prompt" not in record and "options" not in record
        assert np.array_equal(_pixels(raw), _pixels(_served(sim_server, result.task_id)))
        kept = http_client.journal.file_record(path.resolve())
        assert kept is not None and kept["prompt"] == PROMPT
    kept = http_client.journal.file_record(with_ref.paths[0].resolve())
    assert kept is not None and kept["references"][0]["sha256"] == digest


def test_off_leaves_the_file_byte_for_byte_as_served(
        http_client: Client, sim_server: SimulatorServer) -> None:
    """DONE-WHEN: with off, the file's sha256 equals the served bytes'."""
    result = http_client.generate(PROMPT, model="v3", n=2, provenance="off").wait(30)
    for index, path in enumerate(result.paths):
        served = _served(sim_server, result.task_id, index)
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(served).digest()
        with pytest.raises(ValidationError, match="provenance off"):
            kirin_jupyter.provenance(path)
        assert http_client.journal.file_record(path.resolve())["prompt"] == PROMPT
    assert http_client.journal.file_marks([result.paths[0].resolve()])[
        str(result.paths[0].resolve())]["provenance"] == "off"


def test_the_setting_and_the_magic_option_choose_the_level(
        sim_server: SimulatorServer, tmp_path: Path) -> None:
    from tests.conftest import TEST_KEY

    client = Client(api_key=TEST_KEY, base_url=sim_server.url, output_dir=tmp_path / "o",
                    provenance="minimal")
    assert client.settings.provenance == "minimal"
    result = client.generate(PROMPT, model="v3", n=1).wait(30)
    assert PROMPT.encode() not in result.paths[0].read_bytes()
    assert result.provenance == "minimal"
    with pytest.raises(ValidationError, match="provenance"):
        Client(provenance="secret")
    with pytest.raises(ValidationError, match="choose one of: full, minimal, off"):
        client.generate(PROMPT, provenance="none")


# -- a signed file ----------------------------------------------------------------------------

def _png_with_cabx(png: bytes) -> bytes:
    """A PNG carrying a (fake) C2PA manifest store: a ``caBX`` chunk before IDAT."""
    at = 8
    while True:
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        if kind == b"IDAT":
            break
        at += 12 + length
    payload = struct.pack(">I", 24) + b"jumb" + struct.pack(">I", 16) + b"jumdc2pa" + b"\0" * 4
    chunk = (struct.pack(">I", len(payload)) + b"caBX" + payload
             + struct.pack(">I", zlib.crc32(payload, zlib.crc32(b"caBX"))))
    return png[:at] + chunk + png[at:]


def _jpeg_with_jumbf(jpeg: bytes) -> bytes:
    """A JPEG carrying a (fake) C2PA manifest: JUMBF in an APP11 segment after SOI."""
    box = struct.pack(">I", 24) + b"jumb" + struct.pack(">I", 16) + b"jumdc2pa" + b"\0" * 4
    payload = b"JP" + b"\x00\x01" + b"\x00\x00\x00\x01" + box
    return jpeg[:2] + b"\xff\xeb" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_a_signed_png_is_left_byte_identical_and_its_record_goes_beside_it(
        http_client: Client, sim_server: SimulatorServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """DONE-WHEN: a file with a C2PA marker is left byte-identical (the service served it
    signed, over loopback HTTP); its sidecar and the journal hold the record."""
    real = render.render_result
    monkeypatch.setattr(render, "render_result",
                        lambda body, index, task_id: _png_with_cabx(real(body, index, task_id)))
    result = http_client.generate(PROMPT, model="v3", n=1).wait(30)
    path = result.paths[0]
    assert path.read_bytes() == _served(sim_server, result.task_id)
    assert result.signed == ["PNG caBX chunk"]
    sidecar = sidecar_path(path)
    assert sidecar.name == "01.kirin.json"
    body = json.loads(sidecar.read_text(encoding="utf-8"))
    assert body["record"]["prompt"] == PROMPT and body["c2pa"] == "PNG caBX chunk"
    record = kirin_jupyter.provenance(path)
    assert record["stored_in"] == "sidecar" and record["task_id"] == result.task_id
    row = http_client.journal.file_marks([path.resolve()])[str(path.resolve())]
    assert row["stored_in"] == "sidecar" and row["c2pa"] == "PNG caBX chunk"
    assert http_client.journal.file_record(path.resolve())["prompt"] == PROMPT
    card = result._repr_html_()  # the card says so, once
    assert card is not None and card.count("signed by the service (C2PA") == 1
    marked = result.rate(5)  # a rating stays in the journal: the file is not touched
    assert marked[0].rating == 5 and not marked[0].in_file
    assert path.read_bytes() == _served(sim_server, result.task_id)
    assert "xmp_rating" not in xmp_tags(path) and "Rating" not in xmp_tags(path)


def test_a_signed_jpeg_is_left_byte_identical(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    request = build_request(PROMPT, model="v3", n=1)
    journal.record_submit(request.external_task_id, request.model.name, request.prompt,
                          request.summary(), "https://cloud.vtrix.ai", tmp_path)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(buf, "JPEG")
    signed = _jpeg_with_jumbf(buf.getvalue())
    path = tmp_path / "01.jpg"
    path.write_bytes(signed)
    stamp = job_stamp(journal, request, task_id="task-2", cost=None, finished_at=2e9,
                      simulated=False, service="cloud.vtrix.ai", level="minimal")
    done = stamp_files(stamp, [path], ["image"])
    assert [(d.where, d.signed) for d in done] == [("sidecar", "JPEG APP11 JUMBF segment")]
    assert path.read_bytes() == signed
    record = kirin_jupyter.provenance(path)  # the sidecar, at the level asked
    assert record["provenance"] == "minimal" and "prompt" not in record
    assert PROMPT not in sidecar_path(path).read_text(encoding="utf-8")
    path.write_bytes(signed + b"\0")  # other bytes: the sidecar is not this file's
    with pytest.raises(ValidationError, match="holds no kirin record"):
        kirin_jupyter.provenance(path)
