"""Reference images as the panel holds them: where each came from, its facts and its problems.

The ``%%kirin`` magic refuses a bad image outright; the panel instead keeps it in the list
with a badge naming the rule it breaks, so the person can see it, mend it (``fit``) or
remove it. The rules themselves are never restated here: facts come from
``images.inspect_bytes``, problems from ``images.rule_violations``, the wire value from
``images.load_reference`` and the mend from ``images.fit_image``.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ValidationError
from ..model import spec
from ..model.images import (
    ImageFacts,
    ReferenceImage,
    describe_size,
    fit_image,
    image_bytes,
    inspect_bytes,
    load_reference,
    rule_violations,
)
from ..model.request import PLACEHOLDER

Origin = Literal["upload", "path", "url", "variable", "result"]

_keys = itertools.count(1)


@dataclass(frozen=True)
class Reference:
    """One reference image in the panel's list.

    ``wire`` is set only when the image passes every rule; ``path`` only while the bytes are
    still exactly those of that file (so "copy as code" can say ``-i path``).
    """

    origin: Origin
    label: str
    data: bytes | None = None
    path: Path | None = None
    url: str | None = None
    facts: ImageFacts | None = None
    problems: tuple[str, ...] = ()
    mended: str | None = None
    wire: ReferenceImage | None = None
    key: int = field(default_factory=lambda: next(_keys))

    @property
    def ok(self) -> bool:
        return not self.problems and self.wire is not None

    @property
    def can_fit(self) -> bool:
        """A readable image that breaks a rule: ``fit_image`` can convert, pad or enlarge it."""
        return bool(self.problems) and self.data is not None and self.facts is not None

    def size_text(self) -> str:
        if self.facts is None:
            return "URL: sent as is, the service fetches it"
        fmt = self.facts.format or "unknown format"
        return (f"{self.facts.width}×{self.facts.height} px · {fmt} · "
                f"{describe_size(self.facts.nbytes)}")


def from_bytes(data: bytes, *, origin: Origin, label: str, path: Path | None = None,
               mended: str | None = None) -> Reference:
    """Check image bytes; raise ValidationError only when they are not an image at all."""
    facts = inspect_bytes(data)
    problems = tuple(rule_violations(facts))
    wire = None if problems else load_reference(data, label=label)
    return Reference(origin=origin, label=label, data=data, path=path, facts=facts,
                     problems=problems, mended=mended, wire=wire)


def from_upload(name: str, content: Any) -> Reference:
    """A file from the browser's file input (``FileUpload.value`` entry content)."""
    return from_bytes(bytes(content), origin="upload", label=name or "upload")


def from_url(url: str) -> Reference:
    """An http(s) URL: never fetched here; a URL that breaks a rule keeps its reason."""
    try:
        wire = load_reference(url)
    except ValidationError as exc:
        return Reference(origin="url", label=url, url=url, problems=(str(exc),))
    return Reference(origin="url", label=wire.label, url=url, wire=wire)


def from_text(text: str) -> Reference:
    """What a person typed: an http(s) URL or a path to an image file."""
    value = text.strip().strip("\"'")
    if not value:
        raise ValidationError("type a path to an image file or an http(s) URL first")
    if value.lower().startswith(("http://", "https://")):
        return from_url(value)
    path = Path(value).expanduser()
    return from_path(path, origin="path")


def from_path(path: Path, *, origin: Origin = "path") -> Reference:
    """A reference from a file: read like every user's file (``user_files``)."""
    from ..base.user_files import read_user_file
    from ..model.images import MAX_READ_BYTES

    data = read_user_file(path, MAX_READ_BYTES, "image file")
    return from_bytes(data, origin=origin, label=path.name, path=path)


def from_result(path: Path) -> Reference:
    """An earlier result, already on disk."""
    return from_path(path, origin="result")


def from_variable(name: str, value: Any) -> Reference:
    """A PIL image or numpy array held in a notebook variable (encoded as images.py does)."""
    data, _ = image_bytes(value)
    return from_bytes(data, origin="variable", label=name)


def fitted(ref: Reference) -> Reference:
    """The image mended by ``fit_image``; the file it came from no longer matches it."""
    if not ref.can_fit or ref.data is None:
        raise ValidationError(f"{ref.label} cannot be mended")
    data, done = fit_image(ref.data)
    return dataclasses.replace(
        from_bytes(data, origin=ref.origin, label=ref.label, mended=done), key=ref.key
    )


def image_like_names(namespace: Mapping[str, Any]) -> list[str]:
    """Names of the notebook's variables that hold a PIL image or an image-shaped array."""
    names = []
    for name, value in namespace.items():
        if name.startswith("_"):
            continue
        module = type(value).__module__
        is_pil = module.startswith("PIL.") and hasattr(value, "save") and hasattr(value, "size")
        is_array = module.startswith("numpy") and _image_shaped(getattr(value, "shape", ()))
        if is_pil or is_array:
            names.append(name)
    return sorted(names)


def _image_shaped(shape: tuple[int, ...]) -> bool:
    """HxW, HxWx1, HxWx3 or HxWx4: the arrays ``images.load_reference`` takes."""
    return len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4))


def capacity(model: spec.ModelSpec, image_count: int, element_count: int) -> int:
    """How many more images may be added (v3's single image is replaced, not added to)."""
    room = spec.MAX_REFERENCES - element_count - image_count
    if model.max_images == 1:
        return 1 if spec.MAX_REFERENCES - element_count >= 1 else 0
    return max(0, min(room, model.max_images - image_count))


def renumber_placeholders(prompt: str, mapping: Mapping[int, int | None]) -> str:
    """Make ``<<<image_N>>>`` follow its image after a move or a removal.

    ``mapping`` gives each old number its new one; None removes the placeholder (its image
    is gone). Numbers not in the mapping are left as typed.
    """

    def replace(match: re.Match[str]) -> str:
        old = int(match.group(1))
        if old not in mapping:
            return match.group(0)
        new = mapping[old]
        return "" if new is None else f"<<<image_{new}>>>"

    return PLACEHOLDER.sub(replace, prompt)
