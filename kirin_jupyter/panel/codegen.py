"""The "copy as code" action: the ``%%kirin`` cell that makes the same request as a panel run.

A panel session can then be kept in a notebook and run again without the panel. Every
option is written out, even at its default, so the cell makes the same request whatever
``%config Kirin`` says. Images without a file of their own (uploads, variables, mended
images) are saved under the output folder first, so the cell only names paths and URLs.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from ..errors import ValidationError
from ..magics.grammar import words_for
from ..model import spec
from ..model.request import OPTION_NAMES, GenerationRequest
from .references import Reference

INPUTS_FOLDER = "panel_inputs"
_SUFFIX_FOR_FORMAT = {"JPEG": ".jpg", "PNG": ".png"}


def cell_for(request: GenerationRequest, references: Sequence[Reference],
             output_dir: Path) -> str:
    """The cell, magic line and prompt body, for ``request`` made from ``references``.

    The external task id is left out: it must be unique per account, so running the cell
    again gets a fresh one.
    """
    if len(references) != len(request.images):
        raise ValueError("the references do not match the request's images")
    values: dict[str, object] = {  # fit is left out: the images are already mended
        "model": request.model.alias, "n": request.n,
        "resolution": request.resolution or None, "series": request.series,
        "aspect_ratio": request.aspect_ratio,
        "images": [image_argument(ref, output_dir / INPUTS_FOLDER) for ref in references],
        "negative_prompt": request.negative_prompt, "elements": list(request.elements),
        "watermark": request.watermark, "callback_url": request.callback_url,
        "extra_params": dict(request.extra_params),  # --param KEY=VALUE, read back the same
    }
    words: list[str] = []
    for name in OPTION_NAMES:  # in the order the options are defined
        value = values.get(name)
        if value is not None and value != []:
            words += words_for(name, value)
    return f"%%kirin {shlex.join(words)}\n{escape_prompt(request.prompt)}"


def escape_prompt(prompt: str) -> str:
    """Double the braces, so the magic's ``{name}`` interpolation gives the text back."""
    return prompt.replace("{", "{{").replace("}", "}}")


def image_argument(ref: Reference, folder: Path) -> str:
    """A URL, the file the image came from (while it still holds these bytes), or a copy."""
    if ref.url is not None:
        return ref.url
    if ref.data is None or ref.facts is None:
        raise ValueError(f"{ref.label} has no image data")
    digest = hashlib.sha256(ref.data).hexdigest()
    if ref.path is not None and ref.path.suffix.lower() in spec.IMAGE_SUFFIXES \
            and ref.path.is_file() and _same_bytes(ref.path, digest):
        return str(ref.path)
    return str(save_copy(ref.data, ref.label, digest, _SUFFIX_FOR_FORMAT[ref.facts.format or ""],
                         folder))


def save_copy(data: bytes, label: str, digest: str, suffix: str, folder: Path) -> Path:
    """Write the bytes once, named after the image and its hash (same bytes, same file)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(label).stem).strip("_")[:40] or "image"
    path = folder / f"{stem}-{digest[:12]}{suffix}"
    if not (path.is_file() and _same_bytes(path, digest)):
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def _same_bytes(path: Path, digest: str) -> bool:
    from ..base.user_files import read_user_file
    from ..model.images import MAX_READ_BYTES

    try:
        return hashlib.sha256(read_user_file(path, MAX_READ_BYTES)).hexdigest() == digest
    except ValidationError:
        return False
