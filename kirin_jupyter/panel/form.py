"""The panel's controls as plain values, and what stops them from becoming a request.

Every rule is checked by ``request.build_request`` (through ``Client.build``); this module
only decides which controls apply to the chosen model, and turns images the panel keeps
despite a broken rule into reasons that name the image.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..model import spec
from ..model.images import ReferenceImage
from ..model.request import GenerationRequest
from .references import Reference

if TYPE_CHECKING:
    from ..client import Client

# Counts in the image rules while a broken image waits to be mended or removed, so that
# the other rules (how many images, which <<<image_N>>> exist) are still checked in full.
_STAND_IN = ReferenceImage(value="https://stand-in.invalid/image.png", is_url=True,
                           label="stand-in", sha256="0" * 64)


@dataclass(frozen=True)
class FormValues:
    """What the controls hold, before any rule is applied."""

    model: str = spec.DEFAULT_MODEL
    prompt: str = ""
    negative_prompt: str = ""
    elements: str = ""
    n: int = spec.DEFAULT_N
    resolution: str = spec.DEFAULT_RESOLUTION
    aspect_ratio: str = ""
    watermark: bool = False
    series: int = 0  # 0: n variants; 2-9: a series (a model that makes them)
    external_task_id: str = ""
    callback_url: str = ""

    @property
    def model_spec(self) -> spec.ModelSpec:
        return spec.resolve_model(self.model)

    def element_tokens(self) -> list[str]:
        """'101, 202 303' -> ['101', '202', '303']; only for a model that takes elements."""
        if not self.model_spec.supports_elements:
            return []
        return [t for t in re.split(r"[\s,;]+", self.elements.strip()) if t]

    def negative_applies(self, image_count: int) -> bool:
        """v3 takes a negative prompt for text-to-image only; otherwise the box is disabled."""
        return self.model_spec.supports_negative_prompt and image_count == 0


def build_options(values: FormValues, images: Sequence[Any]) -> dict[str, Any]:
    """Keyword arguments for ``Client.build`` / ``build_request`` (prompt excluded)."""
    return {
        "model": values.model_spec.name,
        "n": values.n,
        "resolution": values.resolution or None,  # kirin_v2_image: none
        "aspect_ratio": values.aspect_ratio or None,
        "images": list(images),
        "negative_prompt": (values.negative_prompt or None)
        if values.negative_applies(len(images)) else None,
        "elements": values.element_tokens(),
        "watermark": True if values.watermark and values.model_spec.supports_watermark
        else None,
        "series": values.series or None,
        "callback_url": values.callback_url.strip() or None,
        "external_task_id": values.external_task_id.strip() or None,
    }


def image_reasons(references: Sequence[Reference]) -> list[str]:
    """One line per image that breaks a rule: which image, which rule, what to do."""
    reasons = []
    for number, ref in enumerate(references, start=1):
        if ref.ok:
            continue
        action = "click fit to mend it, or remove it" if ref.can_fit else "remove it"
        reasons.append(f"image {number} ({ref.label}): {'; '.join(ref.problems)} ({action})")
    return reasons


def check(client: Client, values: FormValues, references: Sequence[Reference]
          ) -> tuple[GenerationRequest | None, list[str]]:
    """The request these values make, or every reason there is none (nothing is sent)."""
    reasons = image_reasons(references)
    images = [ref.wire if ref.ok else _STAND_IN for ref in references]
    try:
        request = client.build(values.prompt, **build_options(values, images))
    except ValidationError as exc:
        reasons.append(str(exc))
        return None, reasons
    return (None, reasons) if reasons else (request, [])
