"""User options -> one validated request. Every documented rule lives here, once.

Nothing is sent from this module; a ``ValidationError`` raised here means no request left.
"""

from __future__ import annotations

import difflib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from typing_extensions import Unpack

from ..errors import ValidationError
from . import spec
from .images import ReferenceImage, load_reference

PLACEHOLDER = re.compile(r"<<<image_(\d+)>>>")
_MAX_EXTERNAL_ID = 255


# Fields of a request's summary that are not options (shown elsewhere, or never: the
# callback URL may carry a token).
NOT_OPTIONS = ("model", "prompt", "external_task_id", "callback_url", "uploaded")

# Every field the request itself can send, and the option that sets it: ``extra_params``
# may not override one (``element_list`` counts only for a model that takes elements).
_OPTION_FOR_FIELD = {
    "model": ("model", "-m"), "prompt": ("the prompt", ""), "n": ("n", "-n"),
    "resolution": ("resolution", "--res"), "aspect_ratio": ("aspect_ratio", "--ar"),
    "image_list": ("images", "-i"), "image": ("images", "-i"),
    "negative_prompt": ("negative_prompt", "--neg"), "element_list": ("elements", "-e"),
    "watermark_info": ("watermark", "--watermark"),
    "result_type": ("series", "--series"), "series_amount": ("series", "--series"),
    "callback_url": ("callback_url", "--callback-url"),
    "external_task_id": ("external_task_id", "--id"),
}
UNCHECKED = "not checked by kirin-jupyter"


def documented_fields(model: spec.ModelSpec) -> frozenset[str]:
    """The parameters kirin-jupyter sends (and checks) itself for ``model``."""
    takes = {"element_list": model.supports_elements, "resolution": bool(model.resolutions),
             "watermark_info": model.supports_watermark,
             "result_type": model.series_amounts is not None,
             "series_amount": model.series_amounts is not None}
    return frozenset(name for name in _OPTION_FOR_FIELD if takes.get(name, True))


@dataclass(frozen=True)
class GenerationRequest:
    """A request that passed every rule; ``body()`` is exactly what goes on the wire."""

    model: spec.ModelSpec
    prompt: str
    n: int = spec.DEFAULT_N
    resolution: str = spec.DEFAULT_RESOLUTION
    aspect_ratio: str = "auto"
    images: tuple[ReferenceImage, ...] = ()
    negative_prompt: str | None = None
    elements: tuple[int, ...] = ()
    watermark: bool | None = None
    series: int | None = None  # a series of this many images (result_type "series")
    callback_url: str | None = None
    external_task_id: str = field(default_factory=lambda: new_external_id())
    # Fields the pages do not list, sent inside params as given (checked only for being
    # JSON and for not overriding a documented field): the escape hatch for the fields
    # the CLI's skills name (result_type, image_fidelity, ...), whose types are unknown.
    extra_params: dict[str, Any] = field(default_factory=dict, hash=False)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model.name,
            "prompt": self.prompt,
            "n": self.n,
            "resolution": self.resolution,
            "aspect_ratio": self.aspect_ratio,
            "external_task_id": self.external_task_id,
        }
        if not self.model.resolutions:
            del body["resolution"]  # kirin_v2_image has none
        if self.series is not None:
            body.update(result_type="series", series_amount=self.series)
        if self.images:
            body.update(image_field(self.model, [img.wire_value for img in self.images]))
        if self.negative_prompt:
            body["negative_prompt"] = self.negative_prompt
        if self.elements:
            body["element_list"] = [{"element_id": e} for e in self.elements]
        if self.watermark is not None:
            body["watermark_info"] = {"enabled": self.watermark}
        if self.callback_url:
            body["callback_url"] = self.callback_url
        body.update(self.extra_params)  # never a documented key: build_request refuses it
        return body

    @property
    def images_expected(self) -> int:
        """How many images the task makes: a series's size (the service ignores n then),
        else n."""
        return self.series if self.series is not None else self.n

    @property
    def parents(self) -> tuple[str, ...]:
        """Task ids of the earlier results used as references, once each (lineage)."""
        found = (ref.parent_task_id for ref in self.images if ref.parent_task_id)
        return tuple(dict.fromkeys(found))

    def summary(self) -> dict[str, Any]:
        """The body with images named by hash: safe and small enough for a journal or a repr.
        The extra params are kept apart, under ``extra_params`` (as the option is named),
        so a journal or a record says which fields kirin-jupyter did not check."""
        body = {key: value for key, value in self.body().items()
                if key not in self.extra_params}
        field_name = self.model.image_field
        if field_name in body:
            body.update(image_field(self.model,
                                    [f"{i.label} sha256:{i.sha256[:16]}" for i in self.images]))
        if self.extra_params:
            body["extra_params"] = dict(self.extra_params)
        uploaded = {ref.sha256[:16]: ref.shown_upload for ref in self.images
                    if ref.shown_upload}
        if uploaded:  # which references went as uploaded URLs (service/uploads.py)
            body["uploaded"] = uploaded
        return body

    @cached_property
    def options(self) -> dict[str, Any]:
        """What was asked besides model and prompt, as the journal keeps it: for the card's
        chips and a result's record (references by label and hash, never their bytes).
        Made once: the live card reads it on every redraw, and the request never changes."""
        return {key: value for key, value in self.summary().items()
                if key not in NOT_OPTIONS}

    def dry_run_body(self, keep: int = 24) -> dict[str, Any]:
        """The body as sent, with base64 shortened so it can be printed."""
        body = self.body()
        field_name = self.model.image_field
        if field_name in body:
            shown = [
                img.value if img.is_url else f"{img.value[:keep]}…(base64, {len(img.value)} chars)"
                for img in self.images
            ]
            body.update(image_field(self.model, shown))
        return body


