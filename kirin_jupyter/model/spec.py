"""The two Kirin models as data: parameters, defaults, limits and error codes.

Everything here is transcribed from the API documents (``shared/api/*.md``), so that
validation, the simulator, the magics' help and the panel all read one source.
"""

from __future__ import annotations

from dataclasses import dataclass

OMNI = "kirin_image_omni"
V3 = "kirin_v3_image"

PROMPT_MAX_CHARS = 2500
N_MIN, N_MAX = 1, 9
RESOLUTIONS = ("1k", "2k")
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
    ),
}

ALIASES = {spec.alias: name for name, spec in MODELS.items()}
ALL_ERRORS = {**OMNI_ERRORS, **V3_ERRORS}
DEFAULT_MODEL = OMNI
DEFAULT_RESOLUTION = "1k"
DEFAULT_N = 1


# Fields the SeaCloud CLI's skills name beside the pages, types and ranges not given
# (gateway-facts.md, "Fields the pages do not list"): sent only through extra_params /
# --param, never on kirin-jupyter's own; the simulator takes them as any JSON.
HINTED_PARAMS = {
    OMNI: ("element_list", "result_type"),
    V3: ("image_reference", "image_fidelity", "human_fidelity"),
}


# The gateway's CLI lists these models under their upstream names too; it sends the
# kirin_* ids (seacloud-cli internal/models/aliases_test.go), and so do we.
UPSTREAM_NAMES = {"kling_image_o1": OMNI, "kling_v3_image": V3}


def resolve_model(name: str) -> ModelSpec:
    """Return the spec for a model name or alias; raise ``KeyError`` with the choices."""
    key = name.strip()
    key = ALIASES.get(key.lower(), UPSTREAM_NAMES.get(key.lower(), key))
    try:
        return MODELS[key]
    except KeyError:
        choices = ", ".join([*MODELS, *ALIASES])
        raise KeyError(f"unknown model {name!r}; choose one of: {choices}") from None


def canonical_error_code(code: str) -> str:
    """The documented spelling of a code: the gateway may send ``2016095`` as a number,
    which loses the leading zeros of ``002016095``."""
    text = code.strip()
    if text.isdigit() and text not in ALL_ERRORS and text.zfill(9) in ALL_ERRORS:
        return text.zfill(9)
    return text


def describe_error_code(code: str) -> str | None:
    """The documented meaning of an error code plus what to do, or None if undocumented."""
    meaning = ALL_ERRORS.get(code)
    if meaning is None:
        return None
    hint = ERROR_HINTS.get(code)
    return f"{meaning}. {hint}" if hint else meaning
