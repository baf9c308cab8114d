"""Performance properties pinned by fast tests (the numbers are in tests/benchmark.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from kirin_jupyter.client import Client
from kirin_jupyter.display.static import result_html
from kirin_jupyter.storage import thumbnails


def test_load_ext_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "before = set(sys.modules)\n"
        "shell.run_line_magic('load_ext', 'kirin_jupyter')\n"
        "assert 'kirin' in shell.magics_manager.magics['cell']\n"
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
        "('httpx', 'PIL', 'ipywidgets', 'numpy', 'sqlite3', 'platformdirs')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_each_result_is_decoded_at_most_once(http_client: Client, monkeypatch) -> None:
    """The download check proves a file whole without decoding it (result_files.py); the
    first rendering makes each thumbnail, once; drawing the card again decodes nothing."""
    result = http_client.generate("a fox", n=3, resolution="2k").wait(30)
    opened: list[str] = []
    import PIL.Image

    real_open = PIL.Image.open
    monkeypatch.setattr(PIL.Image, "open", lambda *a, **k: opened.append(str(a[0])) or
                        real_open(*a, **k))
    html = result_html(result)
    assert html.count('<img src="data:image/jpeg;base64,') == 3
    assert len(opened) == len(set(opened)) <= 3
    opened.clear()
    assert result_html(result) == html and opened == []
    for path in result.paths:
        jpeg = thumbnails.thumbnail_jpeg(path)
        assert jpeg[:2] == b"\xff\xd8" and len(jpeg) < 60_000


def test_the_static_rendering_is_small(http_client: Client) -> None:
    result = http_client.generate("nine foxes", n=9, resolution="2k").wait(30)
    size = len(json.dumps(result_html(result)))
    original = sum(p.stat().st_size for p in result.paths)
    assert size < 400_000 and size < original / 5


def test_a_thumbnail_is_small_yet_clean() -> None:
    """The saved gallery's thumbnails: at most THUMB_SIDE px, a tenth fewer bytes than at
    JPEG quality 78, and still within 34 dB of the exact downscale (no visible blocking at
    the size they are shown; docs/performance.md, "Notebook size")."""
    import io
    import math

    from PIL import Image, ImageChops, ImageDraw, ImageStat

    # Like the simulator's pictures: a gradient with lines of small text on it.
    source = Image.linear_gradient("L").resize((1024, 683)).convert("RGB")
    source = Image.merge("RGB", (source.getchannel(0), Image.new("L", source.size, 120),
                                 source.getchannel(0).transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    draw = ImageDraw.Draw(source)
    for line in range(6):
        draw.text((32, 40 + 30 * line), "KIRIN SIMULATOR variant 1 of 1 | 1k | 3:2", fill="white",
                  font_size=24)
    thumb = thumbnails.encode(source)
    exact = source.copy()
    exact.thumbnail((thumbnails.THUMB_SIDE, thumbnails.THUMB_SIDE), reducing_gap=2.0)
    before = io.BytesIO()
    exact.save(before, format="JPEG", quality=78, optimize=True)
    with Image.open(io.BytesIO(thumb)) as decoded:
        assert decoded.format == "JPEG" and decoded.size == exact.size == (256, 171)
        squares = ImageStat.Stat(ImageChops.difference(decoded.convert("RGB"), exact)).sum2
    psnr = 10 * math.log10(255**2 * 3 * 256 * 171 / sum(squares))
    assert psnr > 34, psnr  # 34.8 dB at quality 70 (35.8 at 78, 33.9 at 60)
    assert len(thumb) < len(before.getvalue()) * 0.9, (len(thumb), len(before.getvalue()))