def image_field(model: spec.ModelSpec, values: list[str]) -> dict[str, Any]:
    """The reference images as the gateway takes them: omni's ``image_list`` is a list of
    ``{"image": value}`` objects (the sibling page ``kirin_v3_omni_image``, the SeaCloud
    CLI's ``image_list.image`` and Kling's own API agree; a bare string is refused), v3's
    ``image`` one string."""
    if model.image_field == "image_list":
        return {"image_list": [{"image": value} for value in values]}
    return {model.image_field: values[0]}


def reference_labels(value: Any) -> list[str]:
    """The references named in a summary's image field, from either shape: ``{"image":
    label}`` items (since the gateway's shape was adopted), or bare strings (older
    journals); anything else in the list is left out."""
    items = value if isinstance(value, list) else [value] if value else []
    labels = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("image")
        if isinstance(item, str) and item:
            labels.append(item)
    return labels


def request_from_summary(summary: dict[str, Any], external_task_id: str) -> GenerationRequest:
    """Rebuild a request from the journal, to follow a task created by an earlier process.

    Images are in the journal by hash only; a rebuilt request is never sent again.
    """
    model = spec.resolve_model(str(summary.get("model", spec.DEFAULT_MODEL)))
    elements = tuple(
        int(e["element_id"]) for e in summary.get("element_list") or [] if isinstance(e, dict)
    )
    watermark = summary.get("watermark_info")
    extra = summary.get("extra_params")
    series = summary.get("series_amount") if summary.get("result_type") == "series" else None
    return GenerationRequest(
        model=model,
        prompt=str(summary.get("prompt", "")),
        n=int(summary.get("n", spec.DEFAULT_N)),
        resolution=str(summary.get("resolution", model.resolutions[0]
                                   if model.resolutions else "")),
        aspect_ratio=str(summary.get("aspect_ratio", model.default_aspect_ratio)),
        negative_prompt=summary.get("negative_prompt"),
        elements=elements,
        watermark=watermark.get("enabled") if isinstance(watermark, dict) else None,
        series=series if isinstance(series, int) and not isinstance(series, bool) else None,
        callback_url=summary.get("callback_url"),
        external_task_id=external_task_id,
        extra_params=dict(extra) if isinstance(extra, dict) else {},
    )


def new_external_id() -> str:
    """A fresh id per request: lets a lost create be found again instead of re-billed."""
    return f"kj-{uuid.uuid4().hex}"


class RequestOptions(TypedDict, total=False):
    """Every option of a request, defined once. The Python API takes them as keywords;
    the magic's options (``magic_options.OPTIONS``) and the panel's form are named after
    them; copy-as-code writes them back out in this order."""

    model: str
    n: int
    resolution: str
    aspect_ratio: str | None
    images: Any
    negative_prompt: str | None
    elements: Any
    watermark: bool | None
    series: int | None
    callback_url: str | None
    external_task_id: str | None
    fit: bool
    extra_params: dict[str, Any] | None


OPTION_NAMES: tuple[str, ...] = tuple(RequestOptions.__annotations__)


