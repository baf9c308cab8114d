"""``compare(a, b, ...)``: results, jobs, files or PIL images side by side, as static HTML.

Two images of one shape get a before/after slider, more (or two of different shapes) a
strip. Nothing needs the kernel or a script (``display/compare_html.py`` says how), so a
saved notebook, nbconvert's HTML and GitHub's viewer all show it.

A Job or a Result stands for all of its images, in order: ``compare(job)`` of a job that
made two images compares those two, and ``compare(a, b)`` of two one-image jobs compares
their images. A job must be finished (it is not waited for: a cell would hang unseen).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..storage.shared_results import is_shared, local_path
from .compare_html import Shown

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = ["Comparison", "Shown", "compare"]

MAX_WIDTH = 768  # px: the widest a comparison may be asked to be
DEFAULT_WIDTH = 640  # px on the page for a slider: sharp, and a few tens of kB a picture
STRIP_SIDE = 384  # px, longer side, of each picture in a strip
QUALITY = 80
SAME_SHAPE = 0.02  # aspect ratios this close (2 %) are one shape: the slider lines them up
LABEL_CHARS = 56


class Comparison:
    """What ``compare`` returns: HTML for notebooks, a line per picture for terminals."""

    def __init__(self, shown: Sequence[Shown], *, width: int = DEFAULT_WIDTH) -> None:
        self.shown = list(shown)
        self.width = width

    @property
    def kind(self) -> str:
        """'slider' for two pictures of one shape, else 'strip'."""
        return "slider" if len(self.shown) == 2 and _same_shape(*self.shown) else "strip"

    def _repr_html_(self) -> str:
        from .compare_html import slider_html, strip_html

        if self.kind == "slider":
            return slider_html(self.shown[0], self.shown[1], self.width)
        note = ("different shapes: shown side by side" if len(self.shown) == 2 else "")
        return strip_html(self.shown, note=note)

    def __repr__(self) -> str:
        lines = [f"<kirin compare: {len(self.shown)} images, {self.kind}>"]
        lines += [f"  {s.label} ({s.source_size[0]}x{s.source_size[1]})" for s in self.shown]
        return "\n".join(lines)


def compare(*items: Any, labels: Sequence[str] | None = None,
            width: int = DEFAULT_WIDTH) -> Comparison:
    """Compare images: ``compare(result_a, result_b)``, ``compare(job)``,
    ``compare("a.png", pil_image, ...)``; a shared result's URL (``s3://...``, as a team
    journal lists it) too. Two of one shape: a slider; otherwise a strip.

    ``labels`` names each picture (default: the prompt and short task id, or the file
    name); ``width`` is the slider's width in px on the page (64 to 768; a strip's
    pictures are at most 384 px each)."""
    if len(items) == 1 and isinstance(items[0], (list, tuple)):
        items = tuple(items[0])  # compare([a, b, c]) reads like compare(a, b, c)
    if not isinstance(width, int) or isinstance(width, bool) or not 64 <= width <= MAX_WIDTH:
        raise ValidationError(f"compare: width must be a whole number of px from 64 to "
                              f"{MAX_WIDTH}, not {width!r}")
    sources = [source for index, item in enumerate(items)
               for source in _sources(item, index + 1)]
    if len(sources) < 2:
        raise ValidationError(f"compare: give two images or more (got {len(sources)}): "
                              "results, jobs, file paths or PIL images")
    if labels is not None:
        if isinstance(labels, str) or len(labels) != len(sources):
            raise ValidationError(f"compare: labels must be a list of {len(sources)} names, "
                                  "one per image")
        sources = [(str(label), title, image) for label, (_, title, image)
                   in zip(labels, sources, strict=True)]
    side = width if len(sources) == 2 else min(width, STRIP_SIDE)
    shown = [_shrink(label, title, image, side) for label, title, image in sources]
    if len(shown) == 2 and _same_shape(*shown):
        shown[1] = _match(shown[1], sources[1][2], shown[0].width, shown[0].height)
    return Comparison(shown, width=width)


# -- what each argument stands for ------------------------------------------------------------

Source = tuple[str, str, "Path | PILImage"]  # label, title, the picture


def _sources(item: Any, position: int) -> list[Source]:
    """The pictures an argument stands for, with their labels; a bad one is a one-line error."""
    from ..engine.job import Job, Result

    if isinstance(item, Job):
        if item.result is None:
            state = "failed" if item.status == "failed" else f"still {item.status}"
            raise ValidationError(f"compare: argument {position} is a job that is {state}; "
                                  "compare it once it has finished (job.wait())")
        item = item.result
    if isinstance(item, Result):
        return _result_sources(item, position)
    if isinstance(item, (str, os.PathLike)):
        path = local_path(item) if isinstance(item, str) and is_shared(item) \
            else Path(item).expanduser()  # a teammate's shared result: fetched once
        if not path.is_file():
            raise ValidationError(f"compare: argument {position}: no image file at {path}")
        return [_file_source(path)]
    if _is_pil(item):
        name = Path(getattr(item, "filename", "") or "").name
        return [(_cut(name or f"image {position}"), name or f"image {position}", item)]
    raise ValidationError(f"compare: argument {position} is a {type(item).__name__}; give "
                          "results, jobs, file paths or PIL images")


def _result_sources(result: Any, position: int) -> list[Source]:
    kinds = result.types or ["image"] * len(result.paths)
    images = [path for path, kind in zip(result.paths, kinds, strict=False) if kind == "image"]
    if not images:
        raise ValidationError(f"compare: argument {position} (task {result.task_id}) has "
                              "no images")
    several = len(images) > 1
    out: list[Source] = []
    for index, path in enumerate(images):
        if not Path(path).is_file():
            raise ValidationError(f"compare: argument {position}: the file {path} of task "
                                  f"{result.task_id} is missing")
        number = f" #{index + 1}" if several else ""
        out.append(_labelled(result.prompt, result.task_id, number, Path(path)))
    return out


def _labelled(prompt: str, task_id: str, number: str, path: Path) -> Source:
    """A result's picture named by its prompt (and "#2" among several); the task id and
    where the file is (relative to the notebook) in the title."""
    from ..model.request import PLACEHOLDER
    from .paths import shown_path
    from .tables import short_id

    words = " ".join(PLACEHOLDER.sub(" ", prompt).split()).rstrip(" ,;:")
    label = f"{_cut(words, LABEL_CHARS)}{number}" if words else f"task {short_id(task_id)}{number}"
    title = f"{prompt}\ntask {short_id(task_id)}{number} · {shown_path(path)}"
    return label, title, path


def _file_source(path: Path) -> Source:
    """A file: named by the prompt and task in its record, as a result is; by its file
    name only when it holds none (a file not made by kirin-jupyter)."""
    from ..storage.file_provenance import provenance
    from .paths import shown_path

    try:
        record = provenance(path)
    except ValidationError:
        return _cut(path.name), shown_path(path), path
    prompt, task_id = str(record.get("prompt") or ""), str(record.get("task_id") or "")
    count, image = record.get("images"), record.get("image")
    several = isinstance(count, int) and count > 1 and isinstance(image, int)
    return _labelled(prompt, task_id or "?", f" #{image}" if several else "", path)


def _cut(text: str, limit: int = LABEL_CHARS) -> str:
    from .tables import cut

    return cut(text, limit)


def _is_pil(obj: Any) -> bool:
    try:
        from PIL.Image import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return False
    return isinstance(obj, Image)


# -- pictures ---------------------------------------------------------------------------------


def _open(picture: Path | PILImage) -> PILImage:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(picture, Path):
        from ..base.user_files import read_user_file
        from ..storage.file_provenance import RECORD_FILE_LIMIT

        data = read_user_file(picture, RECORD_FILE_LIMIT, "picture")
        try:
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                return ImageOps.exif_transpose(opened)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise ValidationError(f"compare: {picture} is not an image Pillow can read "
                                  f"({exc})") from None
    return picture


def _flat(img: PILImage) -> PILImage:
    """JPEG has no transparency: a transparent picture is shown on white."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB") if img.mode != "RGB" else img


def _jpeg(img: PILImage) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=QUALITY, optimize=True)
    return buf.getvalue()


def _shrink(label: str, title: str, picture: Path | PILImage, side: int) -> Shown:
    img = _open(picture)
    size = (img.width, img.height)
    if img.width < 1 or img.height < 1:
        raise ValidationError(f"compare: {label} has no pixels")
    small = _flat(img).copy()
    small.thumbnail((side, side), reducing_gap=2.0)
    return Shown(label, title, _jpeg(small), small.width, small.height, size)


def _match(shown: Shown, picture: Path | PILImage, width: int, height: int) -> Shown:
    """The second picture at exactly the first one's size, so the slider lines them up."""
    from PIL import Image

    if (shown.width, shown.height) == (width, height):
        return shown
    resized = _flat(_open(picture)).resize((width, height), Image.Resampling.LANCZOS)
    return Shown(shown.label, shown.title, _jpeg(resized), width, height, shown.source_size)


def _same_shape(a: Shown, b: Shown) -> bool:
    ratio_a = a.source_size[0] / a.source_size[1]
    ratio_b = b.source_size[0] / b.source_size[1]
    return abs(ratio_a - ratio_b) <= SAME_SHAPE * ratio_a
