"""The Kirin image models as data: parameters, defaults, limits and error codes.

Everything here is transcribed from the API documents (``shared/api/*.md``) and, for the
sibling models, from the gateway facts (``shared/api/gateway-facts.md``), so that
validation, the simulator, the strict fake, the magics' help and the panel all read one
source. Adding a model is one entry in ``MODELS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OMNI = "kirin_image_omni"
V3 = "kirin_v3_image"
V3_OMNI = "kirin_v3_omni_image"
V2 = "kirin_v2_image"

PROMPT_MAX_CHARS = 2500
N_MIN, N_MAX = 1, 9
RESOLUTIONS = ("1k", "2k")  # kirin_image_omni's and kirin_v3_image's
MAX_REFERENCES = 10  # reference images + elements, together
IMAGE_MAX_BYTES = 10 * 1024 * 1024
IMAGE_MIN_SIDE = 300
IMAGE_MIN_RATIO = 1 / 2.5  # width / height
IMAGE_MAX_RATIO = 2.5
IMAGE_FORMATS = ("JPEG", "PNG")  # Pillow format names for .jpg/.jpeg/.png
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
COMMON_ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")


@dataclass(frozen=True)
class ModelSpec:
    """What one model accepts; the request builder and the UI both follow it."""

    name: str
    alias: str
    description: str
    aspect_ratios: tuple[str, ...]
    default_aspect_ratio: str
    max_images: int
    supports_negative_prompt: bool
    supports_elements: bool
    supports_image_placeholders: bool
    image_field: str  # "image_list" (a list) or "image" (one string)
    error_codes: dict[str, str]
    resolutions: tuple[str, ...] = RESOLUTIONS  # () = the model takes no resolution
    supports_watermark: bool = True
    # (least, most) images of a "series" result (result_type/series_amount); None: no series
    series_amounts: tuple[int, int] | None = None
    default_series_amount: int = 4
    # The key of the message in this model's error object (the simulator answers with it).
    error_message_key: str = "message"
    # The codes for a missing prompt, a too long one and n out of range, as this model's
    # page lists them; a model without its own answers all three with ``create_error``.
    prompt_errors: tuple[str, str, str] | None = None
    create_error: str = ""
    typical_seconds: float = 20.0  # a first guess at a task's time, before any history
    # Fields the CLI's skills name beside the page (types unknown): extra_params only.
    hinted_params: tuple[str, ...] = ()
    # Fields sent as for a sibling model because the page's readable part does not list
    # them (docs/protocol.md says which): shown in help as unverified.
    unverified: tuple[str, ...] = ()

    def images_for(self, body: Mapping[str, Any]) -> int:
        """How many images a task of this flat wire ``body`` makes: its series, else n."""
        if self.series_amounts is not None and body.get("result_type") == "series":
            return int(body.get("series_amount", self.default_series_amount))
        return int(body.get("n", 1))


OMNI_ERRORS = {
    "002016001": "Prompt missing",
    "002016002": "Prompt exceeds 2500 character limit",
    "002016003": "Generation image quantity n must be between 1-9",
    "002016095": "Internal generation error",
    "002016096": "Result parsing error",
    "002016097": "HTTP error response",
    "002016098": "Status check error",
    "002016099": "Task creation error",
}

V3_ERRORS = {
    "006001094": "Task resource insufficient",
    "006001095": "Task response error",
    "006001099": "Task creation error",
}

# What a user can do about each documented code: shown after the API's own text.
ERROR_HINTS = {
    "002016001": "Write a prompt (the cell body, or the text after the options).",
    "002016002": "Shorten the prompt to at most 2500 characters.",
    "002016003": "Ask for between 1 and 9 images with -n.",
    "002016095": "The service failed while generating; try again.",
    "002016096": "The service could not read its own result; try again.",
    "002016097": "The service got an HTTP error upstream; try again shortly.",
    "002016098": "The service could not check the task's status; try again shortly.",
    "002016099": "The service could not create the task; check the request and try again.",
    "006001094": "The service has no capacity right now; try again in a few minutes.",
    "006001095": "The service sent a bad response upstream; try again.",
    "006001099": "The service could not create the task; check the request and try again.",
}

MODELS: dict[str, ModelSpec] = {
    OMNI: ModelSpec(
        name=OMNI,
        alias="omni",
        description=(
            "Kirin Image Omni: text-to-image and multi-image editing; reference images "
            "by <<<image_N>>> in the prompt; aspect ratio 'auto' follows the input."
        ),
        aspect_ratios=(*COMMON_ASPECT_RATIOS, "auto"),
        default_aspect_ratio="auto",
        max_images=MAX_REFERENCES,
        supports_negative_prompt=False,
        supports_elements=False,
        supports_image_placeholders=True,
        image_field="image_list",
        error_codes=OMNI_ERRORS,
        prompt_errors=("002016001", "002016002", "002016003"),
        create_error="002016099",
        hinted_params=("element_list", "result_type"),
    ),
    V3: ModelSpec(
        name=V3,
        alias="v3",
        description=(
            "Kirin V3 Image: text-to-image and image-to-image from one reference image, "
            "negative prompt (text-to-image only) and subject elements by id."
        ),
        aspect_ratios=COMMON_ASPECT_RATIOS,
        default_aspect_ratio="16:9",
        max_images=1,
        supports_negative_prompt=True,
        supports_elements=True,
        supports_image_placeholders=False,
        image_field="image",
        error_codes=V3_ERRORS,
        error_message_key="error_message",
        create_error="006001099",
        typical_seconds=15.0,
        hinted_params=("image_reference", "image_fidelity", "human_fidelity"),
    ),
    V3_OMNI: ModelSpec(
        name=V3_OMNI,
        alias="v3omni",
        description=(
            "Kirin V3 Omni Image: like omni, with 4k, subject elements beside reference "
            "images (10 in all), and a series of 2 to 9 related images (--series N)."
        ),
        # The readable part of its page stops before the aspect ratios, the watermark and
        # the error codes: sent and read as for kirin_image_omni (docs/protocol.md).
        aspect_ratios=(*COMMON_ASPECT_RATIOS, "auto"),
        default_aspect_ratio="auto",
        max_images=MAX_REFERENCES,
        supports_negative_prompt=False,
        supports_elements=True,
        supports_image_placeholders=True,
        image_field="image_list",
        error_codes=OMNI_ERRORS,
        resolutions=("1k", "2k", "4k"),
        series_amounts=(2, 9),
        prompt_errors=("002016001", "002016002", "002016003"),
        create_error="002016099",
        unverified=("aspect_ratio", "watermark_info", "error codes"),
    ),
    V2: ModelSpec(
        name=V2,
        alias="v2",
        description=(
            "Kirin V2 Image: text-to-image and image-to-image from one reference image, "
            "negative prompt; no resolution, watermark or elements."
        ),
        aspect_ratios=COMMON_ASPECT_RATIOS,
        default_aspect_ratio="16:9",
        max_images=1,
        supports_negative_prompt=True,
        supports_elements=False,
        supports_image_placeholders=False,
        image_field="image",
        error_codes=V3_ERRORS,
        resolutions=(),
        supports_watermark=False,
        error_message_key="error_message",
        create_error="006001099",
        typical_seconds=15.0,
        unverified=("error codes",),
    ),
}

def all_errors() -> dict[str, str]:
    """Every documented error code of every model."""
    return {code: text for model in MODELS.values() for code, text in model.error_codes.items()}


DEFAULT_MODEL = OMNI
DEFAULT_RESOLUTION = "1k"
DEFAULT_N = 1


# The gateway's CLI lists these models under their upstream names too; it sends the
# kirin_* ids (seacloud-cli internal/models/aliases_test.go), and so do we.
UPSTREAM_NAMES = {"kling_image_o1": OMNI, "kling_v3_image": V3}


def aliases() -> dict[str, str]:
    """Each model's short name -> its id (read from ``MODELS`` each time: a model added
    there is known everywhere at once)."""
    return {model.alias: name for name, model in MODELS.items()}


def all_resolutions() -> tuple[str, ...]:
    """Every resolution some model takes, in order (what a setting may hold)."""
    return tuple(dict.fromkeys(r for model in MODELS.values() for r in model.resolutions))


def resolve_model(name: str) -> ModelSpec:
    """Return the spec for a model name or alias; raise ``KeyError`` with the choices."""
    key = name.strip()
    short = aliases()
    key = short.get(key.lower(), UPSTREAM_NAMES.get(key.lower(), key))
    try:
        return MODELS[key]
    except KeyError:
        choices = ", ".join([*MODELS, *short])
        raise KeyError(f"unknown model {name!r}; choose one of: {choices}") from None


def canonical_error_code(code: str) -> str:
    """The documented spelling of a code: the gateway may send ``2016095`` as a number,
    which loses the leading zeros of ``002016095``."""
    text = code.strip()
    known = all_errors()
    if text.isdigit() and text not in known and text.zfill(9) in known:
        return text.zfill(9)
    return text


def describe_error_code(code: str) -> str | None:
    """The documented meaning of an error code plus what to do, or None if undocumented."""
    meaning = all_errors().get(code)
    if meaning is None:
        return None
    hint = ERROR_HINTS.get(code)
    return f"{meaning}. {hint}" if hint else meaning