def check_option_names(options: Mapping[str, object]) -> None:
    """A misspelt keyword is an error, not an option silently left out."""
    for name in options:
        if name not in OPTION_NAMES:
            close = difflib.get_close_matches(name, OPTION_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValidationError(f"unknown option {name!r}{hint}; the options are "
                                  f"{', '.join(OPTION_NAMES)}")


def build_request(prompt: Any, **options: Unpack[RequestOptions]) -> GenerationRequest:
    """Check every option against the model's rules; raise ValidationError on the first break."""
    check_option_names(options)
    model = options.get("model") or spec.DEFAULT_MODEL
    n, resolution = options.get("n"), options.get("resolution")
    aspect_ratio, images = options.get("aspect_ratio"), options.get("images")
    negative_prompt, elements = options.get("negative_prompt"), options.get("elements")
    watermark, callback_url = options.get("watermark"), options.get("callback_url")
    series = options.get("series")
    external_task_id, fit = options.get("external_task_id"), bool(options.get("fit"))
    extra_params = options.get("extra_params")
    try:
        model_spec = spec.resolve_model(str(model))
    except KeyError as exc:
        raise ValidationError(str(exc.args[0])) from None
    text = _check_prompt(prompt, "prompt", required=True)
    count = _check_n(spec.DEFAULT_N if n is None else n)
    res = _check_resolution(model_spec, resolution)
    ratio = _check_aspect_ratio(model_spec, aspect_ratio)
    refs = _check_images(model_spec, images, fit=fit)
    negative = _check_negative(model_spec, negative_prompt, refs)
    element_ids = _check_elements(model_spec, elements)
    if len(refs) + len(element_ids) > spec.MAX_REFERENCES:
        raise ValidationError(
            f"{len(refs)} images + {len(element_ids)} elements = "
            f"{len(refs) + len(element_ids)}; at most {spec.MAX_REFERENCES} in total"
        )
    _check_placeholders(model_spec, text, len(refs))
    extra = _check_extra_params(model_spec, extra_params)
    return GenerationRequest(
        model=model_spec,
        prompt=text,
        n=count,
        resolution=res,
        aspect_ratio=ratio,
        images=tuple(refs),
        negative_prompt=negative,
        elements=tuple(element_ids),
        watermark=_check_watermark(model_spec, watermark),
        series=_check_series(model_spec, series),
        callback_url=_check_callback(callback_url),
        external_task_id=_check_external_id(external_task_id),
        extra_params=extra,
    )


def _check_prompt(value: Any, what: str, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text, not {type(value).__name__}")
    text: str = value.strip()  # what is sent, and so what is counted
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: it could not be sent as JSON
        raise ValidationError(
            f"{what} has a character that cannot be sent (at position {exc.start}: "
            f"{text[exc.start]!r}); retype or remove it"
        ) from None
    if required and not text:
        raise ValidationError(f"{what} is empty; write what the image should show")
    if len(text) > spec.PROMPT_MAX_CHARS:
        raise ValidationError(
            f"{what} is {len(text)} characters; the limit is {spec.PROMPT_MAX_CHARS}"
        )
    return text


def _check_n(value: Any) -> int:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"n must be a whole number from 1 to 9, not {value!r}")
    if not spec.N_MIN <= value <= spec.N_MAX:
        raise ValidationError(f"n is {value}; ask for between 1 and 9 images")
    return value


def _check_aspect_ratio(model: spec.ModelSpec, value: Any) -> str:
    if value is None or value == "":
        return model.default_aspect_ratio
    text = str(value).strip().lower()
    if text not in model.aspect_ratios:
        autos = [m.name for m in spec.MODELS.values() if "auto" in m.aspect_ratios]
        extra = f" ('auto' is only for {', '.join(autos)})" if text == "auto" else ""
        raise ValidationError(
            f"aspect ratio {value!r} is not available for {model.name}{extra}; "
            f"choose one of: {', '.join(model.aspect_ratios)}"
        )
    return text


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _check_images(model: spec.ModelSpec, images: Any, *, fit: bool) -> list[ReferenceImage]:
    items = _as_list(images)
    if len(items) > model.max_images:
        if model.max_images == 1:
            raise ValidationError(
                f"{model.name} takes one reference image; {len(items)} were given "
                f"(use {spec.OMNI} for several)"
            )
        raise ValidationError(
            f"{len(items)} reference images; at most {model.max_images} are allowed"
        )
    refs = []
    for index, item in enumerate(items, start=1):
        if item is None or (isinstance(item, (str, bytes)) and not item):
            raise ValidationError(f"reference image {index} is empty")
        refs.append(load_reference(item, fit=fit))
    return refs


def _check_negative(
    model: spec.ModelSpec, value: Any, refs: Sequence[ReferenceImage]
) -> str | None:
    if value is None or value == "":
        return None
    text = _check_prompt(value, "negative prompt", required=False)
    if not model.supports_negative_prompt:
        raise ValidationError(
            f"{model.name} has no negative prompt; write what to avoid in the prompt "
            "(or use kirin_v3_image)"
        )
    if refs:
        raise ValidationError(
            "negative prompt is not supported with a reference image (image-to-image); "
            "remove one of them"
        )
    return text or None


def _check_elements(model: spec.ModelSpec, value: Any) -> list[int]:
    items = _as_list(value)
    if not items:
        return []
    if not model.supports_elements:
        takers = [m.name for m in spec.MODELS.values() if m.supports_elements]
        raise ValidationError(f"{model.name} takes no elements; use {' or '.join(takers)}")
    ids = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("element_id")
        if isinstance(item, str) and re.fullmatch(r"\d+", item.strip()):
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise ValidationError(f"element id {item!r} is not a whole number")
        ids.append(item)
    return ids


def _check_placeholders(model: spec.ModelSpec, prompt: str, image_count: int) -> None:
    if not model.supports_image_placeholders:
        return
    for number in sorted({int(m) for m in PLACEHOLDER.findall(prompt)}):
        if not 1 <= number <= image_count:
            given = f"{image_count} image{'s' if image_count != 1 else ''}"
            raise ValidationError(
                f"prompt refers to <<<image_{number}>>> but only {given} "
                f"{'is' if image_count == 1 else 'are'} given (numbering starts at 1)"
            )


def _check_resolution(model: spec.ModelSpec, value: Any) -> str:
    """One of the model's resolutions (its first when none is given); a model without
    any (kirin_v2_image) takes none, and is sent none."""
    if not model.resolutions:
        if value is not None and value != "":
            raise ValidationError(f"{model.name} takes no resolution; leave out {value!r} "
                                  "(--res)")
        return ""
    if value is None:
        value = spec.DEFAULT_RESOLUTION if spec.DEFAULT_RESOLUTION in model.resolutions \
            else model.resolutions[0]
    text = str(value).strip().lower() if isinstance(value, str) else value
    if text not in model.resolutions:
        others = [m.name for m in spec.MODELS.values() if text in m.resolutions]
        hint = f" ({text} is for {', '.join(others)})" if others else ""
        raise ValidationError(f"resolution {value!r} is not available for {model.name}"
                              f"{hint}; choose one of: {', '.join(model.resolutions)}")
    return str(text)


def _check_series(model: spec.ModelSpec, value: Any) -> int | None:
    """A series of 2 to 9 related images, for a model that makes them."""
    if value is None or value is False:
        return None
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value.strip()):
        value = int(value)
    if model.series_amounts is None:
        makers = [m.name for m in spec.MODELS.values() if m.series_amounts is not None]
        raise ValidationError(f"{model.name} makes no series; use "
                              f"{' or '.join(makers) or 'another model'}")
    least, most = model.series_amounts
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise ValidationError(f"series must be a whole number from {least} to {most}, "
                              f"not {value!r}")
    return value


