"""Parameter names read from a model's document, and compared with the spec table.

``pages/`` holds copies of the two real API pages (the Vtrix documentation site's
``kirin-v3-image`` and ``kirin-image-omni``, as ``shared/api`` has them): one parameter a
line, nested fields under their parent, an authentication section before and a response
section after. The gateway's live documents may instead be Markdown tables, bullets or
headings; each shape is read here too.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kirin_jupyter.errors import ValidationError
from kirin_jupyter.model import spec
from kirin_jupyter.model.model_doc import (
    ModelDocument,
    checked_model_name,
    coverage,
    parameter_names,
)

PAGES = Path(__file__).parent / "pages"
PAGE_FIELDS = ["model", "prompt", "resolution", "n", "aspect_ratio", "watermark_info",
               "callback_url", "external_task_id"]


def page(name: str) -> str:
    return (PAGES / f"{name}.md").read_text(encoding="utf-8")


def test_the_v3_page_lists_its_parameters_and_not_their_children() -> None:
    """``element_id`` (in element_list) and ``enabled`` (in watermark_info) have lines of
    their own on the page; ``authorization`` is above Parameters, ``code`` and ``output``
    are in the response below; "Example:" inside ``image`` does not end the section."""
    assert parameter_names(page("kirin_v3_image")) == [
        "model", "prompt", "negative_prompt", "image", "element_list", "resolution", "n",
        "aspect_ratio", "watermark_info", "callback_url", "external_task_id"]


def test_the_omni_page_lists_its_parameters() -> None:
    assert parameter_names(page("kirin_image_omni")) == [
        "model", "prompt", "image_list", *PAGE_FIELDS[2:]]


def test_the_two_pages_hold_nothing_the_spec_table_lacks() -> None:
    """The spec table was written from these pages: compared with them, nothing is
    missing either way."""
    for model in (spec.V3, spec.OMNI):
        found = coverage(model, parameter_names(page(model)))
        assert found.in_spec and found.unknown == () and found.hinted == ()
        assert found.not_listed == () and found.lacking == ()
        assert "knows every parameter" in found.summary()


def test_a_field_beyond_the_table_is_named_hinted_or_unknown() -> None:
    text = page("kirin_v3_image").replace(
        "resolution string\n", "image_fidelity number\n\nseed integer\n\nresolution string\n")
    found = coverage("v3", parameter_names(text))
    assert found.model == spec.V3  # the alias is the spec table's model
    assert found.hinted == ("image_fidelity",)  # the CLI's skill names it
    assert found.unknown == ("seed",)
    assert found.lacking == ("image_fidelity", "seed")
    summary = found.summary()
    assert "does not know yet: seed" in summary and "image_fidelity" in summary


def test_a_field_the_document_drops_is_said_too() -> None:
    text = page("kirin_v3_image").replace("negative_prompt string\n", "")
    assert coverage(spec.V3, parameter_names(text)).not_listed == ("negative_prompt",)


def test_a_model_not_in_the_spec_table_says_so() -> None:
    found = coverage("kirin_v1_image", ["model", "prompt", "image"])
    assert not found.in_spec and found.unknown == ("model", "prompt", "image")
    assert "not in kirin-jupyter's spec table" in found.summary()
    assert "kirin_v1_image" in found.summary()


def test_a_markdown_table_with_a_name_column() -> None:
    text = """# Kirin V3 Image

Mentions `prompt` and `seed` in passing, before any section.

## Authentication
| Name | Type |
|---|---|
| `authorization` | string |

## Parameters

| Type | Parameter | Required | Description |
|:--|:--|:-:|---|
| string | `prompt` | yes | the prompt |
| number | **image_fidelity** | no | how close |
| array | element\\_list | no | subjects |
| long | `element_list[].element_id` | yes | a subject |
| object | watermark_info.enabled (bool) | | |
| integer | n *(1-9)* | no | |

Text between tables.

| Code | Meaning |
|---|---|
| 006001099 | Task creation error |

## Response
| Field | Type |
|---|---|
| id | string |
"""
    assert parameter_names(text) == ["prompt", "image_fidelity", "element_list",
                                     "watermark_info", "n"]


def test_bullets_headings_and_code_fences() -> None:
    text = """## Request body

- `prompt` (string, required): the text
  - `max`: 2500
- **negative_prompt**: not with an image
- n (integer): 1-9
- Default: 1
- Format: .jpg
- resolution — 1k or 2k
- aspect_ratio string

### image_reference
Type and range not published.

### `human_fidelity`

```json
{"model": "kirin_v3_image", "prompt": "a fox", "made_up_in_an_example": 1}
```

#### Image requirements
- Format: .png

## Examples
### seed
"""
    assert parameter_names(text) == ["prompt", "negative_prompt", "n", "resolution",
                                     "aspect_ratio", "image_reference", "human_fidelity"]


def test_a_document_without_a_section_is_read_up_to_the_response() -> None:
    text = "- `prompt` (string)\n- `seed` (integer)\n\nResponse Format\n\n- `id` (string)\n"
    assert parameter_names(text) == ["prompt", "seed"]
    assert parameter_names("Nothing to see here.\n") == []
    assert "no parameters could be read" in coverage(spec.V3, []).summary()


def test_hostile_text_is_read_quickly() -> None:
    """A megabyte on one line, or a million short ones, in well under a second each."""
    for text in ("# " + " " * 1_000_000 + "x", "| a |\n" * 200_000,
                 "- `p` (x)\n" * 100_000, "```\n" * 100_000, "a string\n" * 100_000):
        started = time.perf_counter()
        parameter_names(text)
        assert time.perf_counter() - started < 2.0


def test_model_names_are_checked_before_any_request() -> None:
    assert checked_model_name("v3") == spec.V3
    assert checked_model_name("kling_image_o1") == spec.OMNI  # an upstream name
    assert checked_model_name("kirin_v1_image") == "kirin_v1_image"  # asked as given
    for bad in ("../journal", "a/b", "", " ", ".hidden", "search", "x" * 101, "a b"):
        with pytest.raises(ValidationError) as caught:
            checked_model_name(bad)
        assert "\n" not in str(caught.value)
    with pytest.raises(ValidationError, match="needs a model name"):
        checked_model_name(3)


def test_a_document_repr_is_one_line_and_names_what_is_lacking() -> None:
    text = "## Parameters\n- `prompt` (string)\n- `image_fidelity` (number)\n"
    doc = ModelDocument(spec.V3, text, "built-in simulator")
    assert repr(doc) == (f"ModelDocument('kirin_v3_image', {len(text)} chars from built-in "
                         "simulator, lacks image_fidelity)")
    assert doc.coverage.not_listed  # the short document leaves out most of the table
