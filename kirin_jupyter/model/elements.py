"""Subjects (elements) for ``element_list``: made by the model ``kirin_custom_elements``.

The rules are the element page's (gateway-facts.md, "Sibling models"): a name of at most
20 characters, a description of at most 100, one frontal image and 1-3 refer images, each
unlike the frontal one, under the usual image rules, and tags ``o_101``-``o_108``. Two
versions of the page disagree on the body; both are built here, chosen by the
``element_body`` setting. Nothing is sent from this module.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ValidationError
from .images import ReferenceImage, load_reference

MODEL = "kirin_custom_elements"
NAME_MAX_CHARS = 20
DESCRIPTION_MAX_CHARS = 100
REFER_MIN, REFER_MAX = 1, 3

BodyVersion = Literal["docs", "domestic"]
BODY_VERSIONS: tuple[BodyVersion, ...] = ("docs", "domestic")
DEFAULT_BODY_VERSION: BodyVersion = "docs"  # the page version our model pages come from

TAGS = {
    "o_101": "Trending Meme", "o_102": "Character", "o_103": "Animal", "o_104": "Prop",
    "o_105": "Clothing", "o_106": "Scene", "o_107": "Effect", "o_108": "Other",
}
_TAG_BY_NAME = {name.casefold(): tag for tag, name in TAGS.items()}


def other_body_version(version: str) -> BodyVersion:
    """The body version to try after the service refused ``version``."""
    return "domestic" if version == "docs" else "docs"


@dataclass(frozen=True)
class ElementModel:
    """The model's name, where the wire code reads ``request.model.name``."""

    name: str = MODEL


@dataclass(frozen=True)
class ElementRequest:
    """An element request that passed every rule; ``body()`` is what goes on the wire."""

    name: str
    description: str
    frontal: ReferenceImage
    refers: tuple[ReferenceImage, ...]
    tags: tuple[str, ...]
    body_version: BodyVersion
    external_task_id: str
    model: ElementModel = field(default_factory=ElementModel)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": MODEL,
            "element_name": self.name,
            "element_description": self.description,
        }
        refers = [{"image_url": ref.value} for ref in self.refers]
        if self.body_version == "docs":
            body["reference_type"] = "image_refer"
            body["element_image_list"] = [
                {"frontal_image": self.frontal.value, "refer_images": refers}]
        else:
            body["element_frontal_image"] = self.frontal.value
            body["element_refer_list"] = refers
        if self.tags:
            body["tag_list"] = [{"tag_id": tag} for tag in self.tags]
        body["external_task_id"] = self.external_task_id
        return body

    def summary(self) -> dict[str, Any]:
        """What the journal keeps: the fields, with images by label and hash."""
        return {
            "model": MODEL, "element_name": self.name,
            "element_description": self.description, "tags": list(self.tags),
            "body_version": self.body_version,
            "frontal": f"{self.frontal.label} sha256:{self.frontal.sha256[:16]}",
            "refers": [f"{ref.label} sha256:{ref.sha256[:16]}" for ref in self.refers],
        }


@dataclass(frozen=True)
class Element:
    """A subject made by ``kirin_custom_elements``; ``element_id`` is exact (64-bit)."""

    element_id: int
    name: str
    description: str = ""
    tags: tuple[str, ...] = ()
    frontal_sha256: str = ""
    refer_sha256: tuple[str, ...] = ()
    task_id: str | None = None
    external_task_id: str | None = None
    base_url: str = ""
    created_at: float = field(default_factory=time.time)

    def __repr__(self) -> str:
        tags = f", tags={list(self.tags)}" if self.tags else ""
        return f"Element({self.name!r}, element_id={self.element_id}{tags})"


def check_tags(value: Any) -> tuple[str, ...]:
    """Tag ids ``o_101``-``o_108``, or their names in any case, once each."""
    items = [] if value is None else [value] if isinstance(value, str) else list(value)
    found: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValidationError(f"tag {item!r} is not a tag id or name")
        text = " ".join(item.split())
        tag = text.lower() if text.lower() in TAGS else _TAG_BY_NAME.get(text.casefold())
        if tag is None:
            choices = ", ".join(f"{t} ({n})" for t, n in TAGS.items())
            raise ValidationError(f"tag {item!r} is unknown; choose from: {choices}")
        if tag not in found:
            found.append(tag)
    return tuple(found)


def check_body_version(value: Any) -> BodyVersion:
    if value not in BODY_VERSIONS:
        raise ValidationError(f"element_body {value!r} is not one of: "
                              f"{', '.join(BODY_VERSIONS)}")
    return value  # type: ignore[no-any-return]