def _check_watermark(model: spec.ModelSpec, value: Any) -> bool | None:
    if value is None:
        return None
    if not model.supports_watermark:
        raise ValidationError(f"{model.name} takes no watermark setting; leave out "
                              "--watermark")
    if isinstance(value, dict):
        value = value.get("enabled")
    if not isinstance(value, bool):
        raise ValidationError(f"watermark must be True or False, not {value!r}")
    return value


def _check_callback(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value.strip()):
        raise ValidationError(f"callback URL must be an http(s) URL, not {value!r}")
    return value.strip()


def _check_external_id(value: Any) -> str:
    if value is None or value == "":
        return new_external_id()
    if not isinstance(value, str):
        raise ValidationError(f"external task id must be text, not {type(value).__name__}")
    text = value.strip()
    if not text or len(text) > _MAX_EXTERNAL_ID or not text.isprintable():
        raise ValidationError(
            f"external task id must be 1..{_MAX_EXTERNAL_ID} printable characters"
        )
    return text


def _check_extra_params(model: spec.ModelSpec, value: Any) -> dict[str, Any]:
    """Fields for ``params`` that the pages do not list: text keys, JSON values, and
    never a field kirin-jupyter sends itself (that one has its own, checked option)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"extra_params must be a dict of field names to JSON values, "
                              f"not {type(value).__name__}")
    documented = documented_fields(model)
    checked: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ValidationError(f"extra param names must be non-empty text, not {key!r}")
        if key in documented:
            raise ValidationError(
                f"extra param {key!r} would override a documented field, which has its "
                f"own checked option: {_instead(key)}")
        try:  # as it will be encoded for the wire (service/http.py _encode_json), but strict JSON
            text = json.dumps(item, ensure_ascii=False, allow_nan=False)
            text.encode("utf-8")
        except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            reason = " ".join(str(exc).split())
            raise ValidationError(f"extra param {key!r} cannot be sent as JSON ({reason})"
                                  ) from None
        checked[key] = json.loads(text)  # a copy: later changes to the caller's dict stay out
    return checked


def _instead(key: str) -> str:
    option, flag = _OPTION_FOR_FIELD[key]
    if not flag:
        return f"write it as {option}"
    return f"use {option}= instead ({flag} on the magic line)"


def unchecked_note(requests: Sequence[GenerationRequest]) -> str | None:
    """The line a dry run prints under the body: which extra params go out unchecked."""
    names = list(dict.fromkeys(key for r in requests for key in r.extra_params))
    if not names:
        return None
    return (f"extra params, sent inside params as given, {UNCHECKED}: "
            f"{', '.join(names)}")
