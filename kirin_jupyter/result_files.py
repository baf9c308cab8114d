"""What a downloaded result file must be before it is kept: a whole image within the
pixel limit (its thumbnail made from the same decode), or something that is a video.

The HTTP layer only moves bytes; it calls ``check_result`` on the temporary file before
renaming it, so a broken file is fetched again and never lands under its final name.
"""

from __future__ import annotations

from pathlib import Path

from . import thumbnails
from .errors import DownloadError, LimitExceeded

_VIDEO_SIGNATURES = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"))  # MP4/MOV, WebM/Matroska


def check_result(path: Path, kind: str, max_pixels: int) -> bytes | None:
    """An image's thumbnail after a whole decode; anything else must be a video file.

    Raises ``DownloadError`` (worth fetching again) for a damaged or mislabelled file and
    ``LimitExceeded`` (not worth it) for an image over ``max_pixels``."""
    if kind == "image":
        return _check_image(path, max_pixels)
    _check_video(path)  # the API's only other result kind
    return None


def keep_thumbnail(path: Path, thumbnail: bytes | None) -> None:
    """The thumbnail made while checking, so showing the file needs no second decode."""
    if thumbnail is not None:
        thumbnails.remember(path, thumbnail)


def _check_image(path: Path, max_pixels: int) -> bytes:
    """Decode the whole file (a truncated one fails here), after checking its size in
    pixels from the header; return its thumbnail, made from the same decode."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.width * img.height > max_pixels:
                raise LimitExceeded(
                    f"a result image of {img.width}x{img.height} px was refused: the limit "
                    f"is {max_pixels / 1e6:.0f} million pixels (Client(limits=...))")
            img.load()
            return thumbnails.encode(img)
    except LimitExceeded:
        raise
    except Exception as exc:
        raise DownloadError(f"downloaded file is not a complete image ({exc})") from None


def _check_video(path: Path) -> None:
    """A result typed "video" must look like one: anything else (an image posing as a
    video skipped every image check before) is refused."""
    with path.open("rb") as fh:
        head = fh.read(12)
    if not any(head[at:at + len(magic)] == magic for at, magic in _VIDEO_SIGNATURES):
        raise DownloadError("a result typed video is not an MP4, MOV or WebM file")