def _check_text(value: Any, what: str, limit: int, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"element {what} must be text, not {type(value).__name__}")
    text = value.strip()
    if required and not text:
        raise ValidationError(f"element {what} is empty")
    if len(text) > limit:
        raise ValidationError(f"element {what} is {len(text)} characters; the limit is "
                              f"{limit}")
    if not text.isprintable():
        raise ValidationError(f"element {what} has a control character (a line break?)")
    return text


def build_element_request(
    name: Any, description: Any, frontal_image: Any, refer_images: Any, *,
    tags: Any = None, body_version: Any = DEFAULT_BODY_VERSION,
    external_task_id: str | None = None,
) -> ElementRequest:
    """Check every rule of the element page; ``ValidationError`` on the first break."""
    from .request import new_external_id

    text = _check_text(name, "name", NAME_MAX_CHARS, required=True)
    about = _check_text(description, "description", DESCRIPTION_MAX_CHARS, required=False)
    version = check_body_version(body_version)
    chosen = check_tags(tags)
    if frontal_image is None or (isinstance(frontal_image, (str, bytes)) and not frontal_image):
        raise ValidationError("the frontal image is missing")
    if isinstance(frontal_image, (list, tuple)):
        raise ValidationError("the frontal image is one image, not a list")
    refer_list = _refer_list(refer_images)
    frontal = load_reference(frontal_image)
    refers = []
    for index, item in enumerate(refer_list, start=1):
        if item is None or (isinstance(item, (str, bytes)) and not item):
            raise ValidationError(f"refer image {index} is empty")
        ref = load_reference(item)
        if ref.sha256 == frontal.sha256:
            raise ValidationError(f"refer image {index} ({ref.label}) is the frontal image; "
                                  "each refer image must be a different picture")
        refers.append(ref)
    return ElementRequest(text, about, frontal, tuple(refers), chosen, version,
                          external_task_id or new_external_id())


def _refer_list(value: Any) -> Sequence[Any]:
    items = [] if value is None else list(value) if isinstance(value, (list, tuple)) \
        else [value]
    if not REFER_MIN <= len(items) <= REFER_MAX:
        raise ValidationError(f"{len(items)} refer images; give {REFER_MIN} to {REFER_MAX} "
                              "(each different from the frontal image)")
    return items


_DIGITS = re.compile(r"[0-9]{1,20}")
ID_MAX = 2**64 - 1


def exact_id(value: Any) -> int | None:
    """An element id as an exact int: a JSON integer, or a string of digits; never a
    float (a float has already lost the digits past 2**53), a bool or a negative."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= ID_MAX else None
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
        return number if 0 < number <= ID_MAX else None
    return None


def element_from_row(row: dict[str, Any]) -> Element | None:
    """An ``Element`` from its journal row (None for a row without a usable id)."""
    import json

    element_id = exact_id(row.get("element_id"))
    if element_id is None:
        return None
    try:
        tags = tuple(str(t) for t in json.loads(row.get("tags") or "[]"))
        refers = tuple(str(r) for r in json.loads(row.get("refers") or "[]"))
    except (TypeError, ValueError):
        tags, refers = (), ()
    return Element(
        element_id=element_id, name=str(row.get("name") or ""),
        description=str(row.get("description") or ""), tags=tags,
        frontal_sha256=str(row.get("frontal") or ""), refer_sha256=refers,
        task_id=row.get("task_id"), external_task_id=row.get("external_id"),
        base_url=str(row.get("base_url") or ""),
        created_at=float(row.get("created_at") or 0.0))


def resolve_element_names(items: Sequence[Any], known: Sequence[Element]) -> list[Any]:
    """Names of known elements (newest first; exact, else in any case) -> their ids;
    anything else passes as given, for the request's own checks."""
    by_name: dict[str, int] = {}
    by_folded: dict[str, int] = {}
    for element in known:
        by_name.setdefault(element.name, element.element_id)
        by_folded.setdefault(element.name.casefold(), element.element_id)
    resolved: list[Any] = []
    for item in items:
        if isinstance(item, str) and not item.strip().isdigit():
            name = item.strip()
            found = by_name.get(name, by_folded.get(name.casefold()))
            if found is None and re.fullmatch(r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?",
                                              name):
                raise ValidationError(f"element id {name!r} is not a whole number")
            if found is None:
                names = ", ".join(sorted(by_name)) or "none yet (kirin.create_element, " \
                    "%kirin element create)"
                raise ValidationError(f"no element named {name!r} in the journal for this "
                                      f"service; known elements: {names}")
            resolved.append(found)
        else:
            resolved.append(item)
    return resolved
