"""A model's document from the gateway is untrusted text: shown, never run.

Its HTML form escapes every piece of the document; its Markdown form leaves no raw HTML,
no image to load and no link but http(s); its text form no escape sequence."""

from __future__ import annotations

import re

from kirin_jupyter.display import model_doc as view
from kirin_jupyter.model import spec
from kirin_jupyter.model.model_doc import ModelDocument, ModelHit, ModelList
from tests.support.html_checks import colours_outside_theme, style_blocks

HOSTILE = """# Kirin <script>alert(1)</script>

<img src=x onerror=alert(1)>

## Parameters

| Parameter | Type | Description |
|---|---|---|
| `prompt` | string | <b onmouseover=alert(2)>text</b> |
| `image_fidelity` | number | see [docs](https://example.com/a?b=1&c="2") |

- `seed` (integer): [click](javascript:alert(3)) ![pixel](https://tracker.example/p.gif)
- **bold** and `<code>` stay as they read

[ref]: javascript:alert(4)

```html
<script>alert(5)</script>
```

\x1b[31mred\x1b[0m \u202egnp.exe
"""


def hostile_doc() -> ModelDocument:
    return ModelDocument(spec.V3, HOSTILE, "https://gateway.example", 1_760_000_000.0)


def test_the_html_form_escapes_everything_the_document_says() -> None:
    html = view.doc_html(hostile_doc())
    for tag in ("<script", "<img", "<b onmouseover", 'href="javascript', "onerror=alert(1)>"):
        assert tag not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<a href="https://example.com/a?b=1&amp;c=&quot;2&quot;"' in html
    assert "tracker.example" in html and 'src="https://tracker' not in html  # not loaded
    assert "<b>bold</b>" in html and '<code class="kirin-mono">&lt;code&gt;</code>' in html
    assert "\x1b" not in html and "\u202e" not in html
    assert colours_outside_theme(html) == [] and style_blocks(html) == 1


def test_the_html_form_names_what_the_spec_table_lacks() -> None:
    html = view.doc_html(hostile_doc())
    head = html.split('class="kirin-doc-body"')[0]
    assert "not known to kirin-jupyter yet: seed" in head
    assert "image_fidelity" in head and "--param" in head
    assert "<table" in html.split('class="kirin-doc-body"')[1]  # its table, drawn


def test_the_markdown_form_has_no_raw_html_no_images_no_script_links() -> None:
    markdown = view.doc_markdown(hostile_doc())
    code = markdown.split("```html")[1].split("```")[0]
    outside = re.sub(r"`[^`]*`", "", markdown.replace(code, ""))
    assert "<" not in outside  # every tag outside code is text (&lt;)
    assert "<script>alert(5)</script>" in code  # code shows as written
    assert "](javascript:" not in markdown and "![" not in markdown
    assert "[click]\\(javascript:alert(3))" in markdown  # no link: it reads as text
    assert "\\[ref]: javascript" in markdown  # a definition that links nowhere
    assert "[docs](https://example.com/a?b=1&c=\"2\")" in markdown
    assert "\x1b" not in markdown
    assert "not known to kirin\\-jupyter yet: seed" in markdown


def test_an_unclosed_fence_is_closed() -> None:
    doc = ModelDocument(spec.V3, "```\n<script>\n", "h")
    assert view.safe_markdown(doc.text).rstrip().endswith("```")


def test_the_text_form_is_clean_for_a_terminal() -> None:
    text = view.doc_text(hostile_doc())
    assert "\x1b" not in text and "\u202e" not in text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    assert "not known to kirin-jupyter yet: seed" in text.splitlines()[1]
    assert str(hostile_doc()) == text  # what a terminal's display shows


def test_the_model_list_in_each_form() -> None:
    models = ModelList("kirin", (
        ModelHit(spec.V3, "Kirin V3", "kirin", "text", "image"),
        ModelHit("kirin_v1_image", "Kirin <b>V1</b>", "kirin|x", "text", "image")),
        "https://gateway.example", 1_760_000_000.0)
    assert models.not_in_spec == ("kirin_v1_image",)
    text = view.list_text(models)
    assert re.search(r"kirin_v3_image +Kirin V3 .* yes", text)
    assert "no: not in the spec table" in text
    html = view.list_html(models)
    assert "<b>V1" not in html and "&lt;b&gt;V1" in html
    markdown = view.list_markdown(models)
    assert "kirin\\|x" in markdown and "<b>" not in markdown
    assert markdown.count("\n|") == 3  # the separator and two rows under the header
