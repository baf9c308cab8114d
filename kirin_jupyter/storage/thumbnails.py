"""Small JPEG thumbnails of result files, made once, when a card first shows the file.

A download is proved whole without decoding it (``result_files.py``), so thousands of jobs
run from a script never make a thumbnail; a card that shows one decodes the file once
(``draft`` for JPEG) and the result is cached here by path, modification time and size.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

THUMB_SIDE = 256
# 70, not the 78 used before: 15 % fewer bytes in every saved gallery, and at the size a
# thumbnail is shown the two cannot be told apart (docs/performance.md, "Notebook size").
THUMB_QUALITY = 70
_MAX_ENTRIES = 512
_cache: OrderedDict[tuple[str, int, int, bool], bytes] = OrderedDict()
_lock = threading.Lock()


def encode(img: PILImage, side: int = THUMB_SIDE, *, square: bool = False) -> bytes:
    """A JPEG of at most ``side`` px; ``reduce`` does most of the shrinking cheaply.
    ``square``: the centre square of the picture, ``side`` px a side (a thumbnail a view
    shows in a square box needs no ``object-fit``, which sanitisers drop)."""
    small = img.convert("RGB") if img.mode != "RGB" else img.copy()
    if square:
        edge = min(small.size)
        left, top = (small.width - edge) // 2, (small.height - edge) // 2
        small = small.crop((left, top, left + edge, top + edge))
    small.thumbnail((side, side), reducing_gap=2.0)
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=THUMB_QUALITY, optimize=True)
    return buf.getvalue()


def _key(path: Path, side: int, square: bool = False) -> tuple[str, int, int, bool]:
    return (str(path), path.stat().st_mtime_ns, side, square)


def _remember(path: Path, jpeg: bytes, side: int, square: bool = False) -> None:
    """Keep ``path``'s thumbnail as the file is now (the oldest go past _MAX_ENTRIES)."""
    with _lock:
        _cache[_key(path, side, square)] = jpeg
        while len(_cache) > _MAX_ENTRIES:
            _cache.popitem(last=False)


def thumbnail_jpeg(path: Path, side: int = THUMB_SIDE, *, square: bool = False) -> bytes:
    """The thumbnail of an image file: cached, else made (``draft`` speeds up JPEG input).
    ``square``: its centre square (see ``encode``)."""
    key = _key(path, side, square)
    with _lock:
        found = _cache.get(key)
    if found is not None:
        return found
    from PIL import Image

    with Image.open(path) as img:
        img.draft("RGB", (side, side))
        jpeg = encode(img, side, square=square)
    _remember(path, jpeg, side, square)
    return jpeg


def prepare(paths: list[Path], side: int = THUMB_SIDE) -> None:
    """Make the thumbnails not cached yet several at once, before a card asks for them one
    by one: decoding a 2k PNG takes about 0.1 s and Pillow lets other threads run
    meanwhile, so nine of them are ready in about half the time on two cores. A file that
    cannot be read is left for the card, which says so."""
    missing = []
    for path in paths:
        try:
            key = _key(path, side)
        except OSError:
            continue
        with _lock:
            if key not in _cache:
                missing.append(path)
    if len(missing) < 2:
        return
    from concurrent.futures import ThreadPoolExecutor

    def make(path: Path) -> None:
        with contextlib.suppress(Exception):  # the card draws this file's own error
            thumbnail_jpeg(path, side)

    with ThreadPoolExecutor(max_workers=min(4, len(missing)),
                            thread_name_prefix="kirin-thumbnail") as pool:
        list(pool.map(make, missing))
