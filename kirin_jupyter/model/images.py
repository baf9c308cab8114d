"""Reference images: path | URL | bytes | PIL image | numpy array -> a checked wire value.

The documents' rules (format, 10 MB, 300 px sides, 1:2.5..2.5:1) are checked here, before
any request, each with its own message. Images are only mended when the user asks (``fit``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from . import spec

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

_DATA_URI = re.compile(r"^data:image/[\w.+-]+;base64,", re.IGNORECASE)
_BASE64_CHARS = re.compile(r"^[A-Za-z0-9+/=\s]+$")


@dataclass(frozen=True)
class ImageFacts:
    """What the rules need to know about an image's bytes."""

    format: str | None
    width: int
    height: int
    nbytes: int


@dataclass(frozen=True)
class ReferenceImage:
    """One reference image, ready for the wire (``value``) and for display (``label``)."""

    value: str  # an http(s) URL, or base64 without any data: prefix
    is_url: bool
    label: str
    sha256: str
    facts: ImageFacts | None = None  # None for URLs: never fetched client-side
    mended: str | None = None  # what ``fit`` changed, if anything
    parent_task_id: str | None = None  # the task that made it, when it is an earlier result
    # Where the upload host keeps these bytes (service/uploads.py): sent instead of
    # ``value``; its query (a signed URL's token) is never shown or recorded.
    uploaded_url: str | None = None

    def __repr__(self) -> str:  # never dump megabytes of base64 into a notebook
        size = f"{self.facts.width}x{self.facts.height}" if self.facts else "url"
        sent = ", uploaded" if self.uploaded_url else ""
        return f"ReferenceImage({self.label!r}, {size}, sha256={self.sha256[:12]}{sent})"

    @property
    def wire_value(self) -> str:
        """What the request sends: the uploaded URL, else the value (a URL or base64)."""
        return self.uploaded_url or self.value

    @property
    def shown_upload(self) -> str | None:
        """The uploaded URL as records and summaries keep it: without its query."""
        return without_query(self.uploaded_url) if self.uploaded_url else None


def without_query(url: str) -> str:
    """A URL without its query and fragment (a signed URL's query carries its token)."""
    return url.split("?", 1)[0].split("#", 1)[0]


def describe_size(nbytes: int) -> str:
    return f"{nbytes / (1024 * 1024):.1f} MB" if nbytes >= 100_000 else f"{nbytes / 1024:.0f} KB"


def inspect_bytes(data: bytes) -> ImageFacts:
    """Read format and size without decoding pixels; raise ValidationError if not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return ImageFacts(img.format, img.width, img.height, len(data))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValidationError(f"not a readable image ({exc.__class__.__name__})") from None


def rule_violations(facts: ImageFacts) -> list[str]:
    """Every documented rule this image breaks, as short reasons (empty when it is fine)."""
    reasons = []
    if facts.format not in spec.IMAGE_FORMATS:
        reasons.append(f"format {facts.format or 'unknown'} is not accepted (use JPEG or PNG)")
    if facts.nbytes > spec.IMAGE_MAX_BYTES:
        reasons.append(f"file is {describe_size(facts.nbytes)}; the limit is 10 MB")
    if min(facts.width, facts.height) < spec.IMAGE_MIN_SIDE:
        reasons.append(
            f"is {facts.width}x{facts.height} px; both sides must be at least "
            f"{spec.IMAGE_MIN_SIDE} px"
        )
    ratio = facts.width / facts.height if facts.height else 0.0
    if not spec.IMAGE_MIN_RATIO <= ratio <= spec.IMAGE_MAX_RATIO:
        reasons.append(
            f"aspect ratio {facts.width}:{facts.height} is outside 1:2.5 .. 2.5:1"
        )
    return reasons


def load_reference(obj: Any, *, fit: bool = False, label: str | None = None) -> ReferenceImage:
    """Turn anything a user may hold into a checked ``ReferenceImage``.

    Accepts a path (str or Path), an http(s) URL, a ``data:`` URI, raw bytes, a PIL image
    or a numpy array. URLs are passed through unfetched (the service fetches them).
    """
    if isinstance(obj, ReferenceImage):
        return obj
    if isinstance(obj, str) and obj.strip().lower().startswith(("http://", "https://")):
        return _from_url(obj.strip(), label)
    data, default_label = image_bytes(obj)
    return _checked(data, label or default_label, fit=fit)


def _from_url(url: str, label: str | None) -> ReferenceImage:
    if any(ch.isspace() for ch in url):
        raise ValidationError(f"image URL {url[:80]!r} contains spaces; encode them as %20")
    suffix = Path(url.split("?", 1)[0].split("#", 1)[0]).suffix.lower()
    if suffix and suffix not in spec.IMAGE_SUFFIXES and suffix in _KNOWN_IMAGE_SUFFIXES:
        raise ValidationError(
            f"image URL ends in {suffix}; the API accepts only .jpg, .jpeg and .png"
        )
    digest = hashlib.sha256(url.encode()).hexdigest()
    # The label goes into journals, reprs, records and exports: never a signed URL's query
    # (its token is a credential); the value sent to the service keeps it.
    shown = without_query(url)
    return ReferenceImage(value=url, is_url=True, label=label or _short(shown), sha256=digest)


_KNOWN_IMAGE_SUFFIXES = {".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"}


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def image_bytes(obj: Any) -> tuple[bytes, str]:
    """The encoded bytes of any local image source, and a label for it (no rules checked)."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj), "bytes"
    if isinstance(obj, str) and _DATA_URI.match(obj.strip()):
        return _decode_b64(obj.strip().split(",", 1)[1], "data URI"), "data URI"
    if isinstance(obj, (str, os.PathLike)):
        return _read_path(Path(obj))
    if _is_pil(obj):
        return _encode_pil(obj), "PIL image"
    if hasattr(obj, "__array_interface__"):
        return _encode_pil(_array_to_pil(obj)), "numpy array"
    raise ValidationError(
        f"cannot use a {type(obj).__name__} as an image; give a path, URL, bytes, "
        "PIL image or numpy array"
    )


