"""Small JPEGs for the panel's image widgets: a thumbnail, never megabytes, crosses the comm."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from ..display.static import thumbnail_jpeg

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

REFERENCE_SIDE = 96
GALLERY_SIDE = 256
VIEWER_SIDE = 1120  # twice the viewer's largest side, sharp on HiDPI screens


def jpeg_of_bytes(data: bytes, side: int) -> bytes:
    """A JPEG at most ``side`` px on its longer side; b"" when the bytes are not an image."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.draft("RGB", (side, side))
            img = ImageOps.exif_transpose(opened)
            img = _flatten(img)
            img.thumbnail((side, side), reducing_gap=2.0)
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=80)
            return buf.getvalue()
    except (UnidentifiedImageError, OSError, ValueError):
        return b""


def jpeg_of_file(path: Path, side: int) -> bytes:
    """The same, for a result file (cached by path and modification time)."""
    try:
        return thumbnail_jpeg(path, side)
    except (OSError, ValueError):
        return b""


def _flatten(img: PILImage) -> PILImage:
    """JPEG has no transparency: show it on white, as the page around it is."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "P"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")
