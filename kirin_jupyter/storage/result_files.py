"""What a downloaded result file must be before it is kept: a whole image within the
pixel limit, or something that is a video.

The HTTP layer only moves bytes; it calls ``check_result`` on the temporary file before
renaming it, so a broken file is fetched again and never lands under its final name.

Proving an image whole costs far less than decoding it: a PNG's every chunk carries a
CRC, so walking them to ``IEND`` and inflating the pixel data (without unfiltering or
keeping it) shows that every byte arrived and the data is all there (about 1 ms for a 1k
result; a full decode and a thumbnail took 10 ms). JPEG is decoded at an eighth of its
size (``draft``), which still reads every byte of its data. Thumbnails are made when a
card first shows the file (``thumbnails.thumbnail_jpeg``, cached), so thousands of jobs
run from a script never make one.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import IO

from ..errors import DownloadError, LimitExceeded

_VIDEO_SIGNATURES = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"))  # MP4/MOV, WebM/Matroska
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))  # x0, y0, dx, dy of the seven passes of an interlaced PNG
_INFLATE_STEP = 1 << 16  # bytes of pixel data inflated at a time (and thrown away)


def check_result(path: Path, kind: str, max_pixels: int) -> None:
    """Refuse a damaged file: an image must be whole, anything else must be a video.

    Raises ``DownloadError`` (worth fetching again) for a damaged or mislabelled file and
    ``LimitExceeded`` (not worth it) for an image over ``max_pixels``."""
    if kind == "image":
        _check_image(path, max_pixels)
    else:
        _check_video(path)  # the API's only other result kind


def _check_image(path: Path, max_pixels: int) -> None:
    """The size in pixels from the header first (nothing is decoded past the limit), then
    proof that all of the file arrived: a truncated or damaged one fails here."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.width * img.height > max_pixels:
                raise LimitExceeded(
                    f"a result image of {img.width}x{img.height} px was refused: the limit "
                    f"is {max_pixels / 1e6:.0f} million pixels (Client(limits=...))")
            if img.format == "PNG":
                with path.open("rb") as fh:
                    _check_png(fh)
                return
            if img.format == "JPEG":  # every byte is still read and decoded, at 1/8 size
                img.draft(img.mode, (max(1, img.width // 8), max(1, img.height // 8)))
            img.load()
    except (LimitExceeded, DownloadError):
        raise
    except Exception as exc:
        raise DownloadError(f"downloaded file is not a complete image ({exc})") from None


def _check_png(fh: IO[bytes]) -> None:
    """Every chunk whole and matching its CRC up to ``IEND``, and the pixel data (the
    IDAT chunks) one zlib stream that ends, inflating to exactly the size the header says.
    """
    if fh.read(8) != _PNG_SIGNATURE:
        raise DownloadError("downloaded file is not a complete image (no PNG signature)")
    inflater = zlib.decompressobj()
    expected = inflated = 0
    seen_idat = False
    while True:
        head = fh.read(8)
        if len(head) < 8:
            raise _damaged("it ends before its IEND chunk")
        length, kind = struct.unpack(">I4s", head)
        if length > 0x7FFFFFFF:
            raise _damaged("a chunk length is out of range")
        data = fh.read(length)
        crc = fh.read(4)
        if len(data) < length or len(crc) < 4:
            raise _damaged("it is cut off inside a chunk")
        if zlib.crc32(data, zlib.crc32(kind)) != int.from_bytes(crc, "big"):
            raise _damaged(f"the checksum of a {kind.decode('latin-1')!r} chunk is wrong")
        if kind == b"IHDR":
            expected = _raw_size(data)
        elif kind == b"IDAT":
            seen_idat = True
            pending = data
            try:
                while pending:
                    inflated += len(inflater.decompress(pending, _INFLATE_STEP))
                    pending = inflater.unconsumed_tail
                    if inflated > expected:
                        raise _damaged("its pixel data is longer than its size says")
            except zlib.error as exc:
                raise _damaged(f"its pixel data does not inflate ({exc})") from None
        elif kind == b"IEND":
            break
    if not seen_idat or not inflater.eof or inflated != expected:
        raise _damaged("its pixel data is incomplete")


def _raw_size(ihdr: bytes) -> int:
    """Bytes of filtered pixel data the IHDR promises (a filter byte opens each row)."""
    if len(ihdr) != 13:
        raise _damaged("its IHDR chunk is malformed")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    if colour not in _PNG_CHANNELS:
        raise _damaged("its colour type is unknown")
    bits = depth * _PNG_CHANNELS[colour]
    passes = _ADAM7 if interlace == 1 else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        w = -(-(width - x0) // dx) if width > x0 else 0
        h = -(-(height - y0) // dy) if height > y0 else 0
        if w and h:
            total += h * (1 + -(-(w * bits) // 8))
    return total


def _damaged(why: str) -> DownloadError:
    return DownloadError(f"downloaded file is not a complete image ({why})")


def _check_video(path: Path) -> None:
    """A result typed "video" must look like one: anything else (an image posing as a
    video skipped every image check before) is refused."""
    with path.open("rb") as fh:
        head = fh.read(12)
    if not any(head[at:at + len(magic)] == magic for at, magic in _VIDEO_SIGNATURES):
        raise DownloadError("a result typed video is not an MP4, MOV or WebM file")