# A file this large is refused unread: over 10 MB can still be mended with --fit (a big
# PNG re-encoded as JPEG), but past this nothing is worth holding in memory.
MAX_READ_BYTES = 64 * 1024 * 1024


def _read_path(path: Path) -> tuple[bytes, str]:
    """The file's bytes, after checking what can be checked without reading it: that it
    is a regular file (not a pipe or a device) and no larger than the API allows."""
    text = str(path)
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL byte
        found = False
    if not found:
        if len(text) > 200 and _BASE64_CHARS.match(text):
            return _decode_b64(text, "base64 string"), "base64 string"
        raise ValidationError(f"image file not found: {_short(text, 120)}")
    if path.suffix.lower() not in spec.IMAGE_SUFFIXES:
        raise ValidationError(
            f"{_short(path.name, 80)}: the API accepts only .jpg, .jpeg and .png files"
        )
    from ..base.user_files import checked_path, read_user_file

    try:
        size = checked_path(path, "image file").stat().st_size
    except OSError as exc:
        raise ValidationError(
            f"cannot read {_short(path.name, 80)}: {exc.strerror or exc.__class__.__name__}"
        ) from None
    if size > MAX_READ_BYTES:  # checked before reading: never load 4 GiB
        raise ValidationError(
            f"{_short(path.name, 80)} is {describe_size(size)}; the API accepts at most "
            f"10 MB, and files over {describe_size(MAX_READ_BYTES)} are not read (not "
            "even to mend them with --fit): export a smaller JPEG or PNG"
        )
    return read_user_file(path, MAX_READ_BYTES, "image file"), path.name


def _decode_b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"the {what} is not valid base64") from None


def _is_pil(obj: Any) -> bool:
    return type(obj).__module__.startswith("PIL.") and hasattr(obj, "save")


