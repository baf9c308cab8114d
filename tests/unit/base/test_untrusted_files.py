"""Files and records from outside are untrusted input (issue 22, class A).

A result file, a file someone sends, or a record a hostile service wrote into an image
goes through one reader (``user_files``) and one schema (``record_schema``): every case
here is a one-line ``ValidationError`` (a ``UsageError`` in the magics), never a
traceback, a hang or gigabytes read.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import zlib
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from PIL import Image

import kirin_jupyter as kirin
from kirin_jupyter.base.user_files import read_user_file
from kirin_jupyter.errors import ValidationError
from kirin_jupyter.storage.file_provenance import embed, read_record, stamp_file
from kirin_jupyter.storage.record_schema import DamagedRecord


def _image(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, format=fmt)
    return buffer.getvalue()


def _record(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "kirin_record": 1, "model": "kirin_image_omni", "prompt": "a fox",
        "negative_prompt": None, "options": {"n": 1}, "task_id": "t-1",
        "external_task_id": "kj-1", "cost": "0.04", "created_at": None, "finished_at": None,
        "references": [], "parents": [], "image": 1, "images": 1, "simulated": True,
        "version": "0.1.0"}
    record.update(changes)
    return record


def _png_with_text(text: str) -> bytes:
    """A PNG whose ``kirin`` chunk holds ``text`` as it is (not a valid record)."""
    data = _image("PNG")
    payload = b"kirin\x00\x00\x00\x00\x00" + text.encode("utf-8")
    chunk = (len(payload).to_bytes(4, "big") + b"iTXt" + payload
             + zlib.crc32(b"iTXt" + payload).to_bytes(4, "big"))
    return data[:33] + chunk + data[33:]


# -- the schema: wrong types are "damaged", never a traceback ---------------------------

@pytest.mark.parametrize("changes, field", [
    ({"options": ["n", 1]}, "options"), ({"options": "n=1"}, "options"),
    ({"references": {"label": "x"}}, "references"), ({"references": ["x"]}, "reference 1"),
    ({"references": [{"label": ["x"]}]}, "reference 1"), ({"prompt": {"text": "x"}}, "prompt"),
    ({"image": True}, "image"), ({"parents": [1, 2]}, "parent"), ({"task_id": 7}, "task_id"),
])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_record_with_wrong_types_is_one_line_damaged(tmp_path: Path, fmt: str,
                                                       changes: dict, field: str) -> None:
    path = tmp_path / f"r.{fmt.lower()}"
    path.write_bytes(embed(_image(fmt), _record(**changes)))
    with pytest.raises(DamagedRecord, match=f"^this file's record is damaged: .*{field}") \
            as caught:
        kirin.provenance(path)
    assert "\n" not in str(caught.value)


def test_the_magics_say_damaged_in_one_line(tmp_path: Path, shell) -> None:
    path = tmp_path / "r.png"
    path.write_bytes(embed(_image(), _record(options=["oops"])))
    for command in ("show", "rerun", "lineage"):
        with pytest.raises(UsageError, match=f"%kirin {command}: this file's record is "
                           "damaged: 'options' is a list"):
            shell.run_line_magic("kirin", f"{command} {path}")


def test_deeply_nested_json_is_damaged_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    path.write_bytes(_png_with_text("[" * 100_000 + "]" * 100_000))
    started = time.monotonic()
    with pytest.raises(DamagedRecord, match="nested deeper"):
        kirin.provenance(path)
    assert time.monotonic() - started < 2


def test_a_compressed_chunk_that_inflates_to_gigabytes_is_not_inflated(tmp_path: Path
                                                                       ) -> None:
    bomb = zlib.compress(b" " * 200_000_000, 9)  # 200 MB of spaces in about 200 kB
    data = _image("PNG")
    payload = b"kirin\x00\x01\x00\x00\x00" + bomb
    chunk = (len(payload).to_bytes(4, "big") + b"iTXt" + payload
             + zlib.crc32(b"iTXt" + payload).to_bytes(4, "big"))
    path = tmp_path / "bomb.png"
    path.write_bytes(data[:33] + chunk + data[33:])
    with pytest.raises(ValidationError, match="holds no kirin record"):
        kirin.provenance(path)


# -- XMP: a real serializer and parser --------------------------------------------------------

HOSTILE_PROMPTS = [
    '</kirin:record><kirin:record>{"task_id": "someone-else"}</kirin:record>',
    'kirin:record="{&quot;task_id&quot;: &quot;someone-else&quot;}"',
    '<rdf:li>x</rdf:li> & <!-- --> <![CDATA[ ]]> "quotes" \'apos\'',
    "bell \x07 form \x0c nul \x00 and \ufffe: characters XML cannot hold",
    "<!DOCTYPE x [<!ENTITY a 'b'>]> &a;",
]


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG"])
@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS)
def test_a_prompt_with_markup_keeps_its_own_record(tmp_path: Path, fmt: str, prompt: str
                                                   ) -> None:
    record = _record(prompt=prompt, task_id="mine")
    path = tmp_path / f"p.{fmt.lower()}"
    path.write_bytes(_image(fmt))
    stamp_file(path, record)
    read = kirin.provenance(path)
    assert read["task_id"] == "mine" and read["prompt"] == prompt
    with Image.open(path) as img:  # Pillow's own XMP reader still reads the packet
        if fmt != "PNG":
            assert img.getxmp()


def test_an_xmp_packet_with_a_dtd_is_never_expanded(tmp_path: Path) -> None:
    laughs = ('<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>')
    packet = (f'{laughs}<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
              '"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
              'xmlns:kirin="urn:kirin-jupyter:provenance:1"><kirin:record>&c;</kirin:record>'
              '</rdf:Description></rdf:RDF></x:xmpmeta>').encode()
    header = b"http://ns.adobe.com/xap/1.0/\x00"
    segment = b"\xff\xe1" + (len(header) + len(packet) + 2).to_bytes(2, "big") + header + packet
    jpeg = _image("JPEG")
    assert read_record(jpeg[:2] + segment + jpeg[2:]) is None


# -- what a path is, checked before a byte is read ----------------------------------------------

def test_a_fifo_is_refused_at_once(tmp_path: Path, shell) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            kirin.provenance(fifo)
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # unblock the hung reader so the test run can go on
        with open(fifo, "wb"):
            pass
    assert not reader.is_alive(), "reading a FIFO hung"
    assert isinstance(outcome[0], ValidationError) and "a pipe (FIFO)" in str(outcome[0])
    with pytest.raises(ValidationError, match="pipe"):
        kirin.compare(fifo, fifo)


def test_a_link_to_a_device_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "zero.png"
    link.symlink_to("/dev/zero")
    with pytest.raises(ValidationError, match="is a device, not a regular file"):
        kirin.provenance(link)
    with pytest.raises(ValidationError, match="device"):
        kirin.generate("<<<image_1>>>", images=[link])


def test_a_large_sparse_file_is_refused_unread(tmp_path: Path) -> None:
    sparse = tmp_path / "sparse.png"
    with sparse.open("wb") as handle:
        handle.write(_image())
        handle.truncate(8 * 1024**3)  # 8 GiB, almost none of it on disk
    started = time.monotonic()
    with pytest.raises(ValidationError, match=r"8589\.9 MB; files over 64\.0 MB are not read"):
        kirin.provenance(sparse)
    assert time.monotonic() - started < 1


def test_the_reader_caps_what_it_reads(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 1000)
    assert read_user_file(path, 1000) == b"x" * 1000
    with pytest.raises(ValidationError, match="not read"):
        read_user_file(path, 999)
    with pytest.raises(ValidationError, match="a folder"):
        read_user_file(tmp_path, 10)
    with pytest.raises(ValidationError, match="file not found"):
        read_user_file(tmp_path / "missing", 10)


def test_a_decompression_bomb_is_one_line_in_compare_and_show(tmp_path: Path, shell,
                                                              monkeypatch) -> None:
    from PIL import Image as PILImage

    path = tmp_path / "big.png"
    path.write_bytes(embed(_image("PNG", (400, 300)), _record()))
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)  # 400x300 is now a "bomb"
    with pytest.raises(ValidationError, match=r"compare: .* is not an image Pillow can read"):
        kirin.compare(path, path)
    shell.run_line_magic("kirin", f"show {path}")  # the record shows; the picture is a box


def test_the_panels_path_field_uses_the_same_reader(tmp_path: Path) -> None:
    from kirin_jupyter.panel.references import from_text

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ValidationError, match="pipe"):
        from_text(str(fifo))


def test_a_good_record_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "ok.jpg"
    path.write_bytes(embed(_image("JPEG"), _record(prompt="ünïcödé 🦊 <b>")))
    assert kirin.provenance(path)["prompt"] == "ünïcödé 🦊 <b>"
    assert json.loads(json.dumps(kirin.provenance(path)))["task_id"] == "t-1"


def test_a_batch_file_that_is_a_fifo_or_a_device_is_one_line(tmp_path: Path, shell) -> None:
    fifo = tmp_path / "prompts.txt"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    for path, words in ((fifo, "a pipe"), (zero, "a device")):
        with pytest.raises(ValidationError, match=words):
            kirin.batch(path)
        with pytest.raises(UsageError, match=words):
            shell.run_line_magic("kirin", f"batch {path} --dry-run")


def test_a_settings_file_too_large_is_ignored_in_one_line(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    from kirin_jupyter.config import files as config_files

    home = tmp_path / "config.toml"
    home.write_text("n = 2\n" + "# padding\n" * 200_000)
    monkeypatch.setenv("KIRIN_CONFIG", str(home))
    loaded = config_files.load(cwd=tmp_path)
    assert loaded.values.get("n") is None
    assert any("settings file" in p and "not read" in p for p in loaded.problems)
