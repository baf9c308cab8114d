"""The download check proves a result whole without decoding it (result_files.py): every
way a file can arrive broken is still refused, every whole image is still kept."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from kirin_jupyter.errors import DownloadError, LimitExceeded
from kirin_jupyter.storage.result_files import check_result

LIMIT = 50_000_000


def picture(mode: str = "RGB", size: tuple[int, int] = (320, 200)) -> Image.Image:
    img = Image.linear_gradient("L").resize(size).convert(mode)
    ImageDraw.Draw(img).text((10, 10), "KIRIN", fill="white" if mode != "P" else 1)
    return img


def saved(tmp_path: Path, img: Image.Image, fmt: str = "PNG", **options: object) -> Path:
    path = tmp_path / f"result.{fmt.lower()}"
    img.save(path, format=fmt, **options)
    return path


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk of a PNG."""
    found, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        found.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return found


def png_of(parts: list[tuple[bytes, bytes]]) -> bytes:
    """A PNG of these chunks, each with a correct CRC."""
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, data in parts:
        out.append(struct.pack(">I4s", len(data), kind) + data
                   + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))))
    return b"".join(out)


@pytest.mark.parametrize("mode, options", [
    ("RGB", {}), ("RGBA", {}), ("L", {}), ("P", {}), ("1", {}), ("I;16", {}),
    ("RGB", {"interlace": 1}),  # Adam7: seven passes, each row with its filter byte
    ("L", {"interlace": 1}),
    ("RGB", {"compress_level": 0}),
])
def test_whole_pngs_pass(tmp_path: Path, mode: str, options: dict[str, object]) -> None:
    for size in ((320, 200), (1, 1), (7, 3), (9, 17)):
        path = saved(tmp_path, picture(mode, size), **options)
        assert check_result(path, "image", LIMIT) is None, (mode, size, options)


def test_a_png_cut_anywhere_is_refused(tmp_path: Path) -> None:
    whole = saved(tmp_path, picture(), compress_level=1).read_bytes()
    cut = tmp_path / "cut.png"
    for keep in (len(whole) - 1, len(whole) - 12, len(whole) // 2, 60, 40):
        cut.write_bytes(whole[:keep])
        with pytest.raises(DownloadError, match="not a complete image"):
            check_result(cut, "image", LIMIT)


def test_a_png_with_any_damaged_byte_is_refused(tmp_path: Path) -> None:
    whole = saved(tmp_path, picture()).read_bytes()
    bad = tmp_path / "bad.png"
    for at in range(40, len(whole), max(1, len(whole) // 25)):  # the pixel data, the end
        damaged = bytearray(whole)
        damaged[at] ^= 0x10
        bad.write_bytes(bytes(damaged))
        with pytest.raises(DownloadError):
            check_result(bad, "image", LIMIT)


def test_pixel_data_short_of_its_size_is_refused_though_every_crc_matches(
        tmp_path: Path) -> None:
    """A service that wrote a cut-off zlib stream (or too few rows) with fresh CRCs: the
    chunks are whole, the image is not."""
    parts = chunks(saved(tmp_path, picture(), compress_level=1).read_bytes())
    pixels = b"".join(data for kind, data in parts if kind == b"IDAT")
    raw = zlib.decompress(pixels)
    others = [(k, d) for k, d in parts if k not in (b"IDAT", b"IEND")]
    path = tmp_path / "short.png"
    for idat in (pixels[: len(pixels) // 2],  # the stream stops
                 zlib.compress(raw[: len(raw) - 100]),  # a stream that ends, rows missing
                 zlib.compress(raw + b"\0" * 100)):  # more data than the header says
        path.write_bytes(png_of([*others, (b"IDAT", idat), (b"IEND", b"")]))
        with pytest.raises(DownloadError, match="not a complete image"):
            check_result(path, "image", LIMIT)
    path.write_bytes(png_of([*others, (b"IEND", b"")]))  # no pixel data at all
    with pytest.raises(DownloadError):
        check_result(path, "image", LIMIT)
    path.write_bytes(png_of([*others, (b"IDAT", zlib.compress(raw)), (b"IEND", b"")]))
    check_result(path, "image", LIMIT)  # the same parts made whole pass


def test_the_pixel_limit_is_checked_before_anything_is_read(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    path = saved(tmp_path, picture(size=(2000, 1000)))
    inflated: list[int] = []
    real = zlib.decompressobj
    monkeypatch.setattr(zlib, "decompressobj", lambda *a: inflated.append(1) or real(*a))
    with pytest.raises(LimitExceeded, match="2000x1000 px was refused"):
        check_result(path, "image", 1_000_000)
    assert inflated == []


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "GIF"])
def test_other_formats_are_decoded_and_a_cut_one_is_refused(tmp_path: Path, fmt: str) -> None:
    img = picture("RGB" if fmt != "GIF" else "P", (640, 400))
    path = saved(tmp_path, img, fmt)
    check_result(path, "image", LIMIT)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(DownloadError, match="not a complete image"):
        check_result(path, "image", LIMIT)


def test_a_png_is_proved_whole_without_decoding_it(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """What makes the check cheap (3 ms for a 2k result, where decoding it and making a
    thumbnail took 25 ms): no pixel of a PNG is decoded; thumbnails come when shown."""
    from PIL import ImageFile

    path = saved(tmp_path, picture(size=(2048, 1152)), compress_level=1)
    decoded: list[object] = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self))
    check_result(path, "image", LIMIT)
    assert decoded == []


def test_not_an_image_at_all_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "page.png"
    path.write_bytes(b"<html>gateway error</html>")
    with pytest.raises(DownloadError, match="not a complete image"):
        check_result(path, "image", LIMIT)
    buf = io.BytesIO()
    picture().save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
    with pytest.raises(DownloadError, match="a result typed video is not"):
        check_result(path, "video", LIMIT)
