"""Reference images: every source kind, shapes checked, --fit mends only when asked."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from kirin_jupyter import ValidationError
from kirin_jupyter.model.images import fit_image, inspect_bytes, load_reference


def png_bytes(size: tuple[int, int] = (400, 300), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format="PNG")
    return buf.getvalue()


def test_every_source_kind_gives_plain_base64(tmp_path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes())
    sources = [
        path, str(path), png_bytes(), Image.new("RGB", (400, 300)),
        np.zeros((300, 400, 3), dtype=np.uint8), np.ones((300, 400), dtype=np.float32),
        "data:image/png;base64," + base64.b64encode(png_bytes()).decode(),
    ]
    for source in sources:
        ref = load_reference(source)
        assert not ref.is_url and not ref.value.startswith("data:")
        assert inspect_bytes(base64.b64decode(ref.value)).width == 400
        assert len(repr(ref)) < 120


def test_numpy_shapes_are_checked() -> None:
    with pytest.raises(ValidationError, match="shape"):
        load_reference(np.zeros((4, 300, 400, 3), dtype=np.uint8))


def test_fit_mends_only_when_asked() -> None:
    tiny_wide = png_bytes((500, 150))  # too small and too wide: padded, then enlarged
    with pytest.raises(ValidationError, match=r"add --fit"):
        load_reference(tiny_wide)
    ref = load_reference(tiny_wide, fit=True)
    assert ref.facts is not None and min(ref.facts.width, ref.facts.height) >= 300
    assert 1 / 2.5 <= ref.facts.width / ref.facts.height <= 2.5
    assert ref.mended and "padded" in ref.mended and "enlarged" in ref.mended


def test_fit_converts_unaccepted_formats() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (500, 500)).save(buf, format="WEBP")
    data, what = fit_image(buf.getvalue())
    assert inspect_bytes(data).format in ("JPEG", "PNG") and what