def _array_to_pil(array: Any) -> PILImage:
    import numpy as np
    from PIL import Image

    arr = np.asarray(array)
    if arr.dtype.kind not in "biuf":
        raise ValidationError(f"numpy image must hold numbers, not {arr.dtype} values")
    if arr.size == 0:
        raise ValidationError(f"numpy image is empty (shape {tuple(arr.shape)})")
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ValidationError(
            f"numpy image must be HxW, HxWx3 or HxWx4; got shape {tuple(arr.shape)}"
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValidationError("numpy image holds NaN or infinite values")
        arr = (np.clip(arr, 0.0, 1.0) * 255).round().astype(np.uint8)
    elif arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValidationError("numpy image values must be 0..255 (ints) or 0..1 (floats)")
        arr = arr.astype(np.uint8)
    return Image.fromarray(arr)


def _encode_pil(img: PILImage) -> bytes:
    """PNG keeps every pixel; photos too large for PNG can be mended with ``fit``."""
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def _checked(data: bytes, label: str, *, fit: bool) -> ReferenceImage:
    facts = inspect_bytes(data)
    reasons = rule_violations(facts)
    mended = None
    parent = _parent_in(data)  # read before a mend: a mended result keeps its parent
    if reasons and fit:
        data, mended = fit_image(data)
        facts = inspect_bytes(data)
        reasons = rule_violations(facts)
    if reasons:
        hint = "" if fit else " (add --fit / fit=True to mend it)"
        raise ValidationError(f"image {label}: {'; '.join(reasons)}{hint}")
    _decode_whole(data, label)
    return ReferenceImage(
        value=base64.b64encode(data).decode("ascii"),
        is_url=False,
        label=label,
        sha256=hashlib.sha256(data).hexdigest(),
        facts=facts,
        mended=mended,
        parent_task_id=parent,
    )


def _parent_in(data: bytes) -> str | None:
    """The task that made these bytes, when they are a result file with its record
    inside (lineage: a saved result used as a reference names its parent)."""
    from ..storage.file_provenance import read_record

    try:
        record = read_record(data)
    except ValidationError:  # a damaged record names no parent; the picture still counts
        return None
    task_id = record.get("task_id") if record else None
    return task_id if isinstance(task_id, str) and task_id else None


def _decode_whole(data: bytes, label: str) -> None:
    """Decode every pixel: a truncated or corrupt file whose header is intact passes the
    rules above (they read only the header) and would be sent, and billed, broken."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, ...
        raise ValidationError(
            f"image {label} is damaged: it does not decode whole ({_short(str(exc), 80)}); "
            "export it again"
        ) from None


def fit_image(data: bytes) -> tuple[bytes, str]:
    """Mend an image so it meets every rule; return new bytes and what was done."""
    from PIL import Image, ImageOps

    done: list[str] = []
    with Image.open(io.BytesIO(data)) as opened:
        img = ImageOps.exif_transpose(opened)
        if img.mode not in ("RGB", "RGBA"):
            img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
            done.append("converted colours")
        ratio = img.width / img.height
        if ratio > spec.IMAGE_MAX_RATIO or ratio < spec.IMAGE_MIN_RATIO:
            target = spec.IMAGE_MAX_RATIO if ratio > 1 else spec.IMAGE_MIN_RATIO
            w, h = img.width, img.height
            size = (w, round(w / target) + 1) if ratio > 1 else (round(h * target) + 1, h)
            img = ImageOps.pad(img, size, color=(255, 255, 255))
            done.append(f"padded to {size[0]}x{size[1]}")
        short = min(img.width, img.height)
        if short < spec.IMAGE_MIN_SIDE:
            scale = spec.IMAGE_MIN_SIDE / short
            size = (max(spec.IMAGE_MIN_SIDE, round(img.width * scale)),
                    max(spec.IMAGE_MIN_SIDE, round(img.height * scale)))
            img = img.resize(size, Image.Resampling.LANCZOS)
            done.append(f"enlarged to {size[0]}x{size[1]}")
        out = _encode_within_limit(img)
    if not done and out != data:
        done.append("re-encoded")
    if len(data) > spec.IMAGE_MAX_BYTES:
        done.append(f"{describe_size(len(data))} -> {describe_size(len(out))}")
    return out, ", ".join(done) or "unchanged"


def _encode_within_limit(img: PILImage) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    if img.mode == "RGBA":
        img.save(buf, format="PNG", optimize=False)
        if buf.tell() <= spec.IMAGE_MAX_BYTES:
            return buf.getvalue()
        img = img.convert("RGB")
    for quality in (92, 85, 75):
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality)
        if buf.tell() <= spec.IMAGE_MAX_BYTES:
            return buf.getvalue()
    while True:  # still too large: shrink until it fits (never below the minimum side)
        img = img.resize((max(300, img.width * 3 // 4), max(300, img.height * 3 // 4)),
                         Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
        if buf.tell() <= spec.IMAGE_MAX_BYTES or min(img.size) <= 300:
            return buf.getvalue()
